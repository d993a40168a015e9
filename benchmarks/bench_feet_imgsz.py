"""Would a smaller YOLO input pay for the foot stage? Pose at imgsz 640, 480 and 416 on both shared
treadmill clips: time, IC/TO within one frame of the hand-annotated truth, cadence, and how far the
runner's leg keypoints (hips to ankles) move against 640 (source px).

``python -m benchmarks feet-imgsz`` (real pose, in-process, feet off; a few minutes). The issue's
condition for a smaller size per clip: keypoints and events unchanged.
"""
from __future__ import annotations

import time

import numpy as np

from benchmarks.common import ENGINE_PARAMS, SHARED, bench_settings, emit

CLIPS = {"treadmill-side-60fps": (60.0, (1080, 1920)), "treadmill-garage-30fps": (30.0, (720, 1280))}
SIZES = (640, 480, 416)


def run(args) -> dict:
    from analysis.engine import analyze
    from analysis.tracking import select_runner
    from tasks.detect import detect_video
    from tasks.pose import LocalPosePool
    from tests.analysis.feet_accuracy import event_truth, within_one_frame

    rows = []
    for name, (fps, size) in CLIPS.items():
        video = str(SHARED / "videos" / f"{name}.mp4")
        truth, reference = event_truth(name), None
        for imgsz in SIZES:
            pool = LocalPosePool(bench_settings(pose={"imgsz": imgsz}, feet={"enabled": False}))
            try:
                t0 = time.perf_counter()
                det = detect_video(pool, video, 64, max_frames=args.frames)
                seconds = time.perf_counter() - t0
            finally:
                pool.close()
            track = select_runner(*det.per_frame())
            legs = track.keypoints[:, 11:, :2].astype(float)
            reference = legs if reference is None else reference
            moved = np.linalg.norm(legs - reference, axis=-1)
            result = analyze(track.keypoints.astype(float), fps, frame_size=size, params=ENGINE_PARAMS)
            found = [(e.side, e.kind, e.frame) for e in result.events]
            rows.append({"clip": name, "imgsz": imgsz, "pose_s": round(seconds, 1),
                         "IC_within_1_frame": round(within_one_frame(found, truth, "IC"), 3),
                         "TO_within_1_frame": round(within_one_frame(found, truth, "TO"), 3),
                         "cadence_spm": round(result.summary.cadence_spm or float("nan"), 1),
                         "leg_keypoints_moved_px_median": round(float(np.nanmedian(moved)), 2),
                         "leg_keypoints_moved_px_p90": round(float(np.nanpercentile(moved, 90)), 2)})
    return emit({"benchmark": "feet-imgsz", "rows": rows}, args.out)
