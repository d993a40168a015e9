"""Lay an analysed session out as the lake's ``sessions``, ``frames`` and ``strides`` tables."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from analysis.commentary import SessionFacts
from analysis.engine import json_safe
from analysis.keypoints import KEYPOINT_NAMES
from analysis.tracking import RunnerTrack


_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _json_default(value: Any) -> Any:
    """What orjson does not serialise natively: non-contiguous or non-native numpy arrays."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(document: Any) -> str:
    """Compact JSON (orjson: numpy arrays and scalars as numbers, NaN/inf as null, so the API
    never emits NaN; keys as strings)."""
    return orjson.dumps(document, default=_json_default, option=_ORJSON_OPTIONS).decode()


def frames_table(track: RunnerTrack, fps: float, frame_series: dict[str, np.ndarray]) -> pa.Table:
    """One row per decoded frame: raw runner detection plus the engine's per-frame series."""
    n = len(track.found)
    columns: dict[str, Any] = {
        "frame_index": pa.array(np.arange(n, dtype=np.int32)),
        "time_s": pa.array(np.arange(n) / fps),
        "runner_found": pa.array(track.found),
    }
    for i, name in enumerate(("x1", "y1", "x2", "y2", "conf")):
        columns[f"box_{name}"] = pa.array(track.boxes[:, i].astype(np.float32), from_pandas=True)
    for k, name in enumerate(KEYPOINT_NAMES):
        columns[f"{name}_x_raw"] = pa.array(track.keypoints[:, k, 0].astype(np.float32), from_pandas=True)
        columns[f"{name}_y_raw"] = pa.array(track.keypoints[:, k, 1].astype(np.float32), from_pandas=True)
        columns[f"{name}_conf"] = pa.array(track.keypoints[:, k, 2].astype(np.float32), from_pandas=True)
    for name, series in frame_series.items():
        if name in columns:
            continue
        values = np.asarray(series)
        if values.shape != (n,):
            continue
        if values.dtype.kind in "fc":
            columns[name] = pa.array(values.astype(np.float64), from_pandas=True)  # NaN -> null
        else:
            columns[name] = pa.array(values)
    return pa.table(columns)


def strides_table(strides: list[dict]) -> pa.Table:
    if not strides:
        return pa.table({"stride_index": pa.array([], pa.int32())})
    rows = [{"stride_index": i, **json_safe(dict(row))} for i, row in enumerate(strides)]
    return pa.Table.from_pylist(rows)


def _typed_column(value: Any, numeric: bool) -> pa.Array:
    """A one-row column with a stable type across sessions (None never becomes a null type)."""
    if isinstance(value, bool):
        return pa.array([value], pa.bool_())
    if numeric and (value is None or isinstance(value, int | float | np.number)):
        return pa.array([json_safe(float(value)) if value is not None else None], pa.float64())
    if isinstance(value, int | np.integer):
        return pa.array([int(value)], pa.int64())
    if isinstance(value, float | np.floating):
        return pa.array([json_safe(float(value))], pa.float64())
    if isinstance(value, datetime):
        value = value.isoformat()
    if isinstance(value, dict | list | tuple):
        value = to_json(value)
    return pa.array([None if value is None else str(value)], pa.string())


def sessions_table(meta: dict[str, Any], summary: dict[str, Any], documents: dict[str, Any]) -> pa.Table:
    """One row: session metadata, scalar metrics (always float64), and the API's documents as JSON."""
    columns: dict[str, pa.Array] = {name: _typed_column(value, numeric=False) for name, value in meta.items()}
    for name, value in summary.items():
        columns.setdefault(name, _typed_column(value, numeric=True))
    for name, document in documents.items():
        columns[name] = pa.array([to_json(document)], pa.string())
    return pa.table(columns)


#: The sessions row's document columns (JSON text), by their name in the row.
DOCUMENT_COLUMNS = ("summary_doc", "details_doc", "form_doc", "gait_doc", "quality_doc")


def session_documents(row: dict[str, Any]) -> dict[str, dict]:
    """The documents of one sessions row, parsed (``{}`` for a missing or unreadable one)."""
    out: dict[str, dict] = {}
    for name in DOCUMENT_COLUMNS:
        value = row.get(name)
        if isinstance(value, str) and value:
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                value = {}
        out[name] = value if isinstance(value, dict) else {}
    return out


def session_facts(row: dict[str, Any], profile: dict | None = None) -> SessionFacts:
    """The numbers commentary may use, from one sessions row: its documents and its scalars."""
    docs = session_documents(row)
    scalars = {k: v for k, v in row.items() if k not in DOCUMENT_COLUMNS}
    return SessionFacts.from_documents(docs["summary_doc"], docs["form_doc"], docs["gait_doc"],
                                       docs["quality_doc"], scalars, profile)
