"""Sagittal-plane joint angles from 2D keypoints, one anatomical convention each.

All angles are in degrees, per frame, NaN where a point is missing. Vectors are
expressed in the *body frame* (X forward in the running direction, Y up) so
that a runner facing image-left and one facing image-right give the same
numbers. ``segment_angle`` of a vector is measured from straight *down*,
positive when the vector points forward: ``atan2(X, -Y)``.

=================  ===========================================================
name               definition (positive direction), physiological range
=================  ===========================================================
``posture_angle``  trunk lean: trunk (mid-hip -> mid-shoulder) against vertical;
                   + = leaning forward, - = leaning back (-45..60)
``{l,r}hip_angle``   hip flexion/extension: thigh (hip->knee) relative to the trunk
                   line (mid-shoulder -> mid-hip); + = flexion (knee ahead of the
                   trunk line), - = extension (-60..130)
``{l,r}kne_angle``   knee flexion: 180 deg minus the hip-knee-ankle angle; 0 = straight
                   leg, + = flexion, never negative (0..160)
``{l,r}ank_angle``   ankle PROXY (COCO-17 has no foot): shank (knee->ankle) against
                   vertical; + = ankle ahead of the knee (-90..90)
``{l,r}sho_angle``   shoulder flexion/extension: upper arm (shoulder->elbow) relative
                   to the trunk line; + = elbow ahead (flexion) (-120..180)
``{l,r}elb_angle``   elbow flexion: 180 deg minus the shoulder-elbow-wrist angle;
                   0 = straight arm, + = flexion, never negative (0..160)
=================  ===========================================================

Knee and elbow follow OpenSim's and Sports2D's flexion convention (0 = straight,
flexion positive; OpenSim's ``knee_angle`` carries the opposite sign). They are
unsigned interior angles, so they do not depend on the running direction and
never meet the +-180 seam; the signed bend (:func:`signed_bend_deg`) is kept
only to catch a joint bent the impossible way (a swapped or misplaced point).
The signed angles lie well inside (-180, 180] over their physiological ranges
and are wrapped there frame by frame (:func:`wrap_deg`), so one implausible
frame never shifts the rest.

:func:`angle_reliability` says per frame whether an angle can be shown as a
measurement: every point it uses detected with confidence at least
:data:`RELIABLE_KEYPOINT_CONF`, no impossible bend, and the value inside its
physiological range (:data:`PHYSIOLOGICAL_RANGE_DEG`). The engine blanks the
other frames (reported, not plotted as fact) and names the far side's angles
as less reliable, as it does the far foot.
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


#: Lowest detector confidence (0..1) of a point an angle is shown from. Below it
#: the point is missing or interpolated from its neighbours in time (the engine
#: drops points below ``min_keypoint_conf`` and fills short gaps), a guess.
RELIABLE_KEYPOINT_CONF = 0.5
#: Largest bend of a knee or elbow against its hinge (hyperextension) taken as
#: real; beyond it a point is misplaced or the limbs are swapped (deg). Knee
#: hyperextension in gait stays under ~5 deg (Perry & Burnfield 2010, Gait
#: Analysis, ch. 6); 20 deg leaves room for 2D keypoint noise.
MAX_HYPEREXTENSION_DEG = 20.0
#: Fastest joint rotation taken as real (deg/s). Peak sagittal joint angular
#: velocities in running stay under ~1500 deg/s even in sprinting (knee in late
#: swing; Novacheck 1998); a faster change between two frames is a keypoint
#: that jumped, and both frames of the jump are left out.
MAX_ANGULAR_SPEED_DEG_S = 2500.0
#: Physiological range (deg) of each angle in running, in this module's
#: conventions: joint ranges of motion from Perry & Burnfield (2010) and
#: Novacheck (1998, Gait & Posture 7:77-95), widened for sprinting; values
#: outside come from misplaced points.
PHYSIOLOGICAL_RANGE_DEG: dict[str, tuple[float, float]] = {
    "posture": (-45.0, 60.0),
    "hip": (-60.0, 130.0),
    "kne": (0.0, 160.0),
    "ank": (-90.0, 90.0),
    "sho": (-120.0, 180.0),
    "elb": (0.0, 160.0),
}
#: Keypoints of each side's angle, besides the trunk line (mid-shoulder ->
#: mid-hip) that posture, hip and shoulder angles are taken against.
_POINTS: dict[str, tuple[str, ...]] = {
    "hip": ("{p}_HIP", "{p}_KNEE"),
    "kne": ("{p}_HIP", "{p}_KNEE", "{p}_ANKLE"),
    "ank": ("{p}_KNEE", "{p}_ANKLE"),
    "sho": ("{p}_SHOULDER", "{p}_ELBOW"),
    "elb": ("{p}_SHOULDER", "{p}_ELBOW", "{p}_WRIST"),
}


def flexion_deg(proximal: np.ndarray, joint: np.ndarray, distal: np.ndarray) -> np.ndarray:
    """Hinge flexion (deg, 0..180): 180 minus the angle at ``joint`` between the
    segments to ``proximal`` and ``distal`` (points ``(..., 2)``); 0 = straight.

    The same for either running direction and continuous in time (no seam)."""
    return 180.0 - angle_between_deg(proximal - joint, distal - joint)


def signed_bend_deg(proximal: np.ndarray, joint: np.ndarray, distal: np.ndarray, facing: float,
                    flexes_backward: bool) -> np.ndarray:
    """Bend (deg, in (-180, 180]) of the distal segment against the proximal one in the
    body frame, positive in the joint's flexion direction (``flexes_backward``: the
    knee, whose shank folds behind the thigh; else forward, as the forearm does)."""
    prox = segment_angle(to_body_frame(joint - proximal, facing))
    dist = segment_angle(to_body_frame(distal - joint, facing))
    bend = wrap_deg(prox - dist)
    return bend if flexes_backward else wrap_deg(-bend)


def joint_angles(xy: np.ndarray, facing: float) -> dict[str, np.ndarray]:
    """All sagittal joint angles (deg) per frame, named as in DESIGN.md, in the
    conventions of this module's table.

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
        out[f"{side}hip_angle"] = wrap_deg(seg(hip, knee) - trunk_down)
        out[f"{side}kne_angle"] = flexion_deg(hip, knee, ank)
        out[f"{side}ank_angle"] = wrap_deg(seg(knee, ank))
        out[f"{side}sho_angle"] = wrap_deg(seg(sho, elb) - trunk_down)
        out[f"{side}elb_angle"] = flexion_deg(sho, elb, wri)
    return out


