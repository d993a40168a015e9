"""Synthetic side-view running/walking stick figures with exact, known truth.

Used by the tests and the throughput benchmark. The kinematics are simple
but built so that every quantity the engine measures is known exactly:
stance feet move backwards relative to the pelvis at exactly the running
speed (fixed to the ground overground, to the belt on a treadmill), segment
lengths follow Drillis & Contini (so the scale is exact), and events happen
at known times.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from analysis.keypoints import KP, N_KEYPOINTS

#: The synthetic runner's body, from landmark heights as fractions of stature H (Winter 2009,
#: Biomechanics and Motor Control of Human Movement, Fig. 4.1, after Drillis & Contini 1966):
#: shoulder 0.818, hip (greater trochanter) 0.530, knee 0.285, ankle 0.039. Written out here,
#: not imported from analysis.geometry, so that the truth does not share the estimator's numbers.
BODY_THIGH = 0.245     # 0.530 - 0.285
BODY_SHANK = 0.246     # 0.285 - 0.039
BODY_TRUNK = 0.288     # 0.818 - 0.530
BODY_ANKLE_HEIGHT = 0.039
#: Foot length (heel to toe tip) as a fraction of stature (Drillis & Contini 1966: 0.152 H), and the
#: share of it behind the ankle.
BODY_FOOT = 0.152
HEEL_BEHIND_ANKLE = 0.25
#: Peak lift (m) of the ankle in swing, a half-sine over the swing (:func:`_ankle_path`).
SWING_LIFT_M = 0.18


@dataclass
class SyntheticSession:
    """Generated keypoints and their truth.

    Attributes
    ----------
    keypoints : np.ndarray
        ``(T, 17, 3)`` px x, px y, confidence.
    fps : float
        Frame rate (frames/s).
    truth : dict
        cadence_spm, step_time_s, stride_time_s, contact_time_s, flight_time_s,
        speed_mps, stride_length_m, balance_pct, px_per_m, duty_factor, posture_angle_deg.
    events : dict
        ``{'left'|'right': {'IC': frames, 'TO': frames}}`` (first frame in
        contact / first frame off the ground).
    knee_flexion_deg : dict
        ``{'left'|'right': (T,) array}`` true knee flexion per frame.
    foot_points : np.ndarray or None
        ``(T, 6, 3)`` heel and toe as the foot stage gives them (``analysis.feet.FOOT_POINTS``
        order: ankles, heels, toes; px + confidence): a flat foot carried by the ankle, its
        sole on the floor exactly while the foot is in contact (:func:`_foot_points`).
    """

    keypoints: np.ndarray
    fps: float
    truth: dict
    events: dict = field(default_factory=dict)
    knee_flexion_deg: dict = field(default_factory=dict)
    foot_points: np.ndarray | None = None


def make_session(*, cadence_spm: float = 170.0, contact_time_s: float = 0.25,
                 speed_mps: float = 3.0, fps: float = 60.0, duration_s: float = 10.0,
                 height_m: float = 1.75, facing: float = 1.0, mode: str = "treadmill",
                 px_per_m: float = 400.0, lean_deg: float = 6.0, contact_asymmetry_s: float = 0.0,
                 noise_px: float = 0.0, gap_rate: float = 0.0, outlier_rate: float = 0.0,
                 swap_rate: float = 0.0, seed: int = 0, t0_s: float = 0.1234,
                 far_leg_scale: float = 1.0) -> SyntheticSession:
    """Generate one synthetic session.

    Parameters
    ----------
    cadence_spm : float
        Steps per minute; step time = 60 / cadence, stride time twice that.
    contact_time_s : float
        Ground contact time of the right foot (s); the left foot's is
        ``contact_time_s + contact_asymmetry_s``. A contact longer than the
        step time gives double support (walking).
    speed_mps : float
        Running (belt) speed (m/s).
    fps, duration_s : float
        Frame rate and length of the record.
    facing : float
        ``+1`` runner faces +x, ``-1`` faces -x.
    mode : str
        ``'treadmill'`` (pelvis stays put) or ``'overground'`` (pelvis travels).
    noise_px, gap_rate, outlier_rate, swap_rate : float
        Gaussian pixel noise (px); share of frames with a missing runner (in
        runs of 1-4 frames); share of keypoints displaced by 20-60 px; share
        of frames whose legs are swapped left/right (in runs of 1-3 frames).
    far_leg_scale : float
        Simulated perspective: the left (far) leg's knee and ankle are drawn at
        this scale about its hip, as a leg further from the camera (image
        scale ~ 1/depth); its foot moves that much fewer px. Truth is unchanged.
    """
    rng = np.random.default_rng(seed)
    T = int(round(duration_s * fps))
    t = np.arange(T) / fps
    step = 60.0 / cadence_spm
    stride = 2.0 * step
    L1, L2, Ltr = BODY_THIGH * height_m, BODY_SHANK * height_m, BODY_TRUNK * height_m
    ankle_h = BODY_ANKLE_HEIGHT * height_m
    tc = {"right": contact_time_s, "left": contact_time_s + contact_asymmetry_s}
    t_ic0 = {"right": t0_s, "left": t0_s + step}

    pel_x = speed_mps * t if mode == "overground" else np.zeros(T)
    # pelvis lowest at mid-stance of either foot (period = step)
    osc = 0.07
    hip_base = 0.85 * (L1 + L2) + ankle_h
    pel_y = hip_base - 0.5 * osc * np.cos(2 * np.pi * (t - t0_s - contact_time_s / 2) / step)

    P = np.full((T, N_KEYPOINTS, 2), np.nan)
    knee_flex = {}
    events = {}
    for side, sgn in (("right", 0.0), ("left", 1.0)):
        c = tc[side]
        duty = c / stride
        phase = ((t - t_ic0[side]) / stride) % 1.0
        u, ay = _ankle_path(phase, duty, c, stride, speed_mps, ankle_h)
        hip = np.stack([pel_x, pel_y], 1)
        knee, ank = _leg_ik(hip, np.stack([pel_x + u, ay], 1), L1, L2)
        th = np.degrees(np.arctan2(knee[:, 0] - hip[:, 0], -(knee[:, 1] - hip[:, 1])))
        sh = np.degrees(np.arctan2(ank[:, 0] - knee[:, 0], -(ank[:, 1] - knee[:, 1])))
        knee_flex[side] = th - sh
        pre = "RIGHT" if side == "right" else "LEFT"
        P[:, KP[f"{pre}_HIP"]] = hip
        P[:, KP[f"{pre}_KNEE"]] = knee
        P[:, KP[f"{pre}_ANKLE"]] = ank
        _draw_arm_and_head(P, pre, hip, phase, duty, height_m, Ltr, lean_deg)
        events[side] = _truth_events(t_ic0[side], c, stride, duration_s, fps, T)
    if far_leg_scale != 1.0:
        _shrink_far_leg(P, far_leg_scale)
    mid_sho = 0.5 * (P[:, KP.LEFT_SHOULDER] + P[:, KP.RIGHT_SHOULDER])
    P[:, KP.NOSE] = mid_sho + np.array([0.09, 0.10 * height_m])

    kp = _image_keypoints(P, rng, facing, px_per_m, noise_px, swap_rate, outlier_rate, gap_rate)
    truth = _session_truth(cadence_spm, tc, speed_mps, px_per_m, lean_deg)
    # the feet's noise from a generator of their own, so the keypoints stay those of before
    feet = _foot_points(P, height_m, facing, px_per_m, noise_px, np.random.default_rng([seed, 1]))
    return SyntheticSession(kp, fps, truth, events, knee_flex, feet)


def _to_image(P: np.ndarray, facing: float, px_per_m: float) -> np.ndarray:
    """Points ``(..., 2)`` m (x forward, y up) in image px (x along ``facing``, y down)."""
    xy = np.empty_like(P)
    xy[..., 0] = 960.0 + facing * P[..., 0] * px_per_m
    xy[..., 1] = 1000.0 - P[..., 1] * px_per_m
    return xy


def _foot_points(P: np.ndarray, height_m: float, facing: float, px_per_m: float, noise_px: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Ankle, heel and toe of both feet ``(T, 6, 3)`` px (``analysis.feet.FOOT_POINTS`` order),
    confidence 0.9: each foot flat, :data:`BODY_FOOT` x stature long with
    :data:`HEEL_BEHIND_ANKLE` of it behind the ankle, its sole :data:`BODY_ANKLE_HEIGHT` x
    stature below the ankle, so the sole is on the floor (height 0) exactly in contact."""
    foot, ankle_h = BODY_FOOT * height_m, BODY_ANKLE_HEIGHT * height_m
    ankles = P[:, [KP.LEFT_ANKLE, KP.RIGHT_ANKLE]]
    heels = ankles + np.array([-HEEL_BEHIND_ANKLE * foot, -ankle_h])
    toes = ankles + np.array([(1.0 - HEEL_BEHIND_ANKLE) * foot, -ankle_h])
    xy = _to_image(np.concatenate([ankles, heels, toes], axis=1), facing, px_per_m)
    if noise_px:
        xy += rng.normal(0.0, noise_px, xy.shape)
    return np.concatenate([xy, np.full(xy.shape[:2] + (1,), 0.9)], axis=-1)


