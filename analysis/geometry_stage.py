"""Stages 2 and 3 of ``analysis.engine.analyze``: the keypoint clean-up (swaps,
outliers, gaps, low-pass) and the scene's geometry (facing, forward coordinates,
the pelvis reference, treadmill or overground, image scale, side view, joint angles)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis import angles as ang
from analysis import cleaning, events as ev, geometry as geo
from analysis.keypoints import KP
from analysis.params import EngineParams, RunnerProfile


#: Cut-off (Hz) of the pelvis track that the foot position is referred to.
PELVIS_CUTOFF_HZ = 0.5


@dataclass(frozen=True)
class CleanedKeypoints:
    """Stage 2 (:func:`clean_up`): filtered keypoints (T, 17, 2) px and what was repaired."""

    xy: np.ndarray
    n_swaps: int
    n_outliers: int


def clean_up(xy: np.ndarray, fps: float, params: EngineParams) -> CleanedKeypoints:
    """Stage 2: repair left/right swaps, reject outliers (Hampel, 3 sigma, at least 8 %
    of the trunk), fill gaps up to ``params.max_gap_s`` and low-pass at ``params.lowpass_hz``."""
    xy, n_swaps = cleaning.repair_swaps(xy, fps)
    trunk_px = geo.segment_lengths_px(xy)["trunk"]
    min_dev = 0.08 * trunk_px if math.isfinite(trunk_px) else 0.0
    raw = xy
    xy = cleaning.reject_outliers(xy, window=7, n_sigmas=3.0, min_dev=min_dev, motion_factor=1.0)
    n_outliers = int((np.isnan(xy) & ~np.isnan(raw)).any(-1).sum())
    xy = cleaning.interpolate_gaps(xy, max(2, int(round(params.max_gap_s * fps))))
    xy = cleaning.lowpass(xy, fps, params.lowpass_hz)
    return CleanedKeypoints(xy, n_swaps, n_outliers)


def pelvis_reference(fwd: np.ndarray, pel_fwd: np.ndarray, fps: float) -> np.ndarray:
    """The pelvis track that foot positions are referred to (px, forward).

    The pelvis averaged over exactly one step period
    (:func:`cleaning.periodic_mean`; the step is half the ankles' stride
    period): the within-step pelvis speed fluctuation, which would add a
    stride-locked bias to the foot velocity, cancels, while the camera's own
    motion (a panning or hand-held camera moves every keypoint alike) is
    kept and so cancels in ``ankle - reference``. Without a measurable
    stride, the 0.5 Hz low-pass (:data:`PELVIS_CUTOFF_HZ`) of before, which
    let a 0.9 Hz camera sway through into the foot track.
    """
    periods = [ev.stride_period_frames(fwd[:, k] - pel_fwd, fps) for k in (KP.LEFT_ANKLE, KP.RIGHT_ANKLE)]
    periods = [p for p in periods if p]
    if not periods:
        return cleaning.lowpass(pel_fwd, fps, PELVIS_CUTOFF_HZ)
    return cleaning.periodic_mean(pel_fwd, 0.5 * float(np.median(periods)))


@dataclass(frozen=True)
class SceneGeometry:
    """Stage 3 (:func:`scene_geometry`): direction, forward coordinates, mode, scale and angles.

    ``fwd`` (T, 17) / ``pel_fwd`` (T,): forward image coordinate (px) of every
    keypoint / the pelvis; ``u_ankle``: each ankle's forward position relative
    to the slow pelvis (px); ``valid``: both ankles and the pelvis seen;
    ``ppm`` body scale (px/m), ``side_ppm`` per leg, ``near`` the near leg;
    ``angles``: every joint angle series (deg), as measured (events read the knee);
    ``shown_angles``: the same, NaN where :func:`analysis.angles.angle_reliability`
    rejects a frame (every output shows these); ``reliable_share``: each angle's
    share of frames shown; ``reasons``: quality notes."""

    facing: float
    pelvis: np.ndarray
    fwd: np.ndarray
    pel_fwd: np.ndarray
    valid: np.ndarray
    u_ankle: dict
    mode: str
    ppm: float
    default_h: bool
    side_ppm: dict
    near: str | None
    side_score: float
    side_view: bool
    angles: dict
    shown_angles: dict
    reliable_share: dict
    reasons: tuple[str, ...]


def scene_geometry(xy: np.ndarray, conf: np.ndarray, fps: float, profile: RunnerProfile,
                   params: EngineParams) -> SceneGeometry:
    """Stage 3: facing direction, forward coordinates, treadmill or overground, the image
    scale (body and per leg, :mod:`analysis.geometry`), side-view check and joint angles."""
    reasons: list[str] = []
    facing = geo.facing_direction(xy)
    pelvis = geo.midpoint(xy, KP.LEFT_HIP, KP.RIGHT_HIP)
    fwd = facing * xy[..., 0]                 # forward image coordinate (px)
    pel_fwd = facing * pelvis[:, 0]
    # slow pelvis drift (overground travel, treadmill position changes) without
    # the within-stride pelvis jitter, which would add noise to the foot velocity
    pel_slow = pelvis_reference(fwd, pel_fwd, fps)
    valid = np.isfinite(fwd[:, [KP.LEFT_ANKLE, KP.RIGHT_ANKLE]]).all(1) & np.isfinite(pel_fwd)
    v_stance, u_ankle = {}, {}
    for side, ank in (("left", KP.LEFT_ANKLE), ("right", KP.RIGHT_ANKLE)):
        u_ankle[side] = fwd[:, ank] - pel_slow
        _, v_stance[side] = ev.contact_mask(u_ankle[side], fps)
    vs = np.nanmean([v_stance["left"], v_stance["right"]]) if any(
        np.isfinite(list(v_stance.values()))) else float("nan")
    mode = geo.detect_mode(pel_fwd, abs(vs) * fps, fps) if profile.mode == "auto" else profile.mode
    ppm, default_h = geo.pixels_per_metre(xy, profile.height_m, profile.leg_length_m, params.default_height_m)
    if default_h:
        reasons.append(f"Runner height unknown: scale assumes {params.default_height_m} m.")
    if not (math.isfinite(ppm) and ppm > 0):
        ppm = float("nan")
        reasons.append("Image scale could not be estimated: metric lengths and speeds are null.")
    # per-leg scale (perspective: the far leg looks smaller) and the near leg
    side_ppm, near = geo.side_pixels_per_metre(xy, ppm)
    side_score = geo.side_view_score(xy)
    side_view = bool(math.isfinite(side_score) and side_score < 0.35)
    if not side_view:
        reasons.append("The camera does not look at the runner from the side: sagittal metrics are unreliable.")
    angles = ang.joint_angles(xy, facing)
    reliable = ang.angle_reliability(xy, conf, facing, angles, fps)
    shown = {k: np.where(reliable[k], v, np.nan) for k, v in angles.items()}
    share = {k: float(r.mean()) if r.size else 0.0 for k, r in reliable.items()}
    return SceneGeometry(facing, pelvis, fwd, pel_fwd, valid, u_ankle, mode, ppm, default_h, side_ppm, near,
                     side_score, side_view, angles, shown, share, tuple(reasons))
