"""Helpers shared by the benchmarks: settings, frames, timing, results."""
from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BENCH_SHARED_DIR", REPO.parent / "shared"))
TREADMILL = SHARED / "videos" / "treadmill-side-60fps.mp4"


def _engine_params():
    from configs import load_settings

    return load_settings(environ={}).analysis.engine_params()


#: The engine's parameters the benchmarks run with: the shipped [analysis] (configs/default.toml).
ENGINE_PARAMS = _engine_params()


def bench_settings(**overrides):
    """Settings with a throw-away data dir (Ultralytics config, engines) unless GAITLAKE_DATA_DIR is set."""
    from configs import load_settings

    data = os.environ.get("GAITLAKE_DATA_DIR") or tempfile.mkdtemp(prefix="gaitlake-bench-")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(data) / "ultralytics"))
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    return load_settings(overrides={"data_dir": data, **overrides})


def video_path(arg: str | None) -> str:
    path = Path(arg) if arg else TREADMILL
    if not path.exists():
        raise SystemExit(f"video {path} not found (set --video or GAITLAKE_SHARED_DIR)")
    return str(path)


def decode(path: str, max_frames: int | None):
    from tasks.video import iter_frame_chunks

    return [f for chunk in iter_frame_chunks(path, 64, max_frames) for f in chunk]


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.s = time.perf_counter() - self.t0


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q / 100 * len(v)))] if v else float("nan")


def machine() -> dict:
    info = {"host_cpus": os.cpu_count(), "python": platform.python_version(),
            "load1": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:
        info["torch"] = None
    return info


def emit(result: dict, out_dir: str | None = None) -> dict:
    """Print the one JSON line of a benchmark (and write it under $OUT / --out when set)."""
    result = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), **result, "machine": machine()}
    line = json.dumps(result, default=float)
    print(line, flush=True)
    out = out_dir or os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        with open(Path(out) / f"bench-{result['benchmark']}.json", "w") as fh:
            fh.write(line + "\n")
    return result


def median(values):
    return statistics.median(values) if values else float("nan")
