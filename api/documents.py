"""The spec's report documents, built from the engine's typed results.

The one place that knows the running-sessions API's shapes of the numbers:
summary blocks (``performance_metrics``, ``running_mechanics``, ...), session
details (per-frame ``metrics``/``angles`` and ``calculated_metrics``),
form-analysis metrics and the gait-analysis report. Two sources give the same
documents:

* a fresh :class:`analysis.engine.SessionAnalysis` (:func:`from_analysis`: the
  demo session, the CLI's ``--json``, tests);
* a lake run (:func:`from_lake`): the ``sessions`` row's scalar metrics and its
  ``quality_doc``/``gait_doc`` (the engine's quality and phases as they are),
  the ``strides`` table and the ``frames`` table. Rows written before documents
  moved here still carry ``summary_doc``/``details_doc``/``form_doc``: those
  are served as stored.

Every function returns JSON-safe values (NaN -> None).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from analysis.engine import SessionAnalysis, angle_keys, json_safe, metric_stats
from analysis.strides import StrideTable, as_stride_table
from analysis.vocabulary import FORM_THREAD_BLOCKS, GAIT_THREAD_BLOCKS, JOINTS, parse_joints

#: Blocks of the summary document: metric name -> the per-stride column and session value it shows.
SUMMARY_METRICS: dict[str, dict[str, str]] = {
    "performance_metrics": {"speed": "speed_mps", "pace": "pace_min_per_km", "cadence": "cadence_spm",
                            "power": "power_w", "normalized_power": "normalized_power_w_per_kg"},
    "running_mechanics": {"contact_time": "contact_time_s", "flight_time": "flight_time_s",
                          "stride_time": "stride_time_s", "stride_length": "stride_length_m"},
    "balance_and_posture": {"balance": "balance_pct", "contact_angle": "contact_angle_deg"},
}
#: Per-frame metric series of the details document, in their order there.
DETAILS_METRICS = ("speed", "pace", "cadence", "contact_time", "flight_time", "stride_time", "stride_length",
                   "power", "normalized_power", "balance", "contact_angle", "distance")
#: Form-analysis metrics: name -> the summary value it shows.
FORM_METRICS: dict[str, str] = {
    "speed": "speed_mps", "balance": "balance_pct", "cadence": "cadence_spm", "contact_angle": "contact_angle_deg",
    "eversion_velocity": "eversion_velocity_deg_per_s", "knee_flexion": "knee_flexion_deg",
    "posture_angle": "posture_angle_deg", "ankle_angle": "ankle_angle_deg", "com_oscillation": "com_oscillation_m",
    "stride_angle": "stride_angle_deg", "mean_h": "mean_h_m",
}
#: Blocks of the summary document, in order.
SUMMARY_BLOCKS: tuple[str, ...] = (*SUMMARY_METRICS, "distance_and_duration")
#: The API's thread blocks of each kind (the spec's names) -> the commentary block that writes them
#: (:data:`analysis.vocabulary.THREAD_BLOCKS`; form and gait blocks bear the same names).
THREAD_TOPICS: dict[str, dict[str, str]] = {
    "summary": {"performance_metrics": "performance", "running_mechanics": "mechanics",
                "balance_and_posture": "balance_posture", "distance_and_duration": "distance_duration",
                "final_summary": "overall"},
    "form": {block: block for block in FORM_THREAD_BLOCKS},
    "recommendation": {block: block for block in GAIT_THREAD_BLOCKS},
}
_PER_STRIDE = {name: key for names in SUMMARY_METRICS.values() for name, key in names.items()}
#: Documents built from typed results (the others are stored in the lake as the engine gave them).
BUILT = ("summary_doc", "details_doc", "form_doc")


def _block(strides: StrideTable, key: str, summary: Mapping, quality: Mapping) -> dict:
    """``{min, max, avg, values}`` of one per-stride metric (:func:`analysis.engine.metric_stats`)."""
    s = metric_stats(strides, key, summary, quality)
    return {"min": s.min, "max": s.max, "avg": s.avg, "values": list(s.values)}


def summary_document(summary: Mapping, strides: StrideTable | list[dict], quality: Mapping) -> dict:
    """Blocks of GET /running/sessions/{id}/summary/ (without user_information,
    session_date and summary_text, which :func:`api.reports.summary` adds); ``strides``
    a :class:`StrideTable` or stride rows."""
    strides = as_stride_table(strides)
    doc: dict = {block: {name: _block(strides, key, summary, quality) for name, key in names.items()}
                 for block, names in SUMMARY_METRICS.items()}
    doc["running_mechanics"]["footstrike"] = summary.get("footstrike")
    doc["distance_and_duration"] = {"total_distance": summary.get("total_distance_m"),
                                    "total_time": summary.get("total_time_s")}
    return json_safe(doc)


def details_document(series: Mapping[str, np.ndarray], time_s: np.ndarray, joints: tuple[str, ...],
                     summary: Mapping, strides: StrideTable | list[dict], quality: Mapping) -> dict:
    """Session details: ``metrics`` and ``angles`` (key -> per-frame array), ``all_timestamps``
    (s), ``calculated_metrics`` (``<metric>_avg/_min/_max``) and ``segments`` (the number of
    continuous segments analysed, ``quality['segments']``: 1 for a clip without cuts).

    A metric of the summary document gets that document's avg/min/max (the
    session value and the stride extremes); ``posture_angle_avg`` is the
    session's ``posture_angle_deg``; other series (joint angles, cumulative
    distance) are summarised over their frames. ``strides``: a :class:`StrideTable` or stride rows."""
    strides = as_stride_table(strides)
    metrics = {k: series[k] for k in DETAILS_METRICS if k in series}
    angles = {k: series[k] for k in angle_keys(joints)}
    calc = {}
    for k, v in {**metrics, **angles}.items():
        if k in _PER_STRIDE:
            block = _block(strides, _PER_STRIDE[k], summary, quality)
            for stat in ("avg", "min", "max"):
                calc[f"{k}_{stat}"] = block[stat]
            continue
        f = v[np.isfinite(v)]
        calc[f"{k}_avg"] = float(f.mean()) if f.size else None
        calc[f"{k}_min"] = float(f.min()) if f.size else None
        calc[f"{k}_max"] = float(f.max()) if f.size else None
    if "posture_angle_avg" in calc:
        calc["posture_angle_avg"] = summary.get("posture_angle_deg")
    # the continuous segments analysed (an edited clip's shots between cuts; 1 without cuts)
    segments = int(quality.get("segments") or 1)
    return json_safe({"metrics": metrics, "angles": angles, "all_timestamps": time_s, "calculated_metrics": calc,
                      "segments": segments})


def form_document(summary: Mapping) -> dict:
    """``{"metrics": {...}}`` of POST form-analysis: the session's stride-averaged values."""
    return json_safe({"metrics": {k: summary.get(v) for k, v in FORM_METRICS.items()}})


