"""Gait engine throughput (frames/s) on long sessions, against the 100k frames/s goal.

Two inputs of the same length, timed in one run: a synthetic session
(``analysis.synthetic``) and the shared treadmill clip's real stored detections
tiled to that length (real pose noise, swaps and gaps: issue 21's collapse
past ~4,000 frames never showed on synthetic kinematics). Each is also timed
at a tenth of the length so that ``linearity`` (time per frame long / short)
shows whether the engine stays linear; the real input reports its cadence at
both lengths, which must agree.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from benchmarks.common import ENGINE_PARAMS, REPO, Timer, emit

GOAL_FPS = 100_000
FPS = 60.0
STORED_DETECTIONS = REPO / "tests" / "analysis" / "data" / "treadmill-side-60fps.detections.npz"


def _synthetic(n_frames: int) -> np.ndarray:
    from analysis.synthetic import make_session

    return make_session(duration_s=n_frames / FPS, noise_px=1.0, gap_rate=0.005, seed=1).keypoints


def _tiled_real(n_frames: int, path: Path = STORED_DETECTIONS) -> np.ndarray:
    from analysis.tracking import select_runner
    from tasks.detect import Detections

    kp = select_runner(*Detections.from_bytes(path.read_bytes()).per_frame()).keypoints.astype(float)
    return np.tile(kp, (int(np.ceil(n_frames / kp.shape[0])), 1, 1))[:n_frames]


def _best(kp: np.ndarray, repeat: int) -> tuple[float, float | None]:
    from analysis.engine import RunnerProfile, analyze

    times, cadence = [], None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeat):
            with Timer() as t:
                r = analyze(kp, FPS, RunnerProfile(weight_kg=70, height_m=1.75), params=ENGINE_PARAMS)
            times.append(t.s)
            cadence = r.summary.cadence_spm
    return min(times), cadence


def run(args) -> dict:
    duration = args.duration or (60 if args.quick else 600)
    n = int(round(duration * FPS))
    repeat = args.repeat or 3
    out: dict = {"benchmark": "analysis", "frames": n, "duration_s": duration}
    for name, make in (("synthetic", _synthetic), ("real_tiled", _tiled_real)):
        long_s, long_cad = _best(make(n), repeat)
        short_s, short_cad = _best(make(n // 10), repeat)
        out[f"{name}_best_s"] = round(long_s, 4)
        out[f"{name}_fps"] = round(n / long_s)
        out[f"{name}_linearity"] = round((long_s / n) / (short_s / (n // 10)), 2)
        if name == "real_tiled":
            out["real_tiled_cadence_spm"] = None if long_cad is None else round(long_cad, 2)
            out["real_tiled_short_cadence_spm"] = None if short_cad is None else round(short_cad, 2)
    fps = min(out["synthetic_fps"], out["real_tiled_fps"])
    return emit({**out, "fps": fps, "goal_fps": GOAL_FPS, "ratio": round(fps / GOAL_FPS, 3)}, args.out)
