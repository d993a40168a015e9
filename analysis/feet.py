"""Foot strike measured from heel and toe: the sole angle at initial contact, its pattern, the ankle angle.

Input: the foot stage's points per frame (``tasks.feet``, MediaPipe BlazePose's
ankle, heel and foot-index landmarks, order :data:`FOOT_POINTS`), x/y in source
px with a confidence in 0..1, and the gait engine's cleaned, side-repaired
COCO-17 series and events (``analysis.results.SessionAnalysis``).

Method (one function per measure below):

1. **Sides** (:func:`assign_feet`): the model's left/right labels are a second
   opinion; each model foot is given to the engine leg whose ankle it sits on
   (the pairing with the smaller summed squared ankle distance, which a common offset such
   as a moving camera's path does not change), frame by frame.
2. **Sole angle** (:func:`sole_angle_deg`): heel -> toe against the image's
   forward axis, toe up positive.
3. **Floor line** (:func:`flat_foot_angle_deg`, :func:`floor_lines_deg`): the same
   foot's sole angle while it is flat on the ground, the median over 20-50 % of its
   stances: one per foot and shot under a static camera, and each stance's own under
   a moving one (tracking or hand-held), whose roll and perspective turn the image's
   floor during the shot.
   Heel strikers are foot-flat from about 15 % to 60 % of stance and forefoot
   strikers have lowered the heel by about 20 % (Cavanagh & Lafortune 1980;
   Lieberman et al. 2010), so that window is flat for every pattern. Measuring
   against the foot's own flat line cancels the camera's tilt, toe-out and the
   landmarks' offset from the outsole (the heel point is above the sole, the
   toe tip is on the toe spring): a flat foot reads 0 deg.
4. **Touchdown angle** (:func:`touchdown_angle_deg`): the sole angle relative to
   the floor line at the touchdown instant. IC is the first frame in contact, so
   touchdown lies in (IC-1, IC]; with no other information its expected
   position is the middle, and the angle there is the mean of the two frames'.
5. **Pattern** (:func:`strike_pattern`): Altman & Davis (2012) cut-offs on the
   touchdown angle: > 8 deg rearfoot, -1.6..8 deg midfoot, < -1.6 deg forefoot.
6. **Confidence and reasons** (:func:`contact_quality`): a contact whose heel or
   toe is outside the frame (``foot_cut_off``), whose points the model marks
   as not visible (``foot_hidden``: confidence < 0.5, the probability's decision
   boundary), that the model did not see at all (``foot_undetected``), or whose
   foot is shorter than :data:`MIN_FOOT_PX` in the image (``foot_too_small``)
   gets no angle and no pattern.
7. **Ankle angle** (:func:`ankle_angle_deg`): shank (knee -> ankle) against the
   foot (heel -> toe) minus 90 deg, + dorsiflexion; its offset at neutral is
   the landmarks' (the same convention as Sports2D's ankle angle). It replaces
   the shank proxy in the angle series; the strides' ``ankle_angle_deg`` stays
   the shank's angle to vertical at IC, which the commentary's advice reads.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from analysis.foot_sides import FOOT_POINTS, MIN_POINT_CONF, FootSides, assign_feet
from analysis.quality import PROXY_NOTE
from analysis.session_report import Quality

__all__ = [
    "FOOT_POINTS", "MIN_FOOT_PX", "MIN_POINT_CONF", "REARFOOT_ABOVE_DEG", "FOREFOOT_BELOW_DEG",
    "FootSides", "ContactStrike", "assign_feet", "sole_angle_deg", "flat_foot_angle_deg",
    "touchdown_angle_deg", "floor_lines_deg", "MOVING_CAMERAS", "stance_pairs", "strike_frames", "strike_pattern",
    "contact_quality", "contact_strikes", "side_summary",
    "session_pattern", "ankle_angle_deg",
]

#: Altman & Davis (2012), "A kinematic method for footstrike pattern detection in barefoot and shod
#: runners", Gait & Posture 35(2): foot-strike angle cut-offs (deg, toe up positive).
REARFOOT_ABOVE_DEG = 8.0
FOREFOOT_BELOW_DEG = -1.6
#: Shortest heel-toe distance (px) measured: with ~2 px error per point, a 40 px foot reads
#: the angle to about +-4 deg (atan(2*sqrt(2)/40)), past which a pattern would be a guess.
MIN_FOOT_PX = 40.0
#: A contact left out, in words for the notes (the codes are ``analysis.quality.MISSING_REASONS``'s).
LEFT_OUT_WORDS = {
    "foot_undetected": "with no heel or toe found",
    "foot_cut_off": "with the foot cut off by the frame edge",
    "foot_hidden": "with the heel or toe hidden",
    "foot_too_small": "with the foot too small in the image",
    "floor_line_unknown": "with no flat-foot frames for the floor line",
}
#: Share of each stance where the foot is flat for every strike pattern (see module docs).
FLAT_STANCE_WINDOW = (0.2, 0.5)
#: Camera classes (``analysis.camera.classify_camera``) whose image floor turns during a shot: a
#: hand-held camera rolls, a pan changes the running direction's perspective. Their contacts take
#: the floor of their own stance (:func:`floor_lines_deg`); ``static`` and ``unknown`` (no evidence
#: of motion) keep one floor per foot and shot, which averages the landmarks' noise away.
MOVING_CAMERAS = ("tracking", "hand-held")
#: Under a moving camera a contact's floor is the median over its own stance and this many of
#: the same foot's stances either side (about 0.7 s each way at 170 steps/min): one stance's
#: 2-5 flat frames are too few where YOLO's ankles collapse at mid-stance and a swing foot's
#: sole lands among them (tests/gaitlake/test_moving_camera_e2e.py); a hand-held roll of a
#: few degrees changes little within that span (tests/analysis/test_feet_floor.py).
NEIGHBOUR_STANCES = 1


@dataclass(frozen=True)
class ContactStrike:
    """The foot strike of one initial contact.

    ``angle_deg``: touchdown sole angle relative to the floor line (deg, + toe up),
    NaN with a ``reason`` when it was not measured; ``pattern``: rearfoot,
    midfoot, forefoot or None; ``confidence``: the smallest heel/toe confidence
    over the frames used (0..1).
    """

    side: str
    ic_frame: int
    angle_deg: float
    pattern: str | None
    confidence: float
    reason: str | None


def sole_angle_deg(heel_xy: np.ndarray, toe_xy: np.ndarray, facing: float) -> np.ndarray:
    """Image angle of the heel -> toe line (deg): 0 along the runner's forward axis, + toe up.

    ``facing``: +1 when the runner faces image +x, -1 when -x (image y points down).
    """
    heel, toe = np.asarray(heel_xy, dtype=np.float64), np.asarray(toe_xy, dtype=np.float64)
    forward = (toe[..., 0] - heel[..., 0]) * np.sign(facing)
    up = heel[..., 1] - toe[..., 1]
    return np.degrees(np.arctan2(up, forward))


def flat_foot_angle_deg(sole_deg: np.ndarray, ic: np.ndarray, to: np.ndarray,
                        window: tuple[float, float] = FLAT_STANCE_WINDOW) -> float:
    """The floor line as the foot sees it (deg): median sole angle over ``window`` of its stances.

    ``ic``/``to``: the foot's paired IC and TO frames. NaN when no stance frame has an angle.
    """
    sole = np.asarray(sole_deg, dtype=np.float64)
    frames = [f for a, b in zip(np.asarray(ic, dtype=np.int64).tolist(), np.asarray(to, dtype=np.int64).tolist())
              for f in _window_frames(a, b, window, len(sole))]
    values = sole[frames] if frames else np.zeros(0)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float("nan")


def floor_lines_deg(sole_deg: np.ndarray, ic: np.ndarray, to: np.ndarray, shots: list[tuple[int, int, str]] | None,
                    window: tuple[float, float] = FLAT_STANCE_WINDOW) -> np.ndarray:
    """The floor line at each of one foot's contacts (deg; ``ic``/``to`` as in :func:`flat_foot_angle_deg`).

    ``shots``: ``(first frame, last frame, camera)`` of each continuous shot; None is one static
    shot. A contact in a static (or ``unknown``) shot gets :func:`flat_foot_angle_deg` over that
    shot's stances of the foot; one in a shot of a :data:`MOVING_CAMERAS` camera gets the median
    over ``window`` of its own stance and :data:`NEIGHBOUR_STANCES` either side, whose floor
    turned with the camera as the touchdown's did, or, where those windows have no angle, the
    foot's measured floors of the shot interpolated to its IC frame. NaN where the shot has none.
    """
    sole = np.asarray(sole_deg, dtype=np.float64)
    ic, to = np.asarray(ic, dtype=np.int64), np.asarray(to, dtype=np.int64)
    floors = np.full(len(ic), np.nan)
    shot = _shot_index(ic, shots)
    for k, moving in enumerate(_moving(shots)):
        mine = shot == k
        if not mine.any():
            continue
        if not moving:
            floors[mine] = flat_foot_angle_deg(sole, ic[mine], to[mine], window)
            continue
        idx = np.flatnonzero(mine)
        near = [idx[max(0, j - NEIGHBOUR_STANCES):j + NEIGHBOUR_STANCES + 1] for j in range(len(idx))]
        own = np.array([flat_foot_angle_deg(sole, ic[n], to[n], window) for n in near])
        known = np.isfinite(own)
        if known.any():
            floors[mine] = np.where(known, own, np.interp(ic[mine], ic[mine][known], own[known]))
    return floors


def _moving(shots: list[tuple[int, int, str]] | None) -> list[bool]:
    """Per shot, whether its camera moves (:data:`MOVING_CAMERAS`); one static shot for None."""
    return [camera in MOVING_CAMERAS for *_, camera in shots] if shots else [False]


def _shot_index(frames: np.ndarray, shots: list[tuple[int, int, str]] | None) -> np.ndarray:
    """The shot each frame lies in (the last shot starting at or before it; 0 for None)."""
    if not shots:
        return np.zeros(len(frames), dtype=np.int64)
    starts = np.array([a for a, *_ in shots], dtype=np.int64)
    return np.maximum(np.searchsorted(starts, np.asarray(frames, dtype=np.int64), side="right") - 1, 0)


def strike_frames(ics: dict[str, np.ndarray], tos: dict[str, np.ndarray], n_frames: int,
                  floor_stances: int = 12, window: tuple[float, float] = FLAT_STANCE_WINDOW,
                  shots: list[tuple[int, int, str]] | None = None) -> np.ndarray:
    """The frames the foot-strike measure reads, sorted: IC-1 and IC of every contact, and the
    flat-stance ``window`` of the stances whose floor lines :func:`floor_lines_deg` reads: in a
    static shot at most ``floor_stances`` stances per side, spread evenly over it (the floor
    line is one median per side and shot, so a long shot needs no more of them); in a moving
    camera's shot (``shots`` as there) every stance. ``ics``/``tos`` per side as in
    :func:`contact_strikes`.

    The strike model (a slower, more precise landmark network, ``tasks.feet``) runs on these
    frames only, which bounds its cost to about two frames per contact under a static camera
    and two plus a third of the stance (5 at 30 fps, 8 at 60 fps) under a moving one.
    """
    frames: set[int] = set()
    moving = _moving(shots)
    for side in ics:
        ic, to = np.asarray(ics[side], dtype=np.int64), np.asarray(tos[side], dtype=np.int64)
        frames.update(int(f) for f in np.concatenate([ic - 1, ic]) if 0 <= f < n_frames)
        shot = _shot_index(ic, shots)
        for k, all_of_them in enumerate(moving):
            stances = [(a, b) for a, b in zip(ic[shot == k].tolist(), to[shot == k].tolist()) if b > a]
            if not all_of_them and len(stances) > floor_stances:
                stances = [stances[i] for i in np.linspace(0, len(stances) - 1, floor_stances).round().astype(int)]
            for a, b in stances:
                frames.update(_window_frames(a, b, window, n_frames))
    return np.array(sorted(frames), dtype=np.int64)


def _window_frames(ic: int, to: int, window: tuple[float, float], n_frames: int) -> range:
    """The frames of stance ``[ic, to]`` inside ``window`` (shares of the stance), clipped to the
    record; empty when the stance has no length."""
    if to <= ic:
        return range(0)
    lo, hi = ic + int(np.ceil(window[0] * (to - ic))), ic + int(np.floor(window[1] * (to - ic)))
    return range(max(lo, 0), min(hi, n_frames - 1) + 1)


def touchdown_angle_deg(sole_deg: np.ndarray, ic_frame: int, floor_deg: float) -> float:
    """Foot-strike angle at touchdown (deg, + toe up): the mean sole angle of frames IC-1 and IC
    minus the floor line (module docs, 4). NaN when either frame lacks it."""
    sole = np.asarray(sole_deg, dtype=np.float64)
    if ic_frame < 1 or ic_frame >= len(sole):
        return float("nan")
    return float((sole[ic_frame - 1] + sole[ic_frame]) / 2 - floor_deg)


def strike_pattern(angle_deg: float) -> str | None:
    """Foot-strike pattern of a touchdown angle (Altman & Davis 2012): rearfoot above 8 deg,
    forefoot below -1.6 deg, midfoot between; None for NaN."""
    if not np.isfinite(angle_deg):
        return None
    if angle_deg > REARFOOT_ABOVE_DEG:
        return "rearfoot"
    if angle_deg < FOREFOOT_BELOW_DEG:
        return "forefoot"
    return "midfoot"


def contact_quality(heel: np.ndarray, toe: np.ndarray, frames: list[int],
                    frame_size: tuple[int, int] | None) -> tuple[float, str | None]:
    """Confidence (0..1) of a contact's heel and toe over ``frames``, and why it is unusable (or None).

    Reasons, in the order checked: ``foot_undetected`` (no points), ``foot_cut_off``
    (a point outside the frame), ``foot_hidden`` (confidence below :data:`MIN_POINT_CONF`),
    ``foot_too_small`` (heel-toe shorter than :data:`MIN_FOOT_PX`).
    """
    h, t = np.asarray(heel, dtype=np.float64)[frames], np.asarray(toe, dtype=np.float64)[frames]
    if not (np.isfinite(h[:, :2]).all() and np.isfinite(t[:, :2]).all()):
        return 0.0, "foot_undetected"
    conf = float(min(h[:, 2].min(), t[:, 2].min()))
    if frame_size is not None:
        w, hgt = frame_size
        xy = np.concatenate([h[:, :2], t[:, :2]])
        if (xy[:, 0] < 0).any() or (xy[:, 0] >= w).any() or (xy[:, 1] < 0).any() or (xy[:, 1] >= hgt).any():
            return conf, "foot_cut_off"
    if conf < MIN_POINT_CONF:
        return conf, "foot_hidden"
    if float(np.linalg.norm(t[:, :2] - h[:, :2], axis=1).min()) < MIN_FOOT_PX:
        return conf, "foot_too_small"
    return conf, None


def contact_strikes(feet: FootSides, ics: dict[str, np.ndarray], tos: dict[str, np.ndarray], facing: float,
                    frame_size: tuple[int, int] | None,
                    shots: list[tuple[int, int, str]] | None = None) -> list[ContactStrike]:
    """The foot strike of every IC (``ics[side]``: IC frames; ``tos[side]``: the TO ending each stance,
    used for the floor line), sorted by frame. ``shots``: each continuous shot's first and last
    frame and camera (:func:`floor_lines_deg`); None: one static shot."""
    out = []
    for side in ("left", "right"):
        sole = sole_angle_deg(feet.heel[side][:, :2], feet.toe[side][:, :2], facing)
        ok = (feet.heel[side][:, 2] >= MIN_POINT_CONF) & (feet.toe[side][:, 2] >= MIN_POINT_CONF)
        floors = floor_lines_deg(np.where(ok, sole, np.nan), ics[side], tos[side], shots)
        for ic, floor in zip(np.asarray(ics[side], dtype=np.int64).tolist(), floors.tolist()):
            if ic < 1 or ic >= len(sole):
                out.append(ContactStrike(side, ic, float("nan"), None, 0.0, "foot_undetected"))
                continue
            conf, reason = contact_quality(feet.heel[side], feet.toe[side], [ic - 1, ic], frame_size)
            if reason is None and not np.isfinite(floor):
                reason = "floor_line_unknown"
            angle = float("nan") if reason else touchdown_angle_deg(sole, ic, floor)
            out.append(ContactStrike(side, ic, angle, strike_pattern(angle), conf, reason))
    return sorted(out, key=lambda c: (c.ic_frame, c.side))


def side_summary(strikes: list[ContactStrike], side: str) -> dict:
    """One side's measured contacts: angle mean and SD (deg), their count, and the unusable ones by reason."""
    mine = [c for c in strikes if c.side == side]
    angles = np.array([c.angle_deg for c in mine if np.isfinite(c.angle_deg)])
    return {
        "angle_mean_deg": float(angles.mean()) if angles.size else None,
        "angle_sd_deg": float(angles.std(ddof=1)) if angles.size > 1 else None,
        "measured": int(angles.size),
        "excluded": dict(Counter(c.reason for c in mine if c.reason)),
    }


