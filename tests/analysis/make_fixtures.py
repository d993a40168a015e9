"""Regenerate tests/analysis/data/*.detections.npz with the pipeline's detector (real pose).

``python -m tests.analysis.make_fixtures [NAME ...]`` (about a minute per clip on two CPU
cores; no names: every clip of :data:`CLIPS`).
Run it when the pose model or its settings change; the files are what
``tasks.detect.detect_video`` returns for the shared videos.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tests.analysis.conftest import DATA

VIDEOS = Path(__file__).resolve().parents[3] / "shared" / "videos"


#: The shared videos whose detections are stored (``shared/videos/<name>.mp4``).
CLIPS = ("treadmill-side-60fps", "walking-multiperson-30fps", "treadmill-garage-30fps")


def main(names: list[str] | None = None) -> None:
    home = tempfile.mkdtemp(prefix="gaitlake-fixtures-")
    os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(home, "ultralytics"))
    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    try:
        from configs import load_settings
        from tasks.detect import detect_video
        from tasks.pose import PosePool

        pool = PosePool(load_settings(overrides={"data_dir": os.path.join(home, "data")}))
        try:
            for name in names or CLIPS:
                d = detect_video(pool, str(VIDEOS / f"{name}.mp4"), chunk_frames=64)
                (DATA / f"{name}.detections.npz").write_bytes(d.to_bytes())
                print(name, d.n_frames, "frames,", len(d.boxes), "detections")
        finally:
            pool.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
