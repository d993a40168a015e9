"""Stage 7 of ``analysis.engine.analyze``: walking or running, whether the timing is
humanly possible, and the capture rate of slow-motion footage (from the ballistic
flights, or by re-analysing at candidate rates)."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analysis import events as ev, metrics as m, timebase
from analysis.event_stage import DetectedEvents, stance_bounce_m
from analysis.events import GaitEvent
from analysis.geometry_stage import SceneGeometry
from analysis.keypoints import KP
from analysis.params import AnalysisError, CheckedInput, RunnerProfile
from analysis.session_report import Quality
from analysis.stride_stage import MIN_STEPS_FOR_CADENCE, MeasuredStrides, SessionMeans

#: The quality flags of the whole analysis re-run at a capture rate (frames/s); raises
#: :class:`AnalysisError` when nothing can be analysed at that rate.
QualityAtRate = Callable[[float], Quality]


#: Typical cadence (steps/min) of running and walking, used for the capture-fps hint.
TYPICAL_RUN_CADENCE_SPM = 170.0


SLOW_MOTION_RATES = (60.0, 120.0, 240.0, 480.0, 960.0)


#: Lowest container frame rate at which gait events can be timed at all.
MIN_TIMING_FPS = 10.0


#: Contact longer than this (s) with a running posture is not real-time running.
MAX_RUNNING_CONTACT_S = 0.6


#: Cadence (steps/min) below which running with flight is not real time.
MIN_RUNNING_CADENCE_SPM = 100.0


#: Relative systematic uncertainty of the ballistic capture-rate estimate (measured on the
#: shared clip: -8 % at real time; docs/analysis.md "Slow motion").
CAPTURE_FPS_SYSTEMATIC = 0.10


def _first_after(times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The first of the sorted ``times`` strictly after each ``t``; NaN where there is none."""
    j = np.searchsorted(times, t, side="right")
    out = np.full(t.shape, np.nan)
    ok = j < times.size
    out[ok] = times[j[ok]]
    return out


def _contacts_and_flights(ic: list[tuple[float, str]], to: list[tuple[float, str]]) -> tuple[list[float], list[float]]:
    """Stance durations (s: an IC to the first TO of that foot before its next IC) and flight
    durations (s: a TO to the other foot's next IC, before the same foot's), in no particular
    order (only their medians are used). Binary searches per side: linear in the events."""
    def times(events: list[tuple[float, str]], side: str) -> np.ndarray:
        return np.sort(np.array([t for t, s in events if s == side], dtype=float))

    contacts: list[float] = []
    flights: list[float] = []
    for side, other in (("left", "right"), ("right", "left")):
        ic_own, to_own, ic_other = times(ic, side), times(to, side), times(ic, other)
        nxt_to, nxt_ic = _first_after(to_own, ic_own), _first_after(ic_own, ic_own)
        ok = np.isfinite(nxt_to) & (np.isnan(nxt_ic) | (nxt_to < nxt_ic))
        contacts += (nxt_to[ok] - ic_own[ok]).tolist()
        strike_other, strike_own = _first_after(ic_other, to_own), _first_after(ic_own, to_own)
        ok = np.isfinite(strike_other) & (np.isnan(strike_own) | (strike_other < strike_own))
        flights += (strike_other[ok] - to_own[ok]).tolist()
    return contacts, flights


