"""Scene geometry from 2D keypoints: facing direction, scale, floor line, mode.

Image coordinates are pixels with y pointing down. The *body frame* used by
angles and events has X forward (in the running direction) and Y up.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import trim_mean

from analysis.keypoints import KP

#: Segment lengths as fractions of standing height (Drillis & Contini 1966,
#: as tabulated in Winter 2009, Biomechanics and Motor Control of Human
#: Movement, Fig. 4.1): shank 0.246 H, thigh 0.245 H, hip-to-shoulder 0.288 H.
SHANK_FRACTION = 0.246
THIGH_FRACTION = 0.245
TRUNK_FRACTION = 0.288
#: Hip (greater trochanter) height / stature, same source; "leg length".
LEG_LENGTH_FRACTION = 0.530


def midpoint(xy: np.ndarray, a: int, b: int) -> np.ndarray:
    """Mean of two keypoints, ``(T, 2)``; uses the one present if the other is NaN."""
    return np.nanmean(np.stack([xy[:, a], xy[:, b]]), axis=0) if xy.shape[0] else xy[:, a]


def facing_direction(xy: np.ndarray) -> float:
    """Running direction in the image: ``+1.0`` (towards +x) or ``-1.0``.

    Votes of two side-view cues, per frame: the nose is ahead of the ears, and
    the knee is ahead of the hip-ankle line (the knee only flexes backwards).
    The sign of the summed normalised votes wins; ``+1`` when undecidable.
    """
    with np.errstate(invalid="ignore"):
        ears = np.nanmean(xy[:, [KP.LEFT_EAR, KP.RIGHT_EAR], 0], axis=1)
        shoulders = np.nanmean(xy[:, [KP.LEFT_SHOULDER, KP.RIGHT_SHOULDER], 0], axis=1)
        head_ref = np.where(np.isfinite(ears), ears, shoulders)
        nose_vote = np.sign(xy[:, KP.NOSE, 0] - head_ref)
        knee_votes = []
        for hip, knee, ank in ((KP.LEFT_HIP, KP.LEFT_KNEE, KP.LEFT_ANKLE),
                               (KP.RIGHT_HIP, KP.RIGHT_KNEE, KP.RIGHT_ANKLE)):
            line_x = 0.5 * (xy[:, hip, 0] + xy[:, ank, 0])
            knee_votes.append(np.sign(xy[:, knee, 0] - line_x))
    votes = np.concatenate([nose_vote, *knee_votes])
    s = np.nansum(votes)
    return -1.0 if s < 0 else 1.0


def segment_lengths_px(xy: np.ndarray) -> dict[str, float]:
    """Trimmed-mean (20 % each end) pixel length of shank, thigh and trunk.

    Per frame, each bilateral segment takes the longer of the two sides (the
    shorter is more often foreshortened or occluded); the trimmed mean over
    frames rejects outliers (Pose2Sim's height estimation approach, Pagnon et
    al. 2022, JOSS 7(77):4362).
    """
    def seglen(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(xy[:, a] - xy[:, b], axis=1)

    out = {}
    with np.errstate(invalid="ignore"):
        shank = np.fmax(seglen(KP.LEFT_KNEE, KP.LEFT_ANKLE), seglen(KP.RIGHT_KNEE, KP.RIGHT_ANKLE))
        thigh = np.fmax(seglen(KP.LEFT_HIP, KP.LEFT_KNEE), seglen(KP.RIGHT_HIP, KP.RIGHT_KNEE))
        trunk = np.linalg.norm(midpoint(xy, KP.LEFT_HIP, KP.RIGHT_HIP)
                               - midpoint(xy, KP.LEFT_SHOULDER, KP.RIGHT_SHOULDER), axis=1)
    for name, v in (("shank", shank), ("thigh", thigh), ("trunk", trunk)):
        v = v[np.isfinite(v)]
        out[name] = float(trim_mean(v, 0.2)) if v.size else float("nan")
    return out


def pixels_per_metre(xy: np.ndarray, height_m: float | None, leg_length_m: float | None,
                     default_height_m: float) -> tuple[float, bool]:
    """Image scale (px/m) from the runner's stature or leg length.

    ``chain = shank + thigh + trunk`` (trimmed means, :func:`segment_lengths_px`)
    equals ``(0.246 + 0.245 + 0.288) H = 0.779 H`` (Drillis & Contini 1966).
    With only a leg length ``L`` (trochanter to floor, ``0.530 H``), shank +
    thigh ``= 0.491/0.530 L``. With neither, ``H = default_height_m`` is assumed (the
    settings' ``analysis.default_height_cm``: ``EngineParams.default_height_m``).

    Returns
    -------
    tuple[float, bool]
        Scale in px/m and whether the default height was used.
    """
    seg = segment_lengths_px(xy)
    if height_m is None and leg_length_m:
        legs = seg["shank"] + seg["thigh"]
        return legs / (leg_length_m * (SHANK_FRACTION + THIGH_FRACTION) / LEG_LENGTH_FRACTION), False
    default = height_m is None
    h = default_height_m if default else float(height_m)
    chain = seg["shank"] + seg["thigh"] + seg["trunk"]
    return chain / (h * (SHANK_FRACTION + THIGH_FRACTION + TRUNK_FRACTION)), default


#: Legs whose trimmed pixel lengths differ by less than this fraction are taken
#: as equally far from the camera: no near leg (both feet read the belt).
NEAR_LEG_MIN_DIFF = 0.02
#: Leg-length ratios (short / long) below this are tracking failures, not
#: perspective (a 2 m camera distance and 0.2 m between the feet give ~0.9).
MIN_SIDE_RATIO = 0.75


def leg_lengths_px(xy: np.ndarray) -> dict[str, float]:
    """Trimmed-mean (20 % each end) pixel length of each leg, thigh + shank.

    Thigh (hip -> knee) and shank (knee -> ankle) of one side, each trimmed
    over frames like :func:`segment_lengths_px` but without taking the longer
    side; pass swap-repaired keypoints, or each side mixes both legs.
    Returns ``{'left': px, 'right': px}`` (NaN where a leg is never seen).
    """
    out = {}
    for side, pre in (("left", "LEFT"), ("right", "RIGHT")):
        hip, knee, ank = KP[f"{pre}_HIP"], KP[f"{pre}_KNEE"], KP[f"{pre}_ANKLE"]
        tot = 0.0
        for a, b in ((hip, knee), (knee, ank)):
            v = np.linalg.norm(xy[:, a] - xy[:, b], axis=1)
            v = v[np.isfinite(v)]
            tot += float(trim_mean(v, 0.2)) if v.size else float("nan")
        out[side] = tot
    return out


def side_pixels_per_metre(xy: np.ndarray, px_per_m: float) -> tuple[dict[str, float], str | None]:
    """Image scale (px/m) of each leg's sagittal plane, and the leg nearer the camera.

    A pinhole camera images a length ``l`` at depth ``Z`` as ``f l / Z`` px, so
    the scale is proportional to ``1/Z``: in a side view the far leg, one
    step width plus the hip width further away, looks smaller and its foot
    moves fewer px for the same belt speed. Each leg's scale is measured, like
    the whole-body scale, from its own segment lengths (thigh + shank,
    :func:`leg_lengths_px`; segment-based scaling as in Pose2Sim, Pagnon et
    al. 2022, JOSS 7(77):4362, and OpenCap, Uhlrich et al. 2023, PLoS Comput
    Biol 19:e1011462) relative to the whole-body scale ``px_per_m``::

        px_per_m_side = px_per_m * L_side / max(L_left, L_right)

    The reference is the longer leg because :func:`segment_lengths_px`, and so
    ``px_per_m``, takes the longer side per frame: the whole-body scale is that
    of the near (less foreshortened, unoccluded) leg, and the near leg keeps it.
    Without perspective both legs measure alike and both scales equal
    ``px_per_m``.

    Returns
    -------
    tuple[dict[str, float], str or None]
        ``{'left': px/m, 'right': px/m}`` and the near leg (``'left'`` or
        ``'right'``), or ``None`` when the legs differ by less than
        ``NEAR_LEG_MIN_DIFF``. Both scales are ``px_per_m`` and the near leg
        ``None`` when a leg length is missing or their ratio is below
        ``MIN_SIDE_RATIO`` (tracking failure, not perspective).
    """
    legs = leg_lengths_px(xy)
    ll, lr = legs["left"], legs["right"]
    if not (np.isfinite(px_per_m) and np.isfinite(ll) and np.isfinite(lr) and ll > 0 and lr > 0):
        return {"left": px_per_m, "right": px_per_m}, None
    ref = max(ll, lr)
    if min(ll, lr) / ref < MIN_SIDE_RATIO:
        return {"left": px_per_m, "right": px_per_m}, None
    near = None if min(ll, lr) / ref > 1.0 - NEAR_LEG_MIN_DIFF else ("left" if ll > lr else "right")
    return {"left": px_per_m * ll / ref, "right": px_per_m * lr / ref}, near


def floor_line(ankle_xy: np.ndarray, contact: np.ndarray) -> tuple[float, float] | None:
    """Floor line ``y = slope * x + intercept`` (px) through ankles in contact.

    Least-squares line (``np.polyfit``) through the ankle positions of all
    contact frames of both feet. The ankle is ~0.04 H above the floor
    (Drillis & Contini 1966), so this line is parallel to the floor, slightly
    above it. Returns ``None`` with fewer than 3 points.
    """
    pts = ankle_xy[contact & np.isfinite(ankle_xy).all(axis=1)]
    if pts.shape[0] < 3 or np.ptp(pts[:, 0]) < 1e-6:
        return None
    slope, intercept = np.polyfit(pts[:, 0], pts[:, 1], 1)
    return float(slope), float(intercept)


def detect_mode(pelvis_x_px: np.ndarray, stance_speed_px_s: float, fps: float) -> str:
    """``'treadmill'`` or ``'overground'`` from pelvis travel.

    On a treadmill the pelvis stays in the image while the stance foot moves
    backwards at belt speed; overground the pelvis travels at running speed.
    Overground when the pelvis' net horizontal speed exceeds 30 % of the
    stance-foot speed measured relative to the pelvis.
    """
    x = pelvis_x_px[np.isfinite(pelvis_x_px)]
    if x.size < 2 or not np.isfinite(stance_speed_px_s) or stance_speed_px_s <= 0:
        return "treadmill"
    idx = np.flatnonzero(np.isfinite(pelvis_x_px))
    duration = (idx[-1] - idx[0]) / fps
    speed = abs(x[-1] - x[0]) / max(duration, 1e-9)
    return "overground" if speed > 0.3 * stance_speed_px_s else "treadmill"


def side_view_score(xy: np.ndarray) -> float:
    """Median shoulder width over trunk length; ~0 in a pure side view.

    A frontal view shows the shoulders ~0.8 trunk lengths apart.
    """
    with np.errstate(invalid="ignore"):
        width = np.abs(xy[:, KP.LEFT_SHOULDER, 0] - xy[:, KP.RIGHT_SHOULDER, 0])
        trunk = np.linalg.norm(midpoint(xy, KP.LEFT_HIP, KP.RIGHT_HIP)
                               - midpoint(xy, KP.LEFT_SHOULDER, KP.RIGHT_SHOULDER), axis=1)
        r = width / trunk
    r = r[np.isfinite(r)]
    return float(np.median(r)) if r.size else float("nan")
