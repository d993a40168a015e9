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
    T = arr.shape[0]
    flat = arr.reshape(T, -1)
    # work on the missing samples only: runs of consecutive NaN per column
    c, r = np.nonzero(~np.isfinite(flat.T))          # column-major: runs are contiguous
    if r.size == 0 or T < 3:
        return arr
    new_run = np.ones(r.size, dtype=bool)
    new_run[1:] = (c[1:] != c[:-1]) | (r[1:] != r[:-1] + 1)
    starts = np.flatnonzero(new_run)
    run = np.cumsum(new_run) - 1
    ends = np.r_[starts[1:], r.size] - 1
    p0 = r[starts][run] - 1                           # last valid frame before the run
    p1 = r[ends][run] + 1                             # first valid frame after it
    fill = (p0 >= 0) & (p1 < T) & (p1 - p0 - 1 <= max_gap_frames)
    if fill.any():
        r, c, p0, p1 = r[fill], c[fill], p0[fill], p1[fill]
        y0, y1 = flat[p0, c], flat[p1, c]
        # np.interp's arithmetic: slope * (x - x0) + y0
        flat[r, c] = (y1 - y0) / (p1 - p0) * (r - p0) + y0
    return arr


#: Sorting networks (pairs compared and exchanged, in order) for the small
#: windows of the running median; checked with the 0-1 principle in the tests
#: (Knuth, TAOCP vol. 3, 5.3.4).
SORTING_NETWORKS: dict[int, tuple[tuple[int, int], ...]] = {
    3: ((0, 2), (0, 1), (1, 2)),
    5: ((0, 1), (3, 4), (2, 4), (2, 3), (1, 4), (0, 3), (0, 2), (1, 3), (1, 2)),
    7: ((0, 6), (2, 3), (4, 5), (0, 2), (1, 4), (3, 6), (0, 1), (2, 5), (3, 4), (1, 2), (4, 6),
        (2, 3), (4, 5), (1, 2), (3, 4), (5, 6)),
}
_MEDIAN_BLOCK_ROWS = 512          # rows per block: the network's working set stays in cache


