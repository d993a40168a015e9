"""Untimed checks of the performance code: ROI crop logic, CPU fallbacks of the GPU path,
the benchmark entry point's arguments, and the vectorised stride curves."""
from __future__ import annotations

import numpy as np
import pytest

from tasks.detect import RoiTracker, crop_frames


def _box(x1, y1, x2, y2):
    return np.array([[x1, y1, x2, y2, 0.9]], np.float32)


def test_roi_tracker_needs_a_full_frame_detection_first():
    t = RoiTracker(1000, 800)
    assert t.crop_for(0, 15) is None
    assert t.update(0, _box(400, 200, 500, 600), None)
    box = t.crop_for(1, 16)
    assert box is not None
    x1, y1, x2, y2 = box
    assert x1 <= 400 - 0.3 * 100 + 1 and x2 >= 500 + 0.3 * 100 - 1      # margin on each side
    assert y1 <= 200 - 0.3 * 400 + 1 and y2 >= 600 + 0.3 * 400 - 1


def test_roi_tracker_clips_refreshes_and_refuses_large_crops():
    t = RoiTracker(1000, 800, refresh_frames=30, max_area_share=0.5)
    t.update(0, _box(0, 0, 100, 700), None)
    x1, y1, x2, y2 = t.crop_for(1, 10)
    assert x1 == 0 and y1 == 0 and y2 == 800                             # clipped to the frame
    assert t.crop_for(30, 40) is None                                    # periodic full-frame refresh
    big = RoiTracker(1000, 800, max_area_share=0.5)
    big.update(0, _box(100, 50, 900, 750), None)
    assert big.crop_for(1, 10) is None                                   # people cover most of the frame


def test_roi_tracker_follows_motion_and_detects_loss():
    t = RoiTracker(2000, 1000, margin=0.1)
    for f in range(10):                                                  # moving right 10 px/frame
        t.update(f, _box(100 + 10 * f, 300, 200 + 10 * f, 700), None)
    x1, _, x2, _ = t.crop_for(40, 55)
    assert x2 >= 200 + 10 * 55                                           # extrapolated to the batch's end
    crop = (500, 100, 900, 900)
    assert not t.update(41, np.zeros((0, 5), np.float32), crop)          # nobody in the crop: lost
    assert not t.update(42, _box(500, 300, 700, 700), crop)              # cut by the crop's left edge: lost
    assert t.update(43, _box(600, 300, 700, 700), crop)
    edge = (0, 0, 400, 1000)
    assert t.update(44, _box(0, 300, 100, 700), edge)                    # frame edge is not a cut


def test_crop_frames_scale_and_offsets_map_back():
    frame = np.zeros((1080, 1920, 3), np.uint8)
    frame[500, 1000] = 255
    crops, scale = crop_frames([frame], (800, 300, 1600, 1000), 320)
    assert crops[0].shape[:2] == (280, 320) and scale == pytest.approx(320 / 800)
    y, x = np.unravel_index(np.argmax(crops[0][..., 0]), crops[0].shape[:2])
    assert x / scale + 800 == pytest.approx(1000, abs=3) and y / scale + 300 == pytest.approx(500, abs=3)


def test_letterbox_tensor_on_cpu():
    torch = pytest.importorskip("torch")
    from tasks.pose import letterbox_tensor

    frames = torch.zeros((2, 360, 640, 3), dtype=torch.uint8)
    frames[..., 0] = 255                                                 # blue in BGR
    x, gain = letterbox_tensor(frames, 640)
    assert x.shape == (2, 3, 384, 640) and gain == 1.0                   # padded to a multiple of 32
    assert float(x[0, 2, 0, 0]) == pytest.approx(1.0) and float(x[0, 0, 0, 0]) == 0.0   # RGB order
    assert float(x[0, 0, 370, 0]) == pytest.approx(114 / 255)           # grey padding
    big = torch.zeros((1, 1920, 1080, 3), dtype=torch.uint8)
    y, g = letterbox_tensor(big, 640)
    assert y.shape[2] == 640 and y.shape[3] % 32 == 0 and g == pytest.approx(1 / 3)