def _judge_timing(events: list[GaitEvent], contact: dict, valid: np.ndarray, eff_fps: float,
                  container_fps: float, cadence: float | None, gait: str | None,
                  bounce_m: float = float("nan")) -> dict:
    """Is the timing humanly possible? Judged from as few as two steps.

    Implausible: a frame rate too low to time steps (< :data:`MIN_TIMING_FPS`);
    a running posture (a flight phase between one foot's TO and the other's
    IC) at < :data:`MIN_RUNNING_CADENCE_SPM` steps/min, or with a contact
    longer than :data:`MAX_RUNNING_CONTACT_S`; or, with complete strides,
    running < 120 or any gait < 60 or > 260 steps/min (as before). Returns
    ``implausible``, ``low_fps``, ``why`` (a sentence), ``gait`` (from the
    events and the trunk's bounce, :func:`stance_bounce_m`, when strides are too few) and ``cadence_spm``
    (from every alternating IC pair, in the analysed time).
    """
    out = {"implausible": False, "low_fps": False, "why": "", "gait": gait, "cadence_spm": cadence}
    if container_fps < MIN_TIMING_FPS and eff_fps < MIN_TIMING_FPS:
        out.update(implausible=True, low_fps=True, why=(
            f"the clip has {container_fps:g} frames per second, too few to time steps "
            f"(at least {MIN_TIMING_FPS:g} are needed): timing metrics are not reliable"))
        return out
    ic = sorted((e.time_s, e.side) for e in events if e.kind == "IC")
    to = sorted((e.time_s, e.side) for e in events if e.kind == "TO")
    steps = [b[0] - a[0] for a, b in zip(ic, ic[1:]) if a[1] != b[1]]
    if cadence is None and steps:
        cadence = m.cadence_spm(float(np.median(steps)))
    out["cadence_spm"] = cadence
    contacts, flights = _contacts_and_flights(ic, to)
    # running: flight between the feet's contacts, each contact shorter than a step (duty < 0.5)
    running = bool(flights) and float(np.median(flights)) > 0 and (
        not contacts or not steps or float(np.median(contacts)) < float(np.median(steps)))
    if out["gait"] is None and steps:
        out["gait"] = "running" if running and not bounce_m > 0 else "walking"
    is_run = out["gait"] == "running"
    contact_s = float(np.median(contacts)) if contacts else None
    if is_run and cadence is not None and cadence < MIN_RUNNING_CADENCE_SPM:
        out.update(implausible=True, why=f"{cadence:.0f} steps/min with flight phases is not humanly "
                                         f"possible at {eff_fps:g} fps")
    elif is_run and contact_s is not None and contact_s > MAX_RUNNING_CONTACT_S:
        out.update(implausible=True, why=f"ground contacts of {contact_s:.2f} s with flight phases are "
                                         f"not humanly possible at {eff_fps:g} fps")
    elif cadence is not None and len(steps) >= MIN_STEPS_FOR_CADENCE and (
            cadence < (120.0 if is_run else 60.0) or cadence > 260.0):
        out.update(implausible=True, why=f"{cadence:.0f} steps/min with "
                                         f"{'flight phases' if is_run else 'this gait'} is not humanly "
                                         f"possible at {eff_fps:g} fps")
    return out


def _trunk_height_m(xy: np.ndarray, floor: tuple[float, float], ppm: float) -> np.ndarray:
    """Height (m) above the floor line of the trunk centre (mean of hips and shoulders):
    the centre-of-mass proxy of the ballistic fit."""
    pts = xy[:, [KP.LEFT_HIP, KP.RIGHT_HIP, KP.LEFT_SHOULDER, KP.RIGHT_SHOULDER]]
    c = pts.mean(axis=1)
    return (floor[0] * c[:, 0] + floor[1] - c[:, 1]) / ppm


def _ballistic_capture_fps(height_m: np.ndarray, contact: dict, valid: np.ndarray, fps: float) -> dict:
    """Capture rate (frames/s) implied by free fall in the flights, at analysed rate ``fps``:
    ``fps * sqrt(9.81 / g_apparent)`` (:func:`events.ballistic_gravity`). Its
    uncertainty combines the fit's standard error with :data:`CAPTURE_FPS_SYSTEMATIC`."""
    none = {"fps": None, "fps_uncertainty": None, "flights": 0}
    if not np.isfinite(height_m).any():
        return none
    segs = ev.flight_segments(contact["left"], contact["right"], valid & np.isfinite(height_m))
    g, se, n = ev.ballistic_gravity(height_m, segs, fps, trim=0)
    if not (math.isfinite(g) and g > 0 and math.isfinite(se)) or se > 0.5 * g:
        return {**none, "flights": len(segs)}
    est = fps * math.sqrt(ev.G_MPS2 / g)
    rel = math.hypot(0.5 * se / g, CAPTURE_FPS_SYSTEMATIC)
    return {"fps": est, "fps_uncertainty": est * rel, "flights": len(segs)}