def _session_truth(cadence_spm: float, contact_s: dict[str, float], speed_mps: float, px_per_m: float,
                   lean_deg: float) -> dict[str, float]:
    """The session values the synthetic runner was built with (``SyntheticSession.truth``)."""
    step = 60.0 / cadence_spm
    stride = 2.0 * step
    ct = 0.5 * (contact_s["left"] + contact_s["right"])
    return {
        "cadence_spm": cadence_spm, "step_time_s": step, "stride_time_s": stride,
        "contact_time_s": ct, "flight_time_s": max(0.0, step - ct),
        "speed_mps": speed_mps, "stride_length_m": speed_mps * stride,
        "balance_pct": 100.0 * contact_s["left"] / (contact_s["left"] + contact_s["right"]),
        "px_per_m": px_per_m, "duty_factor": ct / stride, "posture_angle_deg": lean_deg,
    }


def _shrink_far_leg(P: np.ndarray, scale: float) -> None:
    """Perspective: the left (far) leg's knee and ankle in ``P`` drawn at ``scale`` about its hip."""
    hip = P[:, KP.LEFT_HIP].copy()
    for k in (KP.LEFT_KNEE, KP.LEFT_ANKLE):
        P[:, k] = hip + scale * (P[:, k] - hip)


def _ankle_path(phase: np.ndarray, duty: float, contact_s: float, stride: float, speed_mps: float,
                ankle_h: float) -> tuple[np.ndarray, np.ndarray]:
    """The ankle's forward position relative to the pelvis and its height (m) at each stride
    ``phase`` (0..1, IC at 0): carried back at belt speed on the ground in stance (the first
    ``duty`` of the stride), swung forward on a half-cosine and lifted on a half-sine in swing."""
    A = speed_mps * contact_s / 2.0
    stance = phase < duty
    s = np.clip((phase - duty) / (1 - duty), 0, 1)
    u = np.where(stance, A - speed_mps * phase * stride, -A + A * (1 - np.cos(np.pi * s)))
    ay = np.where(stance, ankle_h, ankle_h + SWING_LIFT_M * np.sin(np.pi * s))
    return u, ay


