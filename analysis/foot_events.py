"""Gait events from the foot: heel contact and toe lift relative to the floor line.

Input: the foot stage's heel and toe per frame (``tasks.feet``, MediaPipe
BlazePose's heel and foot-index landmarks, ``(T, 6, 3)`` in
:data:`analysis.feet.FOOT_POINTS` order, x/y source px and a confidence), given
to the engine legs they sit on (:func:`analysis.feet.assign_feet`).

Method ("vertical position" of the foot, the marker-height family of kinematic
event methods: Hreljac & Stergiou 2000, "Phase determination during normal
running using kinematic data", Med Biol Eng Comput; O'Connor et al. 2007, Gait
Posture 25:469, use the heel and toe markers' midpoint):

1. **Points** (:func:`foot_tracks`): heel and toe below
   :data:`analysis.feet.MIN_POINT_CONF` are missing; gaps up to the engine's
   ``max_gap_s`` are filled and the tracks low-passed like the body's
   keypoints (zero-phase, ``lowpass_hz``).
2. **Floor line** (:func:`floor_line`): a foot on the ground has its lowest
   point (the lower of heel and toe in the image) on the floor. The floor line
   is the least-squares line ``y = a x + b`` through that lowest point over
   the :data:`FLOOR_STANCE_SHARE` of frames where it is lowest: a running foot
   is on the ground for its duty factor, 0.39-0.40 of the stride on both shared
   clips' annotation, so those frames are stance. A line, not a level, so the
   camera's roll and the belt's perspective slope cancel.
3. **Contact** (:func:`contact_from_height`): the foot is on the ground while
   its lowest point is within :data:`FLOOR_CLEARANCE` foot lengths of the floor
   line; IC is the frame the heel (or whichever point is lower) comes down into
   that band, TO the frame the toe (the last point down) leaves it. A foot
   lands once per stride, near its ankle's most forward position relative to
   the pelvis, and lifts near the most backward (the event candidates of Zeni
   et al. 2008, Gait Posture 27:710): IC is the first landing within
   :data:`WINDOW_SHARE` of the backward half-cycle around the first, TO the
   last lift around the second. Only there: at mid-stance the swinging foot
   passes the standing one, and the model then often puts both feet's points
   on one (measured on the garage clip: the far foot "lands" in mid-swing).
   The clearance is in foot lengths (heel to toe, the image's own scale) and
   sits above the landmarks' scatter about the floor line on a standing foot
   (robust SD 0.09-0.23 foot lengths over its lowest 30-40 % of frames on the
   shared clips), so that noise does not split one contact in two.

The band has a price: a foot that comes down slowly enters it early and leaves
it late (the synthetic runner's half-sine swing: 56 ms at IC and at TO). On the
shared clips the landmarks' own errors dominate instead (docs/analysis.md
"Events from the foot" has the measured table; ``velocity`` stays the default).
"""
from __future__ import annotations

import numpy as np

from analysis import cleaning
from analysis.events import backward_half_cycles, stride_period_frames
from analysis.foot_sides import MIN_POINT_CONF, assign_feet

#: Share of the frames in which a foot is lowest that is taken for stance (the floor line's frames).
FLOOR_STANCE_SHARE = 0.35
#: Height band above the floor line (foot lengths) in which a foot counts as on the ground.
FLOOR_CLEARANCE = 0.25
#: Half-width of the windows around the ankle's turning points, as a share of its backward half-cycle.
WINDOW_SHARE = 0.25
#: Least share of the tracked frames in which a foot's heel and toe must be known for its events.
MIN_FOOT_COVERAGE = 0.8


