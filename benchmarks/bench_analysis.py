"""Gait engine throughput (frames/s) on a long synthetic session, against the 100k frames/s goal."""
from __future__ import annotations

import warnings

from benchmarks.common import Timer, emit

GOAL_FPS = 100_000


def run(args) -> dict:
    from analysis.engine import RunnerProfile, analyze
    from analysis.synthetic import make_session

    duration = args.duration or (60 if args.quick else 600)
    s = make_session(duration_s=duration, noise_px=1.0, gap_rate=0.005, seed=1)
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(args.repeat or 3):
            with Timer() as t:
                analyze(s.keypoints, s.fps, RunnerProfile(weight_kg=70))
            times.append(t.s)
    n = s.keypoints.shape[0]
    fps = n / min(times)
    return emit({"benchmark": "analysis", "frames": n, "duration_s": duration, "best_s": round(min(times), 4),
                 "fps": round(fps), "goal_fps": GOAL_FPS, "ratio": round(fps / GOAL_FPS, 3)}, args.out)
