"""The engine against synthetic kinematics with exact truth (analysis.synthetic)."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from analysis.angles import wrap_deg
from analysis.engine import AnalysisError, RunnerProfile, analyze
from analysis.metrics import minetti_cost_j_per_kg_m
from analysis.synthetic import make_session
from api.documents import from_analysis, gait_document
from tests.engine_params import ENGINE_PARAMS

PROFILE = RunnerProfile(height_m=1.75, weight_kg=70.0)


def _event_errors(sa, s, margin_s=0.3):
    """Frame error of every true event away from the record edges."""
    T = s.keypoints.shape[0]
    m = int(margin_s * s.fps)
    errs = []
    for side in ("left", "right"):
        for kind in ("IC", "TO"):
            det = np.array([e.frame for e in sa.events if e.side == side and e.kind == kind])
            for f in s.events[side][kind]:
                if m <= f < T - m:
                    assert det.size, f"no {side} {kind} detected"
                    errs.append(int(det[np.argmin(np.abs(det - f))] - f))
    return np.array(errs)


CLEAN_CASES = [
    # cadence, contact, speed, facing, mode, fps
    (170.0, 0.25, 3.0, 1.0, "treadmill", 60.0),
    (180.0, 0.22, 4.0, -1.0, "treadmill", 60.0),
    (160.0, 0.28, 2.7, 1.0, "overground", 60.0),
    (175.0, 0.24, 3.5, -1.0, "overground", 120.0),   # slow pelvis filter pads in time, not frames
    (165.0, 0.26, 3.0, 1.0, "treadmill", 30.0),       # Hampel floor follows the motion; sub-frame events
    (172.0, 0.23, 3.3, 1.0, "overground", 240.0),
]


@pytest.mark.parametrize("cadence,contact,speed,facing,mode,fps", CLEAN_CASES)
def test_clean_running_recovers_truth(cadence, contact, speed, facing, mode, fps):
    s = make_session(cadence_spm=cadence, contact_time_s=contact, speed_mps=speed,
                     facing=facing, mode=mode, fps=fps, duration_s=8.0)
    sa = analyze(s.keypoints, s.fps, PROFILE, params=ENGINE_PARAMS)
    S, tr, frame = sa.summary, s.truth, 1.0 / fps
    errs = _event_errors(sa, s)
    assert np.mean(np.abs(errs) <= 1) >= 0.95, errs            # events within one frame ...
    assert np.abs(errs).max() <= 2, errs                       # ... rare rounding outliers within two
    assert S.cadence_spm == pytest.approx(tr["cadence_spm"], abs=0.5)
    assert S.contact_time_s == pytest.approx(tr["contact_time_s"], abs=frame)
    assert S.flight_time_s == pytest.approx(tr["flight_time_s"], abs=frame)
    assert S.stride_time_s == pytest.approx(tr["stride_time_s"], abs=0.5 * frame)
    assert S.speed_mps == pytest.approx(tr["speed_mps"], rel=0.02)
    assert S.stride_length_m == pytest.approx(tr["stride_length_m"], rel=0.03)
    assert S.balance_pct == pytest.approx(50.0, abs=1.5)
    assert S.posture_angle_deg == pytest.approx(tr["posture_angle_deg"], abs=2.0)
    assert S.px_per_m == pytest.approx(tr["px_per_m"], rel=0.01)
    q = sa.quality
    # no perspective in the generator: both legs measure alike, one scale, no near leg
    assert q.px_per_m_left == pytest.approx(q.px_per_m_right, rel=0.005)
    assert q.px_per_m_left == pytest.approx(S.px_per_m, rel=0.005) and q.near_leg is None
    assert q.gait == "running" and q.mode == mode and q.side_view
    assert not q.implausible_timing
    assert S.facing == ("+x" if facing > 0 else "-x")
    c = minetti_cost_j_per_kg_m(0.0)
    assert S.normalized_power_w_per_kg == pytest.approx(c * S.speed_mps, rel=1e-6)


def test_clean_knee_angle_median_within_1_degree():
    s = make_session(duration_s=6.0)
    sa = analyze(s.keypoints, s.fps, PROFILE, params=ENGINE_PARAMS)
    T = s.keypoints.shape[0]
    core = slice(int(0.1 * T), int(0.9 * T))
    for side, key in (("left", "lkne_angle"), ("right", "rkne_angle")):
        err = np.abs(sa.frame_series[key][core] - s.knee_flexion_deg[side][core])
        assert np.median(err) < 1.0 and np.percentile(err, 90) < 3.5  # 8 Hz filter rounds sharp knee peaks


@pytest.mark.parametrize("far_scale,facing,noise,speed", [
    (0.85, 1.0, 0.0, 3.0), (0.85, -1.0, 0.0, 4.0), (0.90, 1.0, 2.0, 3.5), (0.85, 1.0, 3.0, 3.0)])
def test_perspective_far_leg_is_rescaled(far_scale, facing, noise, speed):
    """The far (left) leg drawn smaller about its hip, as a leg further from the camera:
    its own scale corrects its foot speed; the belt speed of every stride is the truth."""
    kw = dict(speed_mps=speed, facing=facing, noise_px=noise, duration_s=8.0, seed=3)
    s = make_session(far_leg_scale=far_scale, **kw)
    sa = analyze(s.keypoints, s.fps, PROFILE, params=ENGINE_PARAMS)
    q, tr = sa.quality, s.truth
    assert q.near_leg == "right"
    assert q.px_per_m_right == pytest.approx(tr["px_per_m"], rel=0.01)
    assert q.px_per_m_left == pytest.approx(far_scale * tr["px_per_m"], rel=0.01)
    for side in ("left", "right"):                      # each foot in its own scale
        assert getattr(q, f"stance_speed_{side}_mps") == pytest.approx(tr["speed_mps"], rel=0.03), side
        rows = sa.strides.of_side(side).rows()
        assert len(rows) >= 8
        for r in rows:                                  # every stride, both sides
            assert r["speed_mps"] == pytest.approx(tr["speed_mps"], rel=0.03), (side, r["ic_frame"])
            assert r["stride_length_m"] == pytest.approx(tr["stride_length_m"], rel=0.04), side
    # the summary lists each belt-speed reading once: the near leg's strides only
    doc_speed = from_analysis(sa)["summary_doc"]["performance_metrics"]["speed"]["values"]
    assert doc_speed == sa.strides.of_side("right").speed_mps.tolist()
    # timing is scale-free: the same events and times as without perspective (exactly
    # without noise; the pixel noise is not drawn smaller with the leg, so with it the
    # sub-frame instants may move by a little)
    flat = analyze(make_session(**kw).keypoints, s.fps, PROFILE, params=ENGINE_PARAMS)
    ev_a = [(e.side, e.kind, e.frame) for e in sa.events if e.kind != "MS"]
    ev_b = [(e.side, e.kind, e.frame) for e in flat.events if e.kind != "MS"]
    if noise == 0:
        assert ev_a == ev_b
    else:
        assert [x[:2] for x in ev_a] == [x[:2] for x in ev_b]
        assert max(abs(x[2] - y[2]) for x, y in zip(ev_a, ev_b)) <= 1
    tol = 1e-9 if noise == 0 else 0.1 / s.fps
    for k in ("cadence_spm", "contact_time_s", "flight_time_s", "stride_time_s"):
        assert sa.summary.value(k) == pytest.approx(flat.summary.value(k), abs=tol * (100 if k == "cadence_spm" else 1)), k
    # in the whole-body scale the far foot would read far_scale x the speed (the bias fixed here)
    uncorrected = q.stance_speed_left_mps * q.px_per_m_left / sa.summary.px_per_m
    assert uncorrected == pytest.approx(far_scale * tr["speed_mps"], rel=0.03)


def test_balance_detects_asymmetry():
    s = make_session(contact_time_s=0.24, contact_asymmetry_s=0.03, duration_s=8.0)
    sa = analyze(s.keypoints, s.fps, PROFILE, params=ENGINE_PARAMS)
    assert sa.summary.balance_pct == pytest.approx(s.truth["balance_pct"], abs=1.5)


DEGRADED = [
    # noise px, gap rate, outlier rate, swap rate, cadence tol, contact tol (frames), speed rel
    (2.0, 0.0, 0.0, 0.0, 0.5, 1.0, 0.03),
    (3.0, 0.03, 0.01, 0.0, 1.0, 1.5, 0.04),
    (3.0, 0.0, 0.0, 0.08, 1.0, 1.5, 0.04),
    (4.0, 0.03, 0.01, 0.08, 1.5, 2.0, 0.05),
]


@pytest.mark.parametrize("noise,gaps,outliers,swaps,cad_tol,ct_tol,spd_tol", DEGRADED)
def test_degraded_input_within_stated_tolerances(noise, gaps, outliers, swaps, cad_tol, ct_tol, spd_tol):
    s = make_session(noise_px=noise, gap_rate=gaps, outlier_rate=outliers, swap_rate=swaps,
                     duration_s=10.0, seed=7)
    sa = analyze(s.keypoints, s.fps, PROFILE, params=ENGINE_PARAMS)
    S, tr = sa.summary, s.truth
    assert S.cadence_spm == pytest.approx(tr["cadence_spm"], abs=cad_tol)
    assert S.contact_time_s == pytest.approx(tr["contact_time_s"], abs=ct_tol / s.fps)
    assert S.stride_time_s == pytest.approx(tr["stride_time_s"], abs=1.0 / s.fps)
    assert S.speed_mps == pytest.approx(tr["speed_mps"], rel=spd_tol)
    assert S.balance_pct == pytest.approx(50.0, abs=2.5)
    errs = _event_errors(sa, s)
    assert np.mean(np.abs(errs) <= 2) >= 0.9
    if swaps:
        assert sa.quality.swaps_repaired > 0


def test_walking_is_recognised():
    s = make_session(cadence_spm=110.0, contact_time_s=0.68, speed_mps=1.3, duration_s=10.0)
    sa = analyze(s.keypoints, s.fps, PROFILE, params=ENGINE_PARAMS)
    assert sa.quality.gait == "walking"
    assert sa.summary.flight_time_s == 0.0
    assert sa.summary.cadence_spm == pytest.approx(110.0, abs=0.5)
    assert sa.summary.duty_factor > 0.5


def test_slow_motion_is_flagged_and_capture_fps_rescales():
    s = make_session(fps=240.0, duration_s=6.0)          # captured at 240 fps ...
    sa = analyze(s.keypoints, 30.0, PROFILE, params=ENGINE_PARAMS)             # ... played back at 30 fps
    q = sa.quality
    assert sa.summary.cadence_spm == pytest.approx(170.0 / 8, abs=0.5)
    assert q.gait == "running" and q.implausible_timing is True
    assert q.suggested_capture_fps == 240.0
    assert any("slow motion" in r for r in q.reasons)
    fixed = analyze(s.keypoints, 30.0, RunnerProfile(height_m=1.75, capture_fps=240.0), params=ENGINE_PARAMS)
    assert fixed.fps == 240.0
    assert fixed.summary.cadence_spm == pytest.approx(170.0, abs=0.5)
    assert not fixed.quality.implausible_timing


def test_too_few_strides_gives_nulls_not_statistics():
    s = make_session(duration_s=0.9)
    sa = analyze(s.keypoints, s.fps, PROFILE, params=ENGINE_PARAMS)
    assert sa.summary.cadence_spm is None and sa.summary.contact_time_s is None
    assert sa.quality.strides_used == 0
    assert any("Too few" in r for r in sa.quality.reasons)
    doc = from_analysis(sa)["summary_doc"]
    assert doc["running_mechanics"]["contact_time"]["avg"] is None
    json.dumps(doc, allow_nan=False)


def test_runner_missing_raises():
    s = make_session(duration_s=2.0)
    kp = s.keypoints.copy()
    kp[5:, :, :2] = np.nan
    kp[5:, :, 2] = 0.0
    with pytest.raises(AnalysisError, match="frames"):
        analyze(kp, s.fps, PROFILE, params=ENGINE_PARAMS)
    with pytest.raises(AnalysisError):
        analyze(s.keypoints, 0.0, PROFILE, params=ENGINE_PARAMS)


def test_mirror_and_decimation_keep_cadence():
    s = make_session(duration_s=8.0, noise_px=2.0, seed=3)
    base = analyze(s.keypoints, 60.0, PROFILE, params=ENGINE_PARAMS).summary.cadence_spm
    mirrored = s.keypoints.copy()
    mirrored[..., 0] = 1920.0 - mirrored[..., 0]
    assert analyze(mirrored, 60.0, PROFILE, params=ENGINE_PARAMS).summary.cadence_spm == pytest.approx(base, rel=0.02)
    half = analyze(s.keypoints[::2], 30.0, PROFILE, params=ENGINE_PARAMS).summary.cadence_spm
    assert half == pytest.approx(base, rel=0.02)


def test_documents_are_json_and_shaped_like_the_spec():
    s = make_session(duration_s=6.0)
    sa = analyze(s.keypoints, s.fps, RunnerProfile(height_m=1.75, joints=("knee", "ankle")), params=ENGINE_PARAMS)
    summ = from_analysis(sa)["summary_doc"]
    assert set(summ) == {"performance_metrics", "running_mechanics", "balance_and_posture",
                         "distance_and_duration"}
    assert set(summ["performance_metrics"]["speed"]) == {"min", "max", "avg", "values"}
    assert summ["performance_metrics"]["power"]["avg"] is None      # no weight given
    det = from_analysis(sa)["details_doc"]
    assert set(det["angles"]) == {"posture_angle", "lkne_angle", "rkne_angle", "lank_angle", "rank_angle"}
    assert len(det["all_timestamps"]) == s.keypoints.shape[0]
    form = from_analysis(sa)["form_doc"]["metrics"]
    assert set(form) == {"speed", "balance", "cadence", "contact_angle", "eversion_velocity",
                         "knee_flexion", "posture_angle", "ankle_angle", "com_oscillation",
                         "stride_angle", "mean_h"}
    gait = gait_document(sa.phases)
    for side in ("left", "right"):
        g = gait[side]
        assert set(g["phases"]) == {"strike", "mid_stance", "takeoff", "flight", "new_strike"}
        fr = [g["phases"][k]["video_frame"] for k in ("strike", "mid_stance", "takeoff", "flight", "new_strike")]
        assert fr == sorted(fr)
        assert len(g["angles"]["lkne_angle" if side == "left" else "rkne_angle"]["current"]) == 101
        assert len(g["graph_timestamps"]) == 101
        assert g["initiator"] in ("left", "right")
    for doc in (summ, det, from_analysis(sa)["form_doc"], gait):
        json.dumps(doc, allow_nan=False)
    for key, arr in sa.frame_series.items():
        assert arr.shape == (s.keypoints.shape[0],), key


def test_angles_stay_in_range_and_plausible_motion_never_jumps():
    """Issue 16: wrapped per frame into (-180, 180]; a segment turning twice meets the seam
    (and only there jumps by 360) instead of drifting to 720."""
    a = np.linspace(0, 720, 500)                      # a segment turning twice
    out = wrap_deg(a)
    assert out.min() > -180 and out.max() <= 180
    jumps = np.abs(np.diff(out)) > 2.0
    assert np.allclose(np.abs(np.diff(out))[jumps], 360.0, atol=2.0) and jumps.sum() == 2
    assert wrap_deg(np.array([-180.0, 540.0, np.nan]))[:2].tolist() == [180.0, 180.0]
    s = make_session(duration_s=4.0, facing=-1.0)
    sa = analyze(s.keypoints, s.fps, PROFILE, params=ENGINE_PARAMS)
    for k, v in sa.frame_series.items():
        if k.endswith("_angle"):
            assert np.nanmax(np.abs(np.diff(v))) < 30.0, k


@pytest.mark.parametrize("incline,expected", [(0.0, 3.6), (math.degrees(math.atan(0.1)), 5.97)])
def test_minetti_cost(incline, expected):
    assert minetti_cost_j_per_kg_m(incline) == pytest.approx(expected, abs=0.05)


def test_engine_params_are_what_the_engine_runs_with():
    """Each EngineParams field changes the result the way it says (configs build them from [analysis])."""
    s = make_session(duration_s=6.0, noise_px=1.0, gap_rate=0.02, seed=3)
    unknown = RunnerProfile(weight_kg=70.0)                      # no height: the default height scales
    base = analyze(s.keypoints, s.fps, unknown, params=ENGINE_PARAMS)
    assert base.quality.default_height_used
    tall = analyze(s.keypoints, s.fps, unknown, params=replace(ENGINE_PARAMS, default_height_m=1.87))
    # speed is pixels over px/m, and px/m is proportional to 1 / height: exactly 1.1 x
    assert tall.summary.speed_mps == pytest.approx(1.1 * base.summary.speed_mps, rel=1e-9)
    assert "1.87 m" in " ".join(tall.quality.reasons)
    smooth = analyze(s.keypoints, s.fps, unknown, params=replace(ENGINE_PARAMS, lowpass_hz=4.0))
    assert np.nanmax(np.abs(smooth.frame_series["lkne_angle"] - base.frame_series["lkne_angle"])) > 0.5
    with pytest.raises(AnalysisError):                          # the synthetic keypoints have confidence 0.9
        analyze(s.keypoints, s.fps, unknown, params=replace(ENGINE_PARAMS, min_keypoint_conf=0.95))
    no_fill = analyze(s.keypoints, s.fps, unknown, params=replace(ENGINE_PARAMS, max_gap_s=0.0))
    assert (np.isnan(no_fill.frame_series["left_ankle_x_px"]).sum()
            > np.isnan(base.frame_series["left_ankle_x_px"]).sum())
