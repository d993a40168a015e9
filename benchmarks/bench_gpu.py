"""The GPU path, measured piece by piece: decode fps, model fps, end-to-end fps, naive loop.

Runs on whatever is there: on a CUDA machine the tensor path (uint8 upload from
pinned memory, GPU letterbox/normalise, fp16, optional TensorRT) and optional
NVDEC decode (PyNvVideoCodec); on the CPU the same code falls back (predict
path, fp32, OpenCV decode) so the script is testable anywhere. In-process (no
Ray: a one-GPU machine needs no actor hop); decoding overlaps inference on a
prefetch thread. The video is played ``--loops`` times for longer runs.
"""
from __future__ import annotations

import time

import numpy as np

from benchmarks.common import Timer, bench_settings, emit, video_path


def _frames_looped(path: str, loops: int, max_frames: int | None):
    from tasks.video import iter_frame_chunks

    n = 0
    for _ in range(loops):
        for chunk in iter_frame_chunks(path, 64):
            if max_frames is not None and n >= max_frames:
                return
            if max_frames is not None:
                chunk = chunk[:max_frames - n]
            n += len(chunk)
            yield chunk


def decode_fps(path: str, loops: int, max_frames: int | None) -> float:
    with Timer() as t:
        n = sum(len(c) for c in _frames_looped(path, loops, max_frames))
    return n / t.s


def nvdec_fps(path: str, loops: int, max_frames: int | None) -> tuple[float | None, str]:
    """PyNvVideoCodec decode to GPU memory, or (None, why not)."""
    try:
        import PyNvVideoCodec as nvc
        import torch
    except Exception as exc:
        return None, f"unavailable ({exc.__class__.__name__}: {exc})"
    try:
        n = 0
        with Timer() as t:
            for _ in range(loops):
                dec = nvc.SimpleDecoder(path, gpu_id=0, use_device_memory=True,
                                        output_color_type=nvc.OutputColorType.RGB)
                for i in range(len(dec)):
                    if max_frames is not None and n >= max_frames:
                        break
                    frame = torch.from_dlpack(dec[i])
                    n += 1
                torch.cuda.synchronize()
        return n / t.s, "ok"
    except Exception as exc:
        return None, f"failed ({exc.__class__.__name__}: {exc})"


def model_fps(backend, frames: list[np.ndarray], batch: int, seconds: float) -> float:
    """Backend fps on frames already decoded and downscaled in memory (repeat until ``seconds``)."""
    import torch

    batches = [frames[i:i + batch] for i in range(0, len(frames), batch)]
    backend.infer(batches[0], 1.0)
    n = 0
    t0 = time.perf_counter()
    while True:
        for b in batches:
            backend.infer(b, 1.0)
            n += len(b)
        if time.perf_counter() - t0 >= seconds:
            break
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def end_to_end_fps(backend, path: str, imgsz: int, batch: int, loops: int, max_frames: int | None,
                   prefetch_chunks: int) -> float:
    """Decode (prefetch thread) -> downscale -> backend, every frame, results to numpy."""
    from tasks.video import prefetch, resize_long_side

    def batches():
        for chunk in _frames_looped(path, loops, max_frames):
            small = [resize_long_side(f, imgsz) for f in chunk]
            for i in range(0, len(small), batch):
                yield [f for f, _ in small[i:i + batch]], small[i][1]

    n = 0
    with Timer() as t:
        for frames, scale in prefetch(batches(), prefetch_chunks):
            n += len(backend.infer(frames, scale))
    return n / t.s


def run(args) -> dict:
    import torch

    from benchmarks.bench_pose import naive_loop
    from tasks.detect import decode_frames_sample
    from tasks.pose import build_backend, resolve_weights

    cuda = torch.cuda.is_available()
    quick = args.quick
    loops = args.loops or (1 if quick or not cuda else 5)
    max_frames = args.frames or (48 if quick and not cuda else None)
    batch = args.batch or (64 if cuda else 16)
    path = video_path(args.video)
    # The GPU path is PyTorch (TensorRT with --tensorrt): pinned, whatever pose.backend defaults to.
    pose = {"backend": "ultralytics", "batch_size": batch, "half": cuda, "preprocess": "auto",
            "tensorrt": bool(args.tensorrt)}
    settings = bench_settings(pose=pose)
    result = {"benchmark": "gpu", "cuda": cuda, "batch": batch, "imgsz": settings.pose.imgsz, "loops": loops}
    t_start = time.perf_counter()
    result["decode_cpu_fps"] = round(decode_fps(path, loops, max_frames), 1)
    nv, why = nvdec_fps(path, loops, max_frames) if cuda else (None, "no CUDA")
    result["decode_nvdec_fps"], result["nvdec"] = (round(nv, 1) if nv else None), why
    backend = build_backend(settings.pose, str(settings.data_path / "ultralytics"))
    result["backend"] = backend.info()
    sample = decode_frames_sample(path, settings.pose.imgsz, max_frames=min(max_frames or 256, 256))
    result["model_fps"] = round(model_fps(backend, sample, batch, 2.0 if quick else 10.0), 1)
    result["end_to_end_fps"] = round(end_to_end_fps(backend, path, settings.pose.imgsz, batch, loops, max_frames,
                                                    settings.video.prefetch_chunks or 2), 1)
    weights = resolve_weights(settings.pose.weights, settings.pose.model_name)
    naive_frames = max_frames or (388 if quick else 388 * 2)
    result["naive_fps"] = round(naive_loop(weights, path, naive_frames, settings.pose.imgsz, 16,
                                           "cuda:0" if cuda else "cpu"), 1)
    result["ratio"] = round(result["end_to_end_fps"] / result["naive_fps"], 3)
    result["elapsed_s"] = round(time.perf_counter() - t_start, 1)
    result["goal"] = ">= 2000 fps end to end on an H200, >= 3x the naive loop"
    return emit(result, args.out)
