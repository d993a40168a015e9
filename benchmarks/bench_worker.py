"""Fixed cost per session: a cold one-shot ``gaitlake process`` vs the warm ``gaitlake worker``.

Same clip (the first 3 s of the treadmill video, remuxed), same settings, one run.
*Fixed cost* is everything but the work itself: a session's wall time minus
its decode+pose (``detect``), ``analyse`` and ``render`` stages, as recorded in
``<data_dir>/logs/sessions.jsonl``. Cold: the one-shot command from start to
exit (interpreter, imports, the ephemeral Prefect server, local Ray, model
load...). Warm: ``--sessions`` sessions queued for one worker; the first one
warms it up and is left out; the others' claim-to-done time.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, emit, machine, video_path
from tasks.video import remux_first_seconds

WORK_STAGES = ("detect_s", "analyse_s", "render_s")


def _events(data_dir: Path) -> list[dict]:
    path = data_dir / "logs" / "sessions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _fixed(wall_s: float, timings: dict) -> float:
    return wall_s - sum(timings.get(k, 0.0) for k in WORK_STAGES)


def run(args) -> dict:
    root = Path(tempfile.mkdtemp(prefix="gaitlake-bench-worker-"))
    clip = remux_first_seconds(video_path(args.video), root / "clip.mp4", 3.0)
    env = dict(os.environ, RAY_AUTH_MODE=os.environ.get("RAY_AUTH_MODE", "disabled"))
    n_warm = max(2, args.sessions or 4)

    cold_dir = root / "cold"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gaitlake.cli", "process", str(clip)], cwd=REPO,
                          env=dict(env, GAITLAKE_DATA_DIR=str(cold_dir)), capture_output=True, text=True)
    cold_wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"gaitlake process failed: {done.stderr[-2000:]}")
    cold_timings = _events(cold_dir)[-1]["timings"]
    cold_fixed = _fixed(cold_wall, cold_timings)

    warm_dir = root / "warm"
    warm_env = dict(env, GAITLAKE_DATA_DIR=str(warm_dir))
    from configs import load_settings
    from flows.intake import create_session_from_path
    from storage.catalog import Catalog
    from storage.objectstore import ObjectStore

    settings = load_settings(environ=warm_env)
    store, catalog = ObjectStore.from_settings(settings), Catalog.from_settings(settings)
    for i in range(n_warm):
        create_session_from_path(store, catalog, clip, title=f"bench {i}")
    done = subprocess.run([sys.executable, "-m", "gaitlake.cli", "worker", "--max-sessions", str(n_warm)],
                          cwd=REPO, env=warm_env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"gaitlake worker failed: {done.stderr[-2000:]}")
    events = [e for e in _events(warm_dir) if e.get("status") == "done"]
    if len(events) != n_warm:
        raise RuntimeError(f"{len(events)} of {n_warm} warm sessions done")
    warm = [_fixed(e["wall_s"], e["timings"]) for e in events[1:]]
    warm_fixed = statistics.median(warm)
    result = {
        "benchmark": "worker", "clip_s": 3.0, "machine": machine(),
        "cold_wall_s": round(cold_wall, 2), "cold_fixed_s": round(cold_fixed, 2),
        "cold_stages_s": cold_timings,
        "warm_sessions": n_warm - 1, "warm_fixed_s": round(warm_fixed, 3),
        "warm_fixed_each_s": [round(v, 3) for v in warm],
        "warm_wall_median_s": round(statistics.median(e["wall_s"] for e in events[1:]), 2),
        "ratio": round(cold_fixed / warm_fixed, 1) if warm_fixed > 0 else None,
        "goal": "warm fixed cost <= 2 s",
        "loadavg": os.getloadavg(),
    }
    return emit(result, args.out)