def session_pattern(strikes: list[ContactStrike]) -> tuple[str | None, float | None, int]:
    """The majority pattern over measured contacts, its share (0..1), and how many contacts were left out."""
    patterns = [c.pattern for c in strikes if c.pattern]
    left_out = sum(1 for c in strikes if c.pattern is None)
    if not patterns:
        return None, None, left_out
    pattern, n = Counter(patterns).most_common(1)[0]
    return pattern, n / len(patterns), left_out


def ankle_angle_deg(knee_xy: np.ndarray, ankle_xy: np.ndarray, heel_xy: np.ndarray, toe_xy: np.ndarray) -> np.ndarray:
    """Ankle angle (deg): 90 minus the angle between shank (ankle -> knee) and foot (heel -> toe);
    + dorsiflexion, - plantarflexion (sagittal 2D convention, e.g. Sports2D)."""
    shank = np.asarray(knee_xy, dtype=np.float64) - np.asarray(ankle_xy, dtype=np.float64)
    foot = np.asarray(toe_xy, dtype=np.float64) - np.asarray(heel_xy, dtype=np.float64)
    cos = np.sum(shank * foot, axis=-1) / (np.linalg.norm(shank, axis=-1) * np.linalg.norm(foot, axis=-1))
    return 90.0 - np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


