"""The gait engine: keypoints of one tracked runner in, a SessionAnalysis out.

``analyze`` runs named stages (input check -> clean-up -> geometry and scale ->
events -> strides -> session means -> timing -> summary -> quality -> frame
series -> phases), each a documented function over the earlier stages' frozen
results. The results are typed, not shaped like the API: ``api/documents.py``
builds the running-sessions spec's documents from them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from analysis import angles as ang
from analysis import cleaning, events as ev, geometry as geo, metrics as m, timebase
from analysis.catalogue import series_metrics, spread_metrics
from analysis.events import GaitEvent
from analysis.keypoints import KEYPOINT_NAMES, KP, validate_keypoints
from analysis.strides import StrideTable, as_stride_table
from analysis.vocabulary import GAIT_PHASES, JOINT_PREFIX, JOINTS, POSTURE_KEY, SIDES, UnknownJointError, angle_key, parse_joints

__all__ = ["AnalysisError", "EngineParams", "GaitEvent", "RunnerProfile", "SessionAnalysis", "StrideTable", "analyze",
           "json_safe"]

#: Cut-off (Hz) of the pelvis track that the foot position is referred to.
PELVIS_CUTOFF_HZ = 0.5
#: Minimum complete strides per side before statistics are reported.
MIN_STRIDES = 2
MIN_STEPS_FOR_CADENCE = 3  # step intervals (four alternating contacts)
#: Number of points of a stride-normalised curve (0..100 % of the stride).
CURVE_POINTS = 101
#: Typical cadence (steps/min) of running and walking, used for the capture-fps hint.
TYPICAL_RUN_CADENCE_SPM = 170.0
SLOW_MOTION_RATES = (60.0, 120.0, 240.0, 480.0, 960.0)


class AnalysisError(ValueError):
    """Nothing can be analysed; the message is one sentence saying why."""


@dataclass(frozen=True)
class EngineParams:
    """The engine's tunables; ``configs`` builds them from ``[analysis]``
    (``AnalysisSettings.engine_params``), and the row's ``config_hash`` hashes them.

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

    min_keypoint_conf: float = 0.2
    lowpass_hz: float = 8.0
    max_gap_s: float = 0.1
    default_height_m: float = geo.DEFAULT_HEIGHT_M
    event_method: str = "velocity"


@dataclass(frozen=True)
class RunnerProfile:
    """What we know of the runner and the capture.

    Attributes
    ----------
    height_m : float or None
        Stature (m); ``None`` -> 1.70 m is assumed and flagged in quality.
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


def json_safe(x):
    """JSON-safe conversion, recursively: NaN/inf -> None, numpy arrays and scalars -> Python,
    a :class:`StrideTable` -> its rows."""
    if isinstance(x, StrideTable):
        return x.rows()
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, np.ndarray):
        return [json_safe(v) for v in x.tolist()]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    return x


def _stats(values) -> dict:
    """``{min, max, avg, values}`` of finite values (None when there are none)."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"min": None, "max": None, "avg": None, "values": []}
    return {"min": float(v.min()), "max": float(v.max()), "avg": float(v.mean()),
            "values": [float(a) for a in v]}


