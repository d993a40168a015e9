"""Stages 5, 6 and 8 of ``analysis.engine.analyze``: the per-stride metrics of every
complete stride (all strides at once, :mod:`analysis.metrics`' definitions), the
session means the timing judgement needs, and the session summary.

Besides the fixed columns, every metric of the catalogue that names its function
(``Metric.computed_by``, :func:`analysis.catalogue.computed_metrics`) is computed
here from :class:`analysis.strides.StrideInputs` and averaged into the summary
like the others (:func:`catalogue_columns`)."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from analysis import angles as ang
from analysis import catalogue, events as ev, geometry as geo, metrics as m
from analysis.event_stage import DetectedEvents
from analysis.events import GaitEvent
from analysis.geometry_stage import SceneGeometry
from analysis.keypoints import KP
from analysis.params import RunnerProfile
from analysis.results import measuring_strides
from analysis.session_report import Summary
from analysis.strides import StrideInputs, StrideTable


#: Minimum complete strides per side before statistics are reported.
MIN_STRIDES = 2


MIN_STEPS_FOR_CADENCE = 3  # step intervals (four alternating contacts)


def _stride_table(side_events: dict) -> dict[str, np.ndarray]:
    """Complete strides of both sides as arrays, sorted by IC frame (left first on ties).

    A stride of one side runs from an IC to that side's next IC and needs a TO
    in between; ``c`` is the first contralateral IC after the stride's IC and
    before its end (-1 when there is none). ``*_f`` are the sub-frame instants
    (fractional frames) of the same events.
    """
    parts = []
    for side, other in (("left", "right"), ("right", "left")):
        ic, to = side_events[side]["IC"], side_events[side]["TO"]
        icf, tof = side_events[side]["IC_f"], side_events[side]["TO_f"]
        oic, oicf = side_events[other]["IC"], side_events[other]["IC_f"]
        if len(ic) < 2 or len(to) == 0:
            continue
        a, b = ic[:-1], ic[1:]
        jt = np.searchsorted(to, a, side="right")       # first TO after each IC
        jtc = np.minimum(jt, len(to) - 1)
        ok = (jt < len(to)) & (to[jtc] < b)
        jc = np.searchsorted(oic, a, side="right")      # first contralateral IC after each IC
        if len(oic):
            jcc = np.minimum(jc, len(oic) - 1)
            has_c = (jc < len(oic)) & (oic[jcc] < b)
            c, cf = np.where(has_c, oic[jcc], -1), np.where(has_c, oicf[jcc], np.nan)
        else:
            c, cf = np.full(len(a), -1, dtype=np.int64), np.full(len(a), np.nan)
        parts.append({"left": np.full(int(ok.sum()), side == "left"),
                      "a": a[ok], "t": to[jtc][ok], "b": b[ok], "c": c[ok],
                      "af": icf[:-1][ok], "tf": tof[jtc][ok], "bf": icf[1:][ok], "cf": cf[ok]})
    keys = ("left", "a", "t", "b", "c", "af", "tf", "bf", "cf")
    if not parts:
        return {k: np.zeros(0, dtype=bool if k == "left" else (np.int64 if len(k) == 1 else float))
                for k in keys}
    tab = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    order = np.argsort(tab["a"], kind="stable")
    return {k: v[order] for k, v in tab.items()}


def _stance_speeds(x: np.ndarray, ic: np.ndarray, to: np.ndarray, fps: float, ppm: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`analysis.metrics.treadmill_speed_mps` of every stance of one foot.

    ``x`` is the ankle's forward image coordinate (px), ``ppm`` that leg's
    scale. A stance runs from an IC to the first TO after it, which must come
    before the foot's next IC. Returns the IC frames and their speeds (m/s;
    NaN where there is no such TO or too few samples).
    """
    ic, to = np.asarray(ic, dtype=np.int64), np.asarray(to, dtype=np.int64)
    speed = np.full(ic.size, np.nan)
    if ic.size == 0 or to.size == 0:
        return ic, speed
    jt = np.searchsorted(to, ic, side="right")          # first TO after each IC
    t = to[np.minimum(jt, to.size - 1)]
    nxt = np.append(ic[1:], np.iinfo(np.int64).max)
    sel = (jt < to.size) & (t < nxt)
    speed[sel] = m.treadmill_speed_mps(x, ic[sel], t[sel], fps, ppm)
    return ic, speed


