"""Regenerate the foot fixtures: ``tests/analysis/data/*.feet.npz`` (and the garage clip's detections).

``python -m tests.analysis.make_feet_fixtures`` (a minute or two on two CPU cores).
For each shared treadmill clip: the runner is selected on the stored YOLO
detections (the garage clip's are produced here first, with the pipeline's own
detector, as ``make_fixtures`` does for the others) and the foot model
(``tasks.feet``) runs on the runner's crop of every frame, as the pipeline's foot
stage does. CI reads these files instead of running either model.
"""
from __future__ import annotations

import os
import shutil
import tempfile

from tests.analysis.conftest import DATA
from tests.analysis.make_fixtures import VIDEOS

CLIPS = ("treadmill-side-60fps", "treadmill-garage-30fps")


def main() -> None:
    home = tempfile.mkdtemp(prefix="gaitlake-fixtures-")
    os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(home, "ultralytics"))
    os.environ.setdefault("YOLO_OFFLINE", "true")
    try:
        from analysis.tracking import select_runner
        from configs import load_settings
        from tasks.detect import Detections, detect_video
        from tasks.feet import FootModel, resolve_foot_model, runner_feet
        from tasks.pose import LocalPosePool
        from tasks.video import iter_frame_chunks

        settings = load_settings(overrides={"data_dir": os.path.join(home, "data")})
        garage = DATA / "treadmill-garage-30fps.detections.npz"
        if not garage.exists():
            pool = LocalPosePool(settings)
            d = detect_video(pool, str(VIDEOS / "treadmill-garage-30fps.mp4"), chunk_frames=64)
            garage.write_bytes(d.to_bytes())
            print("treadmill-garage-30fps", d.n_frames, "frames,", len(d.boxes), "detections")
            pool.close()
        model = FootModel(resolve_foot_model(settings.feet.model_path), batch_size=settings.feet.batch_size)
        for name in CLIPS:
            boxes, keypoints = Detections.from_bytes((DATA / f"{name}.detections.npz").read_bytes()).per_frame()
            track = select_runner(boxes, keypoints)
            feet = runner_feet(model, iter_frame_chunks(str(VIDEOS / f"{name}.mp4"), 64), track.boxes,
                               settings.feet.crop_scale)
            (DATA / f"{name}.feet.npz").write_bytes(feet.to_bytes())
            print(name, len(feet.points), "frames of feet,", feet.model)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