def test_gpu_options_fall_back_on_cpu(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("checks the CPU fallback")
    from tasks import pose

    assert pose.tensorrt_engine("x.pt", 640, True, 16, tmp_path) is None   # no CUDA/TensorRT: PyTorch weights
    weights = pose.resolve_weights("", "yolo11n-pose.pt")
    with pytest.raises(pose.PoseError):
        pose.UltralyticsPose(weights, preprocess="gpu-please", config_dir=str(tmp_path))
    b = pose.UltralyticsPose(weights, device="cuda:0", half=True, tensorrt=True, preprocess="auto",
                             config_dir=str(tmp_path))
    info = b.info()
    assert (info["device"], info["half"], info["path"], info["tensorrt"]) == ("cpu", False, "predict", False)
    assert b.device == "cpu" and not b.half and b.path == "predict" and b.engine is None and not b.pinned
    t = pose.UltralyticsPose(weights, preprocess="tensor", config_dir=str(tmp_path))   # tensor path runs on CPU
    assert t.path == "tensor" and t.info()["path"] == "tensor"
    # the tensor path finds the runner where the predict path does, in source pixels after scale and offset
    from tests.conftest import TREADMILL
    from tasks.video import iter_frame_chunks, resize_long_side

    if not TREADMILL.exists():
        pytest.skip(f"{TREADMILL} is missing")
    frame, scale = resize_long_side(next(iter(iter_frame_chunks(TREADMILL, 1, max_frames=1)))[0], 640)
    offsets = np.array([[10.0, 20.0]])
    got_tensor = t.infer([frame], scale, offsets)
    got_predict = b.infer([frame], scale, offsets)
    assert len(got_tensor) == len(got_predict) == 1
    tb, pb = got_tensor[0].boxes, got_predict[0].boxes
    assert len(pb) >= 1 and len(tb) == len(pb)
    runner_t, runner_p = tb[np.argmax(tb[:, 4])], pb[np.argmax(pb[:, 4])]
    height = runner_p[3] - runner_p[1]
    assert height > 0.3 * 1920                                     # the runner, in source pixels (1920 px tall)
    assert np.abs(runner_t[:4] - runner_p[:4]).max() < 0.05 * height
    assert got_tensor[0].keypoints.shape == (len(tb), 17, 3)


def test_settings_accept_the_performance_keys():
    from configs import SettingsError, load_settings

    s = load_settings(environ={"GAITLAKE_POSE__PREPROCESS": "tensor", "GAITLAKE_POSE__ROI": "true"})
    assert s.pose.preprocess == "tensor" and s.pose.roi is True
    with pytest.raises(SettingsError):
        load_settings(environ={"GAITLAKE_POSE__PREPROCESS": "gpu-please"})


def test_benchmark_entry_point_arguments():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from benchmarks.__main__ import NAMES, parser

    args = parser().parse_args(["roi", "--quick", "--frames", "32", "--roi-imgsz", "416"])
    assert args.name == "roi" and args.quick and args.frames == 32 and args.roi_imgsz == 416
    assert {"pose", "cpu-backends", "roi", "analysis", "lake", "api", "scaling", "gpu"} <= set(NAMES)
    import importlib

    for name in NAMES:                       # every name maps to a module with run(args)
        assert callable(importlib.import_module(f"benchmarks.bench_{name.replace('-', '_')}").run)
    cpu = parser().parse_args(["cpu-backends", "--threads", "2", "--precision", "f32", "--backend", "onnx"])
    assert (cpu.threads, cpu.precision, cpu.backend) == (2, "f32", "onnx")
    assert parser().parse_args(["all"]).name == "all"
    with pytest.raises(SystemExit):
        parser().parse_args(["nope"])


def test_vectorised_curves_are_bit_identical():
    from analysis.phases import _curve, _curves

    rng = np.random.default_rng(0)
    series = rng.normal(size=500)
    series[100] = np.nan
    starts = np.array([0, 40, 90, 95, 300, 350])
    ends = np.array([42, 83, 130, 96, 340, 352])
    ref = np.array([_curve(series, a, b) for a, b in zip(starts, ends)])
    np.testing.assert_array_equal(_curves(series, starts, ends), ref)


def test_prefetch_preserves_order_and_errors():
    from tasks.video import prefetch

    assert list(prefetch(iter(range(50)), 3)) == list(range(50))

    def bad():
        yield 1
        raise ValueError("boom")

    with pytest.raises(ValueError):
        list(prefetch(bad(), 2))