def _leg_ik(hip: np.ndarray, ankle_target: np.ndarray, L1: float, L2: float) -> tuple[np.ndarray, np.ndarray]:
    """Knee and ankle (T, 2) m of a two-segment leg (thigh ``L1``, shank ``L2``) from the hip
    towards ``ankle_target``, knee bent forward; the ankle lands on the target where it is in reach."""
    d = ankle_target - hip
    dist = np.clip(np.linalg.norm(d, axis=1), 1e-6, L1 + L2 - 1e-6)
    alpha = np.arccos(np.clip((L1**2 + dist**2 - L2**2) / (2 * L1 * dist), -1, 1))
    e = d / np.linalg.norm(d, axis=1, keepdims=True)
    ca, sa = np.cos(alpha), np.sin(alpha)
    kdir = np.stack([e[:, 0] * ca - e[:, 1] * sa, e[:, 0] * sa + e[:, 1] * ca], 1)
    knee = hip + L1 * kdir
    ank = knee + L2 * (ankle_target - knee) / np.linalg.norm(ankle_target - knee, axis=1, keepdims=True)
    return knee, ank


def _draw_arm_and_head(P: np.ndarray, pre: str, hip: np.ndarray, phase: np.ndarray, duty: float, height_m: float,
                       trunk_m: float, lean_deg: float) -> None:
    """Shoulder, elbow, wrist, ear and eye of side ``pre`` (``'LEFT'``/``'RIGHT'``) into ``P`` (m):
    the trunk leans ``lean_deg`` forward, the arm swings opposite to the same-side leg."""
    sho = hip + trunk_m * np.array([math.sin(math.radians(lean_deg)), math.cos(math.radians(lean_deg))])
    arm = np.radians(-35.0 * np.cos(2 * np.pi * (phase - duty / 2)))
    elb = sho + 0.186 * height_m * np.stack([np.sin(arm), -np.cos(arm)], 1)
    fa = arm + np.radians(85.0)
    wri = elb + 0.146 * height_m * np.stack([np.sin(fa), -np.cos(fa)], 1)
    P[:, KP[f"{pre}_SHOULDER"]] = sho
    P[:, KP[f"{pre}_ELBOW"]] = elb
    P[:, KP[f"{pre}_WRIST"]] = wri
    P[:, KP[f"{pre}_EAR"]] = sho + np.array([0.0, 0.11 * height_m])
    P[:, KP[f"{pre}_EYE"]] = sho + np.array([0.05, 0.12 * height_m])


