"""Foot strike from heel and toe (analysis/feet.py): exact geometry on synthetic feet, and the
shared clips' hand-measured foot strike (``shared/videos/*.footstrike.json``) on stored foot points.

The stored points (``tests/analysis/data/*.feet.npz``) are the foot stage's output
(``tasks.feet``, BlazePose full on the runner's crop); ``python -m
tests.analysis.make_feet_fixtures`` regenerates them. The truth gives every IC's sole angle at
IC and IC-1; the touchdown angle lies between them, so a measurement is scored by its distance
outside that bracket.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import analysis.feet as F
from analysis.engine import analyze
from analysis.tracking import select_runner
from tests.analysis.conftest import DATA, load_detections
from tests.engine_params import ENGINE_PARAMS

VIDEOS = Path(__file__).resolve().parents[3] / "shared" / "videos"
CLIPS = {"treadmill-side-60fps": (60.0, (1080, 1920)), "treadmill-garage-30fps": (30.0, (720, 1280))}


# --- exact geometry ------------------------------------------------------------------------------
def test_sole_angle_is_toe_up_positive_in_the_running_direction():
    heel = np.array([[100.0, 500.0]])
    toe_up_ahead = np.array([[200.0, 500.0 - 100 * np.tan(np.radians(15))]])
    assert F.sole_angle_deg(heel, toe_up_ahead, +1)[0] == pytest.approx(15.0)
    mirrored_heel, mirrored_toe = heel * [-1, 1], toe_up_ahead * [-1, 1]
    assert F.sole_angle_deg(mirrored_heel, mirrored_toe, -1)[0] == pytest.approx(15.0)


@pytest.mark.parametrize("angle, pattern", [(8.01, "rearfoot"), (8.0, "midfoot"), (0.0, "midfoot"),
                                            (-1.6, "midfoot"), (-1.61, "forefoot"), (np.nan, None)])
def test_altman_davis_cut_offs(angle, pattern):
    assert F.strike_pattern(angle) == pattern


def test_touchdown_angle_is_the_mean_of_ic_minus_1_and_ic_against_the_floor():
    sole = np.array([0.0, 20.0, 10.0, 2.0])
    assert F.touchdown_angle_deg(sole, 2, floor_deg=-3.0) == pytest.approx(18.0)
    assert np.isnan(F.touchdown_angle_deg(sole, 0, 0.0))


def test_flat_foot_line_is_the_median_over_20_to_50_percent_of_stance():
    sole = np.full(40, 30.0)          # swing: toe up
    sole[10:20] = [12, 9, -4, -4, -5, -4, 10, 20, 30, 30]   # stance 10..20: heel strike, flat, push-off
    assert F.flat_foot_angle_deg(sole, np.array([10]), np.array([20])) == pytest.approx(-4.0)


def test_strike_frames_are_ic_minus_1_ic_and_the_flat_window_of_a_capped_number_of_stances():
    ics = {"left": np.array([10, 50, 90]), "right": np.array([30])}
    tos = {"left": np.array([20, 60, 100]), "right": np.array([40])}
    got = F.strike_frames(ics, tos, 200, floor_stances=2)
    # IC-1, IC of all four contacts; 20-50 % of stances (10, 20) and (90, 100) of the left foot (two of
    # three, evenly spread) and of the right's only stance: frames a+2..a+5
    want = {9, 10, 49, 50, 89, 90, 29, 30} | set(range(12, 16)) | set(range(92, 96)) | set(range(32, 36))
    assert got.tolist() == sorted(want)
    assert F.strike_frames({"left": np.array([0]), "right": np.array([], int)},
                           {"left": np.array([-1]), "right": np.array([], int)}, 5).tolist() == [0]


def test_model_sides_follow_the_engine_legs():
    pts = np.zeros((2, 6, 3))
    pts[:, :, 2] = 1.0
    pts[:, 0, :2], pts[:, 1, :2] = [0, 0], [100, 0]        # model: left ankle at 0, right at 100
    pts[:, 2, :2], pts[:, 3, :2] = [-5, 10], [95, 10]      # heels
    pts[:, 4, :2], pts[:, 5, :2] = [20, 10], [120, 10]     # toes
    left_ankle = np.array([[1.0, 0.0], [99.0, 0.0]])      # frame 1: the engine's left leg is at 100
    right_ankle = np.array([[99.0, 0.0], [1.0, 0.0]])
    sides = F.assign_feet(pts, left_ankle, right_ankle)
    assert sides.swapped.tolist() == [False, True]
    assert sides.heel["left"][:, 0].tolist() == [-5.0, 95.0]
    assert sides.toe["right"][:, 0].tolist() == [120.0, 20.0]


def _foot(n=3, heel=(100.0, 500.0), toe=(180.0, 490.0), conf=0.9):
    h, t = np.zeros((n, 3)), np.zeros((n, 3))
    h[:] = [*heel, conf]
    t[:] = [*toe, conf]
    return h, t


@pytest.mark.parametrize("kwargs, reason", [
    ({}, None),
    ({"toe": (1100.0, 490.0)}, "foot_cut_off"),      # toe beyond a 1080 px wide frame
    ({"conf": 0.3}, "foot_hidden"),
    ({"toe": (130.0, 495.0)}, "foot_too_small"),     # 30 px foot
    ({"heel": (np.nan, np.nan)}, "foot_undetected"),
])
def test_unusable_contacts_say_why(kwargs, reason):
    heel, toe = _foot(**kwargs)
    assert F.contact_quality(heel, toe, [1, 2], (1080, 1920))[1] == reason


def test_contacts_measured_and_left_out_are_counted():
    T = 60
    heel, toe = np.zeros((T, 3)), np.zeros((T, 3))
    heel[:] = [100, 500, 0.9]
    toe[:] = [180, 500, 0.9]                  # flat: 0 deg
    # IC at 10: toe raised 20 deg at frames 9-10; IC at 40: hidden
    for f in (9, 10):
        toe[f, 1] = 500 - 80 * np.tan(np.radians(20))
    toe[39:41, 2] = 0.2
    sides = F.FootSides({"left": heel, "right": heel.copy()}, {"left": toe, "right": toe.copy()}, np.zeros(T, bool))
    ics = {"left": np.array([10, 40]), "right": np.array([], dtype=int)}
    tos = {"left": np.array([25, 55]), "right": np.array([], dtype=int)}
    strikes = F.contact_strikes(sides, ics, tos, +1, (1080, 1920))
    assert [c.pattern for c in strikes] == ["rearfoot", None]
    assert strikes[0].angle_deg == pytest.approx(20.0)
    assert strikes[1].reason == "foot_hidden"
    assert F.session_pattern(strikes) == ("rearfoot", 1.0, 1)
    assert F.side_summary(strikes, "left")["excluded"] == {"foot_hidden": 1}


def test_ankle_angle_is_zero_with_the_foot_square_to_the_shank_and_positive_in_dorsiflexion():
    knee, ankle = np.array([[0.0, 0.0]]), np.array([[0.0, 400.0]])
    assert F.ankle_angle_deg(knee, ankle, np.array([[-20.0, 420.0]]), np.array([[180.0, 420.0]]))[0] == \
        pytest.approx(0.0)
    toe_up = np.array([[-20 + 200 * np.cos(np.radians(10)), 420 - 200 * np.sin(np.radians(10))]])
    assert F.ankle_angle_deg(knee, ankle, np.array([[-20.0, 420.0]]), toe_up)[0] == pytest.approx(10.0)


# --- the shared clips ----------------------------------------------------------------------------
def _measured(name):
    from tasks.feet import FootTrack

    fps, size = CLIPS[name]
    track = select_runner(*load_detections(DATA / f"{name}.detections.npz"))
    result = analyze(track.keypoints.astype(float), fps, frame_size=size, params=ENGINE_PARAMS)
    feet = FootTrack.from_bytes((DATA / f"{name}.feet.npz").read_bytes())
    strike = _strike(name)
    return result, F.with_feet(result, feet.points, size, feet.model, strike.points, strike.model), feet


def _strike(name):
    """The strike model's stored points (``python -m tests.analysis.make_feet_fixtures --strike``)."""
    from tasks.feet import FootTrack

    return FootTrack.from_bytes((DATA / f"{name}.strike.npz").read_bytes())


