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

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from analysis.cleaning import dominant_period_frames

#: Fraction of the stance velocity that separates contact from swing.
CONTACT_VELOCITY_FRACTION = 0.5


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
        w = np.flatnonzero(v[a:b + 1] <= thr)
        if w.size:
            mask[a + w[0]: a + w[-1] + 1] = True
    return mask, v_stance


def events_from_mask(mask: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IC (rising edges) and TO (falling edges) frames of a contact mask.

    An edge counts only when both frames around it are valid (tracked), so the
    record boundaries and tracking gaps never create events. TO is the first
    frame off the ground.
    """
    m = mask.astype(np.int8)
    d = np.diff(m)
    ok = valid[:-1] & valid[1:]
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