def _truth_events(t_ic0: float, contact_s: float, stride: float, duration_s: float, fps: float,
                  T: int) -> dict[str, np.ndarray]:
    """The true IC and TO frames of one foot inside the record (the first frame at or after each instant)."""
    k = np.arange(-2, int(duration_s / stride) + 3)
    ic_t = t_ic0 + k * stride
    to_t = ic_t + contact_s
    ic_f = np.ceil(ic_t * fps - 1e-9).astype(int)
    to_f = np.ceil(to_t * fps - 1e-9).astype(int)
    return {"IC": ic_f[(ic_f > 0) & (ic_f < T)], "TO": to_f[(to_f > 0) & (to_f < T)]}


def _image_keypoints(P: np.ndarray, rng: np.random.Generator, facing: float, px_per_m: float, noise_px: float,
                     swap_rate: float, outlier_rate: float, gap_rate: float) -> np.ndarray:
    """``P`` (T, 17, 2) m as image keypoints (T, 17, 3) px + confidence, with the requested noise,
    left/right swaps, outliers and gaps (drawn from ``rng`` in that order)."""
    T = P.shape[0]
    xy = _to_image(P, facing, px_per_m)
    if noise_px:
        xy += rng.normal(0.0, noise_px, xy.shape)
    conf = np.full((T, N_KEYPOINTS), 0.9)
    if swap_rate:
        n = int(swap_rate * T / 2)
        starts = rng.integers(0, T - 3, n)
        for s0 in starts:
            sl = slice(s0, s0 + int(rng.integers(1, 4)))
            for a, b in ((KP.LEFT_HIP, KP.RIGHT_HIP), (KP.LEFT_KNEE, KP.RIGHT_KNEE),
                         (KP.LEFT_ANKLE, KP.RIGHT_ANKLE)):
                xy[sl, a], xy[sl, b] = xy[sl, b].copy(), xy[sl, a].copy()
    if outlier_rate:
        mask = rng.random((T, N_KEYPOINTS)) < outlier_rate
        xy[mask] += rng.choice([-1, 1], (mask.sum(), 2)) * rng.uniform(20, 60, (mask.sum(), 2))
    if gap_rate:
        n = int(gap_rate * T / 2.5)
        for s0 in rng.integers(0, T - 4, n):
            sl = slice(s0, s0 + int(rng.integers(1, 5)))
            xy[sl] = np.nan
            conf[sl] = 0.0
    return np.concatenate([xy, conf[..., None]], axis=-1)


# --- detections for the tracker ----------------------------------------------------
@dataclass
class SyntheticScene:
    """Per-frame detections of a synthetic runner among other people, with truth.

    Attributes
    ----------
    boxes : list[np.ndarray]
        Per frame ``(n_i, 5)`` person boxes (x1, y1, x2, y2, score), px.
    keypoints : list[np.ndarray]
        Per frame ``(n_i, 17, 3)``.
    runner_index : np.ndarray
        ``(T,)`` index of the runner's detection in each frame, -1 where the
        runner is not detected.
    session : SyntheticSession
        The runner's kinematics.
    """

    boxes: list[np.ndarray]
    keypoints: list[np.ndarray]
    runner_index: np.ndarray
    session: SyntheticSession


