"""``python -m benchmarks NAME [options]``: one entry point for every benchmark.

NAME: pose | feet | feet-imgsz | cpu-backends | roi | analysis | events | lake | api | scaling | gpu | worker | all. Each prints one JSON
line (written to --out / $OUT as bench-NAME.json too). See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import importlib
import sys

NAMES = ("pose", "feet", "feet-imgsz", "cpu-backends", "roi", "analysis", "events", "lake", "api", "scaling", "gpu", "worker")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=NAMES + ("all",))
    p.add_argument("--quick", action="store_true", help="small sizes: proves it runs, figures are rough")
    p.add_argument("--out", help="directory for bench-NAME.json (default: $OUT when set)")
    p.add_argument("--video", help="video file (default: ../shared/videos/treadmill-side-60fps.mp4)")
    p.add_argument("--frames", type=int, help="frames to process (pose, roi, scaling, gpu)")
    p.add_argument("--actors", type=int, help="pose actors (pose)")
    p.add_argument("--actor-counts", help="comma-separated actor counts (scaling), default 1,2")
    p.add_argument("--roi-imgsz", type=int, help="ROI image size (roi)")
    p.add_argument("--roi-area", type=float, help="pose.roi_max_area_share (roi)")
    p.add_argument("--duration", type=float, help="synthetic session length, s (analysis)")
    p.add_argument("--repeat", type=int, help="repeats, best taken (analysis)")
    p.add_argument("--sessions", type=int, help="synthetic sessions in the lake (lake); sessions queued for the warm worker (worker)")
    p.add_argument("--requests", type=int, help="requests (api)")
    p.add_argument("--clients", type=int, help="concurrent clients (api), default 50")
    p.add_argument("--port", type=int, help="loopback port for uvicorn (api)")
    p.add_argument("--workers", type=int, help="uvicorn worker processes (api), default 1")
    p.add_argument("--batch", type=int, help="frames per inference batch (gpu)")
    p.add_argument("--loops", type=int, help="times the video is played (gpu)")
    p.add_argument("--backend", choices=("openvino", "onnx"), help="exported backend to compare (cpu-backends)")
    p.add_argument("--threads", type=int, help="threads of each backend (cpu-backends), default 1")
    p.add_argument("--precision", choices=("auto", "f32", "bf16"), help="pose.openvino_precision (cpu-backends)")
    p.add_argument("--tensorrt", action="store_true", help="export/use a TensorRT engine (gpu)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    names = NAMES if args.name == "all" else (args.name,)
    failed = []
    for name in names:
        try:
            importlib.import_module(f"benchmarks.bench_{name.replace('-', '_')}").run(args)
        except Exception as exc:  # one failing benchmark must not hide the others under "all"
            print(f"benchmark {name} failed: {exc.__class__.__name__}: {exc}", file=sys.stderr)
            if args.name != "all":
                raise
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