# --- the engine's result with measured feet ----------------------------------------------------
#: Stride columns the foot measures fill (``analysis.strides``).
STRIDE_FOOT_COLUMNS = ("footstrike_angle_deg", "footstrike_confidence")


def stance_pairs(events) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per side, the IC frames and the TO ending each stance (:func:`_stance_pairs`): the
    ``ics``/``tos`` that :func:`contact_strikes` and :func:`strike_frames` take."""
    pairs = {side: _stance_pairs(events, side) for side in ("left", "right")}
    return {side: p[0] for side, p in pairs.items()}, {side: p[1] for side, p in pairs.items()}


def _stance_pairs(events, side: str) -> tuple[np.ndarray, np.ndarray]:
    """One side's IC frames and, for each, the frame of the first TO after it (-1 when none)."""
    ic = np.array(sorted(e.frame for e in events if e.side == side and e.kind == "IC"), dtype=np.int64)
    to = np.array(sorted(e.frame for e in events if e.side == side and e.kind == "TO"), dtype=np.int64)
    nxt = np.searchsorted(to, ic, side="right")
    return ic, np.where(nxt < len(to), to[np.minimum(nxt, len(to) - 1)], -1)


def with_feet(result, points: np.ndarray, frame_size: tuple[int, int] | None, model: str,
              strike_points: np.ndarray | None = None, strike_model: str | None = None,
              shots: list[tuple[int, int, str]] | None = None):
    """``result`` (``analysis.results.SessionAnalysis``) with the foot strike measured from ``points``.

    ``strike_points`` (same layout, NaN/confidence 0 outside :func:`strike_frames`): a more
    precise model's points on the frames the strike reads; when given, the touchdown angles and
    patterns come from them (``quality.footstrike_model`` names it) and ``points`` give the rest.
    ``shots``: each continuous shot's first and last frame and camera, which choose the floor
    line (:func:`floor_lines_deg`; ``quality.footstrike_floor`` says which: ``per foot`` for
    static shots, ``per stance`` for moving cameras, ``mixed``); None: one static shot.

    Per stride: ``footstrike`` (the measured pattern; None where the contact was
    unusable), ``footstrike_angle_deg`` and ``footstrike_confidence``. Summary:
    ``footstrike`` = the majority pattern of measured contacts. Frame series: heel
    and toe per side (px, m, confidence) and the ankle angle series ``{l,r}ank_angle``
    (shank-foot where the foot is seen). Quality:
    ``footstrike_source`` = "measured", the per-side angle summary, the share of
    the majority pattern, contacts left out by reason, and frames whose foot
    sides the model had the other way round.
    """
    fs = dict(result.frame_series)
    facing = 1.0 if result.summary.facing == "+x" else -1.0
    ankles = [np.stack([fs[f"{side}_ankle_x_px"], fs[f"{side}_ankle_y_px"]], axis=1) for side in ("left", "right")]
    feet = assign_feet(points, *ankles)
    ics, tos = stance_pairs(result.events)
    strike_feet = feet if strike_points is None else assign_feet(strike_points, *ankles)
    strikes = contact_strikes(strike_feet, ics, tos, facing, frame_size, shots)
    ankle = _foot_series(fs, feet, facing)
    strides = _strides_with_strikes(result.strides, strikes)
    pattern, share, left_out = session_pattern(strikes)
    summary = replace(result.summary, footstrike=pattern)
    quality = _quality_with_feet(result.quality, strikes, pattern, share, left_out, ankle, ics, feet, model)
    moving = set(_moving(shots))
    quality = quality.with_added(footstrike_model=strike_model if strike_points is not None else model,
                                 footstrike_floor="mixed" if len(moving) > 1 else "per stance" if True in moving
                                 else "per foot")
    # the gait report's angle curves again, so its ankle curves are the series' shank-foot angle too
    from analysis.phases import gait_phases
    from analysis.vocabulary import ANGLE_KEYS

    angles = {k: fs[k] for k in ANGLE_KEYS if k in fs}
    phases = gait_phases(result.joints, strides, angles, result.fps, not result.quality.short_clip,
                         result.events)
    return replace(result, frame_series=fs, strides=strides, summary=summary, quality=quality, phases=phases)


