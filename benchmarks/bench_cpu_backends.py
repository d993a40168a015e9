"""CPU pose backends: PyTorch (Ultralytics predict) vs the exported model, same frames, same threads.

The clip is decoded and downscaled once; both backends (built by
``tasks.pose.build_backend``, as the actors build them) run the same batches
with the same number of threads (``--threads``, default 1: one pose actor's
share with ``ray.num_cpus_per_actor = 1``), each warmed up first, taking turns
batch by batch so that the load of a shared machine weighs on both alike. Reported:

- fps of each and ``ratio`` = exported fps / PyTorch fps (goal >= 2);
- ``median_px``: median distance (source px) between the two backends'
  keypoints of each frame's most confident person, over keypoints both call
  confident (> 0.5) (goal <= 2);
- ``ic_to_identical``: the gait engine, through the path of
  ``flows.process.analyse_and_write`` (``select_runner`` then ``analyze``), run
  on each backend's detections gives the same IC and TO frames;
- ``export_s``: the one-off export (0 when the data dir's cache already held it).
"""
from __future__ import annotations

import os
import time

from benchmarks.bench_roi import agreement
from benchmarks.common import Timer, bench_settings, emit, video_path


def _batches(path: str, frames: int, imgsz: int, batch: int) -> tuple[list[tuple], tuple[int, int], float]:
    from tasks.video import iter_frame_chunks, probe_video, resize_long_side

    small, size = [], None
    for chunk in iter_frame_chunks(path, 64, frames):
        for frame in chunk:
            size = size or (frame.shape[1], frame.shape[0])
            small.append(resize_long_side(frame, imgsz))
    batches = [([f for f, _ in small[i:i + batch]], small[i][1]) for i in range(0, len(small), batch)]
    return batches, size, probe_video(path).fps


def _interleaved(backends: list, batches: list, threads: int) -> list[tuple]:
    """Each backend on every batch, taking turns batch by batch (a shared machine's load hits both alike).

    Returns ``(Detections, fps)`` per backend.
    """
    import torch

    from tasks.detect import Detections

    for backend in backends:
        backend.infer(*batches[0])        # warm-up (compiles the exported model's input shape)
    torch.set_num_threads(threads)        # Ultralytics resets it when its predictor starts
    per_frame: list[list] = [[] for _ in backends]
    seconds = [0.0] * len(backends)
    for batch in batches:
        for i, backend in enumerate(backends):
            with Timer() as t:
                per_frame[i].extend(backend.infer(*batch))
            seconds[i] += t.s
    return [(Detections.from_frames(p), len(p) / s) for p, s in zip(per_frame, seconds)]


def gait_events(settings, detections, fps: float, size: tuple[int, int]) -> dict:
    """IC/TO frames per side from ``detections``, as ``analyse_and_write`` computes them."""
    from analysis.engine import RunnerProfile, analyze
    from analysis.tracking import select_runner

    boxes, keypoints = detections.per_frame()
    track = select_runner(boxes, keypoints, settings.tracking.max_jump_box_heights, settings.tracking.max_gap_frames)
    result = analyze(track.keypoints, fps, RunnerProfile(mode=settings.analysis.mode), frame_size=size,
                     params=settings.analysis.engine_params())
    out: dict = {}
    for e in result.events:
        if e.kind in ("IC", "TO"):
            out.setdefault(f"{e.side}_{e.kind}", []).append(int(e.frame))
    return {k: sorted(v) for k, v in sorted(out.items())}


def run(args) -> dict:
    import torch

    from tasks.pose import CPU_FAST_BACKEND, build_backend

    threads = args.threads or 1
    os.environ["OMP_NUM_THREADS"] = str(threads)      # the exported runtimes read it (as in a Ray actor)
    fast = args.backend or CPU_FAST_BACKEND
    pose = {"device": "cpu", **({"openvino_precision": args.precision} if args.precision else {})}
    settings = bench_settings(pose=pose)
    path = video_path(args.video)
    frames = args.frames or (64 if args.quick else 388)
    batches, size, fps = _batches(path, frames, settings.pose.imgsz, settings.pose.batch_size)
    config_dir = str(settings.data_path / "ultralytics")
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else None

    torch_backend = build_backend(settings.pose.model_copy(update={"backend": "ultralytics"}), config_dir)
    t0 = time.perf_counter()
    new_backend = build_backend(settings.pose.model_copy(update={"backend": fast}), config_dir)
    export_s = time.perf_counter() - t0
    if new_backend.info().get("backend") != fast:
        raise SystemExit(f"the {fast} backend fell back to PyTorch (see the warning above)")
    (ref, torch_fps), (new, new_fps) = _interleaved([torch_backend, new_backend], batches, threads)
    ev_ref, ev_new = gait_events(settings, ref, fps, size), gait_events(settings, new, fps, size)
    agree = agreement(ref, new)
    result = {"benchmark": "cpu-backends", "frames": ref.n_frames, "imgsz": settings.pose.imgsz,
              "batch": settings.pose.batch_size, "threads": threads,
              "pytorch": {"fps": round(torch_fps, 2), **torch_backend.info()},
              fast: {"fps": round(new_fps, 2), **new_backend.info()},
              "ratio": round(new_fps / torch_fps, 3),
              "median_px": round(agree["median_px"], 3) if agree["median_px"] is not None else None,
              "p90_px": round(agree["p90_px"], 3) if agree["p90_px"] is not None else None,
              "frames_found_in_one_only": agree["frames_found_in_one_only"],
              "ic_to_identical": ev_ref == ev_new,
              "ic_to_events": sum(len(v) for v in ev_ref.values()),
              "ic_to_differences": {k: [sorted(set(ev_ref.get(k, [])) ^ set(ev_new.get(k, [])))]
                                    for k in sorted(set(ev_ref) | set(ev_new))
                                    if ev_ref.get(k) != ev_new.get(k)},
              "export_s": round(export_s, 2),
              "loadavg_before": load,
              "loadavg_after": open("/proc/loadavg").read().split()[:3] if load else None,
              "goal": "ratio >= 2, median_px <= 2, IC/TO identical"}
    return emit(result, args.out)

