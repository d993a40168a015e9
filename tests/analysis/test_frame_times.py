"""Frame times from presentation timestamps (issue 24): variable-frame-rate video.

A phone that drops to half its rate mid-clip (low light, heat) writes variable-frame-rate
video: the container's average rate is right for no part of it. The shared treadmill clip
(60 fps, hand-annotated) is made variable by keeping every frame of its first 200 and
every other frame after: the truth is the annotation's frame / 60.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from analysis.engine import RunnerProfile, analyze
from analysis.footage import analyze_footage
from analysis.timebase import declared_capture_fps, frame_timing, time_grid
from tests.engine_params import ENGINE_PARAMS

GT = Path(__file__).resolve().parents[2].parent / "shared" / "videos" / "ground-truth.json"
FOOT_SIDE = {"near": "right", "far": "left"}


def _half_rate_after(n: int, first_full: int = 200) -> np.ndarray:
    return np.array([i for i in range(n) if i < first_full or i % 2 == 0])


def test_frame_timing_tells_constant_from_variable():
    constant = np.arange(100) / 30.0 + 1e-4 * np.sin(np.arange(100))    # PTS rounding only
    assert not frame_timing(constant).variable
    assert frame_timing(constant).mean_fps == pytest.approx(30.0, rel=1e-3)
    dropped = np.delete(np.arange(100) / 30.0, [40, 41, 70])
    timing = frame_timing(dropped)
    assert timing.variable and timing.long_intervals == 2
    with pytest.raises(ValueError, match="increase"):
        frame_timing(np.array([0.0, 0.1, 0.1]))


def test_resampling_follows_the_timestamps_and_keeps_gaps():
    t = np.sort(np.r_[np.arange(0, 1, 1 / 60), np.arange(1, 2, 1 / 30)])
    x = np.sin(2 * np.pi * 1.3 * t)
    x[50] = np.nan
    timeline = time_grid(list(t), t.size)
    out, grid = timeline.to_grid(x), timeline.grid_s
    ok = np.isfinite(out)
    assert np.abs(out[ok] - np.sin(2 * np.pi * 1.3 * grid[ok])).max() < 0.01
    assert (~ok).sum() in (1, 2) and not ok[np.argmin(np.abs(grid - t[50]))]


def test_declared_capture_rate_is_read_and_a_real_time_one_ignored():
    assert declared_capture_fps({"com.android.capture.fps": "240.000000"}, 30.0) == 240.0
    assert declared_capture_fps({"Com.Vendor.Capture_Frame_Rate": "120"}, 30.0) == 120.0
    assert declared_capture_fps({"com.android.capture.fps": "30.000000"}, 30.0) is None
    assert declared_capture_fps({"encoder": "Lavf", "com.android.capture.fps": "nan"}, 30.0) is None


def _ic_to_errors_s(sa, events, t0: float):
    """Each annotated event's nearest detection's time minus its true time (s)."""
    out = {"IC": [], "TO": []}
    for e in events:
        det = np.array([x.time_s for x in sa.events if x.kind == e["event"] and x.side == FOOT_SIDE[e["foot"]]])
        truth = e["frame"] / 60.0 - t0
        out[e["event"]].append(float(det[np.argmin(np.abs(det - truth))] - truth))
    return {k: np.array(v) for k, v in out.items()}


def test_variable_frame_rate_clip_is_timed_by_its_timestamps(treadmill_keypoints_dev):
    if not GT.exists():
        pytest.skip("shared ground truth not found")
    gt = json.loads(GT.read_text())["treadmill-side-60fps.mp4"]
    kp, fps = treadmill_keypoints_dev
    keep = _half_rate_after(kp.shape[0])
    times = keep / fps                                   # the timestamps a phone would write
    nominal = (keep.size - 1) / (times[-1] - times[0])   # the container's average rate: ~45 fps
    boxes = np.full((keep.size, 4), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_nominal = analyze(kp[keep], nominal, RunnerProfile(), params=ENGINE_PARAMS)
        by_time = analyze_footage(kp[keep], boxes, nominal, [], None, None, frame_times_s=list(times), params=ENGINE_PARAMS)
    truth = gt["derived"]
    assert by_time.quality.reasons[0].startswith("Variable frame rate")
    assert by_time.fps == pytest.approx(nominal)
    # the average rate is wrong everywhere: 60 fps half runs slow, 30 fps half fast
    err_nominal = _ic_to_errors_s(by_nominal, gt["events"], 0.0)
    assert np.mean(np.abs(err_nominal["IC"]) <= 1 / 30) < 0.5
    errors = _ic_to_errors_s(by_time, gt["events"], 0.0)
    # one frame of the coarser (30 fps) half: 33 ms. Measured: IC 15/18, TO 18/18 (the clip
    # decimated to a constant 30 fps: IC 17/18, TO 18/18; the grid at the mean rate, 45.5
    # fps, is coarser than the first part's 60 fps)
    assert np.mean(np.abs(errors["IC"]) <= 1 / 30 + 1e-6) >= 0.8, errors["IC"]
    assert np.mean(np.abs(errors["TO"]) <= 1 / 30 + 1e-6) >= 0.9, errors["TO"]
    assert by_time.summary.cadence_spm == pytest.approx(truth["cadence_steps_per_min"], rel=0.02)
    assert by_time.summary.contact_time_s == pytest.approx(truth["mean_contact_time_s"], abs=1 / 30)
    # frame numbers are the decoded frames' (kept frame k is the clip's frame keep[k]), not the grid's
    # (on the grid, frame k is up to 63 clip frames from the k-th kept frame here)
    ics = [(e.side, int(keep[e.frame])) for e in by_time.events if e.kind == "IC"]
    off = [min(abs(f - e["frame"]) for s, f in ics if s == FOOT_SIDE[e["foot"]])
           for e in gt["events"] if e["event"] == "IC"]
    assert max(off) <= 4 and np.median(off) <= 1, off
    assert len(by_time.frame_series["left_contact"]) == keep.size
    assert np.allclose(by_time.time_s, times - times[0])


def test_constant_rate_timestamps_make_no_grid(treadmill_keypoints_dev):
    kp, fps = treadmill_keypoints_dev
    assert time_grid(list(np.arange(kp.shape[0]) / fps), kp.shape[0]) is None
    assert time_grid(None, kp.shape[0]) is None