def box_of(kp: np.ndarray, margin: float = 0.08) -> np.ndarray:
    """Person box ``(5,)`` around finite keypoints ``(17, 3)``, grown by ``margin`` of its height."""
    xy = kp[np.isfinite(kp[:, 0]), :2]
    lo, hi = xy.min(0), xy.max(0)
    m = margin * (hi[1] - lo[1])
    return np.array([lo[0] - m, lo[1] - 1.5 * m, hi[0] + m, hi[1] + m, 0.9], np.float32)


def _bystander(T: int, x0: float, vx: float, y_floor: float, height_px: float, fps: float,
               walking: bool, rng: np.random.Generator) -> np.ndarray:
    """``(T, 17, 3)`` keypoints of a person standing (``walking=False``) or walking at ``vx`` px/frame."""
    t = np.arange(T) / fps
    kp = np.zeros((T, N_KEYPOINTS, 3))
    cx = x0 + vx * np.arange(T)
    h = height_px
    rows = {KP.NOSE: 0.94, KP.LEFT_EYE: 0.95, KP.RIGHT_EYE: 0.95, KP.LEFT_EAR: 0.93, KP.RIGHT_EAR: 0.93,
            KP.LEFT_SHOULDER: 0.82, KP.RIGHT_SHOULDER: 0.82, KP.LEFT_ELBOW: 0.63, KP.RIGHT_ELBOW: 0.63,
            KP.LEFT_WRIST: 0.48, KP.RIGHT_WRIST: 0.48, KP.LEFT_HIP: 0.53, KP.RIGHT_HIP: 0.53,
            KP.LEFT_KNEE: 0.29, KP.RIGHT_KNEE: 0.29, KP.LEFT_ANKLE: 0.04, KP.RIGHT_ANKLE: 0.04}
    for k, r in rows.items():
        kp[:, k, 0] = cx
        kp[:, k, 1] = y_floor - r * h
    if walking:
        swing = 0.18 * h * np.sin(2 * np.pi * 0.9 * t)         # 108 steps/min
        for k, sgn in ((KP.LEFT_ANKLE, 1), (KP.RIGHT_ANKLE, -1), (KP.LEFT_KNEE, 0.5), (KP.RIGHT_KNEE, -0.5)):
            kp[:, k, 0] += sgn * swing
    kp[..., :2] += rng.normal(0.0, 0.004 * h, (T, N_KEYPOINTS, 2))
    kp[..., 2] = 0.85
    return kp


