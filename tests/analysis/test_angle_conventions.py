"""One anatomical convention per joint angle (issue 25, item 1).

Knee and elbow flexion: 0 = straight, + = flexion (OpenSim/Sports2D); hip and
shoulder flexion/extension signed (+ = limb ahead of the trunk line); trunk lean
+ = forward. The same numbers for a runner facing image-left or image-right,
continuous in time, in the physiological range, and frames whose points are
unreliable left out (not shown as measurements) and named in the quality notes.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from analysis import angles as ang
from analysis.engine import RunnerProfile, analyze
from analysis.keypoints import KP
from analysis.synthetic import make_session
from tests.analysis.conftest import DATA, TREADMILL_FPS, load_detections
from tests.engine_params import ENGINE_PARAMS

GARAGE_DETECTIONS = DATA / "treadmill-garage-30fps.detections.npz"
JOINT_KEYS = [k for k in ang.joint_angles(np.zeros((1, 17, 2)), 1.0)]


def _skeleton(knee_flex: float, elbow_flex: float, hip_flex: float, shoulder_flex: float, lean: float,
              facing: float) -> np.ndarray:
    """One frame ``(1, 17, 2)`` in image pixels (y down) with exactly these angles (deg)
    on both sides, running towards ``facing`` x."""
    def body_to_px(p: np.ndarray) -> np.ndarray:
        return np.array([500.0 + facing * 100.0 * p[0], 800.0 - 100.0 * p[1]])

    def down_rotated(deg: float) -> np.ndarray:        # unit vector from straight down, + forward
        r = math.radians(deg)
        return np.array([math.sin(r), -math.cos(r)])

    hip = np.array([0.0, 1.0])
    trunk_down = -lean                                  # trunk line mid-shoulder -> mid-hip, from down
    sho = hip - 0.5 * down_rotated(trunk_down)
    thigh = trunk_down + hip_flex
    knee = hip + 0.45 * down_rotated(thigh)
    ankle = knee + 0.45 * down_rotated(thigh - knee_flex)   # the shank folds behind the thigh
    upper = trunk_down + shoulder_flex
    elbow = sho + 0.3 * down_rotated(upper)
    wrist = elbow + 0.25 * down_rotated(upper + elbow_flex)  # the forearm folds ahead of the upper arm
    xy = np.full((1, 17, 2), np.nan)
    for p in ("LEFT", "RIGHT"):
        for name, point in (("HIP", hip), ("KNEE", knee), ("ANKLE", ankle), ("SHOULDER", sho),
                            ("ELBOW", elbow), ("WRIST", wrist)):
            xy[0, KP[f"{p}_{name}"]] = body_to_px(point)
    return xy


@pytest.mark.parametrize("facing", [1.0, -1.0])
@pytest.mark.parametrize("knee,elbow,hip,shoulder,lean", [
    (0.0, 0.0, 0.0, 0.0, 0.0), (45.0, 90.0, 30.0, 40.0, 8.0), (120.0, 150.0, -20.0, -60.0, -5.0),
    (10.0, 170.0, 100.0, 120.0, 15.0)])
def test_synthetic_joints_read_back_in_their_documented_convention(facing, knee, elbow, hip, shoulder, lean):
    got = ang.joint_angles(_skeleton(knee, elbow, hip, shoulder, lean, facing), facing)
    for side in "lr":
        assert got[f"{side}kne_angle"][0] == pytest.approx(knee, abs=1e-6)
        assert got[f"{side}elb_angle"][0] == pytest.approx(elbow, abs=1e-6)
        assert got[f"{side}hip_angle"][0] == pytest.approx(hip, abs=1e-6)
        assert got[f"{side}sho_angle"][0] == pytest.approx(shoulder, abs=1e-6)
    assert got["posture_angle"][0] == pytest.approx(lean, abs=1e-6)


@pytest.mark.parametrize("facing", [1.0, -1.0])
def test_a_knee_or_elbow_bent_the_impossible_way_is_not_reliable(facing):
    """A knee bent forward by 40 deg reads as 40 deg flexion in the unsigned convention:
    only the reliability check tells it apart from a real flexion."""
    good = _skeleton(40.0, 90.0, 20.0, 10.0, 5.0, facing)
    bad = _skeleton(-40.0, -90.0, 20.0, 10.0, 5.0, facing)
    conf = np.ones((1, 17))
    for xy, want in ((good, True), (bad, False)):
        a = ang.joint_angles(xy, facing)
        assert a["lkne_angle"][0] == pytest.approx(40.0)
        ok = ang.angle_reliability(xy, conf, facing, a, 30.0)
        assert ok["lkne_angle"][0] is np.bool_(want) and ok["relb_angle"][0] is np.bool_(want)
        assert ok["lhip_angle"][0] and ok["posture_angle"][0]


def test_low_confidence_points_and_out_of_range_values_are_not_reliable():
    xy = _skeleton(40.0, 90.0, 20.0, 10.0, 5.0, 1.0)
    conf = np.ones((1, 17))
    conf[0, KP.LEFT_WRIST] = 0.3
    a = ang.joint_angles(xy, 1.0)
    ok = ang.angle_reliability(xy, conf, 1.0, a, 30.0)
    assert not ok["lelb_angle"][0] and ok["relb_angle"][0] and ok["lkne_angle"][0]
    xy = _skeleton(40.0, 90.0, 20.0, 10.0, 70.0, 1.0)          # a 70 deg trunk lean: not running
    ok = ang.angle_reliability(xy, np.ones((1, 17)), 1.0, ang.joint_angles(xy, 1.0), 30.0)
    assert not ok["posture_angle"][0]


def test_synthetic_session_knee_flexion_matches_truth_for_both_directions():
    for facing in (1.0, -1.0):
        s = make_session(duration_s=3.0, facing=facing)
        got = ang.joint_angles(s.keypoints[..., :2], facing)
        for side in ("left", "right"):
            truth = s.knee_flexion_deg[side]
            np.testing.assert_allclose(got[f"{side[0]}kne_angle"], np.abs(truth), atol=1e-6)


def _runner(path: Path) -> np.ndarray:
    from analysis.tracking import select_runner

    return select_runner(*load_detections(path)).keypoints.astype(float)


def _check_physiological_and_continuous(sa) -> None:
    fps = sa.fps
    for k in JOINT_KEYS:
        v = np.asarray(sa.frame_series[k], float)
        joint = "posture" if k == "posture_angle" else k[1:4]
        lo, hi = ang.PHYSIOLOGICAL_RANGE_DEG[joint]
        shown = v[np.isfinite(v)]
        assert shown.size > 0.3 * v.size, k
        assert shown.min() >= lo and shown.max() <= hi, (k, shown.min(), shown.max())
        # continuous: between two consecutive shown frames no joint turns faster than
        # 2500 deg/s (a sprinter's knee peaks near 1500 deg/s); a seam jump is 360 deg
        both = np.isfinite(v[1:]) & np.isfinite(v[:-1])
        assert np.abs(np.diff(v))[both].max() * fps <= ang.MAX_ANGULAR_SPEED_DEG_S, k
    assert np.nanmedian(sa.frame_series["lkne_angle"]) > 15.0
    assert np.nanmedian(sa.frame_series["rkne_angle"]) > 15.0


def test_the_60fps_runner_and_its_mirror_give_the_same_physiological_angles(treadmill_stored_detections):
    """The 60 fps runner faces right; mirrored horizontally she faces left: same angles."""
    from analysis.tracking import select_runner

    kp = select_runner(*treadmill_stored_detections).keypoints.astype(float)
    mirrored = kp.copy()
    mirrored[..., 0] = 1080.0 - mirrored[..., 0]
    right = analyze(kp, TREADMILL_FPS, RunnerProfile(), params=ENGINE_PARAMS)
    left = analyze(mirrored, TREADMILL_FPS, RunnerProfile(), params=ENGINE_PARAMS)
    assert right.summary.facing == "+x" and left.summary.facing == "-x"
    for sa in (right, left):
        _check_physiological_and_continuous(sa)
    for k in JOINT_KEYS:
        np.testing.assert_allclose(left.frame_series[k], right.frame_series[k], atol=1e-6, err_msg=k)
    # the arms swing through the seam of a signed elbow angle: unsigned flexion never does
    for k in ("lelb_angle", "relb_angle"):
        assert 60.0 < np.nanmedian(right.frame_series[k]) < 130.0, k


def test_the_garage_runner_facing_left_has_physiological_knees_and_flags_the_far_arm():
    """The shared garage clip (runner faces image-left, left leg near): its knees read
    -77..78 deg before (a knee bent forward in 10-17 % of frames), elbows -178..178."""
    sa = analyze(_runner(GARAGE_DETECTIONS), 30.0, RunnerProfile(), params=ENGINE_PARAMS)
    assert sa.summary.facing == "-x" and sa.quality.near_leg == "left"
    _check_physiological_and_continuous(sa)
    share = sa.quality.angle_shown_share
    assert share["relb_angle"] < 0.8 and share["lelb_angle"] > 0.8    # the far (right) arm is hidden
    notes = " ".join(sa.quality.reasons)
    assert "far (right) side" in notes and "right elbow" in notes
    assert "left knee" not in notes


def test_stride_knee_flexion_is_never_negative_on_real_footage(treadmill_stored_detections):
    from analysis.tracking import select_runner

    for kp, fps in ((select_runner(*treadmill_stored_detections).keypoints.astype(float), TREADMILL_FPS),
                    (_runner(GARAGE_DETECTIONS), 30.0)):
        sa = analyze(kp, fps, RunnerProfile(), params=ENGINE_PARAMS)
        knee = np.array([r["knee_flexion_deg"] for r in sa.strides.rows()], float)
        assert np.isfinite(knee).sum() >= 8 and np.nanmin(knee) > 0.0


def test_a_stride_curve_that_is_keypoint_noise_is_named(treadmill_stored_detections):
    """The 60 fps clip's right elbow varies by ~70 deg (SD) between strides at one point of
    the stride (a wrist that jumps), its shoulders by ~40, its knees by at most ~11: the arm
    curves get a note, no curve under the limit does."""
    from analysis.engine import CURVE_SD_NOTE_DEG
    from analysis.tracking import select_runner

    sa = analyze(select_runner(*treadmill_stored_detections).keypoints.astype(float), TREADMILL_FPS, RunnerProfile(), params=ENGINE_PARAMS)
    noisy = [r for r in sa.quality.reasons if "between strides" in r]
    assert any(r.startswith("The right elbow angle varies") for r in noisy), sa.quality.reasons
    assert not any("knee" in r for r in noisy)
    for side in ("left", "right"):
        for key, curve in sa.phases.side(side).angle_curves.items():
            if np.nanmax(curve.sd) <= CURVE_SD_NOTE_DEG and key != "posture_angle":
                label = {"elb": "elbow", "sho": "shoulder", "kne": "knee", "hip": "hip", "ank": "ankle"}[key[1:4]]
                assert not any(r.startswith(f"The {side} {label} angle varies") for r in noisy), key
