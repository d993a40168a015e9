"""Edited clips: hard cuts, continuous segments, and one honest answer per segment.

A user who films five paces in one edit has five continuous shots joined by hard cuts.
Across a cut nothing is continuous: the runner jumps in the frame, the scale and
even the facing may change, and the time between the last frame of one shot and
the first of the next is not the time between them in the world. So:

1. :func:`cut_frames` finds the cuts from per-frame image evidence (how much of
   the picture changed from the previous frame, measured while decoding:
   ``tasks.video.FrameSignals``), against the clip's own frame-to-frame change, and :func:`reframing_cuts` finds strong re-framing (the runner's box
   changes size at once: a zoom or a change of shot the histogram may miss).
2. :func:`continuous_segments` splits the frames at the cuts.
3. :func:`analyze_segments` runs the gait engine on each segment on its own
   (filters, events, strides never see the other side of a cut, so no step,
   stride or flight spans one) and merges the results: events and strides keep
   their frame numbers in the whole clip, the session's values are the means over
   every segment's strides (cadence from within-segment steps only), and
   ``quality.segments`` / ``quality.segments_detail`` give each segment's
   cadence, contact, flight and speed.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from analysis.engine import AnalysisError, EngineParams, RunnerProfile, SessionAnalysis, analyze
from analysis.session_report import Quality, Summary
from analysis.strides import FRAME_COLUMNS, StrideTable

#: A frame whose picture change from the previous one (``tasks.video.FrameSignals``
#: ``frame_change``, 0..1) is at least this AND :data:`CUT_CONTRAST` times the typical change
#: around it is a hard cut. Measured: within a shot 0.005-0.05; a cut between the two shared
#: treadmill clips (both indoor, similar histograms) 0.15-0.17 by histogram alone, more by
#: the thumbnails' correlation.
MIN_CUT_CHANGE = 0.12
CUT_CONTRAST = 5.0
#: The runner's box height changing by this factor from one frame to the next is a re-framing.
REFRAME_RATIO = 1.35
#: Segments shorter than this (s) are not analysed (too short for one stride).
MIN_SEGMENT_S = 0.7

#: Summary keys that are not means over strides: taken from the segment with most strides.
_CATEGORICAL = ("footstrike", "facing", "mode", "px_per_m")
#: Summary keys summed over segments.
_SUMMED = ("total_distance_m", "total_time_s")


def cut_frames(frame_change: np.ndarray, min_change: float = MIN_CUT_CHANGE,
               contrast: float = CUT_CONTRAST) -> np.ndarray:
    """Frames that begin a new shot: their picture change from the previous frame
    (``frame_change[k]``, 0..1, NaN for frame 0 or an unknown) is at least
    ``min_change`` and ``contrast`` times the median change of the 30 frames around it
    (so a clip that changes a lot everywhere, e.g. a hand-held pan over a busy
    background, needs a larger jump). Sorted frame indices."""
    h = np.asarray(frame_change, dtype=np.float64)
    if h.size < 2:
        return np.zeros(0, dtype=np.int64)
    filled = np.where(np.isfinite(h), h, 0.0)
    half = 15
    padded = np.pad(filled, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    local = np.median(windows, axis=1)
    is_cut = np.isfinite(h) & (h >= min_change) & (h >= contrast * np.maximum(local, 0.01))
    is_cut[0] = False
    return np.flatnonzero(is_cut).astype(np.int64)


def reframing_cuts(boxes: np.ndarray, ratio: float = REFRAME_RATIO) -> np.ndarray:
    """Frames where the runner's box (``(T, >=4)`` x1, y1, x2, y2, NaN where not found)
    changes height by ``ratio`` or more from the previous frame where it was found, or
    jumps by more than its own height: a zoom or a new framing, not motion (a runner's
    box changes a few percent per frame). A new framing lasts: a lone frame whose box
    jumps away from both found neighbours while they agree with each other is a
    detection glitch (e.g. YOLO's box cut at the knees for one frame: 587 -> 377 -> 531
    px on the garage clip's frames 157-159), not two cuts; it is left out."""
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim != 2 or b.shape[0] < 2:
        return np.zeros(0, dtype=np.int64)
    h = b[:, 3] - b[:, 1]
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    seen = np.flatnonzero(np.isfinite(h) & (h > 0))
    if seen.size < 2:
        return np.zeros(0, dtype=np.int64)

    def jump(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        size_jump = np.abs(np.log(h[cur] / h[prev])) >= math.log(ratio)
        move = np.hypot(cx[cur] - cx[prev], cy[cur] - cy[prev]) / (cur - prev)
        return size_jump | (move > np.minimum(h[cur], h[prev]))

    if seen.size >= 3:
        before, mid, after = seen[:-2], seen[1:-1], seen[2:]
        lone = jump(before, mid) & jump(mid, after) & ~jump(before, after)
        seen = np.r_[seen[0], mid[~lone], seen[-1]]
    return seen[1:][jump(seen[:-1], seen[1:])].astype(np.int64)


def continuous_segments(n_frames: int, cuts: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` frame ranges between the cuts (a cut frame starts a segment)."""
    edges = sorted({0, n_frames, *(int(c) for c in np.asarray(cuts).ravel() if 0 < int(c) < n_frames)})
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _shifted_strides(strides: StrideTable, offset: int, dt: float) -> StrideTable:
    rows = strides.rows()
    for r in rows:
        for name in FRAME_COLUMNS:
            r[name] += offset
        if r["contralateral_ic_frame"] is not None:
            r["contralateral_ic_frame"] += offset
        if r["ic_time_s"] is not None:
            r["ic_time_s"] += dt
    return StrideTable.from_rows(rows)


def _step_count(sa: SessionAnalysis) -> int:
    """Alternating IC pairs (steps) of one segment's events."""
    ics = sorted((e.frame, e.side) for e in sa.events if e.kind == "IC")
    return sum(1 for a, b in zip(ics, ics[1:]) if a[1] != b[1])


def _weighted_mean(values: list[float | None], weights: list[float]) -> float | None:
    pairs = [(v, w) for v, w in zip(values, weights) if v is not None and w > 0 and math.isfinite(v)]
    if not pairs:
        return None
    return float(sum(v * w for v, w in pairs) / sum(w for _, w in pairs))


def segment_summary(start: int, end: int, sa: SessionAnalysis | None, fps: float, why: str | None = None) -> dict:
    """One segment's entry of ``quality.segments_detail``: its frames, times (s), steps,
    strides and its own cadence (steps/min), contact, flight (s) and speed (m/s); the
    engine's mode and camera words for it; ``why`` it was not analysed (else None)."""
    s = sa.summary if sa is not None else Summary()
    q = sa.quality if sa is not None else Quality()
    return {"start_frame": int(start), "end_frame": int(end) - 1, "start_s": start / fps, "end_s": (end - 1) / fps,
            "steps": _step_count(sa) if sa is not None else 0, "strides": int(q.strides_used or 0),
            "cadence_spm": s.cadence_spm, "contact_time_s": s.contact_time_s,
            "flight_time_s": s.flight_time_s, "speed_mps": s.speed_mps,
            "mode": q.mode, "not_analysed": why}


def analyze_segments(keypoints: np.ndarray, fps: float, cuts: np.ndarray | list[int] = (),
                     profile: RunnerProfile | None = None, frame_size: tuple[int, int] | None = None, *,
                     params: EngineParams,
                     segment_profiles: list[RunnerProfile] | None = None,
                     foot_points: np.ndarray | None = None) -> SessionAnalysis:
    """:func:`analysis.engine.analyze` of each continuous segment between ``cuts``, merged.

    Without cuts this is ``analyze`` itself, with ``quality.segments == 1``. With cuts,
    every segment of at least :data:`MIN_SEGMENT_S` is analysed on its own; events,
    strides and frame series keep their frame numbers in the whole clip; the session's
    stride metrics are the means over all segments' strides (each segment weighted by
    its strides), cadence and step time by its steps (within-segment steps only);
    distance and time are summed; facing, mode, scale and foot strike, the phases
    and the remaining quality come from the segment with most strides. ``quality``
    gains ``segments`` (segments analysed), ``cuts`` (their first frames) and
    ``segments_detail`` (:func:`segment_summary` of every segment).

    ``segment_profiles``: one profile per continuous segment (e.g. its own mode, when one
    shot follows the runner and another watches a treadmill); default ``profile`` for all.
    ``foot_points``: ``(T, 6, 3)`` for the ``foot`` event method, cut like the keypoints.

    Raises :class:`AnalysisError` when no segment can be analysed.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    T = kp.shape[0]
    ranges = continuous_segments(T, np.asarray(cuts, dtype=np.int64))
    profiles = segment_profiles or [profile] * len(ranges)
    if len(profiles) != len(ranges):
        raise ValueError(f"{len(profiles)} segment profiles for {len(ranges)} segments")
    if len(ranges) <= 1:
        sa = analyze(kp, fps, profiles[0], frame_size, params=params, foot_points=foot_points)
        quality = sa.quality.with_added(segments=1, cuts=[], segments_detail=[segment_summary(0, T, sa, sa.fps)])
        return replace(sa, quality=quality)
    parts: list[tuple[int, int, SessionAnalysis]] = []
    detail, errors = [], []
    min_frames = max(10, int(MIN_SEGMENT_S * fps))
    for (a, b), seg_profile in zip(ranges, profiles):
        if b - a < min_frames:
            detail.append(segment_summary(a, b, None, fps, f"shorter than {MIN_SEGMENT_S:g} s"))
            continue
        try:
            sa = analyze(kp[a:b], fps, seg_profile, frame_size, params=params,
                         foot_points=None if foot_points is None else foot_points[a:b])
        except AnalysisError as exc:
            detail.append(segment_summary(a, b, None, fps, str(exc)))
            errors.append(str(exc))
            continue
        parts.append((a, b, sa))
        detail.append(segment_summary(a, b, sa, sa.fps))
    if not parts:
        raise AnalysisError(errors[0] if errors else "Every continuous segment between the cuts is too short to analyse.")
    return _merged(parts, T, detail, [int(a) for a, _ in ranges[1:]])


def _merged_summary(parts: list[tuple[int, int, SessionAnalysis]], best: Summary) -> Summary:
    """The session values of merged segments: ``best``'s (the segment with most strides),
    each stride metric the strides-weighted mean over segments, cadence and step time the
    steps-weighted one, distance and time summed."""
    stride_w = [float(sa.quality.strides_used or 0) for _, _, sa in parts]
    step_w = [float(_step_count(sa)) for _, _, sa in parts]
    merged: dict[str, float | None] = {}
    for k, v in best.to_dict().items():
        if k in _CATEGORICAL or not (v is None or isinstance(v, (int, float))) or isinstance(v, bool):
            continue
        values = [sa.summary.value(k) for _, _, sa in parts]
        if k in _SUMMED:
            known = [x for x in values if x is not None]
            merged[k] = float(sum(known)) if known else None
        elif k not in ("cadence_spm", "step_time_s"):
            merged[k] = _weighted_mean(values, stride_w)
    step_time = _weighted_mean([sa.summary.step_time_s for _, _, sa in parts], step_w)
    merged.update(step_time_s=step_time, cadence_spm=60.0 / step_time if step_time else None)
    summary = best.with_values(merged)
    if summary.speed_mps:
        summary = replace(summary, pace_min_per_km=1000.0 / 60.0 / summary.speed_mps)
    return summary


def _merged(parts: list[tuple[int, int, SessionAnalysis]], T: int, detail: list[dict], cuts: list[int]
            ) -> SessionAnalysis:
    best_a, _, best = max(parts, key=lambda p: (p[2].quality.strides_used or 0, p[1] - p[0]))
    fps = best.fps
    events = [replace(e, frame=e.frame + a, time_s=e.time_s + a / sa.fps) for a, _, sa in parts for e in sa.events]
    strides = [_shifted_strides(sa.strides, a, a / sa.fps) for a, _, sa in parts]
    rows = [r for st in strides for r in st.rows()]
    table = StrideTable.from_rows(sorted(rows, key=lambda r: r["ic_frame"])) if rows else StrideTable.empty()

    series: dict[str, np.ndarray] = {}
    distance_offset = 0.0
    for a, b, sa in parts:
        for k, v in sa.frame_series.items():
            series.setdefault(k, np.full(T, np.nan))[a:b] = v
        if "distance" in sa.frame_series:
            d = sa.frame_series["distance"]
            series["distance"][a:b] = d + distance_offset
            finite = d[np.isfinite(d)]
            distance_offset += float(finite[-1]) if finite.size else 0.0

    summary = _merged_summary(parts, best.summary)
    counts = {key: int(sum(int(getattr(sa.quality, key) or 0) for _, _, sa in parts))
              for key in ("strides_used", "strides_left", "strides_right", "swaps_repaired", "outliers_rejected")}
    reasons = [f"Edited clip: {len(cuts)} cut(s) split it into {len(detail)} continuous segments "
               f"({len(parts)} analysed); no step, stride or flight spans a cut, each segment's own cadence, "
               f"contact, flight and speed are in segments_detail, and the session values are their means."]
    for _, _, sa in parts:
        reasons += [r for r in sa.quality.reasons if r not in reasons]
    q = replace(best.quality, **counts, short_clip=all(sa.quality.short_clip for _, _, sa in parts),
                missing={k: v for k, v in best.quality.missing.items() if summary.value(k) is None},
                reasons=tuple(reasons)).with_added(segments=len(parts), cuts=cuts, segments_detail=detail)

    phases = best.phases.with_frames(lambda f: f + best_a)
    return SessionAnalysis(fps=fps, time_s=np.arange(T) / fps, frame_series=series,
                           events=sorted(events, key=lambda e: (e.frame, e.side, e.kind)), strides=table,
                           summary=summary, quality=q, phases=phases, joints=best.joints)
