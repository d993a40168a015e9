"""Gait events per foot: initial contact (IC), mid-stance (MS), toe-off (TO).

Method (both modes, one rule): the ankle's forward position relative to the
pelvis, ``u(t)``, moves backwards at running speed ``v`` during stance (the
foot is fixed to the ground or carried by the belt; on a treadmill this is
"the stance ankle moves backwards at belt speed" of DESIGN.md) and forwards
during swing. Contact is the part of each backward half-cycle (from the most
forward to the most backward ankle position, the event candidates of Zeni et
al. 2008, Gait Posture 27:710) in which ``du/dt <= 0.5 * v_stance``, where
``v_stance`` is the median of ``du/dt`` over those half-cycles.

Why one half: at IC and TO the foot velocity changes abruptly (impact and
push-off); a zero-phase low-pass filter turns that step into a symmetric
ramp that crosses half the step height at the step time, so the half-speed
threshold keeps the event timing unbiased by the filter. On the shared
treadmill video this matches hand annotation within +/-1 frame at 60 fps
(see tests/analysis/test_ground_truth.py); kinematic IC/TO methods in the
literature err by ~10-25 ms (Fellin et al. 2010, J Appl Biomech 26:491;
Zeni et al. 2008). Mid-stance is peak stance knee flexion (DESIGN.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from analysis.cleaning import dominant_period_frames

#: Fraction of the stance velocity that separates contact from swing.
CONTACT_VELOCITY_FRACTION = 0.5
#: Gaps (s) inside one run below the contact threshold that do not split it.
MERGE_GAP_S = 0.05


@dataclass(frozen=True)
class GaitEvent:
    """One gait event of one foot.

    Attributes
    ----------
    side : str
        ``'left'`` or ``'right'``.
    kind : str
        ``'IC'`` (initial contact: first frame in contact), ``'MS'``
        (mid-stance: peak stance knee flexion) or ``'TO'`` (toe-off: first
        frame off the ground), matching the ground-truth annotation.
    frame : int
        0-based frame index (IC, TO: the first frame at or after the event).
    time_s : float
        Event instant (s) with sub-frame precision for IC and TO (the
        interpolated velocity-threshold crossing,
        :func:`subframe_event_frames`), so ``frame - 1 < time_s * fps <=
        frame``; ``frame / fps`` for MS.
    """

    side: str
    kind: str
    frame: int
    time_s: float


def stride_period_frames(u: np.ndarray, fps: float) -> float | None:
    """Stride period (frames) of one ankle's forward-position track by autocorrelation.

    Strides last 0.4..2.5 s in real time; up to 30 s of *apparent* time is
    searched so that slow-motion footage played at the wrong rate is still
    measured (and then flagged as implausible).
    """
    return dominant_period_frames(u, max(2, int(0.4 * fps)), int(30 * fps))


def backward_half_cycles(u: np.ndarray, period_frames: float) -> list[tuple[int, int]]:
    """(start, end) frames from each most-forward to the next most-backward ankle position.

    Partial half-cycles at the start and end of the record are included with
    the record boundary as their limit.
    """
    T = u.size
    dist = max(1, int(0.6 * period_frames))
    prom = 0.25 * (np.nanpercentile(u, 95) - np.nanpercentile(u, 5))
    uu = np.where(np.isfinite(u), u, np.nanmean(u))
    maxima, _ = find_peaks(uu, distance=dist, prominence=prom)
    minima, _ = find_peaks(-uu, distance=dist, prominence=prom)
    out = []
    if minima.size and (maxima.size == 0 or minima[0] < maxima[0]):
        out.append((0, int(minima[0])))
    elif maxima.size and maxima[0] > 1:
        # a minimum too close to the start for find_peaks' prominence test
        b = int(np.argmin(uu[: maxima[0]]))
        if b > 0:
            out.append((0, b))
    for a in maxima:
        later = minima[minima > a]
        nxt_max = maxima[maxima > a]
        if later.size and (nxt_max.size == 0 or later[0] < nxt_max[0]):
            out.append((int(a), int(later[0])))
        elif nxt_max.size == 0:
            out.append((int(a), T - 1))
    if minima.size and (maxima.size == 0 or minima[-1] > maxima[-1]):
        # the same at the end: a maximum too close to it for the prominence test (a
        # contact starting 2-3 frames before a cut was not looked for)
        a = int(minima[-1]) + int(np.argmax(uu[minima[-1]:]))
        if a < T - 1:
            out.append((a, T - 1))
    return out


def contact_mask(u: np.ndarray, fps: float) -> tuple[np.ndarray, float]:
    """Per-frame ground contact of one foot from its pelvis-relative forward position.

    Parameters
    ----------
    u : np.ndarray
        ``(T,)`` forward ankle position relative to the pelvis (px, filtered,
        body frame: + = ahead of the pelvis).
    fps : float
        Frame rate (frames/s).

    Returns
    -------
    tuple[np.ndarray, float]
        Boolean contact mask ``(T,)`` and the stance velocity (px/frame,
        negative; NaN if no periodic gait was found).
    """
    T = u.size
    mask = np.zeros(T, dtype=bool)
    if np.isfinite(u).sum() < max(10, int(0.5 * fps)):
        return mask, float("nan")
    period = stride_period_frames(u, fps)
    if period is None:
        return mask, float("nan")
    v = np.gradient(np.where(np.isfinite(u), u, np.nan))
    halves = backward_half_cycles(u, period)
    if not halves:
        return mask, float("nan")
    sel = np.zeros(T, dtype=bool)
    for a, b in halves:
        sel[a:b + 1] = True
    v_stance = float(np.nanmedian(v[sel]))
    if not np.isfinite(v_stance) or v_stance >= 0:
        return mask, float("nan")
    thr = CONTACT_VELOCITY_FRACTION * v_stance
    for a, b in halves:
        lo, hi = longest_run(v[a:b + 1] <= thr, max(1, int(round(MERGE_GAP_S * fps))))
        if hi > lo:
            mask[a + lo: a + hi] = True
    return mask, v_stance


def longest_run(below: np.ndarray, merge_gap: int = 0) -> tuple[int, int]:
    """``[start, end)`` of the stance: the longest run of True (``(0, 0)`` if
    none), extended back over earlier runs separated by at most ``merge_gap``
    False frames.

    The stance is one run below the velocity threshold; with noisy
    keypoints (a small runner, motion blur) the velocity also dips below it
    for a frame or two just after TO. Taking the first to the last such frame
    would lengthen every contact by those dips (measured: TO +16 ms late with
    a runner 90 px tall); the longest run does not. Just after IC, though,
    the impact's rebound lifts the ankle's velocity above the threshold for a
    few frames (2-3 at 60 fps on the shared clip, whose annotated IC is the
    first dip): gaps of up to ``merge_gap`` frames before the longest run
    join it, gaps after it do not.
    """
    if not below.any():
        return 0, 0
    d = np.diff(np.r_[0, below.astype(np.int8), 0])
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    k = int(np.argmax(ends - starts))
    j = k
    while j > 0 and starts[j] - ends[j - 1] <= merge_gap:
        j -= 1
    return int(starts[j]), int(ends[k])


def events_from_mask(mask: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IC (rising edges) and TO (falling edges) frames of a contact mask.

    An edge counts only when both frames around it are valid (tracked), so the
    record boundaries and tracking gaps never create events. TO is the first
    frame off the ground.

    Record edges: the velocity of the first and last frame is a one-sided
    difference over the filter's edge extension, not a measurement of both
    sides of the crossing, so an edge between frames ``0, 1`` or ``T-2, T-1``
    is not an event (measured on synthetic edits cut at random frames: every
    event found there was spurious, e.g. a TO in the last frame of a piece
    that ends mid-stance).
    """
    m = mask.astype(np.int8)
    d = np.diff(m)
    ok = valid[:-1] & valid[1:]
    ok[[0, -1]] = False
    ic = np.flatnonzero((d == 1) & ok) + 1
    to = np.flatnonzero((d == -1) & ok) + 1
    return ic, to


