"""Clean-up of raw pose tracks: gaps, outliers, left/right swaps, low-pass filter.

All functions take and return arrays shaped ``(T, 17, 2)`` (pixel x, y) or
``(T,)`` series with ``NaN`` for unknown values, and never modify their input.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import median_filter
from scipy.signal import butter, find_peaks, sosfiltfilt

from analysis.keypoints import KP

#: Bilateral pairs whose left/right identity can be recovered in a side view
#: from the sign of their horizontal separation (limbs swing past each other).
LIMB_PAIRS: tuple[tuple[int, int], ...] = (
    (KP.LEFT_KNEE, KP.RIGHT_KNEE),
    (KP.LEFT_ANKLE, KP.RIGHT_ANKLE),
    (KP.LEFT_ELBOW, KP.RIGHT_ELBOW),
    (KP.LEFT_WRIST, KP.RIGHT_WRIST),
)


def interpolate_gaps(series: np.ndarray, max_gap_frames: int) -> np.ndarray:
    """Linearly fill interior runs of ``NaN`` no longer than ``max_gap_frames``.

    Parameters
    ----------
    series : np.ndarray
        ``(T, ...)`` array; interpolation runs along axis 0 for every column.
    max_gap_frames : int
        Longest run of missing frames that is filled; longer gaps stay ``NaN``
        (they are reported, not invented). Leading/trailing gaps stay ``NaN``.

    Returns
    -------
    np.ndarray
        Float array of the same shape.
    """
    arr = np.array(series, dtype=np.float64, copy=True)
    flat = arr.reshape(arr.shape[0], -1)
    t = np.arange(arr.shape[0])
    for j in range(flat.shape[1]):
        col = flat[:, j]
        ok = np.isfinite(col)
        if ok.all() or ok.sum() < 2:
            continue
        filled = np.interp(t, t[ok], col[ok])
        # length of the NaN run each frame belongs to
        miss = ~ok
        run_id = np.cumsum(np.r_[True, miss[1:] != miss[:-1]])
        run_len = np.bincount(run_id)[run_id]
        first, last = np.flatnonzero(ok)[[0, -1]]
        fill = miss & (run_len <= max_gap_frames) & (t > first) & (t < last)
        col[fill] = filled[fill]
    return arr


def running_median(series: np.ndarray, window: int) -> np.ndarray:
    """Centred running median along axis 0 (edges repeat the end samples).

    Same values as ``median_filter(series, size=(window, 1, ...), mode="nearest")``,
    computed column by column on contiguous 1-D series, which SciPy's 1-D rank
    filter does ~7x faster than the N-D one.
    """
    arr = np.asarray(series, dtype=np.float64)
    if arr.ndim == 1:
        return median_filter(arr, size=window, mode="nearest")
    cols = np.ascontiguousarray(arr.reshape(arr.shape[0], -1).T)
    out = np.empty_like(cols)
    for j, col in enumerate(cols):
        out[j] = median_filter(col, size=window, mode="nearest")
    return out.T.reshape(arr.shape)


def reject_outliers(series: np.ndarray, window: int = 7, n_sigmas: float = 4.0,
                    min_dev: float = 0.0, motion_factor: float = 0.0) -> np.ndarray:
    """Hampel filter: set samples far from their running median to ``NaN``.

    A sample is an outlier when ``|x - median| > n_sigmas * 1.4826 * MAD`` in a
    centred window of ``window`` frames (Pearson et al. 2016, "Generalized
    Hampel filters", EURASIP J. Adv. Signal Process.). ``min_dev`` is a floor
    on the tolerated deviation (same unit as ``series``) so that jitter on a
    nearly constant track is not rejected.

    Returns
    -------
    np.ndarray
        Copy of ``series`` with outliers replaced by ``NaN``; mask of outliers
        is ``np.isnan(out) & ~np.isnan(series)``.
    """
    arr = np.array(series, dtype=np.float64, copy=True)
    filled = interpolate_gaps(arr, arr.shape[0])
    filled = np.where(np.isfinite(filled), filled, 0.0)
    med = running_median(filled, window)
    mad = running_median(np.abs(filled - med), window)
    floor = min_dev
    if motion_factor:
        # a genuine sample at a turning point lies up to about half-window x
        # per-frame motion away from the window median; the local motion is the
        # running median of |frame-to-frame change| (robust to the outliers themselves)
        step = np.abs(np.diff(filled, axis=0, prepend=filled[:1]))
        floor = np.maximum(min_dev, motion_factor * (window // 2) * running_median(step, window))
    bad = np.abs(arr - med) > np.maximum(n_sigmas * 1.4826 * mad, floor)
    arr[bad] = np.nan
    return arr


def dominant_period_frames(signal: np.ndarray, min_lag: int, max_lag: int) -> float | None:
    """Period (frames) of the strongest autocorrelation peak within ``[min_lag, max_lag]``.

    Returns ``None`` when the signal is too short or shows no periodicity.
    """
    x = np.asarray(signal, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 2 * max(min_lag, 2):
        return None
    x = x - x.mean()
    n = x.size
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    if ac[0] <= 0:
        return None
    ac = ac / ac[0]
    hi = min(max_lag, n - 1)
    if hi <= min_lag:
        return None
    peaks, _ = find_peaks(ac[: hi + 1])
    peaks = peaks[peaks >= min_lag]
    if peaks.size == 0:
        return None
    best = peaks[np.argmax(ac[peaks])]
    if ac[best] < 0.1:
        return None
    # parabolic refinement
    if 0 < best < hi:
        y0, y1, y2 = ac[best - 1], ac[best], ac[best + 1]
        den = y0 - 2 * y1 + y2
        if den != 0:
            return float(best + 0.5 * (y0 - y2) / den)
    return float(best)


def swap_mask_for_pair(left_x: np.ndarray, right_x: np.ndarray, fps: float,
                       ambiguous_px: float = 0.0) -> np.ndarray:
    """Frames in which a bilateral pair is labelled the wrong way round.

    Side-view method (ours): the horizontal separation ``d = x_L - x_R`` of two
    limbs that swing past each other is a smooth oscillation that changes sign
    once per step. Its magnitude ``|d|`` does not depend on the labels, so the
    crossings are found as the minima of the median-filtered ``|d|`` (one per
    step, spaced by the autocorrelation period); between crossings the true
    sign is constant and alternates. The global sign is the one that agrees
    with the detector's labels in most frames. A frame is swapped when its
    labelled sign disagrees with the reconstructed one and ``|d|`` exceeds
    ``ambiguous_px`` (near a crossing the labels do not matter).

    Returns
    -------
    np.ndarray
        Boolean ``(T,)`` mask, ``True`` where the pair should be exchanged.
    """
    d = np.asarray(left_x, float) - np.asarray(right_x, float)
    T = d.size
    out = np.zeros(T, dtype=bool)
    ok = np.isfinite(d)
    if ok.sum() < max(10, int(fps)):
        return out
    a = interpolate_gaps(np.abs(d), T)
    a = np.where(np.isfinite(a), a, np.nanmedian(a))
    a = median_filter(a, size=5, mode="nearest")
    # one crossing per step; steps last 0.25 .. 1.5 s
    period = dominant_period_frames(a, max(2, int(0.2 * fps)), int(15 * fps))
    if period is None:
        return out
    prom = 0.2 * (np.percentile(a, 90) - np.percentile(a, 10))
    minima, _ = find_peaks(-a, distance=max(1, int(0.6 * period)), prominence=prom)
    seg = np.searchsorted(minima, np.arange(T), side="right")
    sign = np.where(seg % 2 == 0, 1.0, -1.0)
    agree = np.nansum(np.sign(d[ok]) == sign[ok])
    if agree < ok.sum() / 2:
        sign = -sign
    out = ok & (np.sign(d) != sign) & (np.abs(d) > ambiguous_px)
    # frames adjacent to a crossing are ambiguous: keep the detector's labels
    near = np.zeros(T, dtype=bool)
    near[np.clip(minima, 0, T - 1)] = True
    out &= ~near
    return out


def repair_swaps(xy: np.ndarray, fps: float, facing_x: float = 1.0) -> tuple[np.ndarray, int]:
    """Repair left/right label swaps of legs and arms in a side view.

    Knees and ankles are decided together (a leg swaps as a whole; the hip
    follows the leg), elbows and wrists together; see
    :func:`swap_mask_for_pair` for the method.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, 17, 2)`` pixel coordinates with ``NaN`` for missing points.
    fps : float
        Frame rate (frames/s).
    facing_x : float
        Unused for the decision (kept for symmetry of the API); the method is
        independent of the running direction.

    Returns
    -------
    tuple[np.ndarray, int]
        Repaired copy of ``xy`` and the number of frames in which any pair was
        exchanged.
    """
    out = np.array(xy, dtype=np.float64, copy=True)
    any_swap = np.zeros(out.shape[0], dtype=bool)
    groups = (
        ((KP.LEFT_KNEE, KP.LEFT_ANKLE, KP.LEFT_HIP), (KP.RIGHT_KNEE, KP.RIGHT_ANKLE, KP.RIGHT_HIP)),
        ((KP.LEFT_ELBOW, KP.LEFT_WRIST), (KP.RIGHT_ELBOW, KP.RIGHT_WRIST)),
    )
    for left, right in groups:
        # decide on the distal point (largest separation), check with the middle one
        m_dist = swap_mask_for_pair(xy[:, left[1], 0], xy[:, right[1], 0], fps)
        m_mid = swap_mask_for_pair(xy[:, left[0], 0], xy[:, right[0], 0], fps)
        for li, ri, m in ((left[1], right[1], m_dist), (left[0], right[0], m_mid)):
            out[m, li], out[m, ri] = xy[m, ri], xy[m, li]
        if len(left) > 2:  # hips follow the leg's distal decision
            m = m_dist
            out[m, left[2]], out[m, right[2]] = xy[m, right[2]], xy[m, left[2]]
        any_swap |= m_dist | m_mid
    return out, int(any_swap.sum())


#: Length of the odd-reflection pad at the record ends, in periods of the cut-off.
#: A 2nd-order Butterworth settles (to e^-4) within about one period of its
#: cut-off; two leave the transient ~1e-4 of the step.
PAD_PERIODS = 2.0


def lowpass(series: np.ndarray, fps: float, cutoff_hz: float, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth low-pass along axis 0, NaN-aware.

    A 2nd-order section filter is run forwards and backwards
    (``scipy.signal.sosfiltfilt``), so the effective order is ``2*order`` with
    no phase lag — event timing is not shifted (Winter 2009, Biomechanics and
    Motor Control of Human Movement, ch. 3). Each run of finite samples is
    filtered separately; runs too short for the filter are left unfiltered.
    The cut-off is clipped to 0.45 * fps.

    Record ends: each run is extended by its odd (point-symmetric) reflection,
    which continues the local level and slope, over ``PAD_PERIODS`` periods
    of the cut-off (``PAD_PERIODS * fps / cutoff`` samples, at most the run
    length - 1). SciPy's default pad is a fixed 3 * (2 * sections + 1)
    samples whatever the cut-off and frame rate; for a slow filter (the
    0.5 Hz pelvis track) that is far shorter than the filter's settling time,
    so the start-up transient of a moving (overground) pelvis leaks into the
    last ~0.5 s of the record, and more so the higher the frame rate.
    """
    arr = np.array(series, dtype=np.float64, copy=True)
    fc = min(cutoff_hz, 0.45 * fps)
    wn = fc / (0.5 * fps)
    sos = butter(order // 2 if order > 2 else 1, wn, btype="low", output="sos")
    flat = arr.reshape(arr.shape[0], -1)
    ok_all = np.isfinite(flat).all(axis=1)
    pad = 3 * (2 * sos.shape[0] + 1)             # shortest run that is filtered
    settle = max(pad, int(math.ceil(PAD_PERIODS * fps / fc)))

    def padlen(n: int) -> int:
        return min(settle, n - 1)

    if ok_all.all() and flat.shape[0] > pad:
        return sosfiltfilt(sos, flat, axis=0, padlen=padlen(flat.shape[0])).reshape(arr.shape)
    for j in range(flat.shape[1]):
        col = flat[:, j]
        ok = np.isfinite(col)
        edges = np.flatnonzero(np.diff(np.r_[0, ok.astype(int), 0]))
        for s, e in zip(edges[::2], edges[1::2]):
            if e - s > pad:
                col[s:e] = sosfiltfilt(sos, col[s:e], padlen=padlen(e - s))
    return arr
