"""The spec's report documents, built from the engine's typed results.

The one place that knows the running-sessions API's shapes of the numbers:
summary blocks (``performance_metrics``, ``running_mechanics``, ...), session
details (per-frame ``metrics``/``angles`` and ``calculated_metrics``),
form-analysis metrics and the gait-analysis report. Two sources give the same
documents:

* a fresh :class:`analysis.results.SessionAnalysis` (:func:`from_analysis`: the
  demo session, the CLI's ``--json``, tests);
* a lake run (:func:`from_lake`): the ``sessions`` row's scalar metrics, the
  per-metric statistics stored with it when it was written (``<metric>_min``,
  ``_max``, ``_values``: :data:`tasks.lake_schema.STATS`), its ``quality_doc``
  (the engine's quality as it is) and the ``frames`` table. Nothing of the
  engine's is computed here.

Every function returns JSON-safe values (NaN -> None).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from analysis.catalogue import METRICS, SUMMARY_METRIC_BLOCKS, by_name, spread_metrics
from analysis.phase_report import Phases
from analysis.results import MetricStats, SessionAnalysis, angle_keys, json_safe, spread_stats
from analysis.session_report import Quality, Summary
from analysis.vocabulary import FORM_THREAD_BLOCKS, GAIT_THREAD_BLOCKS, parse_joints
from api.openapi import shared_spec
from tasks.lake_schema import stats_columns

#: Blocks of the summary document: metric name -> the per-stride column and session value it shows
#: (the metric catalogue's spread metrics, :func:`analysis.catalogue.spread_metrics`).
SUMMARY_METRICS: dict[str, dict[str, str]] = {
    block: {metric.spec.summary[1]: metric.name
            for metric in map(by_name, spread_metrics()) if metric.spec.summary[0] == block}
    for block in SUMMARY_METRIC_BLOCKS
}
#: Per-frame metric series of the details document, in their order there.
DETAILS_METRICS = tuple(metric.series for metric in METRICS if metric.series)


def _spec_ordered(names: list[str], spec_order: list[str]) -> list[str]:
    """``names`` in the spec's order; names the spec does not list keep their order, after it."""
    return sorted(names, key=lambda n: (0, spec_order.index(n)) if n in spec_order else (1, names.index(n)))


