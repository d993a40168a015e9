"""The JSON documents behind the viewer's pages (``/app/api/...``), built from the catalog and the lake.

Everything numeric is SI (the page converts to imperial); each metric card says
its unit kind so the page knows how. See docs/viewer.md.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from analysis.catalogue import METRICS, by_name, computed_metrics
from analysis.commentary import comment
from analysis.phase_report import Phases
from analysis.resolution import TIMED_METRICS, resolution_text
from analysis.session_report import Quality, Summary
from api import documents, reports
from storage.catalog import RunningSession

#: The page's unit kind (viewer.js ``UNITS``, the PDF's ``_PDF_UNITS``) of a catalogue unit symbol.
UNIT_KINDS = {"steps/min": "cadence", "s": "time", "": "ratio", "m": "length", "m/s": "speed", "min/km": "pace",
              "W": "power", "W/kg": "power_per_kg", "%": "percent", "deg": "angle"}


def _catalogue_cards() -> tuple[tuple[str, str, str, tuple[str, str] | None], ...]:
    """Cards of the catalogue's computed per-stride metrics (:func:`analysis.catalogue.computed_metrics`):
    label, unit kind and (for a spread metric) its summary block from the catalogue."""
    return tuple((m.name, m.label[:1].upper() + m.label[1:], UNIT_KINDS[m.unit], m.spec.summary if m.spread else None)
                 for m in computed_metrics() if m.unit in UNIT_KINDS)


#: Metric cards: (key in the lake's sessions row, label, unit kind, summary_doc block/name for the range);
#: the catalogue's computed metrics after the fixed ones, then distance and duration.
CARDS: tuple[tuple[str, str, str, tuple[str, str] | None], ...] = (
    ("cadence_spm", "Cadence", "cadence", ("performance_metrics", "cadence")),
    ("contact_time_s", "Contact time", "time", ("running_mechanics", "contact_time")),
    ("flight_time_s", "Flight time", "time", ("running_mechanics", "flight_time")),
    ("duty_factor", "Duty factor", "ratio", None),
    ("stride_time_s", "Stride time", "time", ("running_mechanics", "stride_time")),
    ("stride_length_m", "Stride length", "length", ("running_mechanics", "stride_length")),
    ("speed_mps", "Speed", "speed", ("performance_metrics", "speed")),
    ("pace_min_per_km", "Pace", "pace", ("performance_metrics", "pace")),
    ("power_w", "Power", "power", ("performance_metrics", "power")),
    ("normalized_power_w_per_kg", "Power per kg", "power_per_kg", ("performance_metrics", "normalized_power")),
    ("balance_pct", "Balance (left share)", "percent", ("balance_and_posture", "balance")),
    ("contact_angle_deg", "Contact angle", "angle", ("balance_and_posture", "contact_angle")),
    ("posture_angle_deg", "Trunk lean", "angle", None),
    ("knee_flexion_deg", "Stance knee flexion", "angle", None),
    ("ankle_angle_deg", "Shank at contact (ankle proxy)", "angle", None),
    ("com_oscillation_m", "Vertical oscillation", "short_length", None),
    ("footstrike", "Foot strike (proxy)", "text", None),
    *_catalogue_cards(),
    ("total_distance_m", "Distance", "length", None),
    ("total_time_s", "Duration", "duration", None),
)
SCALE_METRICS = ("stride_length_m", "speed_mps", "pace_min_per_km", "power_w", "normalized_power_w_per_kg",
                 "com_oscillation_m", "total_distance_m")
TIMING_METRICS = ("cadence_spm", "contact_time_s", "flight_time_s", "stride_time_s", "duty_factor", "speed_mps",
                  "pace_min_per_km")
STRIDE_METRICS = tuple(c[0] for c in CARDS if c[0] not in ("total_distance_m", "total_time_s"))
ANGLE_METRICS = ("contact_angle_deg", "posture_angle_deg", "knee_flexion_deg", "ankle_angle_deg")
PHASES = reports.GAIT_PHASES
HISTORY_LIMIT = 20
LIST_LIMIT = 200


def number(value: Any, digits: int = 4) -> float | None:
    n = reports.number_or_none(value)
    return None if n is None else round(n, digits)


#: What a quality note of each kind means for the metrics it qualifies, in one sentence (the
#: PDF's "Keep in mind" column; the full note is listed under the table by its number).
NOTE_SENTENCES: dict[str, str] = {
    "scale": "Rests on an estimated image scale.",
    "slow_motion": "Timing may be off: the clip looks slowed down.",
    "few_strides": "Few complete strides: a rough value.",
    "near_far": "From the near foot; the far foot is unreliable.",
    "proxy": "From the shin angle; the pose has no foot points.",
    "view": "Camera not side-on: angles are less reliable.",
    "weight": "Needs the runner's weight.",
    "general": "See the note.",
}


def note_sentence(notes: list[dict[str, Any]], index: int) -> str:
    """The PDF's sentence for ``notes[index]``, with the note's number (1-based)."""
    return f"{NOTE_SENTENCES.get(notes[index]['kind'], NOTE_SENTENCES['general'])} (note {index + 1})"


def quality_notes(quality: Quality) -> list[dict[str, Any]]:
    """The quality document's reasons, each with the metric cards it qualifies (``applies_to``)."""
    notes = []
    for text in quality.reasons:
        low = str(text).lower()
        if "height unknown" in low or "image scale" in low:
            applies, kind = SCALE_METRICS, "scale"
        elif "implausible timing" in low or "slow motion" in low:
            applies, kind = TIMING_METRICS, "slow_motion"
        elif "too few complete strides" in low or "short clip" in low:
            applies, kind = STRIDE_METRICS, "few_strides"
        elif "far foot" in low or "belt speeds" in low:
            applies, kind = ("speed_mps", "pace_min_per_km", "stride_length_m", "power_w", "normalized_power_w_per_kg"), "near_far"
        elif "proxies" in low or "proxy" in low:
            applies, kind = ("footstrike", "ankle_angle_deg"), "proxy"
        elif "side" in low and "camera" in low:
            applies, kind = ANGLE_METRICS, "view"
        elif "weight unknown" in low:
            applies, kind = ("power_w",), "weight"
        else:
            applies, kind = (), "general"
        notes.append({"kind": kind, "text": str(text), "applies_to": list(applies)})
    near = quality.near_leg
    # the engine's own far-leg note says it already; one fact, one note
    far_said = any("far (" in n["text"] or "far leg" in n["text"] for n in notes)
    if near in ("left", "right") and not far_said:
        notes.append({"kind": "near_far", "text": f"The {near} leg is nearer the camera; the far leg's keypoints "
                                                   "are drawn smaller and are less reliable.", "applies_to": []})
    return notes


