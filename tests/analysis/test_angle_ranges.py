"""Joint angles stay in (-180, 180] in every output (issue 16: elbows drifted to 484 deg)."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.angles import joint_angles
from analysis.engine import RunnerProfile, analyze
from analysis.keypoints import KP
from analysis.synthetic import make_session
from api.documents import from_analysis
from tests.engine_params import ENGINE_PARAMS


def _in_range(v) -> bool:
    v = np.asarray(v, dtype=float)
    v = v[np.isfinite(v)]
    return bool(v.size == 0 or (v.min() > -180.0 and v.max() <= 180.0))


@pytest.mark.parametrize("facing", [1.0, -1.0])
def test_limb_sweeps_through_the_seam_stay_in_range_and_exact(facing):
    """Forearm and shank orbit their joints three times (through +-180 each time): every
    angle stays in (-180, 180] and does not drift; elbow flexion is the unsigned bend."""
    s = make_session(duration_s=2.0, facing=facing)
    xy = s.keypoints[..., :2].copy()
    T = xy.shape[0]
    turn = np.linspace(0.0, 3 * 360.0, T)                     # deg, relative to the upper arm / thigh
    for sho, elb, wri in ((KP.LEFT_SHOULDER, KP.LEFT_ELBOW, KP.LEFT_WRIST),
                          (KP.RIGHT_SHOULDER, KP.RIGHT_ELBOW, KP.RIGHT_WRIST)):
        upper = xy[:, elb] - xy[:, sho]
        ang = np.radians(turn) * -facing                       # image y is down: flip for body frame
        c, sn = np.cos(ang), np.sin(ang)
        rot = np.stack([c * upper[:, 0] - sn * upper[:, 1], sn * upper[:, 0] + c * upper[:, 1]], 1)
        xy[:, wri] = xy[:, elb] + 0.8 * rot
    out = joint_angles(xy, facing)
    for k, v in out.items():
        assert _in_range(v), (k, np.nanmin(v), np.nanmax(v))
    want = (turn + 180.0) % 360.0 - 180.0
    want = np.where(want == -180.0, 180.0, want)
    for k in ("lelb_angle", "relb_angle"):                      # flexion: the unsigned bend
        assert np.abs(out[k] - np.abs(want)).max() < 1e-6, k


def test_one_bad_frame_does_not_shift_the_rest():
    s = make_session(duration_s=2.0)
    xy = s.keypoints[..., :2].copy()
    clean = joint_angles(xy, 1.0)
    bad = xy.copy()
    bad[50, KP.LEFT_WRIST] = 2 * bad[50, KP.LEFT_ELBOW] - bad[50, KP.LEFT_WRIST]   # wrist flipped through the elbow
    got = joint_angles(bad, 1.0)
    for k in clean:
        mask = np.arange(xy.shape[0]) != 50
        np.testing.assert_allclose(got[k][mask], clean[k][mask], atol=1e-9, err_msg=k)


def test_every_angle_output_of_the_shared_clip_is_in_range(treadmill_keypoints_dev):
    keypoints, fps = treadmill_keypoints_dev
    sa = analyze(np.asarray(keypoints, float), fps, RunnerProfile(), params=ENGINE_PARAMS)
    keys = [k for k in sa.frame_series if k.endswith("_angle")]
    assert len(keys) >= 11                                  # 11 joint series + contact_angle
    for k in keys:
        assert _in_range(sa.frame_series[k]), (k, np.nanmin(sa.frame_series[k]), np.nanmax(sa.frame_series[k]))
    details = from_analysis(sa)["details_doc"]
    for k, v in details["angles"].items():
        assert _in_range([x for x in v if x is not None]), k
    for k, v in details["calculated_metrics"].items():
        if "_angle_" in k and v is not None:
            assert -180.0 < v <= 180.0, k
    for side in ("left", "right"):
        for k, curve in sa.phases.side(side).angle_curves.items():
            for name in ("mean", "next_stride"):
                assert _in_range(getattr(curve, name)), (side, k, name)
    for row in sa.strides.rows():
        for k in ("contact_angle_deg", "knee_flexion_deg", "ankle_angle_deg", "posture_angle_deg", "stride_angle_deg"):
            assert row[k] is None or -180.0 < row[k] <= 180.0, (k, row[k])