def _lookup(table: tuple[np.ndarray, np.ndarray], frames: np.ndarray) -> np.ndarray:
    """Values of ``table = (sorted keys, values)`` at ``frames``; NaN where a frame is no key."""
    keys, vals = table
    if keys.size == 0:
        return np.full(frames.size, np.nan)
    j = np.minimum(np.searchsorted(keys, frames), keys.size - 1)
    return np.where(keys[j] == frames, vals[j], np.nan)


def _stride_metrics(side_events: dict, fps: float, mode: str, fwd: np.ndarray, pel_fwd: np.ndarray,
                    ppm: float, profile: RunnerProfile, xy: np.ndarray, facing: float,
                    angles: dict, pelvis_h: np.ndarray, thigh: dict,
                    stance: dict | None = None, near: str | None = None) -> StrideTable:
    """One row per complete stride and side (sorted by IC frame), every metric of
    ``analysis.metrics`` computed for all strides at once (same definitions, see there).

    ``stance`` (treadmill): ``{'left'|'right': (IC frames, stance speeds m/s)}``
    from :func:`_stance_speeds` in each leg's scale; ``near``: the near leg
    (``geometry.side_pixels_per_metre``) whose stance gives the belt speed."""
    tab = _stride_table(side_events)
    R = tab["a"].size
    if R == 0:
        return StrideTable.empty()
    left = tab["left"]
    a, t, b, c = tab["a"], tab["t"], tab["b"], tab["c"]
    has_c = c >= 0
    ta, tt, tb = tab["af"] / fps, tab["tf"] / fps, tab["bf"] / fps
    tc = tab["cf"] / fps                                        # NaN without a contralateral IC
    contact_t = m.contact_time_s(ta, tt)
    stride_t = m.stride_time_s(ta, tb)
    step_t = m.step_time_s(ta, tc)
    flight_t = m.flight_time_s(tt, tc)
    cadence = m.cadence_spm(step_t)
    duty = m.duty_factor(contact_t, stride_t)
    cad_none = ~has_c | (step_t == 0)                          # no step (or a zero one): NaN

    def by_side(lf: np.ndarray, rt: np.ndarray) -> np.ndarray:
        return np.where(left, lf, rt)

    side = np.where(left, "left", "right")
    if mode == "treadmill":
        own = by_side(_lookup(stance["left"], a), _lookup(stance["right"], a))
        other = by_side(_lookup(stance["right"], c), _lookup(stance["left"], c))
        other = np.where(has_c, other, np.nan)
        speed = m.treadmill_belt_speed_mps(own, other, side, near)
    else:
        speed = m.overground_speed_mps(pel_fwd, a, b, fps, ppm)
    pace = m.pace_min_per_km(speed)
    stride_len = m.stride_length_m(speed, stride_t)
    power = m.metabolic_power_w(speed, profile.weight_kg, profile.incline_deg)
    norm_power = m.normalized_power_w_per_kg(speed, profile.incline_deg)
    # leg (hip -> ankle) at IC in the body frame
    hip = ang.to_body_frame(by_side(xy[a, KP.LEFT_HIP].T, xy[a, KP.RIGHT_HIP].T).T, facing)
    ank = ang.to_body_frame(by_side(xy[a, KP.LEFT_ANKLE].T, xy[a, KP.RIGHT_ANKLE].T).T, facing)
    contact_angle = m.contact_angle_deg(hip, ank)
    knee = by_side(m.knee_flexion_deg(angles["lkne_angle"], a, t), m.knee_flexion_deg(angles["rkne_angle"], a, t))
    ankle = by_side(m.ankle_angle_at_ic_deg(angles["lank_angle"], a), m.ankle_angle_at_ic_deg(angles["rank_angle"], a))
    posture = m.posture_angle_deg(angles["posture_angle"], a, b)
    com = m.com_oscillation_m(pelvis_h, a, np.where(has_c, c, b))   # over one step
    stride_angle = m.stride_angle_deg(thigh["left"], thigh["right"], a, b)
    mean_h = m.mean_height_m(pelvis_h, a, b)
    bal, bal_none = _stride_balance(left, a, contact_t)
    fixed = StrideTable(
        side=side, ic_frame=a, to_frame=t, next_ic_frame=b, contralateral_ic_frame=c, has_contralateral_ic=has_c,
        ic_time_s=ta, contact_time_s=contact_t, stride_time_s=stride_t, step_time_s=_nan_where(step_t, ~has_c),
        flight_time_s=_nan_where(flight_t, ~has_c), cadence_spm=_nan_where(cadence, cad_none), duty_factor=duty,
        speed_mps=speed, pace_min_per_km=pace, stride_length_m=stride_len, power_w=power,
        normalized_power_w_per_kg=norm_power, contact_angle_deg=contact_angle, knee_flexion_deg=knee,
        ankle_angle_deg=ankle, footstrike=np.asarray(m.footstrike_proxy(ankle), dtype=object),
        posture_angle_deg=posture, com_oscillation_m=com, stride_angle_deg=stride_angle, mean_h_m=mean_h,
        balance_pct=_nan_where(bal, bal_none))
    inputs = StrideInputs(strides=fixed, to_time_s=tt, next_ic_time_s=tb, contralateral_ic_time_s=tc, fps=fps,
                          keypoints_xy=xy, angles=angles, pelvis_height_m=pelvis_h, mode=mode)
    return replace(fixed, extra=catalogue_columns(inputs))