def subframe_event_frames(u: np.ndarray, v_stance: float, ic: np.ndarray, to: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Sub-frame IC and TO instants (fractional frames) of one foot.

    Each event is where the ankle velocity ``du/dt`` crosses the contact
    threshold (``CONTACT_VELOCITY_FRACTION * v_stance``, see
    :func:`contact_mask`), located by linear interpolation between the last
    frame before and the first frame after the crossing (frames ``k - 1`` and
    ``k`` for an event at integer frame ``k``) — the usual sub-sample
    threshold-crossing estimate. The integer event frame (first frame in
    contact / first frame off) is the ceiling of this instant, so frames are
    unchanged; the fraction removes the up-to-one-frame quantisation of
    event times, which otherwise biases contact times by about half a frame
    and limits cadence to the frame grid (0.65 steps/min at 30 fps over an
    8 s clip). Where the crossing is not bracketed (the contact started at a
    half-cycle boundary) the integer frame is returned.

    Parameters
    ----------
    u : np.ndarray
        The forward ankle track given to :func:`contact_mask`.
    v_stance : float
        Its stance velocity (px/frame), as returned by :func:`contact_mask`.
    ic, to : np.ndarray
        Integer IC and TO frames (:func:`events_from_mask`).

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        Float IC and TO instants in frames (divide by fps for seconds).
    """
    ic = np.asarray(ic, dtype=np.int64)
    to = np.asarray(to, dtype=np.int64)
    if not np.isfinite(v_stance) or u.size < 2:
        return ic.astype(np.float64), to.astype(np.float64)
    v = np.gradient(u)
    thr = CONTACT_VELOCITY_FRACTION * v_stance

    def cross(k: np.ndarray, falling: bool) -> np.ndarray:
        out = k.astype(np.float64)
        ok = (k >= 1) & (k < u.size)
        kk = k[ok]
        v0, v1 = v[kk - 1], v[kk]
        br = (v0 > thr) & (v1 <= thr) if falling else (v0 <= thr) & (v1 > thr)
        br &= np.isfinite(v0) & np.isfinite(v1) & (v0 != v1)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = (v0 - thr) / (v0 - v1)
        sub = out[ok]
        sub[br] = (kk[br] - 1) + frac[br]
        out[ok] = sub
        return out

    return cross(ic, True), cross(to, False)


def mid_stance_frames(ic: np.ndarray, to: np.ndarray, knee_flexion_deg: np.ndarray) -> list[tuple[int, int]]:
    """(IC frame, MS frame) pairs: MS is peak knee flexion between IC and the next TO.

    The first frame of the peak wins on ties and NaN frames are ignored
    (``np.nanargmax``); strides without any finite knee angle have no MS. All
    stance phases of the same length are handled in one array operation.
    """
    ic = np.asarray(ic, dtype=np.int64)
    to_sorted = np.sort(np.asarray(to, dtype=np.int64))
    nxt = np.searchsorted(to_sorted, ic, side="right")  # first TO after each IC
    has = nxt < to_sorted.size
    a = ic[has]
    e = to_sorted[nxt[has]]
    ms = np.full(a.size, -1, dtype=np.int64)
    x = np.where(np.isfinite(knee_flexion_deg), knee_flexion_deg, -np.inf)
    finite = np.isfinite(knee_flexion_deg)
    lengths = e - a
    for n in np.unique(lengths):
        rows = np.flatnonzero(lengths == n)
        idx = a[rows, None] + np.arange(n)[None, :]
        k = np.argmax(x[idx], axis=1)                    # first maximum, NaN as -inf
        ok = finite[idx].any(axis=1)
        ms[rows[ok]] = a[rows[ok]] + k[ok]
    return [(int(f), int(g)) for f, g in zip(a.tolist(), ms.tolist()) if g >= 0]


# --- alternative event definitions (compared in benchmarks/bench_events.py) ----------
#: Event methods :func:`side_events` knows. ``velocity``: the contact-velocity
#: threshold above (default); ``zeni``: IC at the most forward and TO at the
#: most backward ankle position relative to the pelvis (Zeni et al. 2008);
#: ``velocity+fellin``: velocity IC, TO at peak knee extension at the end of
#: stance (Fellin et al. 2010); ``vertical``: foot vertical velocity (IC where
#: the descent ends, TO where the rise starts, each at the same half-peak
#: threshold); ``velocity+vertical``: velocity IC, vertical TO; ``velocity+zeni``:
#: velocity IC, Zeni TO (the engine's choice for walking, see ``engine``); ``foot``: heel contact
#: and toe lift against the floor line from the foot stage's points (:mod:`analysis.foot_events`,
#: run by ``analysis.event_stage``; without foot points it falls back to ``velocity``).
EVENT_METHODS = ("velocity", "zeni", "velocity+zeni", "velocity+fellin", "vertical", "velocity+vertical", "foot")


def _parabolic_peak(x: np.ndarray, k: int) -> float:
    """Sub-frame position of the extremum at ``k`` by a parabola through ``k-1, k, k+1``."""
    if k < 1 or k >= x.size - 1 or not np.isfinite(x[k - 1:k + 2]).all():
        return float(k)
    a, b, c = x[k - 1], x[k], x[k + 1]
    den = a - 2 * b + c
    return float(k) if den == 0 else float(k + 0.5 * (a - c) / den)


def _interior_half_cycles(u: np.ndarray, fps: float) -> list[tuple[int, int]]:
    period = stride_period_frames(u, fps) if np.isfinite(u).sum() >= max(10, int(0.5 * fps)) else None
    if period is None:
        return []
    return [(a, b) for a, b in backward_half_cycles(u, period) if a > 0 and b < u.size - 1]


def _edges(ic_f: np.ndarray, to_f: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer event frames (first frame at or after the instant) of valid events, and the mask."""
    T = valid.size
    ic_f = np.sort(ic_f[np.isfinite(ic_f)])
    to_f = np.sort(to_f[np.isfinite(to_f)])
    ic = np.clip(np.ceil(ic_f - 1e-9).astype(np.int64), 1, T - 1)
    to = np.clip(np.ceil(to_f - 1e-9).astype(np.int64), 1, T - 1)
    ok_ic = valid[ic] & valid[ic - 1]
    ok_to = valid[to] & valid[to - 1]
    ic, ic_f, to, to_f = ic[ok_ic], ic_f[ok_ic], to[ok_to], to_f[ok_to]
    mask = np.zeros(T, dtype=bool)
    for a in ic:
        later = to[to > a]
        if later.size:
            nxt_ic = ic[ic > a]
            if nxt_ic.size == 0 or later[0] <= nxt_ic[0]:
                mask[a:later[0]] = True
    return (ic, to, mask), ic_f, to_f


def _velocity_events(u: np.ndarray, fps: float, valid: np.ndarray):
    mask, v_stance = contact_mask(u, fps)
    ic, to = events_from_mask(mask, valid)
    ic_f, to_f = subframe_event_frames(u, v_stance, ic, to)
    return ic, to, ic_f, to_f, mask, v_stance


def _threshold_crossings(v: np.ndarray, thr: float, rising: bool, lo: int, hi: int) -> list[float]:
    """Sub-frame instants in ``[lo, hi)`` where ``v`` crosses ``thr`` (upwards if ``rising``)."""
    out = []
    for k in range(max(lo, 1), min(hi, v.size)):
        v0, v1 = v[k - 1], v[k]
        if not (np.isfinite(v0) and np.isfinite(v1)) or v0 == v1:
            continue
        if (rising and v0 < thr <= v1) or (not rising and v0 > thr >= v1):
            out.append(k - 1 + (thr - v0) / (v1 - v0))
    return out


def side_events(method: str, u: np.ndarray, height: np.ndarray, knee_flexion_deg: np.ndarray,
                fps: float, valid: np.ndarray) -> dict:
    """IC and TO of one foot by ``method`` (one of :data:`EVENT_METHODS`).

    Parameters
    ----------
    u : np.ndarray
        ``(T,)`` forward ankle position relative to the pelvis (px, body frame).
    height : np.ndarray
        ``(T,)`` ankle height (px, up = +).
    knee_flexion_deg : np.ndarray
        ``(T,)`` knee flexion (deg).
    fps : float
        Frame rate.
    valid : np.ndarray
        ``(T,)`` frames where the runner's ankles and pelvis are known.

    Returns
    -------
    dict
        ``IC``, ``TO`` (int frames: first frame in contact / off the ground),
        ``IC_f``, ``TO_f`` (sub-frame instants, frames), ``mask`` (per-frame
        contact) and ``v_stance`` (px/frame, the velocity method's, NaN if none).
    """
    if method not in EVENT_METHODS or method == "foot":
        raise ValueError(f"unknown event method {method!r} for the ankle track; one of {EVENT_METHODS[:-1]}"
                         " (\"foot\" reads the foot's points: analysis.event_stage)")
    ic, to, ic_f, to_f, mask, v_stance = _velocity_events(u, fps, valid)
    if method == "velocity":
        return {"IC": ic, "TO": to, "IC_f": ic_f, "TO_f": to_f, "mask": mask, "v_stance": v_stance}
    new_ic, new_to = ic_f, to_f
    if method in ("zeni", "velocity+zeni"):
        halves = _interior_half_cycles(u, fps)
        if method == "zeni":
            new_ic = np.array([_parabolic_peak(u, a) for a, _ in halves])
        new_to = np.array([_parabolic_peak(-u, b) for _, b in halves])
    if method == "velocity+fellin":
        # peak knee extension between mid-stance (peak flexion) and a third of a stance after TO
        k = knee_flexion_deg
        out = []
        for a, t in zip(ic, to):
            n = max(2, int(round(0.33 * (t - a))))
            mid = a + int(np.nanargmax(k[a:t])) if np.isfinite(k[a:t]).any() else a
            seg = k[mid:min(t + n, k.size)]
            if seg.size < 3 or not np.isfinite(seg).any():
                continue
            out.append(_parabolic_peak(-k, mid + int(np.nanargmin(seg))))
        new_to = np.array(out)
    if method in ("vertical", "velocity+vertical"):
        vy = np.gradient(height)
        halves = _interior_half_cycles(u, fps)
        period = stride_period_frames(u, fps) or 0.0
        peaks = [np.nanmax(vy[b:min(b + int(0.5 * period) + 1, vy.size)]) for _, b in halves]
        peaks = [p for p in peaks if np.isfinite(p) and p > 0]
        if peaks:
            thr = CONTACT_VELOCITY_FRACTION * float(np.median(peaks))
            ic_v, to_v = [], []
            for a, b in halves:
                ext = int(0.25 * period)
                down = _threshold_crossings(vy, -thr, True, a - ext, a + ext + 1)   # descent ends
                up = _threshold_crossings(vy, thr, True, b - ext, b + ext + 1)      # rise starts
                if down:
                    ic_v.append(down[0])
                if up:
                    to_v.append(up[0])
            new_to = np.array(to_v)
            if method == "vertical":
                new_ic = np.array(ic_v)
    (ic2, to2, mask2), ic_f2, to_f2 = _edges(np.asarray(new_ic, float), np.asarray(new_to, float), valid)
    return {"IC": ic2, "TO": to2, "IC_f": ic_f2, "TO_f": to_f2, "mask": mask2, "v_stance": v_stance}


# --- time scale from the ballistic flight phase ------------------------------------
#: Standard gravity (m/s^2).
G_MPS2 = 9.80665


def flight_segments(contact_left: np.ndarray, contact_right: np.ndarray, valid: np.ndarray,
                    min_frames: int = 3) -> list[tuple[int, int]]:
    """``[start, end)`` frame runs with neither foot in contact (and tracked), at least
    ``min_frames`` long, that are bounded by contact on both sides (a flight, not the
    record's edge or a tracking gap)."""
    air = valid & ~contact_left & ~contact_right
    d = np.diff(np.r_[0, air.astype(np.int8), 0])
    out = []
    for s, e in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):
        if s > 0 and e < air.size and e - s >= min_frames and valid[s - 1] and valid[e]:
            out.append((int(s), int(e)))
    return out


