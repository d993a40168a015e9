"""Pose frames/s against the number of Ray pose actors (same decoded frames for each)."""
from __future__ import annotations

from benchmarks.common import Timer, bench_settings, decode, emit, video_path


def run(args) -> dict:
    from tasks.pose import PosePool
    from tasks.video import resize_long_side

    counts = [int(c) for c in (args.actor_counts or "1,2").split(",")]
    path = video_path(args.video)
    frames = args.frames or (64 if args.quick else 256)
    settings0 = bench_settings()
    small = [resize_long_side(f, settings0.pose.imgsz) for f in decode(path, frames)]
    bs = settings0.pose.batch_size
    batches = [([f for f, _ in small[i:i + bs]], small[i][1]) for i in range(0, len(small), bs)]
    fps = {}
    for n in counts:
        settings = bench_settings(ray={"num_actors": n})
        pool = PosePool(settings)
        try:
            list(pool.map(batches[:n]))                                          # warm-up every actor
            with Timer() as t:
                done = sum(len(r) for r in pool.map(batches))
            fps[n] = round(done / t.s, 2)
        finally:
            pool.close()
    return emit({"benchmark": "scaling", "frames": len(small), "fps_by_actors": fps,
                 "ratio": round(fps[counts[-1]] / fps[counts[0]], 3)}, args.out)
