"""Stage 11 of ``analysis.engine.analyze``: the gait-phase report per side (the
representative stride's phase marks, stride-normalised angle curves with their
spread and next-stride forecast, peak time), and the quality notes on curves too
noisy to read."""
from __future__ import annotations

import numpy as np

from analysis import angles as ang
from analysis.events import GaitEvent
from analysis.phase_report import CURVE_POINTS, AngleCurve, PhaseMark, Phases, SidePhases
from analysis.quality import angle_label
from analysis.strides import StrideTable
from analysis.vocabulary import GAIT_PHASES, POSTURE_KEY, SIDES, angle_key


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


#: Largest stride-to-stride SD (deg) of a joint angle at one point of the stride that is
#: read as the runner's own variability. Sagittal joint angles repeat within a few degrees
#: from stride to stride in steady running (the knees of both shared treadmill clips: SD
#: at most 7-12 deg at any point of the stride); several times that is keypoints that
#: jump between strides (a swapped or misplaced wrist: the 60 fps clip's right elbow, 70).
CURVE_SD_NOTE_DEG = 25.0


def curve_spread_reasons(phases: Phases) -> list[str]:
    """A quality note per stride curve whose SD across strides exceeds
    :data:`CURVE_SD_NOTE_DEG` somewhere: its band is keypoint noise, not variability."""
    out = []
    for side, block in phases.items():
        for key, curve in block.angle_curves.items():
            sd = np.asarray(curve.sd, dtype=np.float64)
            if not (sd.size and np.nanmax(sd) > CURVE_SD_NOTE_DEG):
                continue
            what = f"trunk lean over the {side} strides" if key == POSTURE_KEY else f"{angle_label(key)} angle"
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


def _phase_marks(strides: StrideTable, i: int, order: np.ndarray, srt: np.ndarray) -> dict[str, PhaseMark]:
    """The :class:`PhaseMark` of ``strike``, ``mid_stance``, ``takeoff``, ``flight`` and
    ``new_strike`` of stride ``i``."""
    a, t, b = int(strides.ic_frame[i]), int(strides.to_frame[i]), int(strides.next_ic_frame[i])
    c = int(strides.contralateral_ic_frame[i]) if strides.has_contralateral_ic[i] else None
    mid = _first_ms(order, srt, a, t)
    mid = mid if mid is not None else (a + t) // 2
    fl = (t + c) // 2 if (c is not None and c > t) else t
    span = b - a

    def ph(f):
        return PhaseMark(int(f), int(f - a), int(round(100.0 * (f - a) / span)))

    return dict(zip(GAIT_PHASES, (ph(a), ph(mid), ph(t), ph(fl), ph(b))))


def _angle_curves(series: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> AngleCurve | None:
    """The :class:`AngleCurve` of one angle over the strides ``[starts, ends]``
    (None when no stride is complete).

    Angles are circular: curves are resampled from the series unwrapped (so a stride
    crossing +-180 interpolates through the seam, not through 0), taken about their
    circular mean and wrapped back into (-180, 180] (issue 16); for angles away from
    the seam every step is the identity. ``next`` is the per-point least-squares line
    over stride number extrapolated to the next stride (the mean below 3 strides)."""
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
    return AngleCurve(mean=ang.wrap_deg(cur), sd=sd, next_stride=ang.wrap_deg(nxt))


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


def gait_phases(joints: tuple[str, ...], strides: StrideTable, angles: dict, fps: float, enough: bool,
                events: list[GaitEvent]) -> Phases:
    """Gait-phase report per side (see docs/analysis.md; the API's names in api/documents.py).

    For each side the representative stride is the one whose stride time is
    closest to the side's median; ``marks`` are its marks (:func:`_phase_marks`).
    ``angle_curves[key]``: :func:`_angle_curves` over all strides of the side.
    ``peak_ms`` = mean time (ms) from strike to mid-stance (peak stance knee
    flexion, :func:`_peak_time_ms`). ``first_side`` = the side whose IC comes first
    in the recording. ``curve_times_ms`` = ms of the 101 curve points over the
    median stride.
    """
    ics = [e for e in events if e.kind == "IC"]
    first_side = ics[0].side if ics else None
    ms_order, ms_sorted = _ms_frames(events)
    out = {}
    for side in SIDES:
        own = strides.of_side(side)
        if not enough or not len(own):
            out[side] = SidePhases(first_side=first_side)
            continue
        st = own.stride_time_s
        rep = int(np.argmin(np.abs(st - np.median(st))))
        starts, ends, tos = own.ic_frame, own.next_ic_frame, own.to_frame
        curves = {}
        for k in [POSTURE_KEY] + [angle_key(side, j) for j in joints]:
            curve = _angle_curves(angles[k], starts, ends)
            if curve is not None:
                curves[k] = curve
        out[side] = SidePhases(
            peak_ms=_peak_time_ms(starts, tos, ms_order[side], ms_sorted[side], fps),
            first_side=first_side,
            marks=_phase_marks(own, rep, ms_order[side], ms_sorted[side]),
            angle_curves=curves,
            curve_times_ms=np.linspace(0.0, float(np.median(st)) * 1000.0, CURVE_POINTS),
        )
    return Phases(left=out["left"], right=out["right"])
