"""The exported CPU pose backends (tasks/pose_export.py) against the PyTorch backend.

Agreement tolerance: the fp32 OpenVINO / ONNX Runtime exports run the same
network with the same letterbox and NMS as Ultralytics' ``predict``, so every
keypoint and box lands within 0.05 source px of PyTorch's (measured: ~1e-4 px
median, ~2e-3 px max on the treadmill clip).
"""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os

import numpy as np
import pytest

TOLERANCE_PX = 0.05


def test_a_mistyped_backend_fails_when_settings_load():
    from configs import SettingsError, load_settings

    with pytest.raises(SettingsError, match="backend"):
        load_settings(overrides={"pose": {"backend": "openvno"}})
    with pytest.raises(SettingsError, match="openvino_precision"):
        load_settings(overrides={"pose": {"openvino_precision": "fp8"}})
    assert load_settings(overrides={"pose": {"backend": "onnx"}}).pose.backend == "onnx"


def test_auto_resolves_to_the_fast_cpu_backend_off_cuda_and_export_dir_defaults_under_the_data_dir(tmp_path):
    from configs import load_settings
    from tasks.pose import CPU_FAST_BACKEND, export_cache_dir, resolve_backend

    s = load_settings(overrides={"data_dir": str(tmp_path), "pose": {"backend": "auto", "device": "cpu",
                                                                    "export_dir": ""}})
    assert resolve_backend(s.pose) == CPU_FAST_BACKEND == "openvino"
    for name in ("ultralytics", "onnx", "replay"):
        assert resolve_backend(s.pose.model_copy(update={"backend": name})) == name
    config_dir = str(s.data_path / "ultralytics")
    assert export_cache_dir(s.pose, config_dir) == s.data_path / "ultralytics" / "exports"
    assert export_cache_dir(s.pose.model_copy(update={"export_dir": str(tmp_path / "x")}), config_dir) == tmp_path / "x"


def test_export_key_changes_with_the_weights_content_and_the_image_size(tmp_path):
    from tasks.pose_export import export_key

    a, b = tmp_path / "m.pt", tmp_path / "sub" / "m.pt"
    b.parent.mkdir()
    a.write_bytes(b"weights one")
    b.write_bytes(b"weights two")
    assert export_key(a, 640, "openvino") != export_key(b, 640, "openvino")      # same name, new content
    assert export_key(a, 640, "openvino") != export_key(a, 480, "openvino")
    assert export_key(a, 640, "openvino") != export_key(a, 640, "onnx")
    assert export_key(a, 640, "onnx").startswith("m-") and export_key(a, 640, "onnx").endswith("-640-onnx")


def test_a_failed_export_falls_back_to_pytorch_with_a_warning(tmp_path, caplog):
    from configs import load_settings
    from tasks.pose import build_backend

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the export cache should be")
    s = load_settings(overrides={"data_dir": str(tmp_path), "pose": {"backend": "openvino", "device": "cpu",
                                                                    "export_dir": str(blocker / "exports")}})
    with caplog.at_level(logging.WARNING, logger="tasks.pose"):
        backend = build_backend(s.pose, str(tmp_path / "ultralytics"))
    assert backend.info()["backend"] == "ultralytics"
    assert any("openvino is unavailable" in r.getMessage() for r in caplog.records)


# --- real exports and real frames -------------------------------------------------------------

@pytest.fixture(scope="module")
def weights():
    from tasks.pose import resolve_weights

    return resolve_weights("", "yolo11n-pose.pt")


@pytest.fixture(scope="module")
def export_cache():
    """The run's own export cache (``GAITLAKE_POSE__EXPORT_DIR``, set in tests/conftest.py): the 640 px
    OpenVINO export the shared pose pool made is reused here instead of being made a second time."""
    from pathlib import Path

    return Path(os.environ["GAITLAKE_POSE__EXPORT_DIR"])


@pytest.fixture(scope="module")
def frames():
    from tests.conftest import TREADMILL, _require
    from tasks.detect import decode_frames_sample

    return decode_frames_sample(str(_require(TREADMILL)), 640, max_frames=24)