def _scored(name, camera="static", points=None):
    """Per side: (touchdown angle, bracket low, bracket high, truth pattern, its confidence, ours) of
    every truth IC that the engine found within 2 frames and the foot stage measured. ``camera``:
    the one shot's camera, which picks the floor rule (``hand-held``: each stance's own floor);
    ``points``: strike points other than the stored ones."""
    result, _, _ = _measured(name)
    fs = result.frame_series
    points = _strike(name).points if points is None else points
    sides = F.assign_feet(points, np.stack([fs["left_ankle_x_px"], fs["left_ankle_y_px"]], 1),
                          np.stack([fs["right_ankle_x_px"], fs["right_ankle_y_px"]], 1))
    ics, tos = F.stance_pairs(result.events)
    facing = 1.0 if result.summary.facing == "+x" else -1.0
    strikes = F.contact_strikes(sides, ics, tos, facing, CLIPS[name][1], [(0, len(points) - 1, camera)])
    truth = json.loads((VIDEOS / f"{name}.footstrike.json").read_text())
    out = {"left": [], "right": []}
    for c in truth["contacts"]:
        near = [s for s in strikes if s.side == c["side"] and abs(s.ic_frame - c["frame"]) <= 2]
        if not near:
            continue
        s = min(near, key=lambda s: abs(s.ic_frame - c["frame"]))
        lo, hi = sorted([c["angle_deg"], c["ic_minus_1"]["angle_deg"]])
        out[c["side"]].append((s.angle_deg, lo, hi, c["pattern"], c["pattern_confidence"], s.pattern))
    return out, truth


