"""Stage 4 of ``analysis.engine.analyze``: the gait events (IC, MS, TO) of both feet,
with the walking check (trunk bounce at mid-stance) that switches the TO definition.
With ``event_method = "foot"`` the events come from the foot stage's heel and toe
(:mod:`analysis.foot_events`); a foot without usable points falls back to ``velocity``."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis import events as ev
from analysis import foot_events as fe
from analysis.events import GaitEvent
from analysis.geometry_stage import SceneGeometry
from analysis.keypoints import KP
from analysis.params import EngineParams


@dataclass(frozen=True)
class DetectedEvents:
    """Stage 4 (:func:`detect_gait_events`): per side IC/TO frames and sub-frame instants
    (``side_events``), the counted events in frame order, and the contact masks.

    ``method_used``: per side, the event method that gave its events (``"foot"`` can fall
    back to ``"velocity"``); ``fallback``: per side that fell back, why."""

    side_events: dict
    events: list
    contact: dict
    method_used: dict = field(default_factory=dict)
    fallback: dict = field(default_factory=dict)


def stance_bounce_m(height_m: np.ndarray, side_events: dict) -> float:
    """Median height (m) of the trunk centre at mid-stance above its mean over that stance
    and the half-stances around it: negative when running (the body is lowest at
    mid-stance, a spring-mass bounce), positive when walking (highest: an inverted
    pendulum). NaN without stances. Tells walking from running where the ankle-based
    contact is too short for a walk (heel rise long before toe-off) and shows a "flight"."""
    out = []
    for side in ("left", "right"):
        ic, to = side_events[side]["IC"], side_events[side]["TO"]
        for a in ic:
            later = to[to > a]
            if not later.size:
                continue
            t = int(later[0])
            mid, w = (int(a) + t) // 2, max(2, t - int(a))
            seg = height_m[max(0, mid - w): mid + w + 1]
            if np.isfinite(height_m[mid]) and np.isfinite(seg).sum() >= 3:
                out.append(height_m[mid] - np.nanmean(seg))
    return float(np.median(out)) if out else float("nan")


def _foot_or_velocity(xy: np.ndarray, g: SceneGeometry, fps: float, params: EngineParams,
                      foot_points: np.ndarray | None) -> tuple[dict, dict, dict]:
    """Per side: the foot's events (:func:`analysis.foot_events.foot_side_events`) where its
    points allow, else the velocity method's; the method used and the fallbacks' reasons."""
    found, used, why = {}, {}, {}
    tracks, missing = None, "no foot points"
    if foot_points is not None and len(foot_points) != xy.shape[0]:
        missing = f"foot points for {len(foot_points)} frames, keypoints for {xy.shape[0]}"
    elif foot_points is not None:
        tracks = fe.foot_tracks(foot_points, xy[:, KP.LEFT_ANKLE], xy[:, KP.RIGHT_ANKLE], fps,
                                params.lowpass_hz, params.max_gap_s)
    for side, pref in (("left", "l"), ("right", "r")):
        foot, why[side] = (None, missing) if tracks is None else fe.foot_side_events(
            *tracks[side], g.u_ankle[side], fps, g.valid)
        used[side] = "foot" if foot is not None else "velocity"
        found[side] = foot if foot is not None else ev.side_events(
            "velocity", g.u_ankle[side], -xy[:, KP[f"{side.upper()}_ANKLE"], 1], g.angles[f"{pref}kne_angle"],
            fps, g.valid)
    return found, used, {k: v for k, v in why.items() if v}


def _detect_events(method: str, xy: np.ndarray, g: SceneGeometry, fps: float, params: EngineParams | None = None,
                   foot_points: np.ndarray | None = None) -> DetectedEvents:
    """IC/TO (``method``, :func:`analysis.events.side_events`, or the foot's) and MS events of
    both feet, sorted by frame (IC, MS, TO on one frame), with each foot's contact mask."""
    side_events, events, contact = {}, [], {}
    if method == "foot":
        per_side, used, fallback = _foot_or_velocity(xy, g, fps, params, foot_points)
    else:
        per_side, used, fallback = {}, {"left": method, "right": method}, {}
    for side, pref in (("left", "l"), ("right", "r")):
        ank = KP.LEFT_ANKLE if side == "left" else KP.RIGHT_ANKLE
        # IC/TO frames and their sub-frame instants (fractional frames)
        found = per_side.get(side) or ev.side_events(method, g.u_ankle[side], -xy[:, ank, 1],
                                                     g.angles[f"{pref}kne_angle"], fps, g.valid)
        contact[side] = found["mask"]
        ic, to, ic_f, to_f = found["IC"], found["TO"], found["IC_f"], found["TO_f"]
        side_events[side] = {"IC": ic, "TO": to, "IC_f": ic_f, "TO_f": to_f}
        for f, x in zip(ic.tolist(), ic_f.tolist()):
            events.append(GaitEvent(side, "IC", f, x / fps))
        for f, x in zip(to.tolist(), to_f.tolist()):
            events.append(GaitEvent(side, "TO", f, x / fps))
        for _, f in ev.mid_stance_frames(ic, to, g.angles[f"{pref}kne_angle"]):
            events.append(GaitEvent(side, "MS", int(f), f / fps))
    order = {"IC": 0, "MS": 1, "TO": 2}
    events.sort(key=lambda e: (e.frame, order[e.kind], e.side))
    return DetectedEvents(side_events, events, contact, used, fallback)


def detect_gait_events(xy: np.ndarray, g: SceneGeometry, fps: float, params: EngineParams,
                       foot_points: np.ndarray | None = None) -> DetectedEvents:
    """Stage 4: gait events with ``params.event_method``; a walk is detected again with
    ``velocity+zeni``. ``foot_points``: the foot stage's ``(T, 6, 3)`` heel and toe
    (``analysis.feet.FOOT_POINTS``), used by the ``foot`` method only.

    Walking (the trunk highest at mid-stance, :func:`stance_bounce_m`): the ankle
    moves forward from heel rise on, long before toe-off, so the velocity threshold
    ends the stance early (the walking clip: duty 0.42 and a 0.10 s "flight"). TO is
    then the ankle's most backward position relative to the pelvis (Zeni 2008, a
    walking method): duty 0.57, no flight."""
    found = _detect_events(params.event_method, xy, g, fps, params, foot_points)
    hips, trunk = [KP.LEFT_HIP, KP.RIGHT_HIP], [KP.LEFT_HIP, KP.RIGHT_HIP, KP.LEFT_SHOULDER, KP.RIGHT_SHOULDER]
    trunk_up_px = -np.nanmean(xy[:, trunk, 1], axis=1) if np.isfinite(xy[:, hips, 1]).any() \
        else np.full(xy.shape[0], np.nan)
    if params.event_method == "velocity" and stance_bounce_m(trunk_up_px, found.side_events) > 0:
        found = _detect_events("velocity+zeni", xy, g, fps)
    return found