def median_network(window: int) -> list[tuple[int, int, bool, bool]]:
    """The comparators of ``SORTING_NETWORKS[window]`` that the middle output
    depends on, as ``(i, j, keep_min, keep_max)`` (one side suffices for some)."""
    need, ops = {window // 2}, []
    for i, j in reversed(SORTING_NETWORKS[window]):
        lo, hi = i in need, j in need
        if lo or hi:
            ops.append((i, j, lo, hi))
            need |= {i, j}
    return ops[::-1]


def _running_median_network(flat: np.ndarray, window: int) -> np.ndarray:
    """Running median of finite ``(T, C)`` data (``"nearest"`` edges) by a
    median-selection network, in row blocks that stay in cache: ~2x faster
    than the rank filter for windows up to 7, and the same values."""
    T, C = flat.shape
    h = window // 2
    p = np.concatenate([np.repeat(flat[:1], h, 0), flat, np.repeat(flat[-1:], h, 0)], 0)
    out = np.empty_like(flat)
    ops = median_network(window)
    full = [np.empty((_MEDIAN_BLOCK_ROWS, C)) for _ in range(window)]
    spare = np.empty((_MEDIAN_BLOCK_ROWS, C))
    for s in range(0, T, _MEDIAN_BLOCK_ROWS):
        n = min(_MEDIAN_BLOCK_ROWS, T - s)
        for i in range(window):
            full[i][:n] = p[s + i:s + i + n]
        for i, j, lo, hi in ops:
            a, b = full[i][:n], full[j][:n]
            if lo and hi:
                np.minimum(a, b, out=spare[:n])
                np.maximum(a, b, out=b)
                full[i], spare = spare, full[i]        # the minimum becomes slot i
            elif lo:
                np.minimum(a, b, out=a)
            else:
                np.maximum(a, b, out=b)
        out[s:s + n] = full[h][:n]
    return out


def running_median(series: np.ndarray, window: int) -> np.ndarray:
    """Centred running median along axis 0 (edges repeat the end samples).

    Same values as ``median_filter(series, size=(window, 1, ...), mode="nearest")``
    for finite data: a median-selection network (:data:`SORTING_NETWORKS`) for
    windows 3, 5 and 7, else SciPy's 1-D rank filter (~7x faster than the N-D one)
    in a single call, the columns laid end to end, each padded with ``window // 2``
    copies of its end samples (exactly the ``"nearest"`` boundary of each column).
    Columns with NaN go through the 1-D rank filter one by one.
    """
    arr = np.asarray(series, dtype=np.float64)
    if arr.ndim == 1 or arr.shape[0] == 0:
        return median_filter(arr, size=(window,) + (1,) * (arr.ndim - 1), mode="nearest")
    T = arr.shape[0]
    flat = arr.reshape(T, -1)
    if not np.isfinite(flat).all():
        # NaN makes the rank filter's result depend on the samples before the
        # window, so non-finite columns are filtered one by one, as SciPy would
        out = np.empty_like(flat)
        for j in range(flat.shape[1]):
            out[:, j] = median_filter(np.ascontiguousarray(flat[:, j]), size=window, mode="nearest")
        return out.reshape(arr.shape)
    if window in SORTING_NETWORKS:
        return _running_median_network(flat, window).reshape(arr.shape)
    h = window // 2
    padded = np.empty((flat.shape[1], T + 2 * h))
    padded[:, h:h + T] = flat.T
    padded[:, :h] = flat[:1].T
    padded[:, h + T:] = flat[-1:].T
    out = median_filter(padded.ravel(), size=window, mode="nearest").reshape(padded.shape)
    return np.ascontiguousarray(out[:, h:h + T].T).reshape(arr.shape)


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
    T = arr.shape[0]
    filled = interpolate_gaps(arr, T).reshape(T, -1)
    filled[~np.isfinite(filled)] = 0.0
    C = filled.shape[1]
    med = running_median(filled, window)
    # the two medians below share one call: columns [0, C) are |x - median|,
    # [C, 2C) the |frame-to-frame change| (when the motion floor is used)
    work = np.empty((T, 2 * C if motion_factor else C))
    np.subtract(filled, med, out=work[:, :C])
    if motion_factor:
        # a genuine sample at a turning point lies up to about half-window x
        # per-frame motion away from the window median; the local motion is the
        # running median of |frame-to-frame change| (robust to the outliers themselves)
        work[:1, C:] = 0.0
        np.subtract(filled[1:], filled[:-1], out=work[1:, C:])
    np.abs(work, out=work)
    rm = running_median(work, window)
    thr = rm[:, :C] * (n_sigmas * 1.4826)                       # n_sigmas x 1.4826 x MAD
    if motion_factor:
        floor = rm[:, C:] * (motion_factor * (window // 2))
        np.maximum(floor, min_dev, out=floor)
        np.maximum(thr, floor, out=thr)
    else:
        np.maximum(thr, min_dev, out=thr)
    flat = arr.reshape(T, -1)
    dev = np.subtract(flat, med, out=med)
    np.abs(dev, out=dev)
    flat[dev > thr] = np.nan
    return arr


#: A peak of the autocorrelation at least this fraction of the strongest one is taken
#: as the fundamental period when it comes at a shorter lag (McLeod & Wyvill 2005,
#: "A smarter way to find pitch": the first peak above k x the highest, k 0.8-1.0).
FUNDAMENTAL_PEAK_FRACTION = 0.8


def dominant_period_frames(signal: np.ndarray, min_lag: int, max_lag: int) -> float | None:
    """Fundamental period (frames) of a periodic signal by autocorrelation, within
    ``[min_lag, max_lag]``.

    A signal with period P correlates as well at 2P, 3P, ... as at P, and any
    slower repetition (a looped clip, a drift on the belt) adds peaks at its
    own long lag whose height grows with the record's length (the biased
    estimate scales lag L by ``(n - L) / n``). The strongest peak alone
    therefore jumps to a multiple once a session is long enough (issue 21: a
    6.5 s clip looped 12 times gave the loop, 388 frames, as the stride). The
    fundamental is the shortest-lag peak within
    :data:`FUNDAMENTAL_PEAK_FRACTION` of the strongest.

    Returns ``None`` when the signal is too short or shows no periodicity.
    """
    x = np.asarray(signal, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 2 * max(min_lag, 2):
        return None
    return fundamental_lag(autocorrelations(x[:, None])[:, 0], min_lag, max_lag)


def autocorrelations(columns: np.ndarray) -> np.ndarray:
    """Biased autocorrelation of each column of finite ``(n, C)`` data about its mean,
    normalised to 1 at lag 0 (NaN for a constant column), lags ``0 .. n-1`` (FFT)."""
    x = columns - columns.mean(axis=0)
    n = x.shape[0]
    spec = np.fft.rfft(x, 2 * n, axis=0)
    ac = np.fft.irfft(spec * np.conj(spec), axis=0)[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ac[:1] > 0, ac / ac[:1], np.nan)


def fundamental_lag(ac: np.ndarray, min_lag: int, max_lag: int) -> float | None:
    """The fundamental period (frames, parabola-refined) of a normalised autocorrelation
    ``ac`` (:func:`autocorrelations`) within ``[min_lag, max_lag]``: the shortest-lag peak
    within :data:`FUNDAMENTAL_PEAK_FRACTION` of the strongest (see
    :func:`dominant_period_frames`); None without a peak of at least 0.1."""
    n = ac.size
    if not np.isfinite(ac[0]):
        return None
    hi = min(max_lag, n - 1)
    if hi <= min_lag:
        return None
    peaks, _ = find_peaks(ac[: hi + 1])
    peaks = peaks[peaks >= min_lag]
    if peaks.size == 0:
        return None
    strongest = float(ac[peaks].max())
    if strongest < 0.1:
        return None
    best = int(peaks[np.argmax(ac[peaks] >= FUNDAMENTAL_PEAK_FRACTION * strongest)])
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
    min_lag = max(2, int(0.2 * fps))
    period = dominant_period_frames(a, min_lag, int(15 * fps))
    if period is None:
        return out
    # When the two half-cycles of |d| differ (one limb drawn smaller: the far leg
    # under perspective, or an asymmetric gait), the strongest autocorrelation
    # peak is the stride, two crossings; take the step when |d| also repeats at
    # half that lag.
    half = dominant_period_frames(a, min_lag, int(0.75 * period))
    if half is not None and abs(half - 0.5 * period) < 0.15 * 0.5 * period:
        period = half
    prom = 0.2 * (np.percentile(a, 90) - np.percentile(a, 10))
    minima = _crossings_to_record_edges(a, max(1, int(0.6 * period)), prom)
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


def _crossings_to_record_edges(sep: np.ndarray, distance: int, prominence: float) -> np.ndarray:
    """Frames of the minima of the limb separation ``sep`` (the crossings), to the record's edges.

    ``find_peaks`` needs the rise on both sides of a minimum, so a crossing in the last
    (or first) few frames of a record is not found, and every frame after it is then
    taken as swapped: an edited clip's piece that ends just after the legs pass each
    other had its last frames' legs exchanged, and the stance foot's velocity turned
    into swing (a spurious toe-off 4 frames before the piece's end, on the shared clip
    and on synthetic edits). The minima of the record are kept as they are; to them
    come the minima within ``distance`` of an edge (closer to it than any minimum
    found) that show when the separation is extended by its mirror image at that end,
    so that the rise after a crossing near the edge continues as far as the rise before
    it. Only a minimum that the record itself shows rising again on both sides is a
    crossing: the mirror makes the first and last frame an extremum of its own, which
    is no evidence of one.
    """
    T = sep.size
    inner, _ = find_peaks(-sep, distance=distance, prominence=prominence)
    ext = min(T - 1, 2 * distance)
    found, _ = find_peaks(-np.pad(sep, ext, mode="reflect"), distance=distance, prominence=prominence)
    found = found - ext
    found = np.where(found < 0, -found, found)                    # a mirrored minimum's own frame
    found = np.where(found > T - 1, 2 * (T - 1) - found, found)
    lo = inner[0] - distance if inner.size else T
    hi = inner[-1] + distance if inner.size else -1
    edge = found[(found >= 1) & (found <= T - 2)
                 & (((found < distance) & (found < lo)) | ((found > T - 1 - distance) & (found > hi)))]
    rises = [f for f in edge if sep[:f].max() > sep[f] < sep[f + 1:].max()]
    return np.unique(np.r_[inner, rises]).astype(np.int64)


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


#: Length of the pad at the record ends, in periods of the cut-off. A 2nd-order
#: Butterworth settles (to e^-4) within about one period of its cut-off; two leave the
#: transient ~1e-4 of the step.
PAD_PERIODS = 2.0
#: A track whose linearly detrended values correlate at least this well with themselves one
#: period later is extended at its ends by that period (:func:`periodic_extension`).
PERIODIC_MIN_CORRELATION = 0.6
#: The period that continues a track is measured over this much (s) of its start / end.
PERIOD_WINDOW_S = 30.0


def repeat_periods(columns: np.ndarray, fps: float) -> np.ndarray:
    """Whole frames over which each column of finite ``(n, C)`` tracks repeats (the gait's
    stride or step), 0 where it does not.

    The period is the autocorrelation's fundamental (:func:`fundamental_lag`) of the
    linearly detrended track (an overground runner crosses the frame) between 0.25 s and
    8 s of the clip's time (slow motion stretches strides), accepted where the detrended
    track correlates with itself one period later by at least
    :data:`PERIODIC_MIN_CORRELATION` and the track holds three periods.
    """
    x = np.asarray(columns, dtype=np.float64)
    n, c = x.shape
    out = np.zeros(c, dtype=np.int64)
    if n < max(12, int(0.75 * fps)) or c == 0:
        return out
    t = np.arange(n, dtype=np.float64) - 0.5 * (n - 1)
    xc = x - x.mean(axis=0)
    r = xc - np.outer(t, (t @ xc) / float(t @ t))          # least-squares line removed
    ac = autocorrelations(r)
    lo, hi = max(2, int(0.25 * fps)), min(n // 3, int(8 * fps))
    rows = np.ascontiguousarray(r.T)
    for j in range(c):
        found = fundamental_lag(ac[:, j], lo, hi)
        p = int(round(found)) if found is not None else 0
        if p < 2 or 3 * p > n:
            continue
        a, b = rows[j, :-p], rows[j, p:]
        den = math.sqrt(float(a @ a) * float(b @ b))
        if den > 0 and float(a @ b) / den >= PERIODIC_MIN_CORRELATION:
            out[j] = p
    return out


def periodic_extension(x: np.ndarray, n_pad: int, period_start: int, period_end: int) -> np.ndarray:
    """``x`` with ``n_pad`` samples before and after it: each the sample one period
    later (before the start, ``period_start``) or earlier (after the end, ``period_end``),
    shifted by the track's change over that period, so level and velocity continue at
    the joins.

    Why: an odd (point-symmetric) extension mirrors the velocity about the record's
    end, so a velocity step 2-3 frames from the end (a contact starting or ending there)
    meets its own mirror image and the low-pass flattens both (synthetic edits cut at
    random phases: every IC or TO 1-3 frames from a cut was lost). Running repeats every
    stride (stride-to-stride variation of a few percent), so one stride before the end
    is the best guess of the stride after it, and the velocity steps keep their shape.
    """
    T, p0, p1 = x.size, int(period_start), int(period_end)
    ext = np.empty(T + 2 * n_pad)
    ext[n_pad:n_pad + T] = x
    d_end, d_start = x[-1] - x[-1 - p1], x[p0] - x[0]
    for i in range(n_pad + T, ext.size):
        ext[i] = ext[i - p1] + d_end
    for i in range(n_pad - 1, -1, -1):
        ext[i] = ext[i + p0] - d_start
    return ext


def lowpass(series: np.ndarray, fps: float, cutoff_hz: float, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth low-pass along axis 0, NaN-aware.

    A 2nd-order section filter is run forwards and backwards
    (``scipy.signal.sosfiltfilt``), so the effective order is ``2*order`` with
    no phase lag — event timing is not shifted (Winter 2009, Biomechanics and
    Motor Control of Human Movement, ch. 3). Each run of finite samples is
    filtered separately; runs too short for the filter are left unfiltered.
    The cut-off is clipped to 0.45 * fps.

    Record ends: a run that repeats (:func:`repeat_periods` over its first and last
    :data:`PERIOD_WINDOW_S`: the gait) is extended by its own previous / next period
    (:func:`periodic_extension`), any
    other by its odd (point-symmetric) reflection, which continues the local level
    and slope; either over ``PAD_PERIODS`` periods of the cut-off
    (``PAD_PERIODS * fps / cutoff`` samples). SciPy's default pad is a fixed
    3 * (2 * sections + 1) samples whatever the cut-off and frame rate; for a slow
    filter (the 0.5 Hz pelvis track) that is far shorter than the filter's settling
    time, so the start-up transient of a moving (overground) pelvis leaks into the
    last ~0.5 s of the record, and more so the higher the frame rate.
    """
    arr = np.array(series, dtype=np.float64, copy=True)
    fc = min(cutoff_hz, 0.45 * fps)
    wn = fc / (0.5 * fps)
    sos = butter(order // 2 if order > 2 else 1, wn, btype="low", output="sos")
    flat = arr.reshape(arr.shape[0], -1)
    pad = 3 * (2 * sos.shape[0] + 1)             # shortest run that is filtered
    settle = max(pad, math.ceil(PAD_PERIODS * fps / fc))
    whole = np.isfinite(flat).all(axis=0)
    if flat.shape[0] > pad and whole.any():
        # columns without gaps: one filter call for the repeating ones, one for the rest
        cols = np.flatnonzero(whole)
        _filter_runs(flat, cols, 0, flat.shape[0], sos, settle, fps)
    for j in np.flatnonzero(~whole):
        ok = np.isfinite(flat[:, j])
        edges = np.flatnonzero(np.diff(np.r_[0, ok.astype(int), 0]))
        for s, e in zip(edges[::2], edges[1::2]):
            if e - s > pad:
                _filter_runs(flat, np.array([j]), s, e, sos, settle, fps)
    return arr


def _filter_runs(flat: np.ndarray, cols: np.ndarray, s: int, e: int, sos: np.ndarray, settle: int,
                 fps: float) -> None:
    """:func:`lowpass` of the finite frames ``[s, e)`` of columns ``cols`` of ``flat``, in place."""
    n = e - s
    # the periods at each end (a long session's cadence drifts; and the cost stays bounded)
    window = max(int(PERIOD_WINDOW_S * fps), 1)
    head = repeat_periods(flat[s:min(e, s + window), cols], fps)
    tail = head if n <= window else repeat_periods(flat[e - window:e, cols], fps)
    both = (head > 0) & (tail > 0)
    odd = cols[~both]
    if odd.size:
        flat[s:e, odd] = sosfiltfilt(sos, flat[s:e, odd], axis=0, padlen=min(settle, n - 1))
    rep = np.flatnonzero(both)
    if rep.size:
        ext = np.stack([periodic_extension(flat[s:e, cols[k]], settle, int(head[k]), int(tail[k])) for k in rep],
                       axis=1)
        out = sosfiltfilt(sos, ext, axis=0, padlen=min(settle, ext.shape[0] - 1))
        flat[s:e, cols[rep]] = out[settle:settle + n]


def periodic_mean(series: np.ndarray, period_frames: float) -> np.ndarray:
    """Centred running mean over exactly one (fractional) period, NaN-aware.

    ``mean(t) = (C(t + P/2) - C(t - P/2)) / P`` with ``C`` the running
    integral of the linearly interpolated series, so a component that repeats
    every ``P`` frames (the pelvis's within-step speed fluctuation when ``P``
    is the step period) is removed exactly, while slower motion passes (gain
    ``sinc(f P / fps)``: 84 % at 0.9 Hz for a 0.36 s step). Interior NaN runs
    are interpolated first, leading and trailing ones stay NaN; the ends are
    extended by their odd reflection (level and slope continue), as in
    :func:`lowpass`.
    """
    x = np.array(series, dtype=np.float64, copy=True)
    ok = np.isfinite(x)
    out = np.full_like(x, np.nan)
    if ok.sum() < 3 or not (period_frames and period_frames > 1):
        return x
    i0, i1 = np.flatnonzero(ok)[[0, -1]]
    idx = np.arange(i0, i1 + 1)
    seg = np.interp(idx, np.flatnonzero(ok), x[ok])
    n = seg.size
    pad = min(int(math.ceil(period_frames)) + 1, n - 1)
    ext = np.r_[2 * seg[0] - seg[pad:0:-1], seg, 2 * seg[-1] - seg[-2:-pad - 2:-1]]
    c = np.r_[0.0, np.cumsum(0.5 * (ext[1:] + ext[:-1]))]       # integral at each sample
    pos = np.arange(n) + pad
    h = 0.5 * period_frames
    grid = np.arange(ext.size, dtype=np.float64)
    out[i0:i1 + 1] = (np.interp(pos + h, grid, c) - np.interp(pos - h, grid, c)) / period_frames
    return out