@pytest.mark.parametrize("name", list(CLIPS))
def test_sides_do_not_depend_on_a_common_offset(name):
    """Under a moving camera the engine's ankles are in scene coordinates and the foot model's in
    the image's: the sides must not change when a pan's path separates them. Before (summed
    plain distances) a 400 px/s pan gave 63 (60 fps) and 74 (garage) frames the other side."""
    from tasks.feet import FootTrack

    fps, size = CLIPS[name]
    result = analyze(select_runner(*load_detections(DATA / f"{name}.detections.npz")).keypoints.astype(float), fps,
                     frame_size=size, params=ENGINE_PARAMS)
    fs = result.frame_series
    la = np.stack([fs["left_ankle_x_px"], fs["left_ankle_y_px"]], 1)
    ra = np.stack([fs["right_ankle_x_px"], fs["right_ankle_y_px"]], 1)
    points = FootTrack.from_bytes((DATA / f"{name}.feet.npz").read_bytes()).points
    pan = np.cumsum(np.full((len(points), 2), [400.0 / fps, 30.0 / fps]), axis=0)
    still = F.assign_feet(points, la, ra).swapped
    assert 10 < still.sum() < len(still) / 4                      # the model's labels do get exchanged
    assert np.array_equal(F.assign_feet(points, la - pan, ra - pan).swapped, still)


def _outside(a, lo, hi):
    return 0.0 if lo <= a <= hi else min(abs(a - lo), abs(a - hi))


needs_videos = pytest.mark.skipif(not VIDEOS.is_dir(), reason="shared/videos is not beside the checkout")


@needs_videos
@pytest.mark.parametrize("name", list(CLIPS))
def test_every_truth_contact_is_measured_or_left_out_with_a_reason(name):
    result, measured, _ = _measured(name)
    q = measured.quality
    assert q.added["footstrike_source"] == "measured"
    assert q.added["footstrike_contacts"] == sum(1 for e in result.events if e.kind == "IC")
    left_out = sum(q.footstrike_excluded.values())
    got = sum(q.footstrike_side(s)["measured"] for s in ("left", "right"))
    assert got + left_out == q.added["footstrike_contacts"]
    # both runners heel-strike on every contact (by eye): the session pattern says so
    assert measured.summary.footstrike == "rearfoot"
    rows = measured.strides.rows()
    assert all(r["footstrike"] is None or r["footstrike_angle_deg"] is not None for r in rows)


@needs_videos
def test_strikes_come_from_the_strike_points_and_the_series_from_the_foot_points():
    from tasks.feet import FootTrack

    name = "treadmill-garage-30fps"
    result, measured, full = _measured(name)
    size = CLIPS[name][1]
    plain = F.with_feet(result, full.points, size, full.model)
    same = F.with_feet(result, full.points, size, full.model, full.points, "the same points")
    angles = [r["footstrike_angle_deg"] for r in measured.strides.rows()]
    assert [r["footstrike_angle_deg"] for r in same.strides.rows()] == \
        [r["footstrike_angle_deg"] for r in plain.strides.rows()] != angles
    assert measured.quality.added["footstrike_model"] == "pose_landmark_heavy.tflite"
    assert plain.quality.added["footstrike_model"] == full.model == measured.quality.added["foot_model"]
    # the ankle series and heel/toe columns are the foot model's on every frame
    np.testing.assert_array_equal(measured.frame_series["left_heel_x_px"], plain.frame_series["left_heel_x_px"])
    assert np.isfinite(measured.frame_series["left_heel_x_px"]).mean() > 0.9
    assert FootTrack.from_bytes((DATA / f"{name}.strike.npz").read_bytes()).model == "pose_landmark_heavy.tflite"


