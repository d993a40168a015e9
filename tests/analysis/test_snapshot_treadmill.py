"""Snapshot of every output on the shared treadmill clip (stored detections, no pose).

Guards refactors of the engine, the documents, the lake rows and the commentary:
every number must stay equal to 1e-9 relative. A deliberate change of results
regenerates the snapshot (``GAITLAKE_UPDATE_SNAPSHOT=1 python -m pytest
tests/analysis/test_snapshot_treadmill.py`` or ``python -m
tests.analysis.treadmill_snapshot``) in a commit of its own that says why.
"""
from __future__ import annotations

import json
import os

import pytest

from tests.analysis.treadmill_snapshot import SNAPSHOT, compute, differences, write


def test_treadmill_outputs_match_snapshot():
    if os.environ.get("GAITLAKE_UPDATE_SNAPSHOT") == "1":
        write()
        pytest.skip(f"snapshot rewritten: {SNAPSHOT}")
    expected = json.loads(SNAPSHOT.read_text())
    diffs = differences(expected, json.loads(json.dumps(compute())))
    assert not diffs, f"{len(diffs)} differences, first: " + "\n".join(diffs[:20])


def test_snapshot_comparison_can_fail():
    """The comparison sees a change in the 10th significant digit, a new key and a changed text."""
    assert differences({"a": [1.0, {"b": "x"}]}, {"a": [1.0 + 1e-8, {"b": "x"}]})
    assert not differences({"a": 1.0}, {"a": 1.0 + 1e-12})
    assert differences({"a": 1}, {"a": 1, "b": 2})
    assert differences({"a": "16 strides"}, {"a": "8 strides"})
    assert differences({"a": None}, {"a": 0.0})