def catalogue_columns(inputs: StrideInputs) -> dict[str, np.ndarray]:
    """The catalogue's computed per-stride metrics (:func:`analysis.catalogue.computed_metrics`),
    each by its declared function of :mod:`analysis.metrics` (``Metric.computed_by``) called
    with ``inputs``: name -> one float per stride (NaN where not measured)."""
    n = len(inputs.strides)
    out = {}
    for metric in catalogue.computed_metrics():
        values = np.asarray(getattr(m, metric.computed_by)(inputs), dtype=np.float64)
        if values.shape != (n,):
            raise ValueError(f"analysis.metrics.{metric.computed_by} gave shape {values.shape} for {n} strides.")
        out[metric.name] = values
    return out


def _stride_balance(left: np.ndarray, ic: np.ndarray, contact_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`analysis.metrics.balance_pct` of every stride: its contact against the first later
    stride of the other side; and where there is none (NaN in the table)."""
    bal = np.full(ic.size, np.nan)
    none = np.ones(ic.size, dtype=bool)
    for is_left in (True, False):
        me, oth = np.flatnonzero(left == is_left), np.flatnonzero(left != is_left)
        if me.size == 0 or oth.size == 0:
            continue
        k = np.searchsorted(ic[oth], ic[me], side="right")
        okk = k < oth.size
        q = oth[np.minimum(k, oth.size - 1)]
        gl, gr = (contact_t[me], contact_t[q]) if is_left else (contact_t[q], contact_t[me])
        val = m.balance_pct(gl, gr)
        bal[me[okk]] = val[okk]
        none[me[okk]] = False
    return bal, none


def _nan_where(v: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """``v`` as float, NaN where ``missing`` (a stride that does not measure it)."""
    return np.where(missing, np.nan, np.asarray(v, dtype=np.float64))


@dataclass(frozen=True)
class MeasuredStrides:
    """Stage 5 (:func:`measure_strides`): the strides (one row per complete stride and side), the floor line
    (slope, intercept px), keypoint heights above it (T, 17) m, and each foot's
    mean stance (belt) speed on a treadmill (m/s)."""

    table: StrideTable
    floor: tuple
    height_up_m: np.ndarray
    foot_speed: dict
    reasons: tuple[str, ...]


def measure_strides(xy: np.ndarray, g: SceneGeometry, e: DetectedEvents, fps: float,
                    profile: RunnerProfile) -> MeasuredStrides:
    """Stage 5: the floor line, heights above it, each treadmill stance's belt speed in
    its own leg's scale (:func:`analysis.metrics.treadmill_speed_mps`) and the
    per-stride metrics (:func:`_stride_metrics`)."""
    reasons: list[str] = []
    ankles = [KP.LEFT_ANKLE, KP.RIGHT_ANKLE]
    floor = geo.floor_line(np.concatenate([xy[:, KP.LEFT_ANKLE], xy[:, KP.RIGHT_ANKLE]]),
                           np.concatenate([e.contact["left"], e.contact["right"]]))
    if floor is None:
        ymax = np.nanmax(xy[:, ankles, 1]) if np.isfinite(xy[:, ankles, 1]).any() else 0.0
        floor = (0.0, float(ymax))
    floor_y = floor[0] * xy[..., 0] + floor[1]
    height_up_m = (floor_y - xy[..., 1]) / g.ppm          # (T,17) metres above floor line
    pelvis_h = (floor[0] * g.pelvis[:, 0] + floor[1] - g.pelvis[:, 1]) / g.ppm
    thigh = {s: ang.segment_angle(ang.to_body_frame(xy[:, KP[f"{p}_KNEE"]] - xy[:, KP[f"{p}_HIP"]], g.facing))
             for s, p in (("left", "LEFT"), ("right", "RIGHT"))}
    stance = {side: _stance_speeds(g.fwd[:, ank], e.side_events[side]["IC"], e.side_events[side]["TO"],
                                   fps, g.side_ppm[side])
              for side, ank in (("left", KP.LEFT_ANKLE), ("right", KP.RIGHT_ANKLE))
              } if g.mode == "treadmill" else None
    foot_speed = {side: None for side in ("left", "right")}
    if stance is not None:
        for side, (_, v) in stance.items():
            v = v[np.isfinite(v)]
            foot_speed[side] = float(v.mean()) if v.size else None
        fl, fr = foot_speed["left"], foot_speed["right"]
        if fl and fr and abs(fl - fr) > 0.1 * max(fl, fr):
            src = f"the near ({g.near}) foot" if g.near else "the mean of both feet"
            reasons.append(
                f"The two feet read different belt speeds after per-leg scaling (left {fl:.2f}, right "
                f"{fr:.2f} m/s): keypoints of the far foot are unreliable; speed is read from {src}.")
    table = _stride_metrics(e.side_events, fps, g.mode, g.fwd, g.pel_fwd, g.ppm, profile, xy, g.facing,
                            g.shown_angles, pelvis_h, thigh, stance, g.near)
    return MeasuredStrides(table, floor, height_up_m, foot_speed, tuple(reasons))


def session_mean(strides: StrideTable, key: str, mode: str | None, near: str | None) -> float | None:
    """Session value of a per-stride metric: the mean over the strides that measure it
    (:func:`measuring_strides`); None without a finite value."""
    v = measuring_strides(strides, key, mode, near)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else None


@dataclass(frozen=True)
class SessionMeans:
    """Stage 6 (:func:`session_means`): strides per side, whether there are enough
    (:data:`MIN_STRIDES` per side), step times and the session values the timing
    judgement needs."""

    n_left: int
    n_right: int
    enough: bool
    n_steps: int
    has_steps: bool
    step_time: float | None
    cadence: float | None
    contact_t: float | None
    stride_t: float | None
    flight_t: float | None
    duty: float | None
    speed: float | None
    balance: float | None
    reasons: tuple[str, ...]


def session_means(strides: StrideTable, events: list[GaitEvent], mode: str, near: str | None) -> SessionMeans:
    """Stage 6: strides per side and the session values of timing and speed.

    Cadence needs only alternating contacts (:data:`MIN_STEPS_FOR_CADENCE` step
    intervals, :func:`analysis.events.step_time_fit`), not complete strides per
    side: a short clip with a few steps still has a cadence. The other values
    need :data:`MIN_STRIDES` complete strides per side (None otherwise)."""
    n_left, n_right = strides.count("left"), strides.count("right")
    enough = n_left >= MIN_STRIDES and n_right >= MIN_STRIDES
    reasons = () if enough else (f"Too few complete strides (left {n_left}, right {n_right}; "
                                 f"{MIN_STRIDES} per side needed): stride statistics are null.",)

    def mean_of(key):
        return session_mean(strides, key, mode, near) if enough else None

    # step times from all alternating ICs
    all_ic = sorted([(e.frame, e.time_s, e.side) for e in events if e.kind == "IC"])
    steps = [b[1] - a[1] for a, b in zip(all_ic, all_ic[1:]) if a[2] != b[2]]
    has_steps = len(steps) >= MIN_STEPS_FOR_CADENCE
    step_time_mean = ev.step_time_fit(all_ic) if has_steps else None
    cadence = m.cadence_spm(step_time_mean) if step_time_mean else None
    gl = np.mean(strides.contact_time_s[strides.side == "left"]) if n_left else None
    gr = np.mean(strides.contact_time_s[strides.side == "right"]) if n_right else None
    return SessionMeans(n_left, n_right, enough, len(steps), has_steps, step_time_mean, cadence,
                  contact_t=mean_of("contact_time_s"), stride_t=mean_of("stride_time_s"),
                  flight_t=mean_of("flight_time_s"), duty=mean_of("duty_factor"), speed=mean_of("speed_mps"),
                  balance=m.balance_pct(gl, gr) if enough else None, reasons=reasons)


def session_summary(strides: StrideTable, mn: SessionMeans, g: SceneGeometry, valid: np.ndarray, fps: float,
                    profile: RunnerProfile) -> Summary:
    """Stage 8: the session's scalar metrics (``SessionAnalysis.summary``): per-stride
    metrics averaged over the strides that measure them, cadence from the step fit,
    the most frequent footstrike, duration and distance (speed x duration)."""
    def mean_of(key):
        return session_mean(strides, key, g.mode, g.near) if mn.enough else None

    footstrikes = [f for f in strides.footstrike.tolist() if f]
    footstrike = max(set(footstrikes), key=footstrikes.count) if (footstrikes and mn.enough) else None
    valid_idx = np.flatnonzero(valid)
    first = int(valid_idx[0]) if valid_idx.size else 0
    last = int(valid_idx[-1]) if valid_idx.size else 0
    total_time = (last - first) / fps if mn.enough else None
    speed = mn.speed
    distance = (speed * total_time) if (speed is not None and total_time is not None) else None
    return Summary(
        cadence_spm=mn.cadence, step_time_s=mn.step_time, contact_time_s=mn.contact_t,
        flight_time_s=mn.flight_t, stride_time_s=mn.stride_t,
        stride_length_m=mean_of("stride_length_m"), speed_mps=speed,
        pace_min_per_km=m.pace_min_per_km(speed) if speed else None,
        power_w=mean_of("power_w"), normalized_power_w_per_kg=mean_of("normalized_power_w_per_kg"),
        balance_pct=mn.balance, contact_angle_deg=mean_of("contact_angle_deg"),
        footstrike=footstrike, total_distance_m=distance, total_time_s=total_time,
        incline_deg=float(profile.incline_deg), duty_factor=mn.duty,
        knee_flexion_deg=mean_of("knee_flexion_deg"), ankle_angle_deg=mean_of("ankle_angle_deg"),
        posture_angle_deg=mean_of("posture_angle_deg"), com_oscillation_m=mean_of("com_oscillation_m"),
        stride_angle_deg=mean_of("stride_angle_deg"), mean_h_m=mean_of("mean_h_m"),
        eversion_velocity_deg_per_s=None, computed={name: mean_of(name) for name in strides.extra},
        px_per_m=g.ppm, facing="+x" if g.facing > 0 else "-x", mode=g.mode,
    )