@needs_videos
def test_hidden_feet_give_no_pattern_and_say_why_in_missing():
    """Every heel/toe below the visibility floor (a dark shoe on a dark belt): no session pattern, no
    per-stride pattern, and quality.missing names the reason with a code the engine documents."""
    from analysis.engine import MISSING_REASONS
    from tasks.feet import FootTrack

    name = "treadmill-garage-30fps"
    fps, size = CLIPS[name]
    result = analyze(select_runner(*load_detections(DATA / f"{name}.detections.npz")).keypoints.astype(float),
                     fps, frame_size=size, params=ENGINE_PARAMS)
    points = FootTrack.from_bytes((DATA / f"{name}.feet.npz").read_bytes()).points.copy()
    points[..., 2] = np.minimum(points[..., 2], 0.3)
    hidden = F.with_feet(result, points, size, "test")
    assert hidden.summary.footstrike is None
    assert all(r["footstrike"] is None for r in hidden.strides.rows())
    assert hidden.quality.missing["footstrike"] == "foot_hidden" in MISSING_REASONS
    assert set(hidden.quality.missing.values()) <= set(MISSING_REASONS)
    assert hidden.quality.footstrike_excluded == {"foot_hidden": hidden.quality.added["footstrike_contacts"]}


# The targets: RMSE of the distance outside the [IC, IC-1] bracket <= 3 deg near, <= 5 deg
# far, and the side's mean within 3 deg of the bracket's mean. Measured with the strike model
# (BlazePose heavy on the strike frames; ``python -m tests.analysis.feet_accuracy``): the garage
# near foot meets both; the others miss by the margins in their reasons. Strict xfails: they start
# failing (XPASS) the day the method meets the target, so the numbers get re-stated.
def _target(name, side, rmse, miss=None):
    marks = [pytest.mark.xfail(strict=True, reason=miss)] if miss else []
    return pytest.param(name, side, rmse, marks=marks, id=f"{name}-{side}")


@needs_videos
@pytest.mark.parametrize("name, side, target_rmse", [
    _target("treadmill-side-60fps", "right", 3.0, "near foot RMSE 5.0 deg, mean 12.6 vs 9.5: its toe is out "
            "of the frame at every IC (truth file), the model places it at the edge"),
    _target("treadmill-side-60fps", "left", 5.0, "far foot RMSE 4.1 deg meets 5, but its mean reads 13.2 vs "
            "16.3 (3.2 deg low)"),
    _target("treadmill-garage-30fps", "left", 3.0),
    _target("treadmill-garage-30fps", "right", 5.0, "far foot RMSE 0.84 deg meets 5, but its mean reads 15.3 "
            "vs 11.8 (3.5 deg high; 8 of 17 contacts hidden)"),
])
def test_touchdown_angle_within_the_hand_bracket(name, side, target_rmse):
    scored, _ = _scored(name)
    rows = [r for r in scored[side] if np.isfinite(r[0])]
    assert rows
    rmse = float(np.sqrt(np.mean([_outside(a, lo, hi) ** 2 for a, lo, hi, *_ in rows])))
    mean = float(np.mean([a for a, *_ in rows]))
    bracket_mean = float(np.mean([(lo + hi) / 2 for _, lo, hi, *_ in rows]))
    assert rmse <= target_rmse and abs(mean - bracket_mean) <= 3.0


@needs_videos
def test_pattern_on_high_confidence_contacts_60fps():
    scored, _ = _scored("treadmill-side-60fps")
    high = [r for side in scored.values() for r in side if r[4] == "high" and r[5] is not None]
    agree = sum(r[3] == r[5] for r in high) / len(high)
    # the target: >= 90 % of the contacts the truth marks with high confidence (8 of 8 measured)
    assert agree >= 0.9
