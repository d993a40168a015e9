"""analysis/metrics.py: every metric function against hand-computed values, scalar and array.

Each row names the function, its arguments and the value worked out by hand (the
arithmetic is in the comment); the array form must give the same numbers element-wise.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import metrics as m

NAN = float("nan")
SERIES = np.array([0.0, 10.0, 30.0, 20.0, np.nan, 5.0, 15.0, 25.0])   # a frame series with a gap at 4

CASES = [
    # (function, args, expected)                                         hand computation
    (m.contact_time_s, (1.25, 1.53), 0.28),                               # 1.53 - 1.25
    (m.flight_time_s, (1.53, 1.61), 0.08),                                # 1.61 - 1.53
    (m.flight_time_s, (1.53, 1.50), 0.0),                                 # double support -> 0
    (m.flight_time_s, (1.53, NAN), NAN),                                  # no contralateral IC
    (m.step_time_s, (1.25, 1.61), 0.36),
    (m.stride_time_s, (1.25, 1.96), 0.71),
    (m.cadence_spm, (0.36,), 60 / 0.36),                                  # 166.67 steps/min
    (m.cadence_spm, (0.0,), NAN),
    (m.duty_factor, (0.28, 0.70), 0.4),
    (m.duty_factor, (0.28, 0.0), NAN),
    (m.balance_pct, (0.30, 0.20), 60.0),                                  # 100 * 0.3 / 0.5
    (m.balance_pct, (0.0, 0.0), NAN),
    (m.stride_length_m, (3.0, 0.7), 2.1),
    (m.pace_min_per_km, (3.0,), 1000 / 60 / 3.0),                         # 5:33.3 min/km
    (m.pace_min_per_km, (0.0,), NAN),
    (m.minetti_cost_j_per_kg_m, (0.0,), 3.6),                             # C(0)
    (m.minetti_cost_j_per_kg_m, (math.degrees(math.atan(0.1)),),          # i = 0.1
     155.4e-5 - 30.4e-4 - 43.3e-3 + 46.3e-2 + 1.95 + 3.6),
    (m.minetti_cost_j_per_kg_m, (45.0,),                                  # i = 1 is clipped to 0.45
     155.4 * .45**5 - 30.4 * .45**4 - 43.3 * .45**3 + 46.3 * .45**2 + 19.5 * .45 + 3.6),
    (m.metabolic_power_w, (3.0, 70.0, 0.0), 3.6 * 70 * 3.0),              # 756 W
    (m.metabolic_power_w, (3.0, None, 0.0), NAN),
    (m.normalized_power_w_per_kg, (3.0, 0.0), 10.8),
    (m.overground_speed_mps, (np.array([0.0, 0, 0, 400, 800]), 1, 4, 60.0, 400.0), 40.0),  # 2 m in 3/60 s
    (m.overground_speed_mps, (np.array([0.0, 0, 0]), 2, 2, 60.0, 400.0), NAN),
    (m.contact_angle_deg, (np.array([0.0, 1.0]), np.array([0.3, 0.1])), math.degrees(math.atan2(0.3, 0.9))),
    (m.contact_angle_deg, (np.array([0.0, 1.0]), np.array([0.0, 0.1])), 0.0),   # ankle under the hip
    (m.knee_flexion_deg, (SERIES, 1, 4), 30.0),                           # max of 10, 30, 20 (TO excluded)
    (m.knee_flexion_deg, (SERIES, 4, 5), NAN),                            # only the gap
    (m.ankle_angle_at_ic_deg, (SERIES, 6), 15.0),
    (m.posture_angle_deg, (SERIES, 3, 5), 12.5),                          # mean of 20, 5 (gap ignored)
    (m.com_oscillation_m, (SERIES, 0, 3), 30.0),                          # 30 - 0
    (m.com_oscillation_m, (SERIES, 4, 5), NAN),                           # one finite sample
    (m.stride_angle_deg, (SERIES, SERIES[::-1].copy(), 0, 1), 25.0),      # |0-25|, |10-15|
    (m.mean_height_m, (SERIES, 5, 7), 15.0),                              # mean of 5, 15, 25
]


def _same(a, b) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("fn, args, expected", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_metric_by_hand(fn, args, expected):
    got = fn(*args)
    assert isinstance(got, float)
    assert _same(got, expected), (got, expected)


# functions whose per-stride arguments may be arrays: their positions in ``args``
ARRAY_ARGS = {m.contact_time_s: (0, 1), m.flight_time_s: (0, 1), m.step_time_s: (0, 1), m.stride_time_s: (0, 1),
              m.cadence_spm: (0,), m.duty_factor: (0, 1), m.balance_pct: (0, 1), m.stride_length_m: (0, 1),
              m.pace_min_per_km: (0,), m.metabolic_power_w: (0,), m.normalized_power_w_per_kg: (0,),
              m.overground_speed_mps: (1, 2), m.knee_flexion_deg: (1, 2), m.ankle_angle_at_ic_deg: (1,),
              m.posture_angle_deg: (1, 2), m.com_oscillation_m: (1, 2), m.stride_angle_deg: (2, 3),
              m.mean_height_m: (1, 2)}


@pytest.mark.parametrize("fn", list(ARRAY_ARGS), ids=lambda f: f.__name__)
def test_array_in_array_out(fn):
    """All hand cases of a function at once, as arrays: the same values element-wise."""
    cases = [(args, exp) for f, args, exp in CASES if f is fn]
    first = cases[0][0]
    # only cases that share the non-array arguments can be stacked
    fixed = [i for i in range(len(first)) if i not in ARRAY_ARGS[fn]]
    cases = [(a, e) for a, e in cases
             if all(a[i] is first[i] or (np.ndim(a[i]) == 0 and a[i] == first[i]) for i in fixed)]
    stacked = [np.array([a[i] for a, _ in cases]) if i in ARRAY_ARGS[fn] else first[i] for i in range(len(first))]
    got = fn(*stacked)
    assert isinstance(got, np.ndarray) and got.shape == (len(cases),)
    for g, (_, e) in zip(got, cases):
        assert _same(float(g), e)


def test_treadmill_speed_window_by_hand():
    """Stance 0..20 (n = 20): window frames 2..14; the ankle moves back 4 px/frame at 60 fps, 400 px/m."""
    x = 1000.0 - 4.0 * np.arange(30)
    assert m.treadmill_speed_mps(x, 0, 20, 60.0, 400.0) == pytest.approx(4 * 60 / 400, rel=1e-12)   # 0.6 m/s
    x_gap = x.copy()
    x_gap[3:15] = np.nan                                    # one finite sample left in the window
    got = m.treadmill_speed_mps(x_gap, np.array([0, 0]), np.array([20, 2]), 60.0, 400.0)
    assert np.isnan(got).all()                              # too few samples / too short a stance
    both = m.treadmill_speed_mps(x, np.array([0, 5]), np.array([20, 25]), 60.0, 400.0)
    assert both == pytest.approx([0.6, 0.6], rel=1e-12)


@pytest.mark.parametrize("own, other, side, near, expected", [
    (3.0, 2.5, "right", "right", 3.0),      # the near foot's own stance
    (2.5, 3.0, "left", "right", 3.0),       # a far-leg stride reads the near foot's stance in it
    (NAN, 2.9, "right", "right", 2.9),      # near stance missing: the other one
    (3.0, 2.6, "left", None, 2.8),          # no near leg: the mean
    (NAN, 2.6, "left", None, 2.6),
])
def test_treadmill_belt_speed_by_hand(own, other, side, near, expected):
    assert m.treadmill_belt_speed_mps(own, other, side, near) == pytest.approx(expected, rel=1e-12)


def test_treadmill_belt_speed_arrays():
    got = m.treadmill_belt_speed_mps(np.array([3.0, 2.5, np.nan]), np.array([2.5, 3.0, 2.9]),
                                     np.array(["right", "left", "right"]), "right")
    assert got == pytest.approx([3.0, 3.0, 2.9], rel=1e-12)


@pytest.mark.parametrize("shank, expected", [(12.0, "rearfoot"), (8.0, "midfoot"), (0.0, "midfoot"),
                                             (-0.1, "forefoot"), (NAN, None)])
def test_footstrike_proxy_thresholds(shank, expected):
    assert m.footstrike_proxy(shank) == expected
    assert m.footstrike_proxy(np.array([shank, 12.0])) == [expected, "rearfoot"]


def test_segment_statistics_by_hand():
    x = np.array([1.0, np.nan, 3.0, 5.0])
    assert m.segment_reduce(np.add, x, np.array([2, 0]), np.array([4, 1])).tolist() == [8.0, 1.0]
    mean, n = m.segment_nanmean(x, np.array([0, 1]), np.array([3, 2]))
    assert mean[0] == 2.0 and np.isnan(mean[1]) and n.tolist() == [2.0, 0.0]
    assert m.segment_reduce(np.add, x, np.array([], dtype=np.int64), np.array([], dtype=np.int64)).size == 0
