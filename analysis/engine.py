"""The gait engine: keypoints of one tracked runner in, a SessionAnalysis out.

``analyze`` runs named stages in order, each a documented function over the earlier
stages' frozen results, each in the module of its stage:

1. input check: :func:`analysis.params.validated_input`
2. clean-up: :func:`analysis.geometry_stage.clean_up`
3. geometry and scale: :func:`analysis.geometry_stage.scene_geometry`
4. events: :func:`analysis.event_stage.detect_gait_events`
5. strides: :func:`analysis.stride_stage.measure_strides`
6. session means: :func:`analysis.stride_stage.session_means`
7. timing and capture rate: :func:`analysis.timing.timing_and_capture_rate`
8. summary: :func:`analysis.stride_stage.session_summary`
9. quality: :func:`analysis.quality.session_quality`
10. frame series: :func:`_frame_series` (here)
11. phases: :func:`analysis.phases.gait_phases`

The results are typed (:mod:`analysis.results`), not shaped like the API:
``api/documents.py`` builds the running-sessions spec's documents from them.
The names other packages used to import from here are re-exported.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from analysis.catalogue import series_metrics
from analysis.event_stage import DetectedEvents, detect_gait_events
from analysis.events import GaitEvent
from analysis.geometry_stage import SceneGeometry, clean_up, pelvis_reference, scene_geometry
from analysis.keypoints import KEYPOINT_NAMES, KP
from analysis.params import AnalysisError, CheckedInput, EngineParams, RunnerProfile, validated_input
from analysis.phases import CURVE_SD_NOTE_DEG, curve_spread_reasons, gait_phases
from analysis.quality import MISSING_REASONS, missing_metrics, session_quality
from analysis.results import STRIDE_METRICS, MetricStats, SessionAnalysis, angle_keys, json_safe, metric_stats
from analysis.session_report import Quality, Summary
from analysis.stride_stage import MeasuredStrides, measure_strides, session_means, session_summary
from analysis.strides import StrideTable
from analysis.timing import timing_and_capture_rate

__all__ = ["AnalysisError", "CURVE_SD_NOTE_DEG", "EngineParams", "GaitEvent", "MISSING_REASONS", "MetricStats",
           "Quality", "RunnerProfile", "SERIES_METRICS", "STRIDE_METRICS", "SessionAnalysis", "StrideTable", "Summary",
           "analyze", "angle_keys", "json_safe", "metric_stats", "missing_metrics", "pelvis_reference"]


#: Per-frame metric series: series name -> the per-stride column it shows.
SERIES_METRICS = series_metrics()


def _frame_series(inp: CheckedInput, xy: np.ndarray, g: SceneGeometry, e: DetectedEvents,
                  s: MeasuredStrides) -> dict[str, np.ndarray]:
    """Stage 10: per-frame series (``SessionAnalysis.frame_series``): every keypoint in px
    and in metres (forward from the first pelvis position, up from the floor; leg
    keypoints in their leg's scale), confidences, joint angles, contact flags, the
    per-stride metrics held from each stride's completion on, and cumulative distance."""
    T, fps = xy.shape[0], inp.eff_fps
    fs: dict[str, np.ndarray] = {}
    ref = g.pel_fwd[np.isfinite(g.pel_fwd)][0] if np.isfinite(g.pel_fwd).any() else 0.0
    # leg keypoints in their own leg's scale (geo.side_pixels_per_metre), the rest in the body's
    kp_ppm = np.full(len(KEYPOINT_NAMES), g.ppm)
    for side, pre in (("left", "LEFT"), ("right", "RIGHT")):
        kp_ppm[[KP[f"{pre}_HIP"], KP[f"{pre}_KNEE"], KP[f"{pre}_ANKLE"]]] = g.side_ppm[side]
    for i, name in enumerate(KEYPOINT_NAMES):
        fs[f"{name}_x_px"] = xy[:, i, 0]
        fs[f"{name}_y_px"] = xy[:, i, 1]
        fs[f"{name}_x_m"] = (g.fwd[:, i] - ref) / kp_ppm[i]
        fs[f"{name}_y_m"] = s.height_up_m[:, i] * (g.ppm / kp_ppm[i])
        fs[f"{name}_conf"] = inp.conf[:, i]
    fs.update(g.shown_angles)
    fs["left_contact"] = e.contact["left"].astype(float)
    fs["right_contact"] = e.contact["right"].astype(float)
    next_ic = s.table.next_ic_frame
    for k, src in SERIES_METRICS.items():
        # each stride's value holds from its completion on; where several strides
        # are complete, the latest in row order wins (forward fill of row indices)
        vals = s.table.column(src)
        ok = np.isfinite(vals)
        owner = np.full(T + 1, -1, dtype=np.int64)
        np.maximum.at(owner, next_ic[ok], np.flatnonzero(ok))
        owner = np.maximum.accumulate(owner)[:T]
        arr = np.full(T, np.nan)
        has = owner >= 0
        arr[has] = vals[owner[has]]
        fs[k] = arr
    spd = np.nan_to_num(fs["speed"])
    fs["distance"] = np.cumsum(spd) / fps
    return fs


def _foot_event_quality(quality: Quality, e: DetectedEvents) -> Quality:
    """``quality`` with the ``foot`` event method's keys: the method each side's events came from
    (``event_method``), why a side fell back to ``velocity`` (``event_method_fallback``) and a
    note per side that fell back."""
    added: dict = {"event_method": dict(e.method_used)}
    if e.fallback:
        added["event_method_fallback"] = dict(e.fallback)
    notes = [f"Events of the {side} foot: velocity method, the foot's points gave none ({why})."
             for side, why in e.fallback.items()]
    return quality.with_added(**added).with_reasons(after=notes)


def analyze(keypoints: np.ndarray, fps: float, profile: RunnerProfile | None = None,
            frame_size: tuple[int, int] | None = None, *, params: EngineParams,
            foot_points: np.ndarray | None = None) -> SessionAnalysis:
    """Analyse one runner's keypoints.

    Runs the stages in order: input check (:func:`validated_input`), clean-up
    (:func:`clean_up`), geometry and scale (:func:`scene_geometry`), events
    (:func:`detect_gait_events`), strides (:func:`measure_strides`), session means
    (:func:`session_means`), timing (:func:`timing_and_capture_rate`), summary (:func:`session_summary`),
    quality (:func:`session_quality`), frame series (:func:`_frame_series`) and phases
    (:func:`gait_phases`).

    Parameters
    ----------
    keypoints : np.ndarray
        ``(T, 17, 3)`` pixel x, pixel y, confidence of the one tracked runner;
        NaN x/y (confidence 0) where absent.
    fps : float
        Frame rate of the file (frames/s). ``profile.capture_fps`` overrides it
        for time (slow-motion footage).
    profile : RunnerProfile
        Runner and capture information.
    frame_size : tuple[int, int] or None
        ``(width, height)`` in px, used for quality only.
    params : EngineParams
        The engine's tunables, from the settings' ``[analysis]`` (``configs``'
        ``AnalysisSettings.engine_params``: configs/default.toml holds their values).
    foot_points : np.ndarray or None
        ``(T, 6, 3)`` the foot stage's heel and toe (``analysis.feet.FOOT_POINTS``, px +
        confidence), read by ``params.event_method = "foot"`` only; without them (or for
        a foot they do not show) that method falls back to ``velocity`` and
        ``quality.added["event_method"]`` says so.

    Returns
    -------
    SessionAnalysis

    Raises
    ------
    AnalysisError
        When nothing can be analysed (runner in too few frames, bad fps).
    """
    profile = profile or RunnerProfile()
    inp = validated_input(keypoints, fps, profile, params)
    eff_fps = inp.eff_fps
    cl = clean_up(inp.xy, eff_fps, params)
    xy = cl.xy
    g = scene_geometry(xy, inp.conf, eff_fps, profile, params)
    e = detect_gait_events(xy, g, eff_fps, params, foot_points)
    s = measure_strides(xy, g, e, eff_fps, profile)
    mn = session_means(s.table, e.events, g.mode, g.near)

    def quality_at_rate(rate: float) -> Quality:
        return analyze(inp.kp, fps, replace(profile, capture_fps=rate), frame_size, params=params,
                       foot_points=foot_points).quality

    tm = timing_and_capture_rate(inp, fps, profile, quality_at_rate, xy, g, e, s, mn)
    summary = session_summary(s.table, mn, g, g.valid, eff_fps, profile)
    quality = session_quality(summary, inp, cl, g, e, s, mn, tm, profile, frame_size)
    phases = gait_phases(inp.joints, s.table, g.shown_angles, eff_fps, mn.enough, e.events)
    quality = quality.with_reasons(after=curve_spread_reasons(phases))
    if params.event_method == "foot":
        quality = _foot_event_quality(quality, e)
    return SessionAnalysis(fps=eff_fps, time_s=np.arange(xy.shape[0]) / eff_fps,
                           frame_series=_frame_series(inp, xy, g, e, s), events=e.events, strides=s.table,
                           summary=summary, quality=quality, joints=inp.joints, phases=phases)
