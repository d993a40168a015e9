"""Numerical building blocks of the clean-up against their reference implementations."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.ndimage import median_filter

from analysis.cleaning import SORTING_NETWORKS, interpolate_gaps, running_median


@pytest.mark.parametrize("n", sorted(SORTING_NETWORKS))
def test_sorting_networks_sort_every_01_input(n):
    """0-1 principle: a comparator network sorts every input iff it sorts every 0/1 input."""
    for bits in itertools.product((0, 1), repeat=n):
        v = list(bits)
        for i, j in SORTING_NETWORKS[n]:
            v[i], v[j] = min(v[i], v[j]), max(v[i], v[j])
        assert v == sorted(bits)


@pytest.mark.parametrize("window", [3, 5, 7, 9])
@pytest.mark.parametrize("T", [1, 2, 6, 511, 512, 513, 1300])
def test_running_median_equals_scipy(window, T):
    rng = np.random.default_rng(T + window)
    x = np.round(rng.normal(size=(T, 4, 2)), 1)          # ties included
    assert np.array_equal(running_median(x, window),
                          median_filter(x, size=(window, 1, 1), mode="nearest"))
    # non-finite input takes the rank-filter path: same as SciPy's 1-D filter per column
    x[rng.random(x.shape) < 0.05] = np.nan
    cols = x.reshape(T, -1)
    ref = np.stack([median_filter(c, size=window, mode="nearest") for c in cols.T], 1).reshape(x.shape)
    assert np.array_equal(running_median(x, window), ref, equal_nan=True)


def _interpolate_gaps_reference(series, max_gap_frames):
    """Column-by-column np.interp (the previous implementation)."""
    arr = np.array(series, dtype=np.float64, copy=True)
    flat = arr.reshape(arr.shape[0], -1)
    t = np.arange(arr.shape[0])
    for j in range(flat.shape[1]):
        col = flat[:, j]
        ok = np.isfinite(col)
        if ok.all() or ok.sum() < 2:
            continue
        filled = np.interp(t, t[ok], col[ok])
        miss = ~ok
        run_id = np.cumsum(np.r_[True, miss[1:] != miss[:-1]])
        run_len = np.bincount(run_id)[run_id]
        first, last = np.flatnonzero(ok)[[0, -1]]
        fill = miss & (run_len <= max_gap_frames) & (t > first) & (t < last)
        col[fill] = filled[fill]
    return arr


def test_interpolate_gaps_bit_identical_to_np_interp():
    rng = np.random.default_rng(0)
    for _ in range(500):
        T = int(rng.integers(1, 60))
        shape = (T,) + tuple(rng.integers(1, 4, int(rng.integers(0, 3))))
        x = rng.normal(size=shape) * 100
        x[rng.random(shape) < rng.random() * 0.8] = np.nan
        gap = int(rng.integers(0, 8))
        assert np.array_equal(interpolate_gaps(x, gap), _interpolate_gaps_reference(x, gap), equal_nan=True)
