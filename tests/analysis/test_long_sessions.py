"""Long sessions on real keypoints (issue 21).

The shared clip's stored detections (6.5 s, 388 frames at 60 fps) tiled up to
ten minutes. Before the fix the autocorrelation period search took the
strongest peak over up to 30 s of lag; past ~12 copies the loop itself (388
frames) out-correlated the stride and the session came back at 9.6 steps/min,
flagged as slow motion. Each seam adds one artificial step, so per-copy counts
settle from two copies on; nothing else may change with the length.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from analysis.cleaning import dominant_period_frames
from analysis.engine import RunnerProfile, analyze
from analysis.tracking import select_runner
from tests.analysis.conftest import TREADMILL_FPS
from tests.engine_params import ENGINE_PARAMS

TEN_MINUTES_COPIES = 93  # 93 x 388 frames = 601 s at 60 fps


@pytest.fixture(scope="module")
def runner_keypoints(treadmill_stored_detections) -> np.ndarray:
    return select_runner(*treadmill_stored_detections).keypoints.astype(float)


def _analyse(kp: np.ndarray, copies: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return analyze(np.tile(kp, (copies, 1, 1)), TREADMILL_FPS, RunnerProfile(height_m=1.75), params=ENGINE_PARAMS)


@pytest.fixture(scope="module")
def one_copy(runner_keypoints):
    return _analyse(runner_keypoints, 1)


@pytest.fixture(scope="module")
def two_copies(runner_keypoints):
    return _analyse(runner_keypoints, 2)


@pytest.mark.parametrize("copies", [12, 18, 30, TEN_MINUTES_COPIES])
def test_tiled_real_keypoints_keep_their_gait(runner_keypoints, one_copy, two_copies, copies):
    r = _analyse(runner_keypoints, copies)
    s, q = r.summary, r.quality
    assert s.cadence_spm == pytest.approx(one_copy.summary.cadence_spm, rel=0.01)
    assert not q.implausible_timing and q.suggested_capture_fps is None
    # strides proportional to the length (two copies: one seam stride per copy)
    per_copy = len(r.strides) / copies
    assert per_copy == pytest.approx(len(two_copies.strides) / 2, rel=0.06)
    assert q.flight_share == pytest.approx(one_copy.quality.flight_share, abs=0.03)
    assert s.duty_factor == pytest.approx(one_copy.summary.duty_factor, abs=0.02)
    # the swap repair does not drift with the length (it flipped ~94 % of frames)
    assert q.swaps_repaired / copies <= 1.2 * two_copies.quality.swaps_repaired / 2


def test_period_is_the_fundamental_not_a_long_repetition():
    """A noisy 43-frame cycle whose 388-frame block repeats exactly: the loop's lag
    correlates better than the cycle's once the record is long, the period is
    still 43."""
    rng = np.random.default_rng(3)
    t = np.arange(388)
    block = np.sin(2 * np.pi * t / 43.0) + 0.35 * rng.standard_normal(t.size)
    for copies in (1, 4, 20, 60):
        period = dominant_period_frames(np.tile(block, copies), 24, 1800)
        assert period == pytest.approx(43.0, abs=1.0), (copies, period)


def test_slow_motion_period_is_still_found():
    """The fundamental rule must not cut a genuinely long period short."""
    t = np.arange(6000)
    x = np.sin(2 * np.pi * t / 344.0) + 0.2 * np.sin(2 * np.pi * t / 114.7 + 1.0)
    assert dominant_period_frames(x, 24, 1800) == pytest.approx(344.0, abs=2.0)