def _foot_series(fs: dict[str, np.ndarray], feet: FootSides, facing: float) -> dict[str, np.ndarray]:
    """Add each side's heel and toe (px, confidence, and m where the ankle's scale is known) and
    its shank-foot ankle angle ``{l,r}ank_angle`` (NaN where the foot is not seen) to the frame
    series ``fs``; returns the ankle angle series per side."""
    ankle = {}
    for side, pref in (("left", "l"), ("right", "r")):
        heel, toe = feet.heel[side], feet.toe[side]
        seen = (heel[:, 2] >= MIN_POINT_CONF) & (toe[:, 2] >= MIN_POINT_CONF)
        knee = np.stack([fs[f"{side}_knee_x_px"], fs[f"{side}_knee_y_px"]], axis=1)
        ank = np.stack([fs[f"{side}_ankle_x_px"], fs[f"{side}_ankle_y_px"]], axis=1)
        ankle[side] = np.where(seen, ankle_angle_deg(knee, ank, heel[:, :2], toe[:, :2]), np.nan)
        fs[f"{pref}ank_angle"] = ankle[side]
        # heel and toe in metres on the ankle's own scale: its px -> m offset applies to the whole foot
        ppm = _metres_per_px(fs, side)
        for name, arr in (("heel", heel), ("toe", toe)):
            fs[f"{side}_{name}_x_px"] = arr[:, 0]
            fs[f"{side}_{name}_y_px"] = arr[:, 1]
            fs[f"{side}_{name}_conf"] = arr[:, 2]
            if ppm is not None:
                fs[f"{side}_{name}_x_m"] = fs[f"{side}_ankle_x_m"] + facing * (arr[:, 0] - ank[:, 0]) * ppm
                fs[f"{side}_{name}_y_m"] = fs[f"{side}_ankle_y_m"] - (arr[:, 1] - ank[:, 1]) * ppm
    return ankle


