"""Lay an analysed session out as the lake's ``sessions``, ``frames`` and ``strides`` tables."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from analysis.commentary import SessionFacts
from analysis.results import MetricStats, SessionAnalysis, json_safe, spread_stats
from analysis.session_report import Quality, Summary
from analysis.strides import StrideTable
from analysis.keypoints import KEYPOINT_NAMES
from analysis.tracking import RunnerTrack
from analysis.vocabulary import joints_text
from tasks.lake_schema import conform_tables, stats_columns


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


def strides_table(strides: StrideTable) -> pa.Table:
    """The lake's ``strides`` table: ``stride_index`` and the table's columns (missing values
    null; a column with no value at all has the null type)."""
    if not len(strides):
        return pa.table({"stride_index": pa.array([], pa.int32())})
    return pa.Table.from_pylist([{"stride_index": i, **row} for i, row in enumerate(strides.rows())])


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


def sessions_table(meta: dict[str, Any], summary: Summary, documents: dict[str, Any],
                   stats: dict[str, MetricStats] | None = None) -> pa.Table:
    """One row: session metadata, the summary's scalar metrics (always float64,
    :meth:`analysis.session_report.Summary.to_dict`), each spread metric's
    ``<metric>_min``/``_max``/``_values`` (``stats``: :func:`analysis.results.spread_stats`; its
    ``avg`` is the metric's own column), and the engine's documents as JSON."""
    columns: dict[str, pa.Array] = {name: _typed_column(value, numeric=False) for name, value in meta.items()}
    for name, value in summary.to_dict().items():
        columns.setdefault(name, _typed_column(value, numeric=True))
    for metric, values in (stats or {}).items():
        names = stats_columns(metric)
        columns[names["min"]] = _typed_column(values.min, numeric=True)
        columns[names["max"]] = _typed_column(values.max, numeric=True)
        columns[names["values"]] = pa.array([list(values.values)], pa.list_(pa.float64()))
    for name, document in documents.items():
        columns[name] = pa.array([to_json(document)], pa.string())
    return pa.table(columns)


#: The sessions row's JSON columns: the engine's phases, quality and events as they are.
DOCUMENT_COLUMNS = ("gait_doc", "quality_doc", "events_doc")


def _parsed(value: Any) -> dict:
    """A JSON column's document (``{}`` for a missing or unreadable one)."""
    if isinstance(value, str) and value:
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            value = {}
    return value if isinstance(value, dict) else {}


def session_documents(row: dict[str, Any]) -> dict[str, dict]:
    """The JSON columns of one sessions row, parsed (``{}`` for a missing or unreadable one)."""
    return {name: _parsed(row.get(name)) for name in DOCUMENT_COLUMNS}


def events_document(events: list) -> dict:
    """``{"events": [{side, kind, frame, time_s}, ...]}``: the IC, MS and TO events the engine
    counted (after its validity gate), in frame order, for the lake (``events_doc``), so that
    an overlay labels exactly these instead of re-deriving them from contact flags."""
    return json_safe({"events": [{"side": e.side, "kind": e.kind, "frame": e.frame, "time_s": e.time_s}
                                 for e in events]})


def session_facts(row: dict[str, Any], profile: dict | None = None,
                  strides: StrideTable | list[dict] | None = None) -> SessionFacts:
    """The numbers commentary may use, from one sessions row (its scalars are the engine's
    summary; ``quality_doc`` and ``gait_doc`` its quality and phases) and the run's strides
    (a :class:`StrideTable` or the ``strides`` table as rows; for the spread over strides,
    none without them)."""
    docs = {name: _parsed(row.get(name)) for name in ("quality_doc", "gait_doc")}
    return SessionFacts.from_results(row, docs["quality_doc"], docs["gait_doc"], strides, profile)


def session_tables(meta: dict[str, Any], result: SessionAnalysis, quality: Quality, track: RunnerTrack,
                   fps: float) -> dict[str, pa.Table]:
    """The lake's tables of one analysed session, in their declared schemas
    (:mod:`tasks.lake_schema`): ``sessions`` (``meta``, the reported joints, the engine's
    summary as scalar columns, the spread metrics' statistics over strides, and its phases,
    ``quality`` (:meth:`analysis.session_report.Quality.to_dict`) and events as JSON), ``frames`` (``fps``: the container rate) and
    ``strides``. The API builds the spec's documents from these when it reads them
    (``api/documents.py``) and computes nothing of the engine's."""
    stored = {"gait_doc": result.phases.to_dict(), "quality_doc": quality.to_dict(),
              "events_doc": events_document(result.events)}
    stats = spread_stats(result.strides, result.summary, quality)
    return conform_tables({
        "sessions": sessions_table({**meta, "joints": joints_text(result.joints)}, result.summary, stored, stats),
        "frames": frames_table(track, fps, result.frame_series),
        "strides": strides_table(result.strides),
    })
