"""The engine's inputs (stage 1 of ``analysis.engine.analyze``): its tunables
(:class:`EngineParams`), what is known of the runner (:class:`RunnerProfile`), the
error for input that cannot be analysed, and the input check that masks
low-confidence keypoints (:func:`validated_input`)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis.keypoints import KP, validate_keypoints
from analysis.vocabulary import UnknownJointError, parse_joints


class AnalysisError(ValueError):
    """Nothing can be analysed; the message is one sentence saying why."""


@dataclass(frozen=True)
class EngineParams:
    """The engine's tunables; ``configs`` builds them from ``[analysis]``
    (``AnalysisSettings.engine_params``), and the row's ``config_hash`` hashes them.
    No defaults here: their values live in ``configs/default.toml`` only, and every
    caller of the engine passes the settings' (analysis/ imports no configs).

    Attributes
    ----------
    min_keypoint_conf : float
        Keypoints below this confidence are treated as missing.
    lowpass_hz : float
        Zero-phase Butterworth cut-off (Hz, real time) of the keypoint tracks.
        8 Hz keeps the IC/TO velocity steps sharp enough for +/-1 frame timing
        at 60 fps while removing pose jitter; running kinematics are usually
        filtered at 6-12 Hz (Winter 2009; Fellin et al. 2010).
    max_gap_s : float
        Longest keypoint gap (s) filled by interpolation.
    default_height_m : float
        Stature assumed for the image scale when the runner's is unknown
        (flagged in quality).
    event_method : str
        IC/TO definition, one of ``analysis.events.EVENT_METHODS``
        (``velocity``: chosen by measurement, docs/analysis.md "Event timing").
    """

    min_keypoint_conf: float
    lowpass_hz: float
    max_gap_s: float
    default_height_m: float
    event_method: str


@dataclass(frozen=True)
class RunnerProfile:
    """What we know of the runner and the capture.

    Attributes
    ----------
    height_m : float or None
        Stature (m); ``None`` -> ``EngineParams.default_height_m`` is assumed and flagged in quality.
    weight_kg : float or None
        Body mass (kg); without it ``power_w`` is None.
    leg_length_m : float or None
        Greater trochanter to floor (m); used for scale when height is None.
    incline_deg : float
        Treadmill/road incline (deg), for the Minetti C(i) power model.
    mode : str
        ``'auto'``, ``'treadmill'`` or ``'overground'``.
    capture_fps : float or None
        True capture rate of slow-motion footage (frames/s); rescales time.
    joints : tuple[str, ...]
        Joints whose angles are reported: subset of ankle, knee, elbow, hip,
        shoulder, or ``('all',)``.
    """

    height_m: float | None = None
    weight_kg: float | None = None
    leg_length_m: float | None = None
    incline_deg: float = 0.0
    mode: str = "auto"
    capture_fps: float | None = None
    joints: tuple[str, ...] = ("all",)


def _selected_joints(joints: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return parse_joints(joints)
    except UnknownJointError as exc:
        raise AnalysisError(f"Unknown joint name(s) {exc.unknown}; "
                            "use ankle, knee, elbow, hip, shoulder or all.") from None


@dataclass(frozen=True)
class CheckedInput:
    """Stage 1 (:func:`validated_input`): the checked keypoints.

    ``xy`` (T, 17, 2) px with NaN where a keypoint is missing or below the
    confidence threshold; ``conf`` (T, 17); ``n_present`` frames with at least
    four of the six leg keypoints; ``mean_conf`` their mean keypoint confidence."""

    kp: np.ndarray
    eff_fps: float
    joints: tuple[str, ...]
    xy: np.ndarray
    conf: np.ndarray
    n_present: int
    mean_conf: float


def validated_input(keypoints: np.ndarray, fps: float, profile: RunnerProfile, params: EngineParams) -> CheckedInput:
    """Stage 1: check the input and mask keypoints below ``params.min_keypoint_conf``.

    Raises :class:`AnalysisError` for a bad frame rate, mode or joint name, or
    when the runner's legs are seen in fewer than max(10, fps/2) frames."""
    kp = validate_keypoints(keypoints)
    if not (fps and math.isfinite(fps) and fps > 0):
        raise AnalysisError(f"The frame rate must be a positive number, got {fps!r}.")
    eff_fps = float(profile.capture_fps) if profile.capture_fps else float(fps)
    if eff_fps <= 0:
        raise AnalysisError("The capture frame rate must be positive.")
    if profile.mode not in ("auto", "treadmill", "overground"):
        raise AnalysisError(f"mode must be auto, treadmill or overground, got {profile.mode!r}.")
    joints = _selected_joints(tuple(profile.joints))
    T = kp.shape[0]
    xy = kp[..., :2].copy()
    conf = np.nan_to_num(kp[..., 2])
    xy[(conf < params.min_keypoint_conf) | ~np.isfinite(xy).all(-1)] = np.nan
    leg_pts = [KP.LEFT_HIP, KP.RIGHT_HIP, KP.LEFT_KNEE, KP.RIGHT_KNEE, KP.LEFT_ANKLE, KP.RIGHT_ANKLE]
    present = np.isfinite(xy[:, leg_pts, 0]).sum(1) >= 4
    n_present = int(present.sum())
    min_frames = max(10, int(0.5 * eff_fps))
    if T == 0 or n_present < min_frames:
        raise AnalysisError(f"The runner's legs were found in {n_present} of {T} frames; "
                            f"at least {min_frames} are needed.")
    seen = conf[present]
    mean_conf = float(seen[seen > 0].mean()) if (seen > 0).any() else 0.0
    return CheckedInput(kp, eff_fps, joints, xy, conf, n_present, mean_conf)