def _strides_with_strikes(table, strikes: list[ContactStrike]):
    """The stride table with each stride's measured ``footstrike``, ``footstrike_angle_deg`` and
    ``footstrike_confidence`` (None where its contact was not measured)."""
    from analysis.strides import StrideTable

    by_contact = {(c.side, c.ic_frame): c for c in strikes}
    rows = table.rows()
    for row in rows:
        c = by_contact.get((row["side"], row["ic_frame"]))
        row["footstrike"] = c.pattern if c else None
        row["footstrike_angle_deg"] = c.angle_deg if c and np.isfinite(c.angle_deg) else None
        row["footstrike_confidence"] = c.confidence if c else None
    return StrideTable.from_rows(rows) if rows else table


def _quality_with_feet(quality: Quality, strikes: list[ContactStrike], pattern: str | None, share: float | None,
                       left_out: int, ankle: dict[str, np.ndarray], ics: dict[str, np.ndarray], feet: FootSides,
                       model: str) -> Quality:
    """``quality`` with the measured foot strike: its source and model, the per-side summaries,
    contacts left out by reason (and why ``footstrike`` is missing when none was measured)."""
    # ankle_angle_deg (strides, summary) stays the shank angle at IC: the commentary's vertical-shin
    # advice reads it as such; the shank-foot angle is the series and the per-side value below
    reasons = [r for r in quality.reasons if r != PROXY_NOTE]
    reasons.append("The ankle angle at contact on the cards is the shin's angle to vertical (the landing cue); "
                   "the true ankle angle, shin to foot, is the one in the angle chart.")
    excluded = dict(Counter(c.reason for c in strikes if c.reason))
    if excluded:
        reasons.append(f"Foot strike: {left_out} of {len(strikes)} contacts left out: "
                       + ", ".join(f"{v} {LEFT_OUT_WORDS.get(k, k)}" for k, v in sorted(excluded.items())) + ".")
    missing = dict(quality.missing)
    if pattern is None:
        # the commonest reason a contact was left out (codes in analysis.quality.MISSING_REASONS)
        missing["footstrike"] = max(excluded, key=excluded.get) if excluded else "not_measured"
    else:
        missing.pop("footstrike", None)
    return replace(quality, missing=missing, reasons=tuple(reasons)).with_added(
        footstrike_source="measured", foot_model=model, footstrike_share=share, footstrike_contacts=len(strikes),
        footstrike_excluded=excluded,
        footstrike_left={**side_summary(strikes, "left"), "ankle_at_ic_deg": _mean_at(ankle["left"], ics["left"])},
        footstrike_right={**side_summary(strikes, "right"), "ankle_at_ic_deg": _mean_at(ankle["right"], ics["right"])},
        foot_sides_swapped_frames=int(feet.swapped.sum()))


