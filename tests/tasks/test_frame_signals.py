"""Cuts and camera motion measured from decoded frames (issue 24).

Frames of the two shared clips (static cameras) are joined into an edit, and a window
moved over the garage clip's frames makes a pan (the window follows the runner) or a
hand-held shake (a random wander): the image shift is known exactly.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from analysis.camera import background_motion, classify_camera
from analysis.segments import cut_frames
from tasks.video import FrameSignals, iter_frame_chunks, load_frame_signals

VIDEOS = Path(__file__).resolve().parents[2].parent / "shared" / "videos"


def _frames(name: str, n: int, size=(270, 480)) -> list[np.ndarray]:
    path = VIDEOS / name
    if not path.exists():
        pytest.skip("shared video not found")
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for c in iter_frame_chunks(path, 64, n) for f in c]


@pytest.fixture(scope="module")
def garage():
    return _frames("treadmill-garage-30fps.mp4", 120, (360, 640))


def _signals(frames) -> dict:
    sig = FrameSignals()
    for f in frames:
        sig.update(f)
    return load_frame_signals(sig.to_bytes())              # through the stored form


def test_hard_cuts_between_shots_are_found_and_nothing_else(garage):
    side = _frames("treadmill-side-60fps.mp4", 220)
    small = [cv2.resize(f, (270, 480), interpolation=cv2.INTER_AREA) for f in garage]
    edit = side[:60] + small[:60] + side[150:210] + small[60:120]
    s = _signals(edit)
    assert s["frame_change"].shape == (240,)
    assert cut_frames(s["frame_change"]).tolist() == [60, 120, 180]


def _window_moves(frames, offsets, size=(240, 480)):
    """Crops of ``size`` (w, h) at integer ``offsets`` (x, y) px of each frame."""
    w, h = size
    return [f[y:y + h, x:x + w] for f, (x, y) in zip(frames, offsets)]


def test_static_pan_and_shake_are_told_apart(garage):
    n = len(garage)
    box_h = 330.0                       # the runner's box at this scale (about 0.52 of 640 px)
    static = _window_moves(garage, [(60, 80)] * n)
    # a pan following an overground runner: the scene passes at ~0.7 box heights per second
    # (8 px/frame), over the frame widened by its mirror image (1080 px of scene)
    wide = [np.hstack([f, f[:, ::-1], f]) for f in garage]
    pan_offsets = [(8 * k, 80) for k in range(n)]
    pan = _window_moves(wide, pan_offsets)
    rng = np.random.default_rng(3)
    wander = np.clip(np.cumsum(rng.normal(0, 2.0, (n, 2)), axis=0) + [60, 80], [0, 0], [119, 159]).astype(int)
    shake = _window_moves(garage, [tuple(o) for o in wander])
    out = {}
    for name, frames in (("static", static), ("pan", pan), ("shake", shake)):
        s = _signals(frames)
        motion = background_motion(s["tile_shift"], s["tile_response"], tuple(s["frame_size"]))
        out[name] = (classify_camera(motion, 30.0, box_h, 480.0), motion)
    assert out["static"][0] == "static"
    assert out["pan"][0] == "tracking"
    assert out["shake"][0] == "hand-held"
    # the measured motion is the window's: the background moves opposite to the window
    pan_truth = -np.array([o[0] for o in pan_offsets], float)
    pan_measured = out["pan"][1].cumulative_shift[:, 0]
    assert pan_measured[-1] == pytest.approx(pan_truth[-1] - pan_truth[0], rel=0.15)     # measured -821 for -952
    assert np.median(np.diff(pan_measured)) == pytest.approx(-8.0, rel=0.06)
    shake_truth = -(wander - wander[0])
    assert np.median(np.abs(out["shake"][1].cumulative_shift - shake_truth)) < 2.0


def test_detection_measures_the_signals_in_its_own_decode(tmp_path, garage):
    """``detect_video(..., signals=FrameSignals())`` sees every decoded frame once: an MP4 of
    40 frames of one clip and 40 of the other gives 80 measurements and the cut at 40."""
    from tasks.detect import FrameDetections, detect_video
    from tests.tasks.test_video import write_timed_video

    side = _frames("treadmill-side-60fps.mp4", 40)
    small = [cv2.resize(f, (270, 480), interpolation=cv2.INTER_AREA) for f in garage[:40]]
    path = write_timed_video(tmp_path / "edit.mp4", side + small, [10 * i for i in range(80)])

    class NoPose:                        # the decode loop only: nobody is found
        batch_size, imgsz = 8, 320

        def map(self, batches):
            for batch in batches:
                yield [FrameDetections.empty() for _ in batch[0]]

    signals = FrameSignals()
    detections = detect_video(NoPose(), str(path), chunk_frames=16, signals=signals)
    s = signals.arrays()
    assert detections.n_frames == 80 and s["frame_change"].shape == (80,)
    assert tuple(s["frame_size"]) == (270, 480)
    assert cut_frames(s["frame_change"]).tolist() == [40]


def test_flat_frames_are_no_cut():
    sig = FrameSignals()
    for v in (0, 0, 0, 200, 200):
        sig.update(np.full((480, 270, 3), v, np.uint8))
    change = sig.arrays()["frame_change"]
    assert change[1] == 0.0 and change[2] == 0.0 and change[3] == 1.0 and change[4] == 0.0
