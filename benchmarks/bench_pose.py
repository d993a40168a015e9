"""Pose throughput: gaitlake (decode -> Ray actors -> keypoints) vs a bare YOLO predict loop.

Both decode the same frames of the same video with OpenCV and run the same
model at the same imgsz and batch size. The baseline is the loop anyone would
write first: read a frame, collect a batch, ``YOLO(...).predict`` it.
"""
from __future__ import annotations

import cv2

from benchmarks.common import Timer, bench_settings, emit, video_path


def naive_loop(weights: str, path: str, frames: int, imgsz: int, batch: int, device: str, half: bool = False) -> float:
    from ultralytics import YOLO

    model = YOLO(weights, task="pose")
    cap = cv2.VideoCapture(path)
    first = [cap.read()[1] for _ in range(2)]
    extra = {"half": True} if half else {}
    model.predict(first, imgsz=imgsz, device=device, verbose=False, **extra)  # warm-up
    cap.release()
    cap = cv2.VideoCapture(path)
    n, buf = 0, []
    with Timer() as t:
        while n < frames:
            ok, frame = cap.read()
            if not ok:
                break
            buf.append(frame)
            n += 1
            if len(buf) == batch:
                model.predict(buf, imgsz=imgsz, device=device, verbose=False, **extra)
                buf = []
        if buf:
            model.predict(buf, imgsz=imgsz, device=device, verbose=False, **extra)
    cap.release()
    return n / t.s


def gaitlake_path(settings, path: str, frames: int) -> tuple[float, dict]:
    from tasks.detect import detect_video
    from tasks.pose import PosePool

    pool = PosePool(settings)
    try:
        detect_video(pool, path, settings.video.chunk_frames, max_frames=2 * settings.pose.batch_size, roi=False)
        with Timer() as t:
            det = detect_video(pool, path, settings.video.chunk_frames, max_frames=frames, roi=False)
        return det.n_frames / t.s, pool.actor_info[0]
    finally:
        pool.close()


def run(args) -> dict:
    from tasks.pose import resolve_weights

    settings = bench_settings(ray={"num_actors": args.actors} if args.actors else {})
    path = video_path(args.video)
    frames = args.frames or (64 if args.quick else 388)
    weights = resolve_weights(settings.pose.weights, settings.pose.model_name)
    device = settings.pose.device if settings.pose.device != "auto" else ""
    ours, info = gaitlake_path(settings, path, frames)
    base = naive_loop(weights, path, frames, settings.pose.imgsz, settings.pose.batch_size, device or None)
    return emit({"benchmark": "pose", "frames": frames, "imgsz": settings.pose.imgsz,
                 "batch": settings.pose.batch_size, "actors": settings.ray.num_actors, "backend": info,
                 "gaitlake_fps": round(ours, 2), "naive_fps": round(base, 2), "ratio": round(ours / base, 3),
                 "goal": ">= 0.95"}, args.out)