def _capture_fps_estimate(quality_at_rate: QualityAtRate, timing: dict, eff_fps: float) -> dict:
    """Capture rate of a slow-motion clip without user input.

    The clip is analysed again at candidate capture rates, starting from the one a
    typical cadence suggests (170 steps/min running, 110 walking), until the
    ballistic flight's own estimate agrees with the rate analysed at
    (:func:`analysis.timebase.self_consistent_capture_fps`: the estimate drifts with
    the analysis rate, so one re-analysis at a wrong guess is not enough).
    Falls back to no estimate when no re-analysis finds flights."""
    none = {"fps": None, "fps_uncertainty": None, "flights": 0}
    cad = timing["cadence_spm"]
    if not cad:
        return none
    target = TYPICAL_RUN_CADENCE_SPM if timing["gait"] == "running" else 110.0
    tries: dict[float, dict] = {}

    def estimate_at(rate: float) -> float | None:
        try:
            q = quality_at_rate(rate)
        except AnalysisError:
            return None
        tries[rate] = {"fps": q.estimated_capture_fps, "fps_uncertainty": q.estimated_capture_fps_uncertainty,
                       "flights": q.capture_fps_flights}
        return q.estimated_capture_fps

    rate, _ = timebase.self_consistent_capture_fps(estimate_at, eff_fps * target / cad)
    return tries[rate] if rate is not None else none


@dataclass(frozen=True)
class TimingJudgement:
    """Stage 7 (:func:`timing_and_capture_rate`): gait, timing plausibility and the capture-rate estimate."""

    gait: str | None
    implausible: bool
    low_fps: bool
    suggested_fps: float | None
    capture: dict
    reasons: tuple[str, ...]


def timing_and_capture_rate(inp: CheckedInput, fps: float, profile: RunnerProfile, quality_at_rate: QualityAtRate,
                            xy: np.ndarray, g: SceneGeometry, e: DetectedEvents, s: MeasuredStrides,
                            mn: SessionMeans) -> TimingJudgement:
    """Stage 7: walking or running, whether the timing is humanly possible
    (:func:`_judge_timing`), and the capture rate of slow motion (from the ballistic
    flights, :func:`_ballistic_capture_fps`, or a re-analysis, :func:`_capture_fps_estimate`)."""
    eff_fps, reasons = inp.eff_fps, []
    trunk_h = _trunk_height_m(xy, s.floor, g.ppm)
    bounce = stance_bounce_m(trunk_h, e.side_events)
    gait = None
    if mn.enough and mn.duty is not None:
        gait = "running" if mn.duty < 0.5 and mn.flight_t and mn.flight_t > 0 and not bounce > 0 else "walking"
    timing = _judge_timing(e.events, e.contact, g.valid, eff_fps, float(fps), mn.cadence if mn.enough else None,
                           gait, bounce)
    gait = gait or timing["gait"]
    implausible, suggested_fps = timing["implausible"], None
    if timing["low_fps"]:
        capture = {"fps": None, "fps_uncertainty": None, "flights": 0}
    elif implausible and not profile.capture_fps:
        capture = _capture_fps_estimate(quality_at_rate, timing, eff_fps)
    else:
        capture = _ballistic_capture_fps(trunk_h, e.contact, g.valid, eff_fps)
    if timing["low_fps"]:
        reasons.append(f"Implausible timing: {timing['why']}.")
    elif implausible:
        target = TYPICAL_RUN_CADENCE_SPM if timing["gait"] == "running" else 110.0
        guess = eff_fps * target / timing["cadence_spm"] if timing["cadence_spm"] else None
        best = capture["fps"] if capture["fps"] is not None else guess
        suggested_fps = min(SLOW_MOTION_RATES, key=lambda r: abs(math.log(r / best))) if best else None
        est = ""
        if capture["fps"] is not None:
            est = (f" From the ballistic flight phase it was filmed at about {capture['fps']:.0f} "
                   f"+/- {capture['fps_uncertainty']:.0f} fps")
            est += (f" (a plausible cadence suggests {guess:.0f})." if guess else ".")
        hint = f" — give its capture frame rate (about {suggested_fps:g} fps)." if suggested_fps else "."
        reasons.append(f"Implausible timing: {timing['why']}; the video is probably slow motion{hint}{est}")
    return TimingJudgement(gait, implausible, timing["low_fps"], suggested_fps, capture, tuple(reasons))