def _selected_joints(joints: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return parse_joints(joints)
    except UnknownJointError as exc:
        raise AnalysisError(f"Unknown joint name(s) {exc.unknown}; use ankle, knee, elbow, hip, shoulder or all.") from None


#: Per-stride columns derived from the stride's speed (one belt-speed reading each, see below).
SPEED_DERIVED = ("speed_mps", "pace_min_per_km", "power_w", "normalized_power_w_per_kg")
#: Per-stride metrics whose session value is the mean over strides (their spread is reported too).
STRIDE_METRICS = spread_metrics()


def _measuring_strides(strides: StrideTable, key: str, mode: str | None, near: str | None) -> np.ndarray:
    """The values of column ``key`` of the strides that enter the session's statistics of it
    (in stride order, NaN where a stride does not measure it).

    All strides, except for speed-derived metrics on a treadmill with a near leg:
    every stride reads the near foot's stance inside it, so a far-leg stride
    repeats its neighbour's reading and only the near leg's strides count (each
    belt-speed reading once, ``m.treadmill_belt_speed_mps``).
    """
    values = strides.column(key)
    if key in SPEED_DERIVED and mode == "treadmill" and near in ("left", "right"):
        return values[strides.side == near]
    return values


@dataclass(frozen=True)
class MetricStats:
    """One per-stride metric over a session.

    ``values``: the finite values of the strides that measure it
    (:func:`_measuring_strides`), in stride order; ``min``/``max`` their extremes;
    ``avg`` the session's value (``summary[key]``), so that every output shows one
    number per quantity. All three are None when the session value is None (too
    few strides), ``values`` are still given.
    """

    min: float | None
    max: float | None
    avg: float | None
    values: tuple[float, ...]


def metric_stats(strides: StrideTable | list[dict], key: str, summary: dict, quality: dict) -> MetricStats:
    """:class:`MetricStats` of the per-stride column ``key`` (e.g. ``speed_mps``).

    ``strides``: the engine's :class:`StrideTable` (or stride rows, e.g. the lake's
    ``strides`` table as rows: :meth:`StrideTable.from_rows`), ``summary``/``quality``
    the session's (``quality`` gives ``mode`` and ``near_leg``)."""
    v = _measuring_strides(as_stride_table(strides), key, quality.get("mode"), quality.get("near_leg"))
    v = v[np.isfinite(v)]
    values = tuple(float(a) for a in v)
    avg = summary.get(key)
    if avg is None or v.size == 0:
        return MetricStats(None, None, None if avg is None else avg, values)
    return MetricStats(float(v.min()), float(v.max()), avg, values)


@dataclass(frozen=True)
class SessionAnalysis:
    """Everything the engine measured on one session (see module docs); frozen.

    ``summary``: session scalars (units in the names); ``strides``: one row per
    complete stride and side (:class:`analysis.strides.StrideTable`); ``quality``: flags, with reason codes in
    ``missing``; ``phases``: gait-phase report per side (:func:`_phases`);
    ``frame_series``: per-frame series; ``events``: the counted IC/MS/TO events.
    The API shapes these as the spec's documents (``api/documents.py``)."""

    fps: float
    time_s: np.ndarray
    frame_series: dict[str, np.ndarray]
    events: list[GaitEvent]
    strides: StrideTable
    summary: dict
    quality: dict
    phases: dict = field(default_factory=dict)
    joints: tuple[str, ...] = JOINTS

    def angle_keys(self) -> list[str]:
        """Angle series reported for the selected joints, plus posture."""
        return angle_keys(self.joints)

    def metric_stats(self, key: str) -> MetricStats:
        """:func:`metric_stats` of one per-stride column of this session."""
        return metric_stats(self.strides, key, self.summary, self.quality)


def angle_keys(joints: tuple[str, ...]) -> list[str]:
    """Angle series reported for ``joints``, plus posture."""
    return [POSTURE_KEY] + [angle_key(side, j) for j in joints for side in SIDES]


# ---------------------------------------------------------------------------
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
    return StrideTable(
        side=side, ic_frame=a, to_frame=t, next_ic_frame=b, contralateral_ic_frame=c, has_contralateral_ic=has_c,
        ic_time_s=ta, contact_time_s=contact_t, stride_time_s=stride_t, step_time_s=_nan_where(step_t, ~has_c),
        flight_time_s=_nan_where(flight_t, ~has_c), cadence_spm=_nan_where(cadence, cad_none), duty_factor=duty,
        speed_mps=speed, pace_min_per_km=pace, stride_length_m=stride_len, power_w=power,
        normalized_power_w_per_kg=norm_power, contact_angle_deg=contact_angle, knee_flexion_deg=knee,
        ankle_angle_deg=ankle, footstrike=np.asarray(m.footstrike_proxy(ankle), dtype=object),
        posture_angle_deg=posture, com_oscillation_m=com, stride_angle_deg=stride_angle, mean_h_m=mean_h,
        balance_pct=_nan_where(bal, bal_none))


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


def _curves(series: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``_curve`` of many strides at once, ``(n, CURVE_POINTS)``; bit-identical to it.

    Strides of equal length share their sample positions; the interpolation
    repeats ``np.interp``'s arithmetic (``slope * (x - j) + y[j]``, exact hits
    return ``y[j]``) on the gathered samples.
    """
    out = np.full((len(starts), CURVE_POINTS), np.nan)
    lengths = ends - starts + 1
    for n in np.unique(lengths):
        rows = np.flatnonzero(lengths == n)
        if n < 2:
            continue
        idx = starts[rows, None] + np.arange(n)[None, :]
        seg = series[idx]                                    # (k, n)
        ok = np.isfinite(seg).all(1)
        if not ok.any():
            continue
        seg = seg[ok]
        x = np.linspace(0, n - 1, CURVE_POINTS)
        j = np.minimum(np.floor(x).astype(np.int64), n - 2)
        exact = x == j
        last = x == n - 1
        y0, y1 = seg[:, j], seg[:, j + 1]
        val = (y1 - y0) * (x - j) + y0
        val = np.where(exact, y0, val)
        val = np.where(last, seg[:, n - 1:n], val)
        out[rows[ok]] = val
    return out


def _curve(series: np.ndarray, a: int, b: int) -> np.ndarray:
    seg = series[a:b + 1]
    if seg.size < 2 or not np.isfinite(seg).all():
        return np.full(CURVE_POINTS, np.nan)
    return np.interp(np.linspace(0, seg.size - 1, CURVE_POINTS), np.arange(seg.size), seg)


#: Lowest container frame rate at which gait events can be timed at all.
MIN_TIMING_FPS = 10.0
#: Contact longer than this (s) with a running posture is not real-time running.
MAX_RUNNING_CONTACT_S = 0.6
#: Cadence (steps/min) below which running with flight is not real time.
MIN_RUNNING_CADENCE_SPM = 100.0
#: Relative systematic uncertainty of the ballistic capture-rate estimate (measured on the
#: shared clip: -8 % at real time; docs/analysis.md "Slow motion").
CAPTURE_FPS_SYSTEMATIC = 0.10


def _stance_bounce_m(height_m: np.ndarray, side_events: dict) -> float:
    """Median height (m) of the trunk centre at mid-stance above its mean over that stance
    and the half-stances around it: negative when running (the body is lowest at
    mid-stance, a spring-mass bounce), positive when walking (highest: an inverted
    pendulum). NaN without stances. Tells walking from running where the ankle-based
    contact is too short for a walk (heel rise long before toe-off) and shows a "flight"."""
    out = []
    for side in ("left", "right"):
        ic, to = side_events[side]["IC"], side_events[side]["TO"]
        for a in ic:
            later = to[to > a]
            if not later.size:
                continue
            t = int(later[0])
            mid, w = (int(a) + t) // 2, max(2, t - int(a))
            seg = height_m[max(0, mid - w): mid + w + 1]
            if np.isfinite(height_m[mid]) and np.isfinite(seg).sum() >= 3:
                out.append(height_m[mid] - np.nanmean(seg))
    return float(np.median(out)) if out else float("nan")


#: Why a summary metric is null: code -> sentence (``quality.missing`` maps metric -> code).
MISSING_REASONS = {
    "low_frame_rate": "The frame rate is too low to time steps.",
    "too_few_steps": "Fewer than four alternating contacts were found, so there is no step time.",
    "too_few_strides": f"Fewer than {MIN_STRIDES} complete strides per side were found.",
    "no_scale": "The image scale could not be estimated, so lengths and speeds are not measured.",
    "no_weight": "The runner's weight is unknown, so metabolic power in watts is not given.",
    "needs_rear_view": "It needs a frontal or rear view of the foot; a side view cannot show it.",
    "not_side_view": "The camera does not look at the runner from the side.",
    "not_measured": "No stride gave a value for it.",
    # the measured foot strike (analysis.feet): why no contact could be measured
    "foot_undetected": "The foot model found no heel or toe at the contacts.",
    "foot_cut_off": "The foot is cut off by the frame edge at the contacts.",
    "foot_hidden": "The heel or toe is hidden at the contacts (the foot model marks it not visible).",
    "foot_too_small": "The foot is too small in the image (heel to toe under 40 px) to read its angle.",
    "floor_line_unknown": "The foot was never seen flat on the ground, so there is no floor line.",
}
_LENGTH_KEYS = ("stride_length_m", "speed_mps", "pace_min_per_km", "power_w", "normalized_power_w_per_kg",
                "total_distance_m", "com_oscillation_m", "mean_h_m")


def missing_metrics(summary: dict, *, enough: bool, has_steps: bool, low_fps: bool, scale_ok: bool,
                    weight_known: bool, side_view: bool) -> dict[str, str]:
    """``{summary key: reason code}`` (:data:`MISSING_REASONS`) for every null summary metric,
    the first cause that applies in the order of the table."""
    out = {}
    for k, v in summary.items():
        if v is not None:
            continue
        if k == "eversion_velocity_deg_per_s":
            out[k] = "needs_rear_view"
        elif low_fps:
            out[k] = "low_frame_rate"
        elif k in ("cadence_spm", "step_time_s") and not has_steps:
            out[k] = "too_few_steps"
        elif not enough:
            out[k] = "too_few_strides"
        elif k == "power_w" and not weight_known:
            out[k] = "no_weight"
        elif k in _LENGTH_KEYS and not scale_ok:
            out[k] = "no_scale"
        elif not side_view:
            out[k] = "not_side_view"
        else:
            out[k] = "not_measured"
    return out


def _first_after(times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The first of the sorted ``times`` strictly after each ``t``; NaN where there is none."""
    j = np.searchsorted(times, t, side="right")
    out = np.full(t.shape, np.nan)
    ok = j < times.size
    out[ok] = times[j[ok]]
    return out


def _contacts_and_flights(ic: list[tuple[float, str]], to: list[tuple[float, str]]) -> tuple[list[float], list[float]]:
    """Stance durations (s: an IC to the first TO of that foot before its next IC) and flight
    durations (s: a TO to the other foot's next IC, before the same foot's), in no particular
    order (only their medians are used). Binary searches per side: linear in the events."""
    def times(events: list[tuple[float, str]], side: str) -> np.ndarray:
        return np.sort(np.array([t for t, s in events if s == side], dtype=float))

    contacts: list[float] = []
    flights: list[float] = []
    for side, other in (("left", "right"), ("right", "left")):
        ic_own, to_own, ic_other = times(ic, side), times(to, side), times(ic, other)
        nxt_to, nxt_ic = _first_after(to_own, ic_own), _first_after(ic_own, ic_own)
        ok = np.isfinite(nxt_to) & (np.isnan(nxt_ic) | (nxt_to < nxt_ic))
        contacts += (nxt_to[ok] - ic_own[ok]).tolist()
        strike_other, strike_own = _first_after(ic_other, to_own), _first_after(ic_own, to_own)
        ok = np.isfinite(strike_other) & (np.isnan(strike_own) | (strike_other < strike_own))
        flights += (strike_other[ok] - to_own[ok]).tolist()
    return contacts, flights


def _judge_timing(events: list[GaitEvent], contact: dict, valid: np.ndarray, eff_fps: float,
                  container_fps: float, cadence: float | None, gait: str | None,
                  bounce_m: float = float("nan")) -> dict:
    """Is the timing humanly possible? Judged from as few as two steps.

    Implausible: a frame rate too low to time steps (< :data:`MIN_TIMING_FPS`);
    a running posture (a flight phase between one foot's TO and the other's
    IC) at < :data:`MIN_RUNNING_CADENCE_SPM` steps/min, or with a contact
    longer than :data:`MAX_RUNNING_CONTACT_S`; or, with complete strides,
    running < 120 or any gait < 60 or > 260 steps/min (as before). Returns
    ``implausible``, ``low_fps``, ``why`` (a sentence), ``gait`` (from the
    events and the trunk's bounce, :func:`_stance_bounce_m`, when strides are too few) and ``cadence_spm``
    (from every alternating IC pair, in the analysed time).
    """
    out = {"implausible": False, "low_fps": False, "why": "", "gait": gait, "cadence_spm": cadence}
    if container_fps < MIN_TIMING_FPS and eff_fps < MIN_TIMING_FPS:
        out.update(implausible=True, low_fps=True, why=(
            f"the clip has {container_fps:g} frames per second, too few to time steps "
            f"(at least {MIN_TIMING_FPS:g} are needed): timing metrics are not reliable"))
        return out
    ic = sorted((e.time_s, e.side) for e in events if e.kind == "IC")
    to = sorted((e.time_s, e.side) for e in events if e.kind == "TO")
    steps = [b[0] - a[0] for a, b in zip(ic, ic[1:]) if a[1] != b[1]]
    if cadence is None and steps:
        cadence = m.cadence_spm(float(np.median(steps)))
    out["cadence_spm"] = cadence
    contacts, flights = _contacts_and_flights(ic, to)
    # running: flight between the feet's contacts, each contact shorter than a step (duty < 0.5)
    running = bool(flights) and float(np.median(flights)) > 0 and (
        not contacts or not steps or float(np.median(contacts)) < float(np.median(steps)))
    if out["gait"] is None and steps:
        out["gait"] = "running" if running and not bounce_m > 0 else "walking"
    is_run = out["gait"] == "running"
    contact_s = float(np.median(contacts)) if contacts else None
    if is_run and cadence is not None and cadence < MIN_RUNNING_CADENCE_SPM:
        out.update(implausible=True, why=f"{cadence:.0f} steps/min with flight phases is not humanly "
                                         f"possible at {eff_fps:g} fps")
    elif is_run and contact_s is not None and contact_s > MAX_RUNNING_CONTACT_S:
        out.update(implausible=True, why=f"ground contacts of {contact_s:.2f} s with flight phases are "
                                         f"not humanly possible at {eff_fps:g} fps")
    elif cadence is not None and len(steps) >= MIN_STEPS_FOR_CADENCE and (
            cadence < (120.0 if is_run else 60.0) or cadence > 260.0):
        out.update(implausible=True, why=f"{cadence:.0f} steps/min with "
                                         f"{'flight phases' if is_run else 'this gait'} is not humanly "
                                         f"possible at {eff_fps:g} fps")
    return out


def _trunk_height_m(xy: np.ndarray, floor: tuple[float, float], ppm: float) -> np.ndarray:
    """Height (m) above the floor line of the trunk centre (mean of hips and shoulders):
    the centre-of-mass proxy of the ballistic fit."""
    pts = xy[:, [KP.LEFT_HIP, KP.RIGHT_HIP, KP.LEFT_SHOULDER, KP.RIGHT_SHOULDER]]
    c = pts.mean(axis=1)
    return (floor[0] * c[:, 0] + floor[1] - c[:, 1]) / ppm


def _ballistic_capture_fps(height_m: np.ndarray, contact: dict, valid: np.ndarray, fps: float) -> dict:
    """Capture rate (frames/s) implied by free fall in the flights, at analysed rate ``fps``:
    ``fps * sqrt(9.81 / g_apparent)`` (:func:`events.ballistic_gravity`). Its
    uncertainty combines the fit's standard error with :data:`CAPTURE_FPS_SYSTEMATIC`."""
    none = {"fps": None, "fps_uncertainty": None, "flights": 0}
    if not np.isfinite(height_m).any():
        return none
    segs = ev.flight_segments(contact["left"], contact["right"], valid & np.isfinite(height_m))
    g, se, n = ev.ballistic_gravity(height_m, segs, fps, trim=0)
    if not (math.isfinite(g) and g > 0 and math.isfinite(se)) or se > 0.5 * g:
        return {**none, "flights": len(segs)}
    est = fps * math.sqrt(ev.G_MPS2 / g)
    rel = math.hypot(0.5 * se / g, CAPTURE_FPS_SYSTEMATIC)
    return {"fps": est, "fps_uncertainty": est * rel, "flights": len(segs)}


def _capture_fps_estimate(kp: np.ndarray, fps: float, profile: RunnerProfile, params: EngineParams,
                          frame_size, timing: dict, eff_fps: float) -> dict:
    """Capture rate of a slow-motion clip without user input.

    The clip is analysed again at candidate capture rates, starting from the one a
    typical cadence suggests (170 steps/min running, 110 walking), until the
    ballistic flight's own estimate agrees with the rate analysed at
    (:func:`analysis.timebase.self_consistent_capture_fps`: the estimate drifts with
    the analysis rate, so one re-analysis at a wrong guess is not enough).
    Falls back to no estimate when no re-analysis finds flights."""
    none = {"fps": None, "fps_uncertainty": None, "flights": 0}
    cad = timing["cadence_spm"]
    if not cad:
        return none
    target = TYPICAL_RUN_CADENCE_SPM if timing["gait"] == "running" else 110.0
    tries: dict[float, dict] = {}

    def estimate_at(rate: float) -> float | None:
        try:
            q = analyze(kp, fps, replace(profile, capture_fps=rate), frame_size, params).quality
        except AnalysisError:
            return None
        tries[rate] = {"fps": q["estimated_capture_fps"], "fps_uncertainty": q["estimated_capture_fps_uncertainty"],
                       "flights": q["capture_fps_flights"]}
        return q["estimated_capture_fps"]

    rate, _ = timebase.self_consistent_capture_fps(estimate_at, eff_fps * target / cad)
    return tries[rate] if rate is not None else none


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


# ---------------------------------------------------------------------------
# analyze() runs these stages in order; each takes the earlier stages' frozen results.

@dataclass(frozen=True)
class _Input:
    """Stage 1 (:func:`_validated_input`): the checked keypoints.

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


@dataclass(frozen=True)
class _Cleaned:
    """Stage 2 (:func:`_clean_up`): filtered keypoints (T, 17, 2) px and what was repaired."""

    xy: np.ndarray
    n_swaps: int
    n_outliers: int


@dataclass(frozen=True)
class _Geometry:
    """Stage 3 (:func:`_geometry`): direction, forward coordinates, mode, scale and angles.

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


@dataclass(frozen=True)
class _Events:
    """Stage 4 (:func:`_events`): per side IC/TO frames and sub-frame instants
    (``side_events``), the counted events in frame order, and the contact masks."""

    side_events: dict
    events: list
    contact: dict


@dataclass(frozen=True)
class _Strides:
    """Stage 5 (:func:`_strides`): the strides (one row per complete stride and side), the floor line
    (slope, intercept px), keypoint heights above it (T, 17) m, and each foot's
    mean stance (belt) speed on a treadmill (m/s)."""

    table: StrideTable
    floor: tuple
    height_up_m: np.ndarray
    foot_speed: dict
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class _Means:
    """Stage 6 (:func:`_session_means`): strides per side, whether there are enough
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


@dataclass(frozen=True)
class _Timing:
    """Stage 7 (:func:`_timing`): gait, timing plausibility and the capture-rate estimate."""

    gait: str | None
    implausible: bool
    low_fps: bool
    suggested_fps: float | None
    capture: dict
    reasons: tuple[str, ...]


def _validated_input(keypoints: np.ndarray, fps: float, profile: RunnerProfile, params: EngineParams) -> _Input:
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
    return _Input(kp, eff_fps, joints, xy, conf, n_present, mean_conf)


def _clean_up(xy: np.ndarray, fps: float, params: EngineParams) -> _Cleaned:
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
    return _Cleaned(xy, n_swaps, n_outliers)


def _geometry(xy: np.ndarray, conf: np.ndarray, fps: float, profile: RunnerProfile,
              params: EngineParams) -> _Geometry:
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
    return _Geometry(facing, pelvis, fwd, pel_fwd, valid, u_ankle, mode, ppm, default_h, side_ppm, near,
                     side_score, side_view, angles, shown, share, tuple(reasons))


#: An angle shown in fewer than this share of frames gets its own quality note.
ANGLE_NOTE_BELOW_SHARE = 0.8


def _angle_reasons(share: dict[str, float], near: str | None, joints: tuple[str, ...]) -> list[str]:
    """Quality notes on the selected joints' angles: the far side's are less reliable (as
    the far foot is), and each angle blanked in many frames is named with its share."""
    out = []
    share = {k: v for k, v in share.items() if k in angle_keys(joints)}
    if near in SIDES and joints:
        far = "left" if near == "right" else "right"
        out.append(f"Joint angles of the far ({far}) side are read from limbs partly hidden "
                   "behind the body: treat them as less reliable than the near side's.")
    low = [(k, v) for k, v in share.items() if v < ANGLE_NOTE_BELOW_SHARE]
    if low:
        names = ", ".join(f"{_angle_label(k)} {100.0 * v:.0f} %" for k, v in low)
        out.append("Some joint angles are left out where their keypoints are unreliable (low "
                   "confidence, a joint bent the impossible way or outside its physiological "
                   f"range); share of frames shown: {names}.")
    return out


def _angle_label(key: str) -> str:
    """Words for an angle key (``'lelb_angle'`` -> ``'left elbow'``)."""
    if key == POSTURE_KEY:
        return "trunk lean"
    joint = {v: k for k, v in JOINT_PREFIX.items()}[key[1:4]]
    return f"{'left' if key[0] == 'l' else 'right'} {joint}"


def _detect_events(method: str, xy: np.ndarray, g: _Geometry, fps: float) -> _Events:
    """IC/TO (``method``, :func:`analysis.events.side_events`) and MS events of both feet,
    sorted by frame (IC, MS, TO on one frame), with each foot's contact mask."""
    side_events, events, contact = {}, [], {}
    for side, pref in (("left", "l"), ("right", "r")):
        ank = KP.LEFT_ANKLE if side == "left" else KP.RIGHT_ANKLE
        # IC/TO frames and their sub-frame instants (fractional frames)
        found = ev.side_events(method, g.u_ankle[side], -xy[:, ank, 1], g.angles[f"{pref}kne_angle"], fps, g.valid)
        contact[side] = found["mask"]
        ic, to, ic_f, to_f = found["IC"], found["TO"], found["IC_f"], found["TO_f"]
        side_events[side] = {"IC": ic, "TO": to, "IC_f": ic_f, "TO_f": to_f}
        for f, x in zip(ic.tolist(), ic_f.tolist()):
            events.append(GaitEvent(side, "IC", f, x / fps))
        for f, x in zip(to.tolist(), to_f.tolist()):
            events.append(GaitEvent(side, "TO", f, x / fps))
        for _, f in ev.mid_stance_frames(ic, to, g.angles[f"{pref}kne_angle"]):
            events.append(GaitEvent(side, "MS", int(f), f / fps))
    order = {"IC": 0, "MS": 1, "TO": 2}
    events.sort(key=lambda e: (e.frame, order[e.kind], e.side))
    return _Events(side_events, events, contact)


def _events(xy: np.ndarray, g: _Geometry, fps: float, params: EngineParams) -> _Events:
    """Stage 4: gait events with ``params.event_method``; a walk is detected again with
    ``velocity+zeni``.

    Walking (the trunk highest at mid-stance, :func:`_stance_bounce_m`): the ankle
    moves forward from heel rise on, long before toe-off, so the velocity threshold
    ends the stance early (the walking clip: duty 0.42 and a 0.10 s "flight"). TO is
    then the ankle's most backward position relative to the pelvis (Zeni 2008, a
    walking method): duty 0.57, no flight."""
    found = _detect_events(params.event_method, xy, g, fps)
    hips, trunk = [KP.LEFT_HIP, KP.RIGHT_HIP], [KP.LEFT_HIP, KP.RIGHT_HIP, KP.LEFT_SHOULDER, KP.RIGHT_SHOULDER]
    trunk_up_px = -np.nanmean(xy[:, trunk, 1], axis=1) if np.isfinite(xy[:, hips, 1]).any() \
        else np.full(xy.shape[0], np.nan)
    if params.event_method == "velocity" and _stance_bounce_m(trunk_up_px, found.side_events) > 0:
        found = _detect_events("velocity+zeni", xy, g, fps)
    return found


def _strides(xy: np.ndarray, g: _Geometry, e: _Events, fps: float, profile: RunnerProfile) -> _Strides:
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
    return _Strides(table, floor, height_up_m, foot_speed, tuple(reasons))


def _session_mean(strides: StrideTable, key: str, mode: str | None, near: str | None) -> float | None:
    """Session value of a per-stride metric: the mean over the strides that measure it
    (:func:`_measuring_strides`); None without a finite value."""
    v = _measuring_strides(strides, key, mode, near)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else None


def _session_means(strides: StrideTable, events: list[GaitEvent], mode: str, near: str | None) -> _Means:
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
        return _session_mean(strides, key, mode, near) if enough else None

    # step times from all alternating ICs
    all_ic = sorted([(e.frame, e.time_s, e.side) for e in events if e.kind == "IC"])
    steps = [b[1] - a[1] for a, b in zip(all_ic, all_ic[1:]) if a[2] != b[2]]
    has_steps = len(steps) >= MIN_STEPS_FOR_CADENCE
    step_time_mean = ev.step_time_fit(all_ic) if has_steps else None
    cadence = m.cadence_spm(step_time_mean) if step_time_mean else None
    gl = np.mean(strides.contact_time_s[strides.side == "left"]) if n_left else None
    gr = np.mean(strides.contact_time_s[strides.side == "right"]) if n_right else None
    return _Means(n_left, n_right, enough, len(steps), has_steps, step_time_mean, cadence,
                  contact_t=mean_of("contact_time_s"), stride_t=mean_of("stride_time_s"),
                  flight_t=mean_of("flight_time_s"), duty=mean_of("duty_factor"), speed=mean_of("speed_mps"),
                  balance=m.balance_pct(gl, gr) if enough else None, reasons=reasons)


def _timing(inp: _Input, fps: float, profile: RunnerProfile, params: EngineParams, frame_size,
            xy: np.ndarray, g: _Geometry, e: _Events, s: _Strides, mn: _Means) -> _Timing:
    """Stage 7: walking or running, whether the timing is humanly possible
    (:func:`_judge_timing`), and the capture rate of slow motion (from the ballistic
    flights, :func:`_ballistic_capture_fps`, or a re-analysis, :func:`_capture_fps_estimate`)."""
    eff_fps, reasons = inp.eff_fps, []
    trunk_h = _trunk_height_m(xy, s.floor, g.ppm)
    bounce = _stance_bounce_m(trunk_h, e.side_events)
    gait = None
    if mn.enough and mn.duty is not None:
        gait = "running" if mn.duty < 0.5 and mn.flight_t and mn.flight_t > 0 and not bounce > 0 else "walking"
    timing = _judge_timing(e.events, e.contact, g.valid, eff_fps, float(fps), mn.cadence if mn.enough else None,
                           gait, bounce)
    gait = gait or timing["gait"]
    implausible, suggested_fps = timing["implausible"], None
    if timing["low_fps"]:
        capture = {"fps": None, "fps_uncertainty": None, "flights": 0}
    elif implausible and not profile.capture_fps:
        capture = _capture_fps_estimate(inp.kp, fps, profile, params, frame_size, timing, eff_fps)
    else:
        capture = _ballistic_capture_fps(trunk_h, e.contact, g.valid, eff_fps)
    if timing["low_fps"]:
        reasons.append(f"Implausible timing: {timing['why']}.")
    elif implausible:
        target = TYPICAL_RUN_CADENCE_SPM if timing["gait"] == "running" else 110.0
        guess = eff_fps * target / timing["cadence_spm"] if timing["cadence_spm"] else None
        best = capture["fps"] if capture["fps"] is not None else guess
        suggested_fps = min(SLOW_MOTION_RATES, key=lambda r: abs(math.log(r / best))) if best else None
        est = ""
        if capture["fps"] is not None:
            est = (f" From the ballistic flight phase it was filmed at about {capture['fps']:.0f} "
                   f"+/- {capture['fps_uncertainty']:.0f} fps")
            est += (f" (a plausible cadence suggests {guess:.0f})." if guess else ".")
        hint = f" — give its capture frame rate (about {suggested_fps:g} fps)." if suggested_fps else "."
        reasons.append(f"Implausible timing: {timing['why']}; the video is probably slow motion{hint}{est}")
    return _Timing(gait, implausible, timing["low_fps"], suggested_fps, capture, tuple(reasons))


def _summary(strides: StrideTable, mn: _Means, g: _Geometry, valid: np.ndarray, fps: float,
             profile: RunnerProfile) -> dict:
    """Stage 8: the session's scalar metrics (``SessionAnalysis.summary``): per-stride
    metrics averaged over the strides that measure them, cadence from the step fit,
    the most frequent footstrike, duration and distance (speed x duration)."""
    def mean_of(key):
        return _session_mean(strides, key, g.mode, g.near) if mn.enough else None

    footstrikes = [f for f in strides.footstrike.tolist() if f]
    footstrike = max(set(footstrikes), key=footstrikes.count) if (footstrikes and mn.enough) else None
    valid_idx = np.flatnonzero(valid)
    first = int(valid_idx[0]) if valid_idx.size else 0
    last = int(valid_idx[-1]) if valid_idx.size else 0
    total_time = (last - first) / fps if mn.enough else None
    speed = mn.speed
    distance = (speed * total_time) if (speed is not None and total_time is not None) else None
    return {
        "cadence_spm": mn.cadence, "step_time_s": mn.step_time, "contact_time_s": mn.contact_t,
        "flight_time_s": mn.flight_t, "stride_time_s": mn.stride_t,
        "stride_length_m": mean_of("stride_length_m"), "speed_mps": speed,
        "pace_min_per_km": m.pace_min_per_km(speed) if speed else None,
        "power_w": mean_of("power_w"), "normalized_power_w_per_kg": mean_of("normalized_power_w_per_kg"),
        "balance_pct": mn.balance, "contact_angle_deg": mean_of("contact_angle_deg"),
        "footstrike": footstrike, "total_distance_m": distance, "total_time_s": total_time,
        "incline_deg": float(profile.incline_deg), "duty_factor": mn.duty,
        "knee_flexion_deg": mean_of("knee_flexion_deg"), "ankle_angle_deg": mean_of("ankle_angle_deg"),
        "posture_angle_deg": mean_of("posture_angle_deg"), "com_oscillation_m": mean_of("com_oscillation_m"),
        "stride_angle_deg": mean_of("stride_angle_deg"), "mean_h_m": mean_of("mean_h_m"),
        "eversion_velocity_deg_per_s": None,
        "px_per_m": g.ppm, "facing": "+x" if g.facing > 0 else "-x", "mode": g.mode,
    }


def _quality(summary: dict, inp: _Input, cl: _Cleaned, g: _Geometry, e: _Events, s: _Strides, mn: _Means,
             tm: _Timing, profile: RunnerProfile, frame_size) -> dict:
    """Stage 9: the quality flags (``SessionAnalysis.quality``): runner share, confidence,
    repairs, strides, view, gait, timing and capture rate, per-leg scale, which summary
    metrics are null and why (:func:`missing_metrics`), and the notes in ``reasons``."""
    reasons = [*g.reasons, *_angle_reasons(g.reliable_share, g.near, inp.joints), *s.reasons, *mn.reasons,
               *tm.reasons]
    if profile.weight_kg is None:
        reasons.append("Runner weight unknown: power_w is null (normalized power is still given).")
    reasons.append("eversion_velocity needs a frontal/rear view of the foot: null in a side view.")
    reasons.append("footstrike and ankle_angle are proxies from the shank angle (COCO-17 has no heel/toe).")
    missing = missing_metrics(summary, enough=mn.enough, has_steps=mn.has_steps, low_fps=tm.low_fps,
                              scale_ok=bool(math.isfinite(g.ppm) and g.ppm > 0),
                              weight_known=profile.weight_kg is not None, side_view=g.side_view)
    if not mn.enough:
        reasons.append(f"Short clip: the runner is seen for {inp.n_present / inp.eff_fps:.1f} s with "
                       f"{mn.n_steps} steps; stride statistics need {MIN_STRIDES} complete strides per side.")
    flight_frames = g.valid & ~(e.contact["left"] | e.contact["right"])
    cap = tm.capture
    return {
        "missing": missing, "short_clip": not mn.enough,
        "runner_share": inp.n_present / inp.xy.shape[0], "mean_confidence": inp.mean_conf,
        "swaps_repaired": cl.n_swaps, "outliers_rejected": cl.n_outliers,
        "strides_used": len(s.table) if mn.enough else 0,
        "strides_left": mn.n_left, "strides_right": mn.n_right, "side_view": g.side_view,
        "side_view_score": g.side_score, "gait": tm.gait, "implausible_timing": tm.implausible,
        "suggested_capture_fps": tm.suggested_fps, "estimated_capture_fps": cap["fps"],
        "estimated_capture_fps_uncertainty": cap["fps_uncertainty"],
        "capture_fps_flights": cap["flights"], "mode": g.mode, "default_height_used": g.default_h,
        "flight_share": float(flight_frames.sum() / max(g.valid.sum(), 1)),
        "fps_used": inp.eff_fps, "frame_size": list(frame_size) if frame_size else None,
        "px_per_m_left": g.side_ppm["left"], "px_per_m_right": g.side_ppm["right"], "near_leg": g.near,
        "stance_speed_left_mps": s.foot_speed["left"], "stance_speed_right_mps": s.foot_speed["right"],
        "angle_shown_share": {k: v for k, v in g.reliable_share.items() if k in angle_keys(inp.joints)},
        "frame_time_s": 1.0 / inp.eff_fps, "joints": list(inp.joints),
        "reasons": reasons,
    }


#: Per-frame metric series: series name -> the per-stride column it shows.
SERIES_METRICS = series_metrics()


def _frame_series(inp: _Input, xy: np.ndarray, g: _Geometry, e: _Events, s: _Strides) -> dict[str, np.ndarray]:
    """Stage 10: per-frame series (``SessionAnalysis.frame_series``): every keypoint in px
    and in metres (forward from the first pelvis position, up from the floor; leg
    keypoints in their leg's scale), confidences, joint angles, contact flags, the
    per-stride metrics held from each stride's completion on, and cumulative distance."""
    T, fps = xy.shape[0], inp.eff_fps
    fs: dict[str, np.ndarray] = {}
    ref = g.pel_fwd[np.isfinite(g.pel_fwd)][0] if np.isfinite(g.pel_fwd).any() else 0.0
    # leg keypoints in their own leg's scale (geo.side_pixels_per_metre), the rest in the body's
    kp_ppm = np.full(len(KEYPOINT_NAMES), g.ppm)
    for side, pre in (("left", "LEFT"), ("right", "RIGHT")):
        kp_ppm[[KP[f"{pre}_HIP"], KP[f"{pre}_KNEE"], KP[f"{pre}_ANKLE"]]] = g.side_ppm[side]
    for i, name in enumerate(KEYPOINT_NAMES):
        fs[f"{name}_x_px"] = xy[:, i, 0]
        fs[f"{name}_y_px"] = xy[:, i, 1]
        fs[f"{name}_x_m"] = (g.fwd[:, i] - ref) / kp_ppm[i]
        fs[f"{name}_y_m"] = s.height_up_m[:, i] * (g.ppm / kp_ppm[i])
        fs[f"{name}_conf"] = inp.conf[:, i]
    fs.update(g.shown_angles)
    fs["left_contact"] = e.contact["left"].astype(float)
    fs["right_contact"] = e.contact["right"].astype(float)
    next_ic = s.table.next_ic_frame
    for k, src in SERIES_METRICS.items():
        # each stride's value holds from its completion on; where several strides
        # are complete, the latest in row order wins (forward fill of row indices)
        vals = s.table.column(src)
        ok = np.isfinite(vals)
        owner = np.full(T + 1, -1, dtype=np.int64)
        np.maximum.at(owner, next_ic[ok], np.flatnonzero(ok))
        owner = np.maximum.accumulate(owner)[:T]
        arr = np.full(T, np.nan)
        has = owner >= 0
        arr[has] = vals[owner[has]]
        fs[k] = arr
    spd = np.nan_to_num(fs["speed"])
    fs["distance"] = np.cumsum(spd) / fps
    return fs


def analyze(keypoints: np.ndarray, fps: float, profile: RunnerProfile | None = None,
            frame_size: tuple[int, int] | None = None, params: EngineParams | None = None) -> SessionAnalysis:
    """Analyse one runner's keypoints.

    Runs the stages in order: input check (:func:`_validated_input`), clean-up
    (:func:`_clean_up`), geometry and scale (:func:`_geometry`), events
    (:func:`_events`), strides (:func:`_strides`), session means
    (:func:`_session_means`), timing (:func:`_timing`), summary (:func:`_summary`),
    quality (:func:`_quality`), frame series (:func:`_frame_series`) and phases
    (:func:`_phases`).

    Parameters
    ----------
    keypoints : np.ndarray
        ``(T, 17, 3)`` pixel x, pixel y, confidence of the one tracked runner;
        NaN x/y (confidence 0) where absent.
    fps : float
        Frame rate of the file (frames/s). ``profile.capture_fps`` overrides it
        for time (slow-motion footage).
    profile : RunnerProfile
        Runner and capture information.
    frame_size : tuple[int, int] or None
        ``(width, height)`` in px, used for quality only.
    params : EngineParams or None
        The engine's tunables (``None``: :class:`EngineParams` defaults).

    Returns
    -------
    SessionAnalysis

    Raises
    ------
    AnalysisError
        When nothing can be analysed (runner in too few frames, bad fps).
    """
    profile = profile or RunnerProfile()
    params = params or EngineParams()
    inp = _validated_input(keypoints, fps, profile, params)
    eff_fps = inp.eff_fps
    cl = _clean_up(inp.xy, eff_fps, params)
    xy = cl.xy
    g = _geometry(xy, inp.conf, eff_fps, profile, params)
    e = _events(xy, g, eff_fps, params)
    s = _strides(xy, g, e, eff_fps, profile)
    mn = _session_means(s.table, e.events, g.mode, g.near)
    tm = _timing(inp, fps, profile, params, frame_size, xy, g, e, s, mn)
    summary = _summary(s.table, mn, g, g.valid, eff_fps, profile)
    quality = _quality(summary, inp, cl, g, e, s, mn, tm, profile, frame_size)
    phases = _phases(inp.joints, s.table, g.shown_angles, eff_fps, mn.enough, e.events)
    quality["reasons"].extend(_curve_spread_reasons(phases))
    return SessionAnalysis(fps=eff_fps, time_s=np.arange(xy.shape[0]) / eff_fps,
                           frame_series=_frame_series(inp, xy, g, e, s), events=e.events, strides=s.table,
                           summary=summary, quality=quality, joints=inp.joints, phases=phases)


#: Largest stride-to-stride SD (deg) of a joint angle at one point of the stride that is
#: read as the runner's own variability. Sagittal joint angles repeat within a few degrees
#: from stride to stride in steady running (the knees of both shared treadmill clips: SD
#: at most 7-12 deg at any point of the stride); several times that is keypoints that
#: jump between strides (a swapped or misplaced wrist: the 60 fps clip's right elbow, 70).
CURVE_SD_NOTE_DEG = 25.0


def _curve_spread_reasons(phases: dict) -> list[str]:
    """A quality note per stride curve whose SD across strides exceeds
    :data:`CURVE_SD_NOTE_DEG` somewhere: its band is keypoint noise, not variability."""
    out = []
    for side in SIDES:
        for key, curve in ((phases.get(side) or {}).get("angles") or {}).items():
            sd = np.asarray(curve.get("std_dev"), dtype=np.float64)
            if not (sd.size and np.nanmax(sd) > CURVE_SD_NOTE_DEG):
                continue
            what = f"trunk lean over the {side} strides" if key == POSTURE_KEY else f"{_angle_label(key)} angle"
            out.append(f"The {what} varies by up to {np.nanmax(sd):.0f} deg (SD) between strides at the same "
                       "point of the stride: its keypoints are unreliable, so read its curve as rough.")
    return out


def _ms_frames(events: list[GaitEvent]) -> tuple[dict, dict]:
    """MS frames per side in the order of a set of ``(side, frame)`` (which breaks ties as
    before), and sorted, to find each stride's candidates by binary search."""
    ms = {(e.side, e.frame) for e in events if e.kind == "MS"}
    order = {sd: np.array([f for (s, f) in ms if s == sd], dtype=np.int64) for sd in ("left", "right")}
    return order, {sd: np.sort(v) for sd, v in order.items()}


def _first_ms(order: np.ndarray, srt: np.ndarray, lo: int, hi: int) -> int | None:
    """First MS frame in ``[lo, hi)`` in the set's order (``order``; ``srt`` the same sorted)."""
    i, j = np.searchsorted(srt, lo, side="left"), np.searchsorted(srt, hi, side="left")
    if j <= i:
        return None
    if j - i == 1:
        return int(srt[i])
    return int(order[(order >= lo) & (order < hi)][0])


def _phase_marks(strides: StrideTable, i: int, order: np.ndarray, srt: np.ndarray) -> dict:
    """``strike``, ``mid_stance``, ``takeoff``, ``flight``, ``new_strike`` of stride ``i``:
    ``video_frame``, ``video_phase`` (frames since strike), ``graph_phase`` (0..100)."""
    a, t, b = int(strides.ic_frame[i]), int(strides.to_frame[i]), int(strides.next_ic_frame[i])
    c = int(strides.contralateral_ic_frame[i]) if strides.has_contralateral_ic[i] else None
    mid = _first_ms(order, srt, a, t)
    mid = mid if mid is not None else (a + t) // 2
    fl = (t + c) // 2 if (c is not None and c > t) else t
    span = b - a

    def ph(f):
        return {"video_frame": int(f), "video_phase": int(f - a), "graph_phase": int(round(100.0 * (f - a) / span))}

    return dict(zip(GAIT_PHASES, (ph(a), ph(mid), ph(t), ph(fl), ph(b))))


def _angle_curves(series: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> dict | None:
    """``current``/``std_dev``/``next`` of one angle over the strides ``[starts, ends]``
    (None when no stride is complete).

    Angles are circular: curves are resampled from the series unwrapped (so a stride
    crossing +-180 interpolates through the seam, not through 0), taken about their
    circular mean and wrapped back into (-180, 180] (issue 16); for angles away from
    the seam every step is the identity. ``next`` is the per-point least-squares line
    over stride number extrapolated to the next stride (``current`` below 3 strides)."""
    C = _curves(ang.unwrap_deg(series), starts, ends)
    C = C[np.isfinite(C).all(1)]
    if C.shape[0] == 0:
        return None
    ref = ang.circular_mean_deg(C, axis=0)
    C = ref + ang.wrap_deg(C - ref)
    cur = C.mean(0)
    sd = C.std(0, ddof=1) if C.shape[0] > 1 else np.zeros(CURVE_POINTS)
    if C.shape[0] >= 3:
        # closed form (np.polyfit's LAPACK call costs more than the fit on these small arrays)
        x = np.arange(C.shape[0], dtype=np.float64)
        xc = x - x.mean()
        slope = xc @ (C - cur) / (xc @ xc)
        nxt = cur + slope * (C.shape[0] - x.mean())
    else:
        nxt = cur
    return {"current": ang.wrap_deg(cur), "std_dev": sd, "next": ang.wrap_deg(nxt)}


def _peak_time_ms(starts: np.ndarray, tos: np.ndarray, order: np.ndarray, srt: np.ndarray,
                  fps: float) -> float | None:
    """Mean time (ms) from strike to the first MS in each stride's stance [IC, TO): a
    binary search; the set's order only matters where a stance holds several MS frames."""
    lo, hi = np.searchsorted(srt, starts, side="left"), np.searchsorted(srt, tos, side="left")
    f_ms = np.where(hi - lo == 1, srt[np.minimum(lo, max(srt.size - 1, 0))] if srt.size else -1, -1)
    for k in np.flatnonzero(hi - lo > 1).tolist():
        f_ms[k] = _first_ms(order, srt, int(starts[k]), int(tos[k]))
    got = hi > lo
    peaks = ((f_ms[got] - starts[got]) / fps * 1000.0).tolist()
    return float(np.mean(peaks)) if peaks else None


def _phases(joints: tuple[str, ...], strides: StrideTable, angles: dict, fps: float, enough: bool,
            events: list[GaitEvent]) -> dict:
    """Gait-phase report per side (see docs/analysis.md for the defined names).

    For each side the representative stride is the one whose stride time is
    closest to the side's median; ``phases`` are its marks (:func:`_phase_marks`).
    ``angles[key]``: :func:`_angle_curves` over all strides of the side.
    ``peak_time`` = mean time (ms) from strike to mid-stance (peak stance knee
    flexion, :func:`_peak_time_ms`). ``initiator`` = the side whose IC comes first
    in the recording. ``graph_timestamps`` = ms of the 101 curve points over the
    median stride.
    """
    ics = [e for e in events if e.kind == "IC"]
    initiator = ics[0].side if ics else None
    ms_order, ms_sorted = _ms_frames(events)
    out = {}
    for side in SIDES:
        own = strides.of_side(side)
        if not enough or not len(own):
            out[side] = {"peak_time": None, "initiator": initiator, "phases": {}, "angles": {},
                         "graph_timestamps": []}
            continue
        st = own.stride_time_s
        rep = int(np.argmin(np.abs(st - np.median(st))))
        starts, ends, tos = own.ic_frame, own.next_ic_frame, own.to_frame
        curves = {}
        for k in [POSTURE_KEY] + [angle_key(side, j) for j in joints]:
            curve = _angle_curves(angles[k], starts, ends)
            if curve is not None:
                curves[k] = curve
        out[side] = {
            "peak_time": _peak_time_ms(starts, tos, ms_order[side], ms_sorted[side], fps),
            "initiator": initiator,
            "phases": _phase_marks(own, rep, ms_order[side], ms_sorted[side]),
            "angles": curves,
            "graph_timestamps": np.linspace(0.0, float(np.median(st)) * 1000.0, CURVE_POINTS),
        }
    return out