def _mean_at(series: np.ndarray, frames: np.ndarray) -> float | None:
    """Mean of ``series`` at ``frames`` (NaN skipped); None when none is finite."""
    idx = np.asarray(frames, dtype=np.int64)
    values = series[idx[(idx >= 0) & (idx < len(series))]]
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else None


def _metres_per_px(fs: dict, side: str) -> float | None:
    """The leg's metres per pixel: its shank (knee -> ankle) in the engine's m series over the
    same shank in px. A length within one frame, so the px may be the image's while the metres
    are the scene's (a moving camera's path removed, ``analysis.footage``)."""
    px = np.hypot(fs[f"{side}_knee_x_px"] - fs[f"{side}_ankle_x_px"], fs[f"{side}_knee_y_px"] - fs[f"{side}_ankle_y_px"])
    m = np.hypot(fs[f"{side}_knee_x_m"] - fs[f"{side}_ankle_x_m"], fs[f"{side}_knee_y_m"] - fs[f"{side}_ankle_y_m"])
    ok = np.isfinite(px) & np.isfinite(m) & (px > 1.0)
    return float(np.median(m[ok] / px[ok])) if ok.any() else None


def with_proxy_note(result, reason: str):
    """``result`` when the foot stage did not run: the proxy stays, and ``quality`` says so and why."""
    quality = result.quality.with_added(footstrike_source="proxy", foot_model=None, foot_model_missing=reason)
    return replace(result, quality=quality)
