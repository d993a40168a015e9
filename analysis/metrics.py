"""Running metrics, one function per metric, with unit and reference.

Time arguments are seconds, lengths metres, speeds m/s, angles degrees.
Functions return ``float('nan')`` (or NaN arrays) where the input does not
allow a measurement; the engine turns NaN into ``None`` in documents.
"""
from __future__ import annotations

import math

import numpy as np


def contact_time_s(ic_s: float, to_s: float) -> float:
    """Ground contact time (s) = TO - IC of the same foot (DESIGN.md; Cavanagh & Lafortune 1980)."""
    return to_s - ic_s


def flight_time_s(to_s: float, contralateral_ic_s: float) -> float:
    """Flight time (s) = next contralateral IC - TO, floored at 0.

    A negative value means double support (walking); it is reported as 0.
    Reference: DESIGN.md; Novacheck 1998, Gait Posture 7:77.
    """
    return max(0.0, contralateral_ic_s - to_s)


def step_time_s(ic_s: float, contralateral_ic_s: float) -> float:
    """Step time (s) = contralateral IC - IC (DESIGN.md)."""
    return contralateral_ic_s - ic_s


def stride_time_s(ic_s: float, next_ic_s: float) -> float:
    """Stride time (s) = same-foot IC to next IC (DESIGN.md)."""
    return next_ic_s - ic_s


def cadence_spm(step_time: float) -> float:
    """Cadence (steps/min) = 60 / step time (DESIGN.md)."""
    return 60.0 / step_time if step_time > 0 else float("nan")


def duty_factor(contact_time: float, stride_time: float) -> float:
    """Duty factor (dimensionless) = contact time / stride time; < 0.5 means running
    (flight phases), > 0.5 walking (Alexander 1989, Physiol Rev 69:1199)."""
    return contact_time / stride_time if stride_time > 0 else float("nan")


def balance_pct(contact_left_s: float, contact_right_s: float) -> float:
    """Ground contact time balance (%) = 100 * GCT_L / (GCT_L + GCT_R); 50 = symmetric (DESIGN.md)."""
    tot = contact_left_s + contact_right_s
    return 100.0 * contact_left_s / tot if tot > 0 else float("nan")


def treadmill_speed_mps(ankle_forward_px: np.ndarray, ic: int, to: int, fps: float,
                        px_per_m: float) -> float:
    """Belt speed (m/s): mean backward ankle velocity over 10-70 % of stance.

    The stance foot moves with the belt; the window avoids impact and
    push-off (OpenCap, Uhlrich et al. 2023, PLoS Comput Biol 19:e1011462).
    ``ankle_forward_px`` is the ankle's forward image coordinate (px, camera
    fixed); ``px_per_m`` is the scale of that foot's leg
    (``geometry.side_pixels_per_metre``: the far foot looks smaller).
    """
    n = to - ic
    if n < 3:
        return float("nan")
    a = ic + int(round(0.1 * n))
    b = max(a + 2, ic + int(round(0.7 * n)))
    seg = ankle_forward_px[a:b + 1]
    if np.isfinite(seg).sum() < 2:
        return float("nan")
    v = np.nanmean(np.diff(seg)) * fps
    return float(-v / px_per_m)


def treadmill_belt_speed_mps(own_stance_mps: float, contralateral_stance_mps: float,
                             side: str, near: str | None) -> float:
    """Belt speed (m/s) of one stride, read from both feet: the belt has one speed.

    A stride (IC to the next IC of one foot) holds that foot's stance and the
    contralateral one. Each stance speed (:func:`treadmill_speed_mps`) is
    measured in its own leg's scale; the stride's belt speed is

    * the near foot's stance speed when there is a near leg
      (``geometry.side_pixels_per_metre``): in a side view the far foot is
      crossed by the near swing leg during its stance and its keypoints are
      less reliable (on the shared treadmill clip the far ankle reads ~17 %
      slower than the near one after per-leg scaling, more than perspective
      explains, and mostly in early and mid stance, where the swing leg
      passes); the near leg's scale is the whole-body scale, so this reading
      is the best-calibrated one;
    * the mean of both stance speeds when no leg is nearer (no measurable
      perspective: both read the same belt, averaging halves the noise).

    Where the chosen stance is missing (NaN), the other one is used.
    """
    own, other = own_stance_mps, contralateral_stance_mps
    if near is None:
        vals = [v for v in (own, other) if np.isfinite(v)]
        return float(np.mean(vals)) if vals else float("nan")
    first, second = (own, other) if side == near else (other, own)
    return float(first) if np.isfinite(first) else float(second)


def overground_speed_mps(pelvis_forward_px: np.ndarray, ic: int, next_ic: int, fps: float,
                         px_per_m: float) -> float:
    """Running speed (m/s) overground: pelvis displacement over one stride / stride time (DESIGN.md)."""
    if next_ic <= ic:
        return float("nan")
    d = pelvis_forward_px[next_ic] - pelvis_forward_px[ic]
    return float(d / px_per_m / ((next_ic - ic) / fps))


def stride_length_m(speed_mps: float, stride_time: float) -> float:
    """Stride length (m) = speed * stride time (DESIGN.md)."""
    return speed_mps * stride_time


