"""ROI inference vs full-frame inference on the same frames, same process, same backend.

Speed-up = full-frame time / ROI time (both warmed up, in-process, no Ray);
agreement = per-keypoint distance (source px) between the two runs' most
confident person, over keypoints both call confident (> 0.5).
"""
from __future__ import annotations

import numpy as np

from benchmarks.common import Timer, bench_settings, emit, video_path


def agreement(full, roi) -> dict:
    bf, kf = full.per_frame()
    br, kr = roi.per_frame()
    d, dx, dy, missing = [], [], [], 0
    for a, b, ka, kb in zip(bf, br, kf, kr):
        if not len(a) or not len(b):
            missing += bool(len(a)) != bool(len(b))
            continue
        i, j = int(np.argmax(a[:, 4])), int(np.argmax(b[:, 4]))
        ok = (ka[i, :, 2] > 0.5) & (kb[j, :, 2] > 0.5)
        diff = kb[j, ok, :2] - ka[i, ok, :2]
        d.extend(np.linalg.norm(diff, axis=1))
        dx.extend(diff[:, 0])
        dy.extend(diff[:, 1])
    return {"median_px": float(np.median(d)) if d else None, "p90_px": float(np.percentile(d, 90)) if d else None,
            "mean_dx_px": float(np.mean(dx)) if dx else None, "mean_dy_px": float(np.mean(dy)) if dy else None,
            "frames_found_in_one_only": missing}


def run(args) -> dict:
    from tasks.detect import detect_video
    from tasks.pose import LocalPosePool

    over = {"pose": {}}
    if args.roi_imgsz:
        over["pose"]["roi_imgsz"] = args.roi_imgsz
    if args.roi_area:
        over["pose"]["roi_max_area_share"] = args.roi_area
    settings = bench_settings(**over)
    path = video_path(args.video)
    frames = args.frames or (48 if args.quick else 388)
    pool = LocalPosePool(settings)
    detect_video(pool, path, 64, max_frames=16, roi=False)                 # warm-up both input sizes
    detect_video(pool, path, 64, max_frames=32, roi=True)
    with Timer() as tf:
        full = detect_video(pool, path, 64, max_frames=frames, roi=False)
    with Timer() as tr:
        roi = detect_video(pool, path, 64, max_frames=frames, roi=True)
    result = {"benchmark": "roi", "frames": frames, "imgsz": settings.pose.imgsz,
              "roi_imgsz": settings.pose.roi_imgsz, "roi_max_area_share": settings.pose.roi_max_area_share,
              "full_fps": round(full.n_frames / tf.s, 2), "roi_fps": round(roi.n_frames / tr.s, 2),
              "ratio": round(tf.s / tr.s, 3), "roi_frames": getattr(roi, "roi_stats", None),
              **agreement(full, roi), "goal": ">= 2x speed-up, median <= 3 px"}
    return emit(result, args.out)