def make_tracking_scene(*, mode: str = "treadmill", fps: float = 30.0, duration_s: float = 12.0,
                        dropouts: tuple[tuple[int, int], ...] = ((100, 125), (190, 230)),
                        partial_frames: tuple[int, ...] = (60, 61, 62, 150, 260),
                        jump_frames: tuple[int, ...] = (80, 300),
                        bystander: bool = True, crossing_walker: bool = True,
                        walker_cross_frame: int = 75, seed: int = 0) -> SyntheticScene:
    """A runner (:func:`make_session`, 1.75 m at 300 px/m) with the faults of real detectors.

    ``dropouts``: frame ranges ``[a, b)`` without a runner detection (longer
    than the tracker's gap bridging); ``partial_frames``: the runner's box and
    keypoints cover only the upper body (legs missed: a size jump);
    ``jump_frames``: the runner's detection is displaced by one box height (a
    mis-detection). ``bystander``: a taller person standing still at the
    image edge; ``crossing_walker``: a walker of similar size crossing in
    front of the runner (boxes overlap: identity-switch risk) with a gait,
    walking right to left at 1.4 m/s and passing the runner at frame
    ``walker_cross_frame``.
    Truth (``runner_index``) excludes dropouts only; partial and jumped
    detections are still the runner's.
    """
    rng = np.random.default_rng(seed + 1)
    s = make_session(fps=fps, duration_s=duration_s, mode=mode, px_per_m=300.0,
                     speed_mps=3.0 if mode == "treadmill" else 2.0, noise_px=1.0, seed=seed)
    kp_r = s.keypoints.copy()
    if mode == "overground":                      # keep the runner in view: start at the left
        kp_r[..., 0] += 200.0 - 960.0
    T = kp_r.shape[0]
    y_floor = float(np.nanmax(kp_r[:, [KP.LEFT_ANKLE, KP.RIGHT_ANKLE], 1])) + 5.0
    h_r = float(np.nanmedian(box_of(kp_r[0])[3] - box_of(kp_r[0])[1]))
    others = []
    if bystander:
        others.append(_bystander(T, 1850.0, 0.0, y_floor + 30.0, 1.25 * h_r, fps, False, rng))
    if crossing_walker:
        vx = -1.4 * 300.0 / fps
        x_cross = float(np.nanmedian(kp_r[min(walker_cross_frame, T - 1), :, 0]))
        others.append(_bystander(T, x_cross - vx * walker_cross_frame, vx,
                                 y_floor + 10.0, 1.05 * h_r, fps, True, rng))
    boxes, kps, idx = [], [], np.full(T, -1)
    drop = np.zeros(T, dtype=bool)
    for a, b in dropouts:
        drop[a:b] = True
    upper = [KP.NOSE, KP.LEFT_EYE, KP.RIGHT_EYE, KP.LEFT_EAR, KP.RIGHT_EAR, KP.LEFT_SHOULDER,
             KP.RIGHT_SHOULDER, KP.LEFT_ELBOW, KP.RIGHT_ELBOW, KP.LEFT_WRIST, KP.RIGHT_WRIST,
             KP.LEFT_HIP, KP.RIGHT_HIP]
    for f in range(T):
        people = []
        if not drop[f]:
            k = kp_r[f].copy()
            if f in partial_frames:
                lower = np.setdiff1d(np.arange(N_KEYPOINTS), upper)
                k[lower, :2] = np.nan
                k[lower, 2] = 0.0
            bx = box_of(k)
            if f in jump_frames:
                dy = bx[3] - bx[1]
                k[:, 0] += dy
                bx[[0, 2]] += dy
            people.append(("runner", bx, np.nan_to_num(k)))
        for o in others:
            bx = box_of(o[f])
            if bx[2] > 0 and bx[0] < 1920:
                people.append(("other", bx, o[f]))
        order = rng.permutation(len(people))
        people = [people[i] for i in order]
        boxes.append(np.stack([p[1] for p in people]).astype(np.float32) if people else np.zeros((0, 5), np.float32))
        kps.append(np.stack([p[2] for p in people]).astype(np.float32) if people else
                   np.zeros((0, N_KEYPOINTS, 3), np.float32))
        for i, p in enumerate(people):
            if p[0] == "runner":
                idx[f] = i
    return SyntheticScene(boxes, kps, idx, s)


# --- degraded copies of real keypoints ---------------------------------------------
#: Keypoint noise of the pose model, in model-input pixels (YOLO11n-pose, imgsz 640).
MODEL_NOISE_PX = 1.5