def ballistic_gravity(height_m: np.ndarray, segments: list[tuple[int, int]], fps: float,
                      trim: int = 1) -> tuple[float, float, int]:
    """Apparent gravity (m/s^2, in the clip's time) of the body in flight, and its standard error.

    During flight the centre of mass falls freely: ``h(t) = h0 + v0 t - g t^2 / 2``.
    One least-squares fit over every flight, with its own ``h0`` and ``v0``
    per flight and one common ``g``, on the trunk-centre height ``height_m``
    (m, the runner's own scale). ``trim`` frames at each end of a flight are
    left out (the filtered track still carries the push-off and the landing
    there). Slow motion played at ``k`` times its real duration shows
    ``g / k^2``; so ``capture fps = clip fps * sqrt(9.81 / g_apparent)``.

    Returns ``(g, standard error, samples used)``; NaN where fewer than two
    flights with at least 3 samples each remain.
    """
    rows, ys, groups = [], [], 0
    for s, e in segments:
        idx = np.arange(s + trim, e - trim)
        idx = idx[np.isfinite(height_m[idx])]
        if idx.size < 3:
            continue
        t = (idx - idx.mean()) / fps
        rows.append((groups, t))
        ys.append(height_m[idx])
        groups += 1
    if groups < 2:
        return float("nan"), float("nan"), 0
    # The per-flight h0 and v0 are projected out flight by flight (Frisch-Waugh-Lovell): g is the
    # slope of the flights' height residuals on their -t^2/2 residuals, and its variance
    # s^2 / sum(rq^2) is the same entry of s^2 (A'A)^-1 as the full fit's. The full fit's design
    # matrix has 2 columns per flight, so its least squares grew with the cube of the clip's
    # length (600 s: 140 s of the engine's time); this is linear.
    ry_parts, rq_parts = [], []
    for (_, t), y in zip(rows, ys):
        tc = t - t.mean()
        q = -0.5 * t ** 2
        yc, qc = y - y.mean(), q - q.mean()
        tt = float(tc @ tc)
        ry_parts.append(yc - tc * (float(tc @ yc) / tt))
        rq_parts.append(qc - tc * (float(tc @ qc) / tt))
    ry, rq = np.concatenate(ry_parts), np.concatenate(rq_parts)
    n = ry.size
    dof = n - (2 * groups + 1)
    sqq = float(rq @ rq)
    if dof < 1 or sqq <= 0:
        return float("nan"), float("nan"), n
    g = float(rq @ ry) / sqq
    resid = ry - g * rq
    s2 = float(resid @ resid) / dof
    return g, float(math.sqrt(max(s2 / sqq, 0.0))), n


def step_time_fit(ics: list[tuple[int, float, str]]) -> float | None:
    """Step time (s) as the least-squares slope of IC instant against step number.

    ``ics``: ``(frame, time_s, side)`` of every IC in time order. Runs of
    alternating contacts (a missed contact ends a run) are fitted together
    with one slope and an intercept each. The mean of the step intervals is
    ``(last - first) / n``: only the first and last contact count, so one
    early event at the record's end moves it fully (the shared clip's last IC
    is ~2 frames early: 169.6 spm against the annotation's 168.6); the slope
    weighs every contact (168.4). None without a step.
    """
    runs: list[list[float]] = []
    prev = None
    for _, t, side in ics:
        if prev is None or side == prev:
            runs.append([t])
        else:
            runs[-1].append(t)
        prev = side
    num = den = 0.0
    for r in runs:
        if len(r) < 2:
            continue
        k = np.arange(len(r), dtype=np.float64)
        k -= k.mean()
        tt = np.asarray(r) - np.mean(r)
        num += float(k @ tt)
        den += float(k @ k)
    return num / den if den > 0 else None