def gait_document(phases: Mapping) -> dict:
    """``{"left": {...}, "right": {...}}`` of POST gait-analysis (without image URLs): the
    engine's phase report as it is."""
    return json_safe(dict(phases))


def from_analysis(result: SessionAnalysis) -> dict[str, dict]:
    """The documents of a fresh analysis, by their lake column name (``quality_doc`` is the
    engine's quality as it is)."""
    return {
        "summary_doc": summary_document(result.summary, result.strides, result.quality),
        "details_doc": details_document(result.frame_series, result.time_s, result.joints, result.summary,
                                        result.strides, result.quality),
        "form_doc": form_document(result.summary),
        "gait_doc": gait_document(result.phases),
        "quality_doc": json_safe(result.quality),
    }


def _frame_series(frames: pa.Table) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Float64 series (null -> NaN) of the ``frames`` table, and its frame indices."""
    series = {name: frames.column(name).to_numpy().astype(np.float64)
              for name, field in zip(frames.column_names, frames.schema)
              if pa.types.is_floating(field.type) or pa.types.is_null(field.type)}
    return series, frames.column("frame_index").to_numpy()


def _row_joints(row: Mapping) -> tuple[str, ...]:
    """The joints the engine reported (``joints`` of the row; every joint when absent)."""
    value = row.get("joints")
    return parse_joints(value) if isinstance(value, str) and value else JOINTS


def from_lake(name: str, row: Mapping[str, Any], quality: Mapping,
              read_table: Callable[[str], pa.Table | None]) -> dict:
    """Document ``name`` (one of :data:`BUILT`) of a lake run: ``row`` the parsed ``sessions``
    row (its scalars are the engine's summary), ``quality`` its ``quality_doc``,
    ``read_table(name)`` the run's ``strides``/``frames`` table (None when absent).

    ``all_timestamps`` are frame index / ``effective_fps`` (the analysed rate), as the engine's."""
    if name == "form_doc":
        return form_document(row)
    strides_table = read_table("strides")
    strides = StrideTable.from_rows(strides_table.to_pylist() if strides_table is not None else [])
    if name == "summary_doc":
        return summary_document(row, strides, quality)
    if name != "details_doc":
        raise KeyError(name)
    frames = read_table("frames")
    if frames is None:
        return {}
    series, index = _frame_series(frames)
    fps = row.get("effective_fps") or row.get("fps")
    time_s = index.astype(np.int64) / float(fps) if fps else np.zeros(0)
    return details_document(series, time_s, _row_joints(row), row, strides, quality)


def comment_topic(kind: str, block: str) -> str:
    """The commentary block (``analysis.commentary.comment``) that writes the API's thread
    ``block`` of ``kind`` (:data:`THREAD_TOPICS`)."""
    return THREAD_TOPICS.get(kind, {}).get(block, block)