def _form_metrics() -> dict[str, str]:
    form = shared_spec()["paths"]["/running/sessions/{session_id}/form-analysis/"]["post"]
    order = form["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["metrics"]["properties"]
    by_form = {metric.spec.form: metric.name for metric in METRICS if metric.spec.form}
    return {name: by_form[name] for name in _spec_ordered(list(by_form), list(order))}


#: Form-analysis metrics: name -> the summary value it shows (in the spec's order).
FORM_METRICS: dict[str, str] = _form_metrics()
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


#: A spread metric's statistics: ``{min, max, avg, values}`` (numbers, or None where not measured).
Stats = Mapping[str, Any]


def stats_of(stats: Mapping[str, MetricStats]) -> dict[str, dict]:
    """:func:`analysis.results.spread_stats`' values as the documents' ``{min, max, avg, values}``."""
    return {key: {"min": s.min, "max": s.max, "avg": s.avg, "values": list(s.values)} for key, s in stats.items()}


def stored_stats(row: Mapping[str, Any]) -> dict[str, dict]:
    """The spread metrics' statistics a lake ``sessions`` row holds (written with the session:
    ``<metric>_min/_max/_values``, the average being the metric's own column)."""
    out = {}
    for key in _PER_STRIDE.values():
        names = stats_columns(key)
        out[key] = {"min": row[names["min"]], "max": row[names["max"]], "avg": row[key],
                    "values": list(row[names["values"]] or [])}
    return out


def _block(stats: Mapping[str, Stats], key: str) -> dict:
    """``{min, max, avg, values}`` of one spread metric (all None when the session has none)."""
    block = stats.get(key) or {}
    return {"min": block.get("min"), "max": block.get("max"), "avg": block.get("avg"),
            "values": list(block.get("values") or [])}


def summary_document(summary: Summary, stats: Mapping[str, Stats]) -> dict:
    """Blocks of GET /running/sessions/{id}/summary/ (without user_information,
    session_date and summary_text, which :func:`api.reports.summary` adds); ``summary`` the
    session's (a lake row's: :meth:`Summary.from_dict`), ``stats`` the spread metrics'
    statistics (:func:`stats_of`, :func:`stored_stats`)."""
    doc: dict = {block: {name: _block(stats, key) for name, key in names.items()}
                 for block, names in SUMMARY_METRICS.items()}
    doc["running_mechanics"]["footstrike"] = summary.footstrike
    doc["distance_and_duration"] = {"total_distance": summary.total_distance_m, "total_time": summary.total_time_s}
    return json_safe(doc)


def _session_speed(block: Any) -> float | None:
    """The session speed (m/s) of a ``{avg, ...}`` block or a number; None when unknown."""
    value = block.get("avg") if isinstance(block, Mapping) else block
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def with_references(summary_doc: Mapping) -> dict:
    """The summary document's metric blocks, each per-stride metric that has a published range
    (:attr:`analysis.catalogue.Metric.reference`, where it holds at the session's speed) with it
    as ``reference`` ``{low, high, unit, source, conditions}`` beside ``min/max/avg/values``.
    An extension: the spec's metric objects allow other properties, strict clients ignore it."""
    speed = _session_speed((summary_doc.get("performance_metrics") or {}).get("speed"))
    out = {block: dict(value) if isinstance(value, Mapping) else value for block, value in summary_doc.items()}
    for block, names in SUMMARY_METRICS.items():
        for name, key in names.items():
            stats = (out.get(block) or {}).get(name)
            reference = by_name(key).reference_json(speed)
            if isinstance(stats, Mapping) and reference is not None:
                out[block][name] = {**stats, "reference": reference}
    return out


def form_references(metrics: Mapping[str, Any]) -> dict[str, dict]:
    """``{form metric: reference}`` for the form-analysis ``metrics`` that have a published range
    at the session's speed (``metrics["speed"]``): the extension ``reference_ranges`` beside
    ``metrics``, whose values the spec types as numbers."""
    speed = _session_speed(metrics.get("speed"))
    refs = {name: by_name(key).reference_json(speed) for name, key in FORM_METRICS.items()}
    return {name: ref for name, ref in refs.items() if ref is not None}


def details_document(series: Mapping[str, np.ndarray], time_s: np.ndarray, joints: tuple[str, ...],
                     summary: Summary, stats: Mapping[str, Stats], quality: Quality) -> dict:
    """Session details: ``metrics`` and ``angles`` (key -> per-frame array), ``all_timestamps``
    (s), ``calculated_metrics`` (``<metric>_avg/_min/_max``) and ``segments`` (the number of
    continuous segments analysed, ``quality.segments``: 1 for a clip without cuts).

    A metric of the summary document gets that document's avg/min/max (the
    session value and the stride extremes); ``posture_angle_avg`` is the
    session's ``posture_angle_deg``; other series (joint angles, cumulative
    distance) are summarised over their frames. ``stats``: as :func:`summary_document`'s."""
    metrics = {k: series[k] for k in DETAILS_METRICS if k in series}
    angles = {k: series[k] for k in angle_keys(joints)}
    calc = {}
    for k, v in {**metrics, **angles}.items():
        if k in _PER_STRIDE:
            block = _block(stats, _PER_STRIDE[k])
            for stat in ("avg", "min", "max"):
                calc[f"{k}_{stat}"] = block[stat]
            continue
        f = v[np.isfinite(v)]
        calc[f"{k}_avg"] = float(f.mean()) if f.size else None
        calc[f"{k}_min"] = float(f.min()) if f.size else None
        calc[f"{k}_max"] = float(f.max()) if f.size else None
    if "posture_angle_avg" in calc:
        calc["posture_angle_avg"] = summary.posture_angle_deg
    # the continuous segments analysed (an edited clip's shots between cuts; 1 without cuts)
    return json_safe({"metrics": metrics, "angles": angles, "all_timestamps": time_s, "calculated_metrics": calc,
                      "segments": quality.segments})


def form_document(summary: Summary) -> dict:
    """``{"metrics": {...}}`` of POST form-analysis: the session's stride-averaged values."""
    return json_safe({"metrics": {k: summary.value(v) for k, v in FORM_METRICS.items()}})


#: The gait-analysis document's names of a side's fields, a phase mark's and an angle
#: curve's, by :class:`analysis.phase_report.SidePhases`' / ``PhaseMark``'s / ``AngleCurve``'s.
GAIT_SIDE_NAMES = {"peak_ms": "peak_time", "first_side": "initiator", "marks": "phases", "angle_curves": "angles",
                   "curve_times_ms": "graph_timestamps"}
GAIT_MARK_NAMES = {"frame": "video_frame", "frames_since_strike": "video_phase", "percent_of_stride": "graph_phase"}
GAIT_CURVE_NAMES = {"mean": "current", "sd": "std_dev", "next_stride": "next"}


def _renamed(stored: Mapping, names: Mapping[str, str]) -> dict:
    return {names[k]: v for k, v in stored.items()}


def gait_document(phases: Phases) -> dict:
    """``{"left": {...}, "right": {...}}`` of POST gait-analysis (without image URLs): the
    engine's phase report (:class:`analysis.phase_report.Phases`) in the spec's names
    (:data:`GAIT_SIDE_NAMES`, :data:`GAIT_MARK_NAMES`, :data:`GAIT_CURVE_NAMES`).

    Per side: ``peak_time`` (ms, strike to mid-stance), ``initiator`` (the side that strikes
    first), ``phases`` (each mark's ``video_frame``, ``video_phase``: frames since strike,
    ``graph_phase``: percent of the stride), ``angles`` (each curve's ``current``: mean,
    ``std_dev``, ``next``: the next stride's forecast) and ``graph_timestamps`` (ms)."""
    out = {}
    for side, stored in phases.to_dict().items():
        stored = {**stored, "marks": {n: _renamed(m, GAIT_MARK_NAMES) for n, m in stored["marks"].items()},
                  "angle_curves": {k: _renamed(c, GAIT_CURVE_NAMES) for k, c in stored["angle_curves"].items()}}
        out[side] = _renamed(stored, GAIT_SIDE_NAMES)
    return out


def phases_from_gait_document(doc: Mapping) -> Phases:
    """The :class:`analysis.phase_report.Phases` of a gait-analysis document (the inverse of
    :func:`gait_document`; ``image_url`` and other added fields are left out)."""
    back = {names[k]: k for names in (GAIT_SIDE_NAMES, GAIT_MARK_NAMES, GAIT_CURVE_NAMES) for k in names}

    def stored(block: Mapping, names: Mapping[str, str]) -> dict:
        return {back[k]: v for k, v in block.items() if k in back and back[k] in names}

    out = {}
    for side, block in doc.items():
        if not isinstance(block, Mapping):
            continue
        s = stored(block, GAIT_SIDE_NAMES)
        s["marks"] = {n: stored(m, GAIT_MARK_NAMES) for n, m in (s.get("marks") or {}).items()}
        s["angle_curves"] = {k: stored(c, GAIT_CURVE_NAMES) for k, c in (s.get("angle_curves") or {}).items()}
        out[side] = s
    return Phases.from_dict(out)


def from_analysis(result: SessionAnalysis) -> dict[str, dict]:
    """The documents of a fresh analysis, by their lake column name (``quality_doc`` is the
    engine's quality and ``gait_doc`` its phases as the lake stores them,
    :meth:`analysis.phase_report.Phases.to_dict`; :func:`gait_document` the spec's)."""
    stats = stats_of(spread_stats(result.strides, result.summary, result.quality))
    return {
        "summary_doc": summary_document(result.summary, stats),
        "details_doc": details_document(result.frame_series, result.time_s, result.joints, result.summary,
                                        stats, result.quality),
        "form_doc": form_document(result.summary),
        "gait_doc": result.phases.to_dict(),
        "quality_doc": json_safe(result.quality.to_dict()),
    }


def _frame_series(frames: pa.Table) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Float64 series (null -> NaN) of the ``frames`` table, and its frame indices."""
    series = {name: frames.column(name).to_numpy().astype(np.float64)
              for name, field in zip(frames.column_names, frames.schema)
              if pa.types.is_floating(field.type) or pa.types.is_null(field.type)}
    return series, frames.column("frame_index").to_numpy()


def from_lake(name: str, row: Mapping[str, Any], quality: Mapping,
              read_table: Callable[[str], pa.Table | None]) -> dict:
    """Document ``name`` (one of :data:`BUILT`) of a lake run in the current layout
    (:data:`storage.lake_layout.LAYOUT`): ``row`` the parsed ``sessions`` row (its scalars are
    the engine's summary, with the spread metrics' statistics), ``quality`` its ``quality_doc``,
    ``read_table(name)`` the run's ``frames`` table (None when absent).

    ``all_timestamps`` are frame index / ``effective_fps`` (the analysed rate), as the engine's."""
    if name == "form_doc":
        return form_document(Summary.from_dict(row))
    if name == "summary_doc":
        return summary_document(Summary.from_dict(row), stored_stats(row))
    if name != "details_doc":
        raise KeyError(name)
    frames = read_table("frames")
    if frames is None:
        return {}
    series, index = _frame_series(frames)
    fps = row["effective_fps"]
    time_s = index.astype(np.int64) / float(fps) if fps else np.zeros(0)
    return details_document(series, time_s, parse_joints(row["joints"]), Summary.from_dict(row), stored_stats(row),
                            Quality.coerce(quality))


def comment_topic(kind: str, block: str) -> str:
    """The commentary block (``analysis.commentary.comment``) that writes the API's thread
    ``block`` of ``kind`` (:data:`THREAD_TOPICS`)."""
    return THREAD_TOPICS.get(kind, {}).get(block, block)
