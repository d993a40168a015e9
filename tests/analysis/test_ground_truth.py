"""The engine on the shared treadmill video against its hand-annotated events.

Tolerances (measured on YOLO11n-pose keypoints of the clip, 60 fps; see
docs/analysis.md): each IC and TO within 2 frames (33 ms) of the annotation,
which is itself +/-1 frame; kinematic event methods in the literature err by
~10-25 ms (Fellin et al. 2010; Zeni et al. 2008). Cadence within 1 spm (issue 3),
mean contact and flight time within one frame (17 ms), stride time within 10 ms.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.engine import RunnerProfile, analyze
from tests.engine_params import ENGINE_PARAMS

GT = Path(__file__).resolve().parents[2].parent / "shared" / "videos" / "ground-truth.json"
FOOT_SIDE = {"near": "right", "far": "left"}   # README: near foot = right leg


def _errors(sa, events, kind):
    out = []
    for e in events:
        if e["event"] != kind:
            continue
        det = np.array([x.frame for x in sa.events if x.kind == kind and x.side == FOOT_SIDE[e["foot"]]])
        assert det.size, f"no {kind} detected"
        out.append(int(det[np.argmin(np.abs(det - e["frame"]))] - e["frame"]))
    return np.array(out)


@pytest.mark.slow
def test_treadmill_video_matches_ground_truth(treadmill_keypoints):
    if not GT.exists():
        pytest.skip("shared ground truth not found")
    gt = json.loads(GT.read_text())["treadmill-side-60fps.mp4"]
    keypoints, fps = treadmill_keypoints
    sa = analyze(np.asarray(keypoints, float), float(fps), RunnerProfile(), params=ENGINE_PARAMS)
    ic, to = _errors(sa, gt["events"], "IC"), _errors(sa, gt["events"], "TO")
    assert np.abs(ic).max() <= 2, ic
    assert np.abs(to).max() <= 2, to
    d, S = gt["derived"], sa.summary
    assert sa.quality.mode == "treadmill" and sa.quality.gait == "running"
    assert S.facing == "+x"
    assert S.cadence_spm == pytest.approx(d["cadence_steps_per_min"], abs=1.0)  # issue 3: within 1 step/min
    assert S.contact_time_s == pytest.approx(d["mean_contact_time_s"], abs=1 / 60)
    assert S.flight_time_s == pytest.approx(d["mean_flight_time_s"], abs=1 / 60)
    assert S.stride_time_s == pytest.approx(d["mean_stride_time_s"], abs=0.010)
    n_ic = sum(e["event"] == "IC" for e in gt["events"])
    assert sum(e.kind == "IC" for e in sa.events) == n_ic      # no missed or extra contacts


def test_dev_keypoints_match_ground_truth(treadmill_keypoints_dev):
    """Same check on developer-generated keypoints, when present (skips otherwise)."""
    test_treadmill_video_matches_ground_truth(treadmill_keypoints_dev)


def _check_side_speeds(keypoints, fps):
    """Treadmill belt speed by side: one belt, so left and right strides agree.

    Before per-leg scaling and the joint belt speed, the far (left) foot's
    strides read 2.58 m/s and the near (right) foot's 3.20 m/s (mean 2.89) on
    the dev keypoints; now both 3.20 m/s. The near leg is found from the
    keypoints (README: the right leg is the near one) and its leg looks longer.
    """
    sa = analyze(np.asarray(keypoints, float), float(fps), RunnerProfile(), params=ENGINE_PARAMS)
    q = sa.quality
    assert q.near_leg == "right"
    assert q.px_per_m_left < q.px_per_m_right == pytest.approx(sa.summary.px_per_m)
    mean = {side: np.mean(sa.strides.of_side(side).speed_mps) for side in ("left", "right")}
    assert abs(mean["left"] - mean["right"]) < 0.05 * max(mean.values()), mean
    assert 2.0 < sa.summary.speed_mps < 4.5                  # a running belt speed
    for side in ("left", "right"):
        sl = sa.strides.of_side(side).stride_length_m
        assert np.mean(sl) == pytest.approx(sa.summary.stride_length_m, rel=0.05), side


def test_dev_keypoints_side_speeds_agree(treadmill_keypoints_dev):
    _check_side_speeds(*treadmill_keypoints_dev)


@pytest.mark.slow
def test_treadmill_video_side_speeds_agree(treadmill_keypoints):
    _check_side_speeds(*treadmill_keypoints)


# --- invariance on the same tracked keypoints ---------------------------------------
FRAME_WIDTH_PX = 1920.0     # the shared clip is 1920x1080


def _check_mirror(keypoints, fps):
    """x -> width - x: the runner faces -x; every event and metric is unchanged.

    The engine works in the body frame (forward = facing * x), so a mirror is a
    sign flip plus a constant offset that no step depends on: events must be the
    same frames, times and metrics equal to float rounding.
    """
    kp = np.asarray(keypoints, float)
    mirrored = kp.copy()
    mirrored[..., 0] = FRAME_WIDTH_PX - mirrored[..., 0]
    a = analyze(kp, float(fps), RunnerProfile(), params=ENGINE_PARAMS)
    b = analyze(mirrored, float(fps), RunnerProfile(), params=ENGINE_PARAMS)
    assert a.summary.facing == "+x" and b.summary.facing == "-x"
    assert [(e.side, e.kind, e.frame) for e in b.events] == [(e.side, e.kind, e.frame) for e in a.events]
    np.testing.assert_allclose([e.time_s for e in b.events], [e.time_s for e in a.events], rtol=0, atol=1e-9)
    for k, v in a.summary.to_dict().items():
        if isinstance(v, float):
            assert b.summary.value(k) == pytest.approx(v, rel=1e-6, abs=1e-9), k
    assert b.quality.mode == a.quality.mode and b.quality.gait == a.quality.gait


def _check_half_rate(keypoints, fps):
    """Every second frame (30 fps), both phases of the decimation.

    Tolerances: event times are sub-frame (interpolated threshold crossings), so
    the means need not move by the frame grid; measured on YOLO11n-pose
    keypoints: cadence within 0.5 % of the 60 fps result (issue: 2 %; asserted
    1 %), contact and flight within 2 ms (asserted: half a 30 fps frame, 17 ms),
    stride time within 2 ms (asserted 10 ms, as against the annotation). Each
    annotated IC/TO is matched by an event within 2 frames at 30 fps (67 ms; the
    60 fps bound is 2 frames = 33 ms, and a 30 fps event frame is the first frame
    at or after the event, up to one 30 fps frame late), measured <= 1.5.
    """
    if not GT.exists():
        pytest.skip("shared ground truth not found")
    gt = json.loads(GT.read_text())["treadmill-side-60fps.mp4"]
    kp = np.asarray(keypoints, float)
    base = analyze(kp, float(fps), RunnerProfile(), params=ENGINE_PARAMS).summary
    n_ic = sum(e["event"] == "IC" for e in gt["events"])
    for off in (0, 1):
        sa = analyze(kp[off::2], float(fps) / 2, RunnerProfile(), params=ENGINE_PARAMS)
        S = sa.summary
        assert sa.quality.mode == "treadmill" and sa.quality.gait == "running"
        assert sum(e.kind == "IC" for e in sa.events) == n_ic
        for e in gt["events"]:
            det = np.array([x.frame for x in sa.events
                            if x.kind == e["event"] and x.side == FOOT_SIDE[e["foot"]]])
            g = (e["frame"] - off) / 2                      # annotated frame on the 30 fps grid
            assert np.abs(det - g).min() <= 2, (off, e)
        assert S.cadence_spm == pytest.approx(base.cadence_spm, rel=0.01)
        assert S.cadence_spm == pytest.approx(gt["derived"]["cadence_steps_per_min"], abs=1.5)
        assert S.contact_time_s == pytest.approx(base.contact_time_s, abs=1 / 60)
        assert S.flight_time_s == pytest.approx(base.flight_time_s, abs=1 / 60)
        assert S.stride_time_s == pytest.approx(base.stride_time_s, abs=0.010)


@pytest.mark.slow
def test_treadmill_video_mirrored(treadmill_keypoints):
    _check_mirror(*treadmill_keypoints)


@pytest.mark.slow
def test_treadmill_video_half_frame_rate(treadmill_keypoints):
    _check_half_rate(*treadmill_keypoints)


def test_dev_keypoints_mirrored(treadmill_keypoints_dev):
    _check_mirror(*treadmill_keypoints_dev)


def test_dev_keypoints_half_frame_rate(treadmill_keypoints_dev):
    _check_half_rate(*treadmill_keypoints_dev)