def _artifact_name(name: str) -> str:
    if name == "video":
        return "The analysed video"
    if name == "report":
        return "The chart report"
    group, _, leaf = name.partition("/")
    return f"The {leaf.replace('_', ' ')} {'phase ' if group == 'gait' else ''}snapshot"


def artifact_notes(images_doc: dict[str, Any]) -> list[dict[str, Any]]:
    """A note per artifact the renderer could not draw (``images_doc.failed``: name -> reason,
    :func:`tasks.render.render_session`): said on the page and in the PDF, not silently missing."""
    failed = images_doc.get("failed") or {}
    return [{"kind": "artifact", "text": f"{_artifact_name(str(name))} could not be rendered ({reason}).",
             "applies_to": []} for name, reason in failed.items()]


def session_notes(record: reports.SessionRecord) -> list[dict[str, Any]]:
    """The session's notes: the quality document's, then the renderer's (:func:`artifact_notes`)."""
    return quality_notes(record.quality()) + artifact_notes(record.doc("images_doc"))


#: Card labels when the foot stage measured the feet (``quality.footstrike_source == "measured"``).
MEASURED_FOOT_LABELS = {"footstrike": "Foot strike", "ankle_angle_deg": "Shank at contact"}


def footstrike_detail(quality: Quality) -> str | None:
    """The measured foot strike card's detail: touchdown angle mean +- SD per side and the pattern's share."""
    if not quality.feet_measured:
        return None
    parts = []
    for side in ("left", "right"):
        s = quality.footstrike_side(side)
        mean, sd = number(s.get("angle_mean_deg"), 1), number(s.get("angle_sd_deg"), 1)
        if mean is not None:
            parts.append(f"{side} {mean:+.1f}°" + (f" ± {sd:.1f}°" if sd is not None else "") + f" ({s.get('measured', 0)})")
    share = number(quality.footstrike_share, 3)
    if share is not None:
        parts.append(f"{share:.0%} of measured contacts")
    left_out = sum(quality.footstrike_excluded.values())
    if left_out:
        parts.append(f"{left_out} left out")
    return "touchdown sole angle " + ", ".join(parts) if parts else None