def foot_tracks(points: np.ndarray, left_ankle_xy: np.ndarray, right_ankle_xy: np.ndarray, fps: float,
                lowpass_hz: float, max_gap_s: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Heel and toe ``(T, 2)`` px of each engine leg, cleaned (module docs, 1).

    ``points``: ``(T, 6, 3)`` foot stage points; ``*_ankle_xy``: ``(T, 2)`` the engine's
    side-repaired ankles (px), to which the model's feet are assigned. NaN where unknown.
    """
    sides = assign_feet(points, left_ankle_xy, right_ankle_xy)
    max_gap = max(2, int(round(max_gap_s * fps)))
    out = {}
    for side in ("left", "right"):
        pair = []
        for p in (sides.heel[side], sides.toe[side]):
            xy = np.where((np.nan_to_num(p[:, 2]) >= MIN_POINT_CONF)[:, None], p[:, :2], np.nan)
            pair.append(cleaning.lowpass(cleaning.interpolate_gaps(xy, max_gap), fps, lowpass_hz))
        out[side] = (pair[0], pair[1])
    return out


def floor_line(heel: np.ndarray, toe: np.ndarray, share: float = FLOOR_STANCE_SHARE) -> tuple[float, float]:
    """Image floor line ``y = a x + b`` (px) under one foot (module docs, 2); NaN without enough points.

    Image y grows downwards, so the foot's lowest point is the larger y of heel and toe.
    """
    heel_lower = heel[:, 1] >= toe[:, 1]
    low_y = np.where(heel_lower, heel[:, 1], toe[:, 1])
    low_x = np.where(heel_lower, heel[:, 0], toe[:, 0])
    ok = np.isfinite(low_y) & np.isfinite(low_x)
    if ok.sum() < 10:
        return float("nan"), float("nan")
    on_floor = ok & (low_y >= np.percentile(low_y[ok], 100.0 * (1.0 - share)))
    if np.ptp(low_x[on_floor]) == 0:
        return 0.0, float(np.mean(low_y[on_floor]))
    a, b = np.polyfit(low_x[on_floor], low_y[on_floor], 1)
    return float(a), float(b)


def height_above_floor(heel: np.ndarray, toe: np.ndarray, line: tuple[float, float]) -> tuple[np.ndarray, float]:
    """The foot's lowest point above the floor ``line`` (px, + up), per frame, and the foot's
    median heel-toe length (px, its own scale)."""
    a, b = line
    heel_up = a * heel[:, 0] + b - heel[:, 1]
    toe_up = a * toe[:, 0] + b - toe[:, 1]
    length = np.hypot(*(toe - heel).T)
    return np.fmin(heel_up, toe_up), float(np.nanmedian(length)) if np.isfinite(length).any() else float("nan")


def _crossing(height: np.ndarray, band: float, k: int, falling: bool) -> float:
    """Sub-frame instant (frames) in ``(k-1, k]`` where ``height`` crosses ``band``: linear
    interpolation between frames ``k-1`` and ``k`` (the crossing at frame ``k`` is bracketed
    there by construction, :func:`contact_from_height`)."""
    h0, h1 = height[k - 1], height[k]
    return float(k - 1 + (h0 - band) / (h0 - h1)) if h0 != h1 else float(k)


def contact_from_height(height: np.ndarray, foot_length: float, half_cycles: list[tuple[int, int]],
                        valid: np.ndarray) -> dict:
    """IC and TO of one foot from its height above the floor (module docs, 3).

    Parameters
    ----------
    height : np.ndarray
        ``(T,)`` the foot's lowest point above the floor line (px, + up; NaN unknown).
    foot_length : float
        Heel-toe length (px).
    half_cycles : list[tuple[int, int]]
        ``(most forward, most backward)`` frames of the ankle relative to the pelvis
        (:func:`analysis.events.backward_half_cycles`), one per stride.
    valid : np.ndarray
        ``(T,)`` frames where the runner is tracked.

    Returns
    -------
    dict
        ``IC``, ``TO`` (int frames: first frame on / off the ground), ``IC_f``, ``TO_f``
        (sub-frame instants, frames), ``mask`` (per-frame contact) and ``v_stance`` (NaN:
        the velocity method's, not measured here) — the shape of
        :func:`analysis.events.side_events`.
    """
    T = height.size
    band = FLOOR_CLEARANCE * foot_length
    known = np.isfinite(height) & valid
    h = np.where(known, height, np.nan)
    with np.errstate(invalid="ignore"):
        down = np.r_[False, (h[:-1] > band) & (h[1:] <= band)]      # frame k: first in the band
        up = np.r_[False, (h[:-1] <= band) & (h[1:] > band)]        # frame k: first above it
    down[[0, -1]] = up[[0, -1]] = False                              # record edges: no events
    ic, to = [], []
    mask = np.zeros(T, dtype=bool)
    for a, b in half_cycles:
        q = max(2, int(round(WINDOW_SHARE * (b - a))))
        lands = np.flatnonzero(down[max(a - q, 0):min(a + q + 1, T)]) + max(a - q, 0)
        lifts = np.flatnonzero(up[max(b - q, 0):min(b + q + 1, T)]) + max(b - q, 0)
        if lands.size:
            ic.append(int(lands[0]))                  # the first landing: noise after it is stance
        if lifts.size:
            to.append(int(lifts[-1]))                 # the last lift: noise before it is push-off
        if lands.size and lifts.size and lifts[-1] > lands[0]:
            mask[lands[0]:lifts[-1]] = True
    ic_a, to_a = np.array(sorted(set(ic)), dtype=np.int64), np.array(sorted(set(to)), dtype=np.int64)
    return {"IC": ic_a, "TO": to_a, "IC_f": np.array([_crossing(h, band, k, True) for k in ic_a]),
            "TO_f": np.array([_crossing(h, band, k, False) for k in to_a]), "mask": mask,
            "v_stance": float("nan")}


def foot_side_events(heel: np.ndarray, toe: np.ndarray, ankle_u: np.ndarray, fps: float,
                     valid: np.ndarray) -> tuple[dict | None, str | None]:
    """One foot's events (:func:`contact_from_height`) from its cleaned heel and toe ``(T, 2)`` px
    and its ankle's forward position relative to the pelvis ``ankle_u`` (px, the strides' windows),
    or ``(None, why)`` when the foot cannot give them: heel/toe known in under
    :data:`MIN_FOOT_COVERAGE` of the tracked frames, no stride, no floor line, or no contact found."""
    known = np.isfinite(heel).all(1) & np.isfinite(toe).all(1)
    tracked = int(valid.sum())
    coverage = float((known & valid).sum() / tracked) if tracked else 0.0
    if coverage < MIN_FOOT_COVERAGE:
        return None, f"heel and toe seen in {coverage:.0%} of the frames"
    line = floor_line(heel, toe)
    if not np.isfinite(line[1]):
        return None, "no floor line"
    height, length = height_above_floor(heel, toe, line)
    if not (np.isfinite(length) and length > 0):
        return None, "no foot length"
    period = stride_period_frames(ankle_u, fps) if np.isfinite(ankle_u).sum() >= max(10, int(0.5 * fps)) else None
    if period is None:
        return None, "no periodic stride"
    found = contact_from_height(height, length, backward_half_cycles(ankle_u, period), valid)
    if found["IC"].size == 0 or found["TO"].size == 0:
        return None, "no contact found"
    return found, None