@pytest.fixture(scope="module")
def pytorch_detections(weights, frames):
    from tasks.pose import UltralyticsPose

    backend = UltralyticsPose(weights, device="cpu")
    return [d for i in range(0, len(frames), 8) for d in backend.infer(frames[i:i + 8], 0.5)]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["openvino", "onnx"])
def test_exported_backend_matches_pytorch_on_real_frames(fmt, weights, export_cache, frames, pytorch_detections):
    from tasks.pose_export import ExportedPose

    backend = ExportedPose(weights, fmt, export_cache, threads=1)
    ours = [d for i in range(0, len(frames), 8) for d in backend.infer(frames[i:i + 8], 0.5)]
    assert len(ours) == len(pytorch_detections) == len(frames)
    assert sum(len(d) for d in ours) >= len(frames)                          # the runner, every frame
    for a, b in zip(pytorch_detections, ours):
        assert b.boxes.dtype == a.boxes.dtype == np.float32
        assert b.keypoints.dtype == np.float32
        assert b.boxes.shape == a.boxes.shape and b.keypoints.shape == a.keypoints.shape
        assert b.boxes.shape[1:] == (5,) and b.keypoints.shape[1:] == (17, 3)
        np.testing.assert_allclose(b.boxes[:, :4], a.boxes[:, :4], atol=TOLERANCE_PX)
        np.testing.assert_allclose(b.keypoints[..., :2], a.keypoints[..., :2], atol=TOLERANCE_PX)
        np.testing.assert_allclose(b.keypoints[..., 2], a.keypoints[..., 2], atol=1e-3)
    # crops: coordinates scaled by 1/scale, then shifted by the crop's corner
    offsets = np.array([[100.0, 50.0]] * 2, np.float32)
    shifted = backend.infer(frames[:2], 0.5, offsets)
    for d, base in zip(shifted, ours[:2]):
        np.testing.assert_allclose(d.keypoints[..., :2], base.keypoints[..., :2] + offsets[0], atol=1e-3)
    assert backend.info()["backend"] == fmt and backend.info()["precision"] == "f32"
    assert backend.infer([], 1.0) == []


@pytest.mark.slow
def test_the_export_cache_is_reused_and_a_second_build_does_not_export(weights, export_cache):
    import tasks.pose_export as pe

    first = pe.ExportedPose(weights, "openvino", export_cache, threads=1)
    exported = pe.export_count
    folder = first.model_file.parent
    stamp = (folder.stat().st_mtime_ns, first.model_file.stat().st_mtime_ns)
    second = pe.ExportedPose(weights, "openvino", export_cache, threads=1)
    assert pe.export_count == exported                                       # no new export
    assert second.model_file == first.model_file
    assert (folder.stat().st_mtime_ns, second.model_file.stat().st_mtime_ns) == stamp
    manifest = json.loads((folder / pe.MANIFEST).read_text())
    assert manifest["imgsz"] == 640 and manifest["format"] == "openvino"
    assert manifest["sha256"] == pe._sha256(weights)
    assert not [p for p in export_cache.iterdir() if p.name.startswith(".") and p.is_dir()]   # no temp dirs left


def _export_in_child(args):
    weights, cache = args
    os.environ["YOLO_AUTOINSTALL"] = "false"
    import tasks.pose_export as pe

    path = pe.ensure_export(weights, 640, "onnx", cache)
    return str(path), pe.export_count


@pytest.mark.slow
def test_two_processes_exporting_at_once_export_once(weights, tmp_path):
    cache = tmp_path / "exports"
    with mp.get_context("spawn").Pool(2) as pool:
        results = pool.map(_export_in_child, [(weights, str(cache))] * 2)
    paths = {p for p, _ in results}
    assert len(paths) == 1 and os.path.isfile(results[0][0])
    assert sorted(n for _, n in results) == [0, 1]                           # one exported, one reused it
    folders = [p.name for p in cache.iterdir() if not p.name.endswith(".lock")]
    assert folders == [os.path.basename(os.path.dirname(results[0][0]))]     # no temp dirs left
