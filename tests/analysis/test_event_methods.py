"""Building blocks of the event methods: the step-period pelvis mean, the stance run, the methods."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from analysis.cleaning import periodic_mean
from analysis.engine import RunnerProfile, analyze
from analysis.events import EVENT_METHODS, longest_run
from analysis.synthetic import make_session
from tests.engine_params import ENGINE_PARAMS


def test_periodic_mean_removes_a_component_of_that_period_and_keeps_slow_motion():
    t = np.arange(600, dtype=float)
    P = 21.35                                               # a fractional step period (frames)
    slow = 0.5 * t + 40 * np.sin(2 * np.pi * t / 400)
    x = slow + 10 * np.sin(2 * np.pi * t / P) + 4 * np.cos(4 * np.pi * t / P)
    m = periodic_mean(x, P)
    inner = slice(30, -30)
    gain = np.sinc(P / 400)                                 # the boxcar's gain at the slow frequency
    expected = 0.5 * t + 40 * gain * np.sin(2 * np.pi * t / 400)
    np.testing.assert_allclose(m[inner], expected[inner], atol=0.05)
    assert np.isnan(periodic_mean(np.r_[np.nan, x[1:]], P)[0])


@pytest.mark.parametrize("below,gap,expected", [
    ([0, 1, 1, 1, 0, 0], 0, (1, 4)),
    ([1, 0, 1, 1, 1, 1, 0, 1], 1, (0, 6)),      # the rebound before the longest run is merged ...
    ([1, 1, 1, 1, 0, 1], 1, (0, 4)),            # ... a dip after it is not
    ([1, 0, 0, 1, 1, 1], 1, (3, 6)),
    ([0, 0, 0], 2, (0, 0)),
])
def test_longest_run(below, gap, expected):
    assert longest_run(np.array(below, bool), gap) == expected


@pytest.mark.parametrize("method", EVENT_METHODS)
def test_every_method_finds_both_feet_contacts_on_clean_kinematics(method):
    s = make_session(fps=120.0, duration_s=6.0, noise_px=0.5)
    sa = analyze(s.keypoints, s.fps, RunnerProfile(height_m=1.75), params=replace(ENGINE_PARAMS, event_method=method),
                 foot_points=s.foot_points)     # read by "foot" only
    for side in ("left", "right"):
        n_true = sum(0.3 * s.fps <= f < s.keypoints.shape[0] - 0.3 * s.fps for f in s.events[side]["IC"])
        n = sum(e.kind == "IC" and e.side == side for e in sa.events)
        assert n >= n_true - 1, (side, n, n_true)


def test_unknown_method_is_refused():
    s = make_session(duration_s=3.0)
    with pytest.raises(ValueError, match="unknown event method"):
        analyze(s.keypoints, s.fps, params=replace(ENGINE_PARAMS, event_method="magic"))


def test_step_time_fit_weighs_every_contact_and_survives_a_missed_one():
    from analysis.events import step_time_fit

    t = 0.1 + 0.35 * np.arange(12)
    sides = ["left", "right"] * 6
    ics = [(0, x, s) for x, s in zip(t, sides)]
    assert step_time_fit(ics) == pytest.approx(0.35, abs=1e-12)
    # the last contact 30 ms early: the mean interval moves by 30/11 ms, the fit by ~8 ms less
    late = ics[:-1] + [(0, t[-1] - 0.03, sides[-1])]
    mean_interval = (late[-1][1] - late[0][1]) / 11
    assert abs(step_time_fit(late) - 0.35) < 0.6 * abs(mean_interval - 0.35)
    # a missed contact (two lefts in a row) splits the runs instead of making a 0.70 s step
    missed = ics[:5] + ics[6:]
    assert step_time_fit(missed) == pytest.approx(0.35, abs=1e-12)
    assert step_time_fit(ics[:1]) is None
