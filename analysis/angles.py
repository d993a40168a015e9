"""Sagittal-plane joint angles from 2D keypoints.

Convention (all angles in degrees, per frame, NaN where a point is missing):
vectors are expressed in the *body frame* (X forward in the running
direction, Y up) so that both running directions give the same numbers.
``segment_angle`` of a vector is measured from straight *down*, positive when
the vector points forward: ``atan2(X, -Y)``.

=================  ===========================================================
name               definition (positive direction)
=================  ===========================================================
``posture_angle``  trunk (mid-hip -> mid-shoulder) against vertical; + = forward lean
``{l,r}hip_angle``   hip flexion: thigh (hip->knee) relative to the trunk line
                   (mid-shoulder -> mid-hip); + = flexion (knee ahead), - = extension
``{l,r}kne_angle``   knee flexion: thigh (hip->knee) minus shank (knee->ankle);
                   0 = straight leg, + = flexion
``{l,r}ank_angle``   PROXY (COCO-17 has no foot): shank (knee->ankle) against
                   vertical; + = ankle ahead of the knee
``{l,r}sho_angle``   shoulder flexion: upper arm (shoulder->elbow) relative to the
                   trunk line; + = elbow ahead (flexion), - = extension
``{l,r}elb_angle``   elbow flexion: forearm (elbow->wrist) minus upper arm; 0 = straight
=================  ===========================================================

Every angle is wrapped into (-180, 180] frame by frame (:func:`wrap_deg`),
so it is the same number in every output (lake, API, panel, charts); the
anatomical ranges of running lie well inside, so plausible motion never
meets the seam.
"""
from __future__ import annotations

import numpy as np

from analysis.geometry import midpoint
from analysis.keypoints import KP


def to_body_frame(vec_px: np.ndarray, facing: float) -> np.ndarray:
    """Image vector(s) ``(..., 2)`` (y down) -> body frame (X forward, Y up)."""
    out = np.empty_like(vec_px, dtype=np.float64)
    out[..., 0] = facing * vec_px[..., 0]
    out[..., 1] = -vec_px[..., 1]
    return out


def segment_angle(vec_body: np.ndarray) -> np.ndarray:
    """Angle (deg) of body-frame vectors from straight down, + forward, in (-180, 180]."""
    return np.degrees(np.arctan2(vec_body[..., 0], -vec_body[..., 1]))


def wrap_deg(angle_deg: np.ndarray) -> np.ndarray:
    """Angles (deg) wrapped into (-180, 180], frame by frame (NaN stays NaN).

    Every joint angle is a difference of two segment directions, so it is
    defined only modulo 360; its one valid representative is the one in
    (-180, 180]. The anatomical ranges of running (knee 0..~140, elbow
    ~0..~160, hip and shoulder within +-120, ankle proxy and posture within
    +-90) all lie inside it, far from the seam at +-180, so the wrapped series
    are continuous wherever the keypoints are plausible. Unwrapping along time
    instead (``np.unwrap``) let a series drift by whole turns after one
    implausible frame (an elbow at 484 deg on a real clip: issue 16).
    """
    x = np.asarray(angle_deg, dtype=np.float64)
    a = (x + 180.0) % 360.0 - 180.0
    a = np.where(a == -180.0, 180.0, a)
    with np.errstate(invalid="ignore"):
        return np.where((x > -180.0) & (x <= 180.0), x, a)   # in range: unchanged, bit for bit


def unwrap_deg(angle_deg: np.ndarray) -> np.ndarray:
    """``np.unwrap`` (deg) along axis 0 per run of finite samples: for interpolating
    across the +-180 seam only; wrap the results again with :func:`wrap_deg`."""
    a = np.array(angle_deg, dtype=np.float64, copy=True)
    ok = np.isfinite(a)
    edges = np.flatnonzero(np.diff(np.r_[0, ok.astype(np.int8), 0]))
    for s, e in zip(edges[::2], edges[1::2]):
        a[s:e] = np.unwrap(a[s:e], period=360.0)
    return a


def circular_mean_deg(angle_deg: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean direction (deg, in (-180, 180]) of angles along ``axis``."""
    r = np.radians(np.asarray(angle_deg, dtype=np.float64))
    return wrap_deg(np.degrees(np.arctan2(np.sin(r).mean(axis), np.cos(r).mean(axis))))


def joint_angles(xy: np.ndarray, facing: float) -> dict[str, np.ndarray]:
    """All sagittal joint angles (deg) per frame, named as in DESIGN.md.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, 17, 2)`` cleaned pixel coordinates.
    facing : float
        ``+1`` when the runner faces +x, ``-1`` otherwise.

    Returns
    -------
    dict[str, np.ndarray]
        ``posture_angle`` and ``{l,r}{sho,elb,hip,kne,ank}_angle``, each ``(T,)``.
    """
    def seg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return segment_angle(to_body_frame(b - a, facing))

    mid_hip = midpoint(xy, KP.LEFT_HIP, KP.RIGHT_HIP)
    mid_sho = midpoint(xy, KP.LEFT_SHOULDER, KP.RIGHT_SHOULDER)
    trunk_down = seg(mid_sho, mid_hip)
    out = {"posture_angle": wrap_deg(-trunk_down)}
    for side, p in (("l", "LEFT"), ("r", "RIGHT")):
        hip, knee, ank = (xy[:, KP[f"{p}_{j}"]] for j in ("HIP", "KNEE", "ANKLE"))
        sho, elb, wri = (xy[:, KP[f"{p}_{j}"]] for j in ("SHOULDER", "ELBOW", "WRIST"))
        thigh, shank = seg(hip, knee), seg(knee, ank)
        upper, fore = seg(sho, elb), seg(elb, wri)
        out[f"{side}hip_angle"] = wrap_deg(thigh - trunk_down)
        out[f"{side}kne_angle"] = wrap_deg(thigh - shank)
        out[f"{side}ank_angle"] = wrap_deg(shank)
        out[f"{side}sho_angle"] = wrap_deg(upper - trunk_down)
        out[f"{side}elb_angle"] = wrap_deg(fore - upper)
    return out


def angle_between_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Unsigned angle (deg, 0..180) between vectors ``(..., 2)`` via atan2(|cross|, dot)."""
    cross = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    dot = (u * v).sum(-1)
    return np.degrees(np.arctan2(np.abs(cross), dot))