def degrade_keypoints(keypoints: np.ndarray, fps: float, *, model_px: float = 1.0, scale: float = 1.0,
                      fps_out: float | None = None, phase: float = 0.0, pan_px: float = 0.0,
                      blur_share: float = 0.0, seed: int = 0) -> tuple[np.ndarray, float]:
    """A copy of real keypoints as a worse camera would have given them.

    Parameters
    ----------
    keypoints : np.ndarray
        ``(T, 17, 3)`` px x, px y, confidence at ``fps``.
    model_px : float
        Source pixels per pose-model input pixel (the shared 1920-px clip at
        imgsz 640: 3).
    scale : float
        How many times smaller the runner is in the model's input (>= 1): a
        lower-resolution or wider frame. Adds Gaussian noise so the total
        keypoint noise is ``scale * MODEL_NOISE_PX`` model px, and quantises
        to the grid of the smaller frame (``scale * model_px`` source px).
    fps_out : float or None
        Resample to this frame rate by linear interpolation (times
        ``(phase + n) / fps_out`` s); confidence takes the lower neighbour.
    pan_px : float
        Camera sway amplitude (source px): a smooth translation of every
        keypoint, ``pan_px * (0.6 sin(2 pi 0.25 t) + 0.4 sin(2 pi 0.9 t + 1))``
        horizontally and a fifth of that at 0.6 Hz vertically.
    blur_share : float
        Share of frames (runs of 2-5) with motion blur: knee and ankle points
        jitter by 3 % of the body height and, in half of those frames, their
        confidence drops to 0.1 (below the engine's threshold: missing).
    seed : int
        Random seed.

    Returns
    -------
    tuple[np.ndarray, float]
        Degraded ``(T', 17, 3)`` keypoints and their frame rate.
    """
    rng = np.random.default_rng(seed)
    kp = np.array(keypoints, dtype=np.float64, copy=True)
    T = kp.shape[0]
    if fps_out is not None and fps_out != fps:
        t_new = (phase + np.arange(int(np.floor((T - 1) / fps * fps_out - phase)) + 1)) / fps_out
        x = t_new * fps
        i0 = np.clip(np.floor(x).astype(int), 0, T - 2)
        w = (x - i0)[:, None, None]
        xy = (1 - w) * kp[i0, :, :2] + w * kp[i0 + 1, :, :2]
        c = np.minimum(kp[i0, :, 2], kp[i0 + 1, :, 2])
        kp = np.concatenate([xy, c[..., None]], axis=-1)
        fps = float(fps_out)
        T = kp.shape[0]
    if scale > 1.0:
        sigma = MODEL_NOISE_PX * model_px * math.sqrt(scale ** 2 - 1.0)
        kp[..., :2] += rng.normal(0.0, sigma, kp[..., :2].shape)
        q = scale * model_px
        kp[..., :2] = np.round(kp[..., :2] / q) * q
    if pan_px:
        t = np.arange(T) / fps
        kp[..., 0] += (pan_px * (0.6 * np.sin(2 * np.pi * 0.25 * t) + 0.4 * np.sin(2 * np.pi * 0.9 * t + 1.0)))[:, None]
        kp[..., 1] += (0.2 * pan_px * np.sin(2 * np.pi * 0.6 * t))[:, None]
    if blur_share:
        legs = [KP.LEFT_KNEE, KP.RIGHT_KNEE, KP.LEFT_ANKLE, KP.RIGHT_ANKLE]
        body_h = float(np.nanmedian(np.nanmax(kp[..., 1], 1) - np.nanmin(kp[..., 1], 1)))
        blurred = np.zeros(T, dtype=bool)
        for s0 in rng.integers(0, max(1, T - 5), int(blur_share * T / 3.5)):
            blurred[s0:s0 + int(rng.integers(2, 6))] = True
        idx = np.flatnonzero(blurred)
        for k in legs:
            kp[idx, k, :2] += rng.normal(0.0, 0.03 * body_h, (idx.size, 2))
        drop = idx[rng.random(idx.size) < 0.5]
        kp[np.ix_(drop, legs, [2])] = 0.1
    return kp, fps


def slow_motion(keypoints: np.ndarray, factor: float) -> np.ndarray:
    """Keypoints of the same motion filmed ``factor`` times faster and played at the clip's rate.

    Every keypoint coordinate is resampled at ``1 / factor`` frame steps by a
    cubic spline through the original frames (no duplicated frames: each new
    frame is a distinct instant); confidence is interpolated linearly.
    Missing samples are bridged linearly for the spline and stay missing
    (NaN) in the frames nearest to them.
    """
    from scipy.interpolate import CubicSpline

    kp = np.asarray(keypoints, dtype=np.float64)
    T = kp.shape[0]
    t_new = np.arange(int((T - 1) * factor) + 1) / factor
    flat = kp.reshape(T, -1).copy()
    missing = ~np.isfinite(flat)
    t = np.arange(T, dtype=np.float64)
    for j in np.flatnonzero(missing.any(0)):
        ok = ~missing[:, j]
        flat[:, j] = np.interp(t, t[ok], flat[ok, j]) if ok.sum() >= 2 else 0.0
    out = CubicSpline(t, flat, axis=0)(t_new)
    conf_cols = np.arange(flat.shape[1]) % 3 == 2
    lin = np.stack([np.interp(t_new, t, flat[:, j]) for j in np.flatnonzero(conf_cols)], 1)
    out[:, conf_cols] = lin
    near = np.clip(np.round(t_new).astype(int), 0, T - 1)
    out[missing[near]] = np.nan
    return out.reshape(t_new.size, *kp.shape[1:])