def angle_reliability(xy: np.ndarray, conf: np.ndarray, facing: float, angles: dict[str, np.ndarray],
                      fps: float) -> dict[str, np.ndarray]:
    """Per angle, per frame: True where the angle can be shown as a measurement.

    False where a point it uses has confidence below :data:`RELIABLE_KEYPOINT_CONF`
    (missing, occluded or interpolated), where a knee or elbow bends against its
    hinge by more than :data:`MAX_HYPEREXTENSION_DEG` (a misplaced or swapped
    point), where the value leaves :data:`PHYSIOLOGICAL_RANGE_DEG`, or on both
    frames of a change faster than :data:`MAX_ANGULAR_SPEED_DEG_S`.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, 17, 2)`` cleaned pixel coordinates.
    conf : np.ndarray
        ``(T, 17)`` detector confidences (0 where absent).
    facing : float
        ``+1`` when the runner faces +x, ``-1`` otherwise.
    angles : dict[str, np.ndarray]
        :func:`joint_angles` of ``xy``.
    fps : float
        Frame rate (Hz) of the series.
    """
    conf = np.nan_to_num(np.asarray(conf, dtype=np.float64))
    out: dict[str, np.ndarray] = {}
    for key, value in angles.items():
        joint = "posture" if key == "posture_angle" else key[1:4]
        lo, hi = PHYSIOLOGICAL_RANGE_DEG[joint]
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(value) & (value >= lo) & (value <= hi)
        # the trunk line is a midpoint of both sides: one confident point of each pair will do
        trunk = np.fmax(conf[:, KP.LEFT_SHOULDER], conf[:, KP.RIGHT_SHOULDER])
        trunk = np.fmin(trunk, np.fmax(conf[:, KP.LEFT_HIP], conf[:, KP.RIGHT_HIP]))
        names: tuple[str, ...] = ()
        if joint in ("posture", "hip", "sho"):
            ok &= trunk >= RELIABLE_KEYPOINT_CONF
        if joint != "posture":
            p = "LEFT" if key[0] == "l" else "RIGHT"
            names = tuple(n.format(p=p) for n in _POINTS[joint])
            if joint in ("kne", "elb"):
                a, b, c = ((f"{p}_HIP", f"{p}_KNEE", f"{p}_ANKLE") if joint == "kne"
                           else (f"{p}_SHOULDER", f"{p}_ELBOW", f"{p}_WRIST"))
                bend = signed_bend_deg(xy[:, KP[a]], xy[:, KP[b]], xy[:, KP[c]], facing, joint == "kne")
                with np.errstate(invalid="ignore"):
                    ok &= ~(bend < -MAX_HYPEREXTENSION_DEG)
        if names:
            ok &= (conf[:, [KP[n] for n in names]] >= RELIABLE_KEYPOINT_CONF).all(axis=1)
        with np.errstate(invalid="ignore"):
            jump = np.abs(np.diff(value)) * fps > MAX_ANGULAR_SPEED_DEG_S
        ok &= ~np.r_[jump, False] & ~np.r_[False, jump]
        out[key] = ok
    return out


def angle_between_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Unsigned angle (deg, 0..180) between vectors ``(..., 2)`` via atan2(|cross|, dot)."""
    cross = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    dot = (u * v).sum(-1)
    return np.degrees(np.arctan2(np.abs(cross), dot))
