"""Events from the foot (analysis/foot_events.py, ``event_method = "foot"``): exact events on synthetic
heel and toe, the fallback to velocity, and the shared clips' hand-annotated events on stored foot points.

The synthetic foot is flat and carried by the ankle, its sole on the floor exactly in contact, and it
swings on a half-sine of ``SWING_LIFT_M``: the foot method's contact band of ``FLOOR_CLEARANCE`` foot
lengths is crossed a known time before the true IC and after the true TO, so its events are exact
against that prediction (the band's price, docs/analysis.md "Events from the foot").
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from analysis import foot_events as fe
from analysis import synthetic as syn
from analysis.engine import analyze
from analysis.events import EVENT_METHODS
from tests.analysis.feet_accuracy import event_truth, within_one_frame
from tests.analysis.test_feet import CLIPS, DATA, load_detections, needs_videos
from tests.engine_params import ENGINE_PARAMS

FOOT = replace(ENGINE_PARAMS, event_method="foot")


def _band_time_s(s: syn.SyntheticSession, height_m: float = 1.75) -> float:
    """Time (s) the synthetic foot takes from the floor up to the contact band (half-sine swing lift)."""
    band_m = fe.FLOOR_CLEARANCE * syn.BODY_FOOT * height_m
    swing_s = s.truth["stride_time_s"] - s.truth["contact_time_s"]
    return math.asin(band_m / syn.SWING_LIFT_M) / math.pi * swing_s


def _true_instants(s: syn.SyntheticSession, side: str, kind: str, t0_s: float = 0.1234) -> np.ndarray:
    """The synthetic foot's exact IC/TO instants (s) inside the record (make_session's defaults)."""
    first = t0_s if side == "right" else t0_s + s.truth["step_time_s"]
    ic = first + s.truth["stride_time_s"] * np.arange(-2, 40)
    t = ic if kind == "IC" else ic + s.truth["contact_time_s"]
    return t[(t > 0.3) & (t < s.keypoints.shape[0] / s.fps - 0.3)]


def test_foot_is_an_event_method_and_the_ankle_track_refuses_it():
    from analysis.events import side_events

    assert "foot" in EVENT_METHODS
    with pytest.raises(ValueError, match="foot"):
        side_events("foot", np.zeros(100), np.zeros(100), np.zeros(100), 60.0, np.ones(100, bool))


@pytest.mark.parametrize("fps", [60.0, 120.0])
def test_synthetic_foot_events_are_exact_up_to_the_band(fps):
    s = syn.make_session(fps=fps, duration_s=8.0)
    sa = analyze(s.keypoints, s.fps, params=FOOT, foot_points=s.foot_points)
    assert sa.quality.added["event_method"] == {"left": "foot", "right": "foot"}
    shift = _band_time_s(s)
    assert 0.5 / fps < shift                          # the band costs time here: the check is not vacuous
    for side in ("left", "right"):
        for kind, sign in (("IC", -1.0), ("TO", +1.0)):
            found = np.array([e.time_s for e in sa.events if e.side == side and e.kind == kind])
            want = _true_instants(s, side, kind) + sign * shift
            assert found.size >= want.size >= 8
            err = np.array([np.min(np.abs(found - t)) for t in want])
            # the sub-frame crossing of the 8 Hz low-passed sine, by a chord: within a quarter frame
            # (measured: 0.10 frame at 60 fps)
            assert err.max() < 0.25 / fps, (side, kind, err.max() * fps)


def test_synthetic_contact_time_is_longer_by_twice_the_band():
    s = syn.make_session(fps=60.0, duration_s=8.0, noise_px=1.5)
    sa = analyze(s.keypoints, s.fps, params=FOOT, foot_points=s.foot_points)
    want = s.truth["contact_time_s"] + 2 * _band_time_s(s)
    assert sa.summary.contact_time_s == pytest.approx(want, abs=1.0 / 60.0)


def test_without_foot_points_the_foot_method_is_the_velocity_method_and_says_so():
    s = syn.make_session(fps=60.0, duration_s=8.0, noise_px=1.5)
    velocity = analyze(s.keypoints, s.fps, params=ENGINE_PARAMS)
    fallback = analyze(s.keypoints, s.fps, params=FOOT)
    assert [(e.side, e.kind, e.frame) for e in fallback.events] == [(e.side, e.kind, e.frame) for e in velocity.events]
    assert fallback.quality.added["event_method"] == {"left": "velocity", "right": "velocity"}
    assert fallback.quality.added["event_method_fallback"] == {"left": "no foot points", "right": "no foot points"}
    assert any("velocity method" in r for r in fallback.quality.reasons)
    assert "event_method" not in velocity.quality.added
    short = analyze(s.keypoints, s.fps, params=FOOT, foot_points=s.foot_points[:-5])
    assert short.quality.added["event_method_fallback"]["left"] == f"foot points for {len(s.keypoints) - 5} frames, " \
        f"keypoints for {len(s.keypoints)}"


def test_a_hidden_foot_falls_back_alone():
    s = syn.make_session(fps=60.0, duration_s=8.0, noise_px=1.5)
    points = s.foot_points.copy()
    points[: len(points) // 3, [2, 4], 2] = 0.2        # left heel and toe hidden in the first third
    single = s.foot_points.copy()
    single[::2, [2, 4], 2] = 0.2                       # ... or in every other frame: gaps filled, no fallback
    assert analyze(s.keypoints, s.fps, params=FOOT, foot_points=single).quality.added["event_method"]["left"] == "foot"
    sa = analyze(s.keypoints, s.fps, params=FOOT, foot_points=points)
    assert sa.quality.added["event_method"] == {"left": "velocity", "right": "foot"}
    assert "left" in sa.quality.added["event_method_fallback"] and "right" not in sa.quality.added["event_method_fallback"]


# --- the shared clips: stored YOLO detections and stored foot points -------------------------------
def _clip(name: str, method: str):
    from analysis.tracking import select_runner
    from tasks.feet import FootTrack

    fps, size = CLIPS[name]
    kp = select_runner(*load_detections(DATA / f"{name}.detections.npz")).keypoints.astype(float)
    points = FootTrack.from_bytes((DATA / f"{name}.feet.npz").read_bytes()).points
    sa = analyze(kp, fps, frame_size=size, params=replace(ENGINE_PARAMS, event_method=method), foot_points=points)
    return sa, [(e.side, e.kind, e.frame) for e in sa.events]


# Measured (docs/analysis.md "Events from the foot"): share of annotated events within one frame.
# The foot method is worse than velocity on both clips (the 60 fps clip's near toe leaves the frame at
# push-off, so its TO is ~3 frames early), which is why velocity stays the default.
FOOT_FLOOR = {"treadmill-side-60fps": (0.6, 0.35), "treadmill-garage-30fps": (0.5, 0.9)}


@needs_videos
@pytest.mark.parametrize("name", list(CLIPS))
def test_shared_clip_events_from_the_foot_against_the_annotation(name):
    foot, found = _clip(name, "foot")
    assert foot.quality.added["event_method"] == {"left": "foot", "right": "foot"}
    truth = event_truth(name)
    ic, to = within_one_frame(found, truth, "IC"), within_one_frame(found, truth, "TO")
    assert ic >= FOOT_FLOOR[name][0] and to >= FOOT_FLOOR[name][1], (ic, to)
    # one contact per stride: no more events than annotated (+1 per side and kind at the record's ends)
    for kind in ("IC", "TO"):
        assert sum(1 for f in found if f[1] == kind) <= sum(1 for t in truth if t[1] == kind) + 2
    # contact time within 45 ms of the annotation's mean (velocity: within 15 ms)
    assert abs(foot.summary.contact_time_s - _truth_contact_s(name)) < 0.045


@needs_videos
@pytest.mark.parametrize("name", list(CLIPS))
def test_velocity_stays_the_default_because_it_is_better_on_both_clips(name):
    assert ENGINE_PARAMS.event_method == "velocity"
    truth = event_truth(name)
    _, vel = _clip(name, "velocity")
    _, foot = _clip(name, "foot")
    assert within_one_frame(vel, truth, "IC") > within_one_frame(foot, truth, "IC")
    assert within_one_frame(vel, truth, "TO") + within_one_frame(vel, truth, "IC") > \
        within_one_frame(foot, truth, "TO") + within_one_frame(foot, truth, "IC")


def _truth_contact_s(name: str) -> float:
    import json

    from tests.analysis.test_feet import VIDEOS

    if name == "treadmill-side-60fps":
        return json.loads((VIDEOS / "ground-truth.json").read_text())["treadmill-side-60fps.mp4"]["derived"][
            "mean_contact_time_s"]
    return json.loads((VIDEOS / f"{name}.truth.json").read_text())["derived"]["mean_contact_time_s"]


@needs_videos
def test_the_foot_points_reach_the_engine_through_analyze_footage():
    """The production entry (``analysis.footage.analyze_footage``, as flows/process.py calls it) passes
    the foot points on: the garage clip's events are the foot method's, as from ``analyze``."""
    from analysis.footage import all_cuts, analyze_footage
    from analysis.tracking import select_runner
    from tasks.feet import FootTrack

    name = "treadmill-garage-30fps"
    fps, size = CLIPS[name]
    track = select_runner(*load_detections(DATA / f"{name}.detections.npz"))
    points = FootTrack.from_bytes((DATA / f"{name}.feet.npz").read_bytes()).points
    sa = analyze_footage(track.keypoints, track.boxes, fps, all_cuts([], track.boxes), None, None,
                         frame_size=size, params=FOOT, foot_points=points)
    assert sa.quality.added["event_method"] == {"left": "foot", "right": "foot"}
    _, direct = _clip(name, "foot")
    truth = event_truth(name)
    found = [(e.side, e.kind, e.frame) for e in sa.events]
    assert within_one_frame(found, truth, "TO") == within_one_frame(direct, truth, "TO")


@needs_videos
@pytest.mark.parametrize("name", list(CLIPS))
def test_the_foot_models_sides_as_a_second_opinion_would_make_the_swap_repair_worse(name):
    """Issue 23 item 5, measured and not adopted: against the legs' order that the event truth
    gives (which leg is ahead between mid-stances), the engine's swap repair is wrong in at most
    4 frames of 225-232; exchanging its legs where the foot model has them the other way round
    changes 33-36 frames and is wrong in more. The model disagrees mostly where the ankles
    cross, where its feet sit on one foot."""
    from tests.analysis.feet_accuracy import side_second_opinion

    got = side_second_opinion(name)
    assert got["frames_judged"] > 200
    assert got["wrong_engine"] <= 4 and got["wrong_engine"] <= got["wrong_yolo"]
    assert got["changed_by_foot_model"] > 0
    assert got["wrong_engine_foot_model"] > got["wrong_engine"]