def pace_min_per_km(speed_mps: float) -> float:
    """Pace (min/km) = 1000 / 60 / speed (DESIGN.md)."""
    return 1000.0 / 60.0 / speed_mps if speed_mps and speed_mps > 0 else float("nan")


def minetti_cost_j_per_kg_m(incline_deg: float) -> float:
    """Energy cost of running C(i) (J kg^-1 m^-1) at gradient i = tan(incline).

    ``C(i) = 155.4 i^5 - 30.4 i^4 - 43.3 i^3 + 46.3 i^2 + 19.5 i + 3.6``
    (Minetti et al. 2002, J Appl Physiol 93:1039), fitted for -0.45 <= i <= 0.45;
    i is clipped to that range.
    """
    i = float(np.clip(math.tan(math.radians(incline_deg)), -0.45, 0.45))
    return 155.4 * i**5 - 30.4 * i**4 - 43.3 * i**3 + 46.3 * i**2 + 19.5 * i + 3.6


def metabolic_power_w(speed_mps: float, weight_kg: float | None, incline_deg: float) -> float:
    """Metabolic power (W) = C(i) * m * v (Minetti et al. 2002); NaN without weight."""
    if weight_kg is None or not np.isfinite(speed_mps):
        return float("nan")
    return minetti_cost_j_per_kg_m(incline_deg) * weight_kg * speed_mps


def normalized_power_w_per_kg(speed_mps: float, incline_deg: float) -> float:
    """Mass-normalised metabolic power (W/kg) = C(i) * v (Minetti et al. 2002)."""
    return minetti_cost_j_per_kg_m(incline_deg) * speed_mps


def contact_angle_deg(hip_xy_body: np.ndarray, ankle_xy_body: np.ndarray) -> float:
    """Contact angle (deg): leg (hip -> ankle) against vertical at IC; + = ankle ahead of hip.

    Body-frame coordinates (X forward, Y up). Larger values mean over-striding
    (DESIGN.md; cf. Lieberman et al. 2015, J Exp Biol 218:3406, "foot angle at
    contact"; ours uses the ankle as COCO-17 has no heel).
    """
    d = ankle_xy_body - hip_xy_body
    return float(np.degrees(np.arctan2(d[0], -d[1])))


def footstrike_proxy(shank_angle_at_ic_deg: float) -> str | None:
    """Foot-strike class from the shank angle at IC (PROXY; COCO-17 has no heel/toe).

    The shank inclination at contact correlates with the strike pattern
    (rearfoot strikers land with the ankle well ahead of the knee; Lieberman
    et al. 2010, Nature 463:531; Altman & Davis 2012, Gait Posture 35:298 use
    the foot angle, which we cannot see). Thresholds (ours, not validated):
    > 8 deg 'rearfoot', 0..8 deg 'midfoot', < 0 deg 'forefoot'.
    """
    if not np.isfinite(shank_angle_at_ic_deg):
        return None
    if shank_angle_at_ic_deg > 8.0:
        return "rearfoot"
    if shank_angle_at_ic_deg >= 0.0:
        return "midfoot"
    return "forefoot"


def knee_flexion_deg(knee_angle_series: np.ndarray, ic: int, to: int) -> float:
    """Peak stance knee flexion (deg) between IC and TO (DESIGN.md)."""
    seg = knee_angle_series[ic:to]
    return float(np.nanmax(seg)) if np.isfinite(seg).any() else float("nan")


def com_oscillation_m(pelvis_y_up_m: np.ndarray, start: int, end: int) -> float:
    """Vertical oscillation (m): max - min of the pelvis (mid-hip, COM proxy) height over one step.

    DESIGN.md; cf. Cavanagh 1987 (vertical oscillation of the COM).
    """
    seg = pelvis_y_up_m[start:end + 1]
    return float(np.nanmax(seg) - np.nanmin(seg)) if np.isfinite(seg).sum() >= 2 else float("nan")


def stride_angle_deg(thigh_l_deg: np.ndarray, thigh_r_deg: np.ndarray, start: int, end: int) -> float:
    """stride_angle (deg), our definition: the largest angle between the two thighs in a stride.

    ``max |theta_thigh_L - theta_thigh_R|`` over the stride, thigh angles
    measured from vertical (hip -> knee). It grows with stride length and
    hip range of motion (cf. "thigh separation"/"split angle" in coaching
    literature).
    """
    d = np.abs(thigh_l_deg[start:end + 1] - thigh_r_deg[start:end + 1])
    return float(np.nanmax(d)) if np.isfinite(d).any() else float("nan")


def mean_height_m(pelvis_height_m: np.ndarray, start: int, end: int) -> float:
    """mean_h (m), our definition: mean height of the pelvis (mid-hip, COM proxy) above the
    floor line over a stride."""
    seg = pelvis_height_m[start:end + 1]
    return float(np.nanmean(seg)) if np.isfinite(seg).any() else float("nan")


def ankle_angle_at_ic_deg(ankle_angle_series: np.ndarray, ic: int) -> float:
    """Ankle angle at IC (deg) — PROXY: shank angle to vertical (see analysis.angles)."""
    return float(ankle_angle_series[ic])
