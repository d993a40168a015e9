"""Running metrics, one function per metric, with unit and reference.

Every function is array-in/array-out: event instants and frame indices may be
scalars or 1-D arrays (one entry per stride or stance), and the engine calls
these functions for all strides at once (``analysis.stride_stage._stride_metrics``),
so the function a reader finds here is the one that runs. A scalar input gives
a ``float``.

Time arguments are seconds, lengths metres, speeds m/s, angles degrees, frame
indices ints. Functions return NaN where the input does not allow a
measurement; the engine turns NaN into ``None`` in documents. Segments
``start..end`` are inclusive of both ends unless a docstring says otherwise.

A per-stride metric that is not a fixed column of ``analysis.strides.StrideTable``
is one function here taking an ``analysis.strides.StrideInputs`` (all strides at
once) and returning one value per stride, named by its catalogue entry's
``computed_by`` (``analysis.catalogue.Metric``): the stride stage calls it
(``analysis.stride_stage.catalogue_columns``) and every output shows the result.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = [
    "ankle_angle_at_ic_deg", "balance_pct", "cadence_spm", "com_oscillation_m", "contact_angle_deg",
    "contact_time_s", "duty_factor", "flight_time_s", "footstrike_proxy", "knee_flexion_deg",
    "mean_height_m", "metabolic_power_w", "minetti_cost_j_per_kg_m", "normalized_power_w_per_kg",
    "overground_speed_mps", "pace_min_per_km", "posture_angle_deg", "segment_nanmean", "segment_reduce",
    "step_time_s", "stride_angle_deg", "stride_length_m", "stride_time_s", "treadmill_belt_speed_mps",
    "treadmill_speed_mps",
]


def _out(x):
    """A 0-d result as a Python float, arrays as they are."""
    x = np.asarray(x, dtype=np.float64)
    return float(x) if x.ndim == 0 else x


# --- segment statistics (one reduction per stride, all strides in one call) ---------
def segment_reduce(ufunc: np.ufunc, x: np.ndarray, lo, hi) -> np.ndarray:
    """``ufunc.reduce(x[lo[i]:hi[i]])`` for every segment (all ``hi > lo``), in one call."""
    lo, hi = np.atleast_1d(np.asarray(lo, dtype=np.int64)), np.atleast_1d(np.asarray(hi, dtype=np.int64))
    if lo.size == 0:
        return np.zeros(0)
    xp = np.append(x, x[-1:])                           # so that hi may equal len(x)
    idx = np.empty(2 * lo.size, dtype=np.int64)
    idx[0::2], idx[1::2] = lo, hi
    return ufunc.reduceat(xp, idx)[0::2]


def segment_nanmean(x: np.ndarray, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """NaN-ignoring mean of ``x[lo:hi]`` per segment (``hi`` exclusive), and the number of finite samples."""
    ok = np.isfinite(x)
    tot = segment_reduce(np.add, np.where(ok, x, 0.0), lo, hi)
    n = segment_reduce(np.add, ok.astype(np.float64), lo, hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, tot / n, np.nan), n


# --- timing -----------------------------------------------------------------------
def contact_time_s(ic_s, to_s):
    """Ground contact time (s) = TO - IC of the same foot (DESIGN.md; Cavanagh & Lafortune 1980)."""
    return _out(np.subtract(to_s, ic_s))


def flight_time_s(to_s, contralateral_ic_s):
    """Flight time (s) = next contralateral IC - TO, floored at 0.

    A negative value means double support (walking); it is reported as 0.
    NaN where there is no contralateral IC. Reference: DESIGN.md; Novacheck
    1998, Gait Posture 7:77.
    """
    return _out(np.maximum(0.0, np.subtract(contralateral_ic_s, to_s)))


def step_time_s(ic_s, contralateral_ic_s):
    """Step time (s) = contralateral IC - IC (DESIGN.md)."""
    return _out(np.subtract(contralateral_ic_s, ic_s))


def stride_time_s(ic_s, next_ic_s):
    """Stride time (s) = same-foot IC to next IC (DESIGN.md)."""
    return _out(np.subtract(next_ic_s, ic_s))


def cadence_spm(step_time):
    """Cadence (steps/min) = 60 / step time (DESIGN.md); NaN for a step time <= 0 or NaN."""
    step = np.asarray(step_time, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _out(np.where(step > 0, 60.0 / step, np.nan))


def duty_factor(contact_time, stride_time):
    """Duty factor (dimensionless) = contact time / stride time; < 0.5 means running
    (flight phases), > 0.5 walking (Alexander 1989, Physiol Rev 69:1199)."""
    ct, st = np.asarray(contact_time, dtype=np.float64), np.asarray(stride_time, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _out(np.where(st > 0, ct / st, np.nan))


def balance_pct(contact_left_s, contact_right_s):
    """Ground contact time balance (%) = 100 * GCT_L / (GCT_L + GCT_R); 50 = symmetric (DESIGN.md)."""
    gl, gr = np.asarray(contact_left_s, dtype=np.float64), np.asarray(contact_right_s, dtype=np.float64)
    tot = gl + gr
    with np.errstate(invalid="ignore", divide="ignore"):
        return _out(np.where(tot > 0, 100.0 * gl / tot, np.nan))


# --- speed ------------------------------------------------------------------------
def treadmill_speed_mps(ankle_forward_px: np.ndarray, ic, to, fps: float, px_per_m: float):
    """Belt speed (m/s) of stances: mean backward ankle velocity over 10-70 % of stance.

    The stance foot moves with the belt; the window avoids impact and
    push-off (OpenCap, Uhlrich et al. 2023, PLoS Comput Biol 19:e1011462).
    ``ankle_forward_px`` is the ankle's forward image coordinate (px, camera
    fixed); ``ic``/``to`` the stance's IC and TO frames (one pair per stance);
    ``px_per_m`` is the scale of that foot's leg
    (``geometry.side_pixels_per_metre``: the far foot looks smaller). The
    window ``[ic + round(0.1 n), max(that + 2, ic + round(0.7 n))]`` (n = TO - IC,
    at least 3 frames) needs two finite samples; else NaN.
    """
    x = np.asarray(ankle_forward_px, dtype=np.float64)
    a = np.atleast_1d(np.asarray(ic, dtype=np.int64))
    n = np.atleast_1d(np.asarray(to, dtype=np.int64)) - a
    speed = np.full(a.size, np.nan)
    sel = n >= 3
    if sel.any():
        a, n = a[sel], n[sel]
        lo = a + np.round(0.1 * n).astype(np.int64)
        hi = np.maximum(lo + 2, a + np.round(0.7 * n).astype(np.int64))
        # segment x[lo:hi+1] (clipped to the record like a slice) and its diffs
        l2, h2 = np.minimum(lo, x.size), np.minimum(hi + 1, x.size)
        _, n_fin = segment_nanmean(x, l2, np.maximum(h2, l2 + 1))
        n_fin = np.where(h2 > l2, n_fin, 0)
        d = np.diff(x)
        dh = np.maximum(h2 - 1, l2)
        dl = np.minimum(l2, d.size)
        mean_d, n_d = segment_nanmean(d, dl, np.maximum(np.minimum(dh, d.size), dl + 1))
        mean_d = np.where((dh > l2) & (n_d > 0), mean_d, np.nan)
        speed[sel] = np.where(n_fin >= 2, -(mean_d * fps) / px_per_m, np.nan)
    return float(speed[0]) if np.ndim(ic) == 0 else speed


def treadmill_belt_speed_mps(own_stance_mps, contralateral_stance_mps, side, near: str | None):
    """Belt speed (m/s) of strides, read from both feet: the belt has one speed.

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

    Where the chosen stance is missing (NaN), the other one is used. ``side``
    is the stride's side (``'left'``/``'right'``, or an array of them).
    """
    own = np.asarray(own_stance_mps, dtype=np.float64)
    other = np.asarray(contralateral_stance_mps, dtype=np.float64)
    if near is None:
        with np.errstate(invalid="ignore"):
            both = np.isfinite(own) & np.isfinite(other)
            speed = np.where(both, 0.5 * (own + other), np.where(np.isfinite(own), own, other))
    else:
        is_near = np.asarray(side) == near
        first, second = np.where(is_near, own, other), np.where(is_near, other, own)
        speed = np.where(np.isfinite(first), first, second)
    return _out(speed)


def overground_speed_mps(pelvis_forward_px: np.ndarray, ic, next_ic, fps: float, px_per_m: float):
    """Running speed (m/s) overground: pelvis displacement over one stride / stride time (DESIGN.md)."""
    a, b = np.asarray(ic, dtype=np.int64), np.asarray(next_ic, dtype=np.int64)
    p = np.asarray(pelvis_forward_px, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        speed = (p[b] - p[a]) / px_per_m / ((b - a) / fps)
    return _out(np.where(b > a, speed, np.nan))


def stride_length_m(speed_mps, stride_time):
    """Stride length (m) = speed * stride time (DESIGN.md)."""
    return _out(np.multiply(speed_mps, stride_time))


def pace_min_per_km(speed_mps):
    """Pace (min/km) = 1000 / 60 / speed (DESIGN.md); NaN for a speed <= 0 or NaN."""
    v = np.asarray(speed_mps, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _out(np.where(v > 0, 1000.0 / 60.0 / v, np.nan))


# --- power ------------------------------------------------------------------------
def minetti_cost_j_per_kg_m(incline_deg: float) -> float:
    """Energy cost of running C(i) (J kg^-1 m^-1) at gradient i = tan(incline).

    ``C(i) = 155.4 i^5 - 30.4 i^4 - 43.3 i^3 + 46.3 i^2 + 19.5 i + 3.6``
    (Minetti et al. 2002, J Appl Physiol 93:1039), fitted for -0.45 <= i <= 0.45;
    i is clipped to that range.
    """
    i = float(np.clip(math.tan(math.radians(incline_deg)), -0.45, 0.45))
    return 155.4 * i**5 - 30.4 * i**4 - 43.3 * i**3 + 46.3 * i**2 + 19.5 * i + 3.6


def metabolic_power_w(speed_mps, weight_kg: float | None, incline_deg: float):
    """Metabolic power (W) = C(i) * m * v (Minetti et al. 2002); NaN without weight.

    This is the energy cost of running, not mechanical power.
    """
    v = np.asarray(speed_mps, dtype=np.float64)
    if weight_kg is None:
        return _out(np.full(v.shape, np.nan))
    return _out(minetti_cost_j_per_kg_m(incline_deg) * weight_kg * v)


def normalized_power_w_per_kg(speed_mps, incline_deg: float):
    """Mass-normalised metabolic power (W/kg) = C(i) * v (Minetti et al. 2002)."""
    return _out(minetti_cost_j_per_kg_m(incline_deg) * np.asarray(speed_mps, dtype=np.float64))


# --- posture and angles -----------------------------------------------------------
def contact_angle_deg(hip_xy_body: np.ndarray, ankle_xy_body: np.ndarray):
    """Contact angle (deg): leg (hip -> ankle) against vertical at IC; + = ankle ahead of hip.

    Body-frame coordinates ``(..., 2)`` (X forward, Y up). Larger values mean
    over-striding (DESIGN.md; cf. Lieberman et al. 2015, J Exp Biol 218:3406,
    "foot angle at contact"; ours uses the ankle as COCO-17 has no heel).
    """
    d = np.asarray(ankle_xy_body, dtype=np.float64) - np.asarray(hip_xy_body, dtype=np.float64)
    return _out(np.degrees(np.arctan2(d[..., 0], -d[..., 1])))


def footstrike_proxy(shank_angle_at_ic_deg):
    """Foot-strike class from the shank angle at IC (PROXY; COCO-17 has no heel/toe).

    The shank inclination at contact correlates with the strike pattern
    (rearfoot strikers land with the ankle well ahead of the knee; Lieberman
    et al. 2010, Nature 463:531; Altman & Davis 2012, Gait Posture 35:298 use
    the foot angle, which we cannot see). Thresholds (ours, not validated):
    > 8 deg 'rearfoot', 0..8 deg 'midfoot', < 0 deg 'forefoot'; None for NaN.
    A scalar gives one class, an array a list of them.
    """
    def one(v: float) -> str | None:
        if not np.isfinite(v):
            return None
        if v > 8.0:
            return "rearfoot"
        if v >= 0.0:
            return "midfoot"
        return "forefoot"

    if np.ndim(shank_angle_at_ic_deg) == 0:
        return one(float(shank_angle_at_ic_deg))
    return [one(v) for v in np.asarray(shank_angle_at_ic_deg, dtype=np.float64).tolist()]


def knee_flexion_deg(knee_angle_series: np.ndarray, ic, to):
    """Peak stance knee flexion (deg) in ``[IC, TO)`` (DESIGN.md); NaN when all samples are missing."""
    out = segment_reduce(np.fmax, np.asarray(knee_angle_series, dtype=np.float64), ic, to)
    return float(out[0]) if np.ndim(ic) == 0 else out


def ankle_angle_at_ic_deg(ankle_angle_series: np.ndarray, ic):
    """Ankle angle at IC (deg) — PROXY: shank angle to vertical (see analysis.angles)."""
    return _out(np.asarray(ankle_angle_series, dtype=np.float64)[ic])


def posture_angle_deg(trunk_angle_series: np.ndarray, start, end):
    """Posture (deg): mean trunk lean (mid-hip -> mid-shoulder vs vertical, + forward) over
    ``start..end`` (a stride), NaN-ignoring (cf. Teng & Powers 2014 on trunk flexion)."""
    out, _ = segment_nanmean(np.asarray(trunk_angle_series, dtype=np.float64), start, np.add(end, 1))
    return float(out[0]) if np.ndim(start) == 0 else out


def com_oscillation_m(pelvis_y_up_m: np.ndarray, start, end):
    """Vertical oscillation (m): max - min of the pelvis (mid-hip, COM proxy) height over one
    step ``start..end``; NaN with fewer than two finite samples.

    DESIGN.md; cf. Cavanagh 1987 (vertical oscillation of the COM).
    """
    h = np.asarray(pelvis_y_up_m, dtype=np.float64)
    stop = np.add(end, 1)
    hmax = segment_reduce(np.fmax, h, start, stop)
    hmin = segment_reduce(np.fmin, h, start, stop)
    _, n = segment_nanmean(h, start, stop)
    out = np.where(n >= 2, hmax - hmin, np.nan)
    return float(out[0]) if np.ndim(start) == 0 else out


def stride_angle_deg(thigh_l_deg: np.ndarray, thigh_r_deg: np.ndarray, start, end):
    """stride_angle (deg), our definition: the largest angle between the two thighs in a stride.

    ``max |theta_thigh_L - theta_thigh_R|`` over ``start..end``, thigh angles
    measured from vertical (hip -> knee). It grows with stride length and
    hip range of motion (cf. "thigh separation"/"split angle" in coaching
    literature).
    """
    d = np.abs(np.asarray(thigh_l_deg, dtype=np.float64) - np.asarray(thigh_r_deg, dtype=np.float64))
    out = segment_reduce(np.fmax, d, start, np.add(end, 1))
    return float(out[0]) if np.ndim(start) == 0 else out


def mean_height_m(pelvis_height_m: np.ndarray, start, end):
    """mean_h (m), our definition: mean height of the pelvis (mid-hip, COM proxy) above the
    floor line over a stride ``start..end``."""
    out, _ = segment_nanmean(np.asarray(pelvis_height_m, dtype=np.float64), start, np.add(end, 1))
    return float(out[0]) if np.ndim(start) == 0 else out
