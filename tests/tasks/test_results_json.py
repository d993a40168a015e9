"""tasks.results: the JSON the lake stores (orjson) and reading a sessions row back."""
from __future__ import annotations

import json

import numpy as np

from tasks.results import session_documents, to_json


def test_to_json_numbers_numpy_and_non_finite():
    doc = {"a": np.array([1.5, np.nan, np.inf]), "b": np.float32(0.25), "c": np.int64(7), "d": (1, None),
           "e": np.bool_(True), 3: float("-inf"), "f": np.arange(6.0)[::2], "g": np.array([[1, 2]], np.int32)}
    text = to_json(doc)
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": [1.5, None, None], "b": 0.25, "c": 7, "d": [1, None], "e": True, "3": None,
                                "f": [0.0, 2.0, 4.0], "g": [[1, 2]]}


def test_session_documents_parse_the_row():
    row = {"quality_doc": to_json({"x": np.nan}), "events_doc": "not json", "gait_doc": None, "cadence_spm": 170.0}
    docs = session_documents(row)
    assert docs["quality_doc"] == {"x": None} and docs["events_doc"] == {} and docs["gait_doc"] == {}
    assert set(docs) == {"gait_doc", "quality_doc", "events_doc"}