def reference_position(value: Any, reference: dict[str, Any]) -> str | None:
    """Where ``value`` sits against a reference range: ``below``, ``within`` (bounds included)
    or ``above``; None when there is no value."""
    n = reports.number_or_none(value)
    if n is None:
        return None
    return "below" if n < reference["low"] else "above" if n > reference["high"] else "within"


def card_reference(key: str, value: Any, speed_mps: Any) -> dict[str, Any] | None:
    """The card's published normal range from the catalogue (:meth:`analysis.catalogue.Metric.reference_json`:
    ``low, high`` in SI, ``source``, ``conditions``) with where the session's ``value`` sits
    (:func:`reference_position`); None where the metric has no range, or none at this session's speed."""
    ref = by_name(key).reference_json(reports.number_or_none(speed_mps))
    if ref is None:
        return None
    return {**ref, "position": reference_position(value, ref)}


def series_units() -> dict[str, str]:
    """Per-frame metric series (the details document's keys) -> the page's unit kind, from the
    catalogue, so a series the catalogue gains is drawn in its unit without editing viewer.js."""
    return {m.series: UNIT_KINDS[m.unit] for m in METRICS if m.series and m.unit in UNIT_KINDS}


def series_references(speed_mps: Any) -> dict[str, dict[str, Any]]:
    """Per-frame metric series (the details document's keys) -> the catalogue's range that holds at
    the session's speed: the page's metric chart shades it as a band."""
    speed = reports.number_or_none(speed_mps)
    return {m.series: ref for m in METRICS if m.series and (ref := m.reference_json(speed)) is not None}


