"""The engine's time grows linearly with the session's length.

A 10-minute session took 140 s (2026-12-07) because two stages were superlinear: the
ballistic-gravity fit solved one least-squares problem with two columns per flight
(cubic in the length) and the timing check scanned every event for every event
(quadratic). The ratio of two lengths in one run is robust to a loaded machine.
"""
from __future__ import annotations

import time
import warnings

from analysis.engine import RunnerProfile, analyze
from analysis.synthetic import make_session
from tests.engine_params import ENGINE_PARAMS


def _best_time(duration_s: float, repeat: int = 2) -> float:
    s = make_session(duration_s=duration_s, noise_px=1.0, gap_rate=0.005, seed=1)
    best = float("inf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeat):
            started = time.perf_counter()
            analyze(s.keypoints, s.fps, RunnerProfile(weight_kg=70), params=ENGINE_PARAMS)
            best = min(best, time.perf_counter() - started)
    return best


def test_four_times_longer_takes_at_most_about_four_times_longer():
    short, long = _best_time(60), _best_time(240)
    # linear: 4x; the quadratic stage alone made it ~16x, the cubic fit ~64x
    assert long / short < 8, (short, long)