def cards(summary: Summary | dict[str, Any], summary_doc: dict[str, Any], notes: list[dict[str, Any]],
          quality: Quality | dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The metric cards of ``summary`` (or a lake row's: :meth:`Summary.from_dict`); contact and
    flight carry ``resolution``, the one-frame timing uncertainty
    (:func:`analysis.resolution.resolution_text`) of the session's frame rate.
    With ``quality`` from a session whose feet were measured, the foot strike and ankle cards
    say so (no "proxy" label) and the foot strike card carries its ``detail``. A metric with a
    published normal range carries it as ``reference`` (:func:`card_reference`)."""
    summary, quality = Summary.coerce(summary), Quality.coerce(quality)
    measured = quality.feet_measured
    out = []
    frame_s = quality.resolved_frame_time_s()
    for key, label, unit, stats_at in CARDS:
        value = summary.value(key)
        if measured:
            label = MEASURED_FOOT_LABELS.get(key, label)
        card: dict[str, Any] = {"key": key, "label": label, "unit": unit}
        if measured and key == "footstrike":
            card["detail"] = footstrike_detail(quality)
        if unit == "text":
            card["value"] = value if isinstance(value, str) and value else None
        else:
            card["value"] = number(value)
        if stats_at:
            stats = (summary_doc.get(stats_at[0]) or {}).get(stats_at[1]) or {}
            lo, hi = number(stats.get("min")), number(stats.get("max"))
            if lo is not None and hi is not None:
                card["range"] = [lo, hi]
        reference = card_reference(key, card["value"], summary.speed_mps)
        if reference is not None:
            card["reference"] = reference
        card["notes"] = [i for i, n in enumerate(notes) if key in n["applies_to"]]
        if key in TIMED_METRICS and card["value"] is not None:
            card["resolution"] = resolution_text(card["value"], frame_s)
        out.append(card)
    return out


#: Most points one chart of the page receives: two per CSS pixel of a wide desktop chart.
#: Longer sessions are sent as a min/max envelope (a 10-minute 60 fps session has
#: 36,000 frames: ~0.6 MB of JSON per series, and a phone draws ~400 px); the
#: exports keep every frame.
DISPLAY_MAX_POINTS = 2000


def _series(values: Any, digits: int = 2) -> list[float | None]:
    """``values`` rounded for JSON, None where not a finite number (one pass over a float array)."""
    return [round(v, digits) if math.isfinite(v) else None for v in _as_float(values).tolist()]


def _as_float(values: Any) -> np.ndarray:
    """``values`` (a document's list, or an array) as floats, NaN where not a finite number."""
    if values is None:
        return np.empty(0)
    try:
        out = np.array(values, dtype=float)   # the documents hold numbers and None (-> NaN)
    except (TypeError, ValueError):
        out = np.array([np.nan if (n := reports.number_or_none(v)) is None else n for v in values], dtype=float)
    out[~np.isfinite(out)] = np.nan
    return out


def _first_at(hit: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per bucket (``starts``: first index of each) the first index where ``hit`` holds
    (``hit.size`` where none does)."""
    return np.minimum.reduceat(np.where(hit, np.arange(hit.size), hit.size), starts)


def _envelope(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Per bucket ``[edges[i], edges[i+1])`` its minimum and maximum in time order
    (two points; NaN where the bucket has none), so that peaks survive decimation."""
    starts, sizes = edges[:-1], np.diff(edges)
    lows = np.minimum.reduceat(np.where(np.isnan(values), np.inf, values), starts)
    highs = np.maximum.reduceat(np.where(np.isnan(values), -np.inf, values), starts)
    at_low = _first_at(values == np.repeat(lows, sizes), starts)
    at_high = _first_at(values == np.repeat(highs, sizes), starts)
    low_first = at_low <= at_high
    out = np.column_stack([np.where(low_first, lows, highs), np.where(low_first, highs, lows)])
    out[~np.isfinite(lows)] = np.nan
    return out.ravel()


def display_series(time_s: Any, series: dict[str, Any], max_points: int = DISPLAY_MAX_POINTS
                   ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The time axis and the series as the page draws them: every frame up to
    ``max_points``, else a min/max envelope over ``max_points // 2`` equal buckets
    (time: each bucket's first and last frame)."""
    t = _as_float(time_s)
    values = {k: _as_float(v) for k, v in series.items()}
    if t.size <= max_points:
        return t, values
    edges = np.linspace(0, t.size, max_points // 2 + 1).astype(int)
    t_out = np.column_stack([t[edges[:-1]], t[edges[1:] - 1]]).ravel()
    return t_out, {k: _envelope(v, edges) if v.size == t.size else v for k, v in values.items()}


def contact_runs(flags: np.ndarray, time_s: np.ndarray) -> list[list[float]]:
    """Contact intervals ``[start_s, end_s]`` (end = one frame after the last contact
    frame): the strip draws ~2 per stride whatever the session's length."""
    f = np.asarray(flags, dtype=np.int8)
    n = min(f.size, time_s.size)
    if n == 0:
        return []
    f = f[:n]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], f, [0]])))
    dt = float(np.nanmedian(np.diff(time_s[:n]))) if n > 1 else 0.0
    return [[round(float(time_s[a]), 4), round(float(time_s[b - 1] + dt), 4)] for a, b in zip(edges[::2], edges[1::2])]


def frame_series(record: reports.SessionRecord, frames, joints: str) -> dict[str, Any]:
    """Per-frame series the charts and the contact timeline draw: time, angles, metrics
    (decimated for display by :func:`display_series`) and contact intervals per side."""
    details = record.doc("details_doc")
    time_s = details.get("all_timestamps") or []
    angles = reports.filter_angles(details.get("angles") or {}, joints)
    metrics = details.get("metrics") or {}
    contact: dict[str, np.ndarray] = {}
    if frames is not None:
        if not time_s and "time_s" in frames.column_names:
            time_s = frames.column("time_s").to_pylist()
        for side in ("left", "right"):
            name = f"{side}_contact"
            if name in frames.column_names:
                contact[side] = np.nan_to_num(_as_float(frames.column(name).to_numpy(zero_copy_only=False))) > 0.5
    full_t = _as_float(time_s)
    t, shown = display_series(full_t, {**{f"a:{k}": v for k, v in angles.items()},
                                       **{f"m:{k}": v for k, v in metrics.items()}})
    return {
        "time_s": _series(t, 4),
        "frames": int(full_t.size),
        "angles": {k[2:]: _series(v) for k, v in shown.items() if k.startswith("a:")},
        "metrics": {k[2:]: _series(v, 4) for k, v in shown.items() if k.startswith("m:")},
        "contact": {side: contact_runs(flags, full_t) for side, flags in contact.items()},
        "references": series_references(record.row.get("speed_mps")),
        "units": series_units(),
    }


def gait(record: reports.SessionRecord, image_url, fps: float) -> dict[str, Any]:
    gait_phases = Phases.from_dict(record.doc("gait_doc"))
    images = record.doc("images_doc").get("gait") or {}
    # the frames the snapshots show (the cleanest stride), where the renderer recorded them
    shown = record.doc("images_doc").get("gait_frames") or {}
    out = {}
    for side, src in gait_phases.items():
        phases = []
        for name in PHASES:
            mark = src.marks.get(name)
            if mark is None:
                continue
            frame = int(((shown.get(side) or {}).get(name)) or mark.frame or 0)
            phases.append({"name": name, "frame": frame, "time_s": round(frame / fps, 4) if fps else None,
                           "graph_phase": mark.percent_of_stride,
                           "image_url": image_url((images.get(side) or {}).get(name))})
        curves = {key: {"mean": _series(curve.mean), "sd": _series(curve.sd)}
                  for key, curve in src.angle_curves.items() if curve.mean.size}
        out[side] = {"phases": phases, "curves": curves, "peak_time_ms": number(src.peak_ms, 1),
                     "stride_ms": number(src.curve_times_ms[-1] if src.curve_times_ms.size else None, 1)}
    return out


def commentary(record: reports.SessionRecord, saved: dict[str, dict[str, str]], profile: dict[str, Any]) -> dict[str, Any]:
    """The three thread kinds: saved thread texts where they exist, else the rule engine's text
    (``saved`` false; what the thread POSTs would store), in both unit systems."""
    facts = reports.session_facts(record, profile)
    out: dict[str, Any] = {}
    for kind, topics in documents.THREAD_TOPICS.items():
        items = []
        for block, topic in topics.items():
            text = (saved.get(kind) or {}).get(block)
            if text:
                items.append({"block": block, "saved": True, "metric": text, "imperial": text})
                continue
            items.append({"block": block, "saved": False, "metric": comment(kind, topic, facts, "metric").text,
                          "imperial": comment(kind, topic, facts, "imperial").text})
        out[kind] = items
    return out


def history_item(row: RunningSession, record: reports.SessionRecord | None, current_id: str) -> dict[str, Any]:
    r = record.row if record is not None else {}
    created = reports.as_utc(row.created_at)
    return {"id": row.id, "title": row.title, "date": created.isoformat() if created else None,
            "current": row.id == current_id, "cadence_spm": number(r.get("cadence_spm")),
            "contact_time_s": number(r.get("contact_time_s")), "speed_mps": number(r.get("speed_mps"))}


def list_item(row: RunningSession, runner: str, record: reports.SessionRecord | None,
              damage: str | None = None) -> dict[str, Any]:
    """One row of the session list; ``damage`` (what is damaged, the repair) makes it a ``damaged`` row."""
    r = record.row if record is not None else {}
    created = reports.as_utc(row.created_at)
    status = "damaged" if damage else str(row.status)
    return {"id": row.id, "title": row.title, "status": status,
            "error": damage or (row.error if status == "failed" else None), "runner": runner,
            "date": created.isoformat() if created else None,
            "cadence_spm": number(r.get("cadence_spm")), "contact_time_s": number(r.get("contact_time_s")),
            "speed_mps": number(r.get("speed_mps"))}
