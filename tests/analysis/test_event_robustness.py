"""Event timing under degraded capture (issue 12 point 2), from stored real keypoints.

The shared clip's stored detections are degraded (``analysis.synthetic.degrade_keypoints``:
a smaller runner = more keypoint noise on a coarser grid, 25/30 fps, a swaying
camera, motion blur) and synthetic runs cover 120/240 fps and a panning camera
overground; every copy is analysed and scored against its truth by
``benchmarks.bench_events`` (the same code that makes the table in
docs/analysis.md). Targets: contact and flight time within max(1 frame, 10 ms)
and >= 80 % of IC and of TO within one frame.
"""
from __future__ import annotations

import pytest

from benchmarks.bench_events import GT_FILE, evaluate


@pytest.fixture(scope="module")
def scores():
    if not GT_FILE.exists():
        pytest.skip("shared ground truth not found")
    return evaluate(methods=("velocity",))


MEETS_TARGETS = ["shared clip 60 fps", "30 fps", "30 fps, phase 1/2", "25 fps", "panning camera",
                 "640x360, 30 fps, pan, blur", "320x180, 25 fps, pan, blur",
                 "synthetic 240 fps treadmill", "synthetic 120 fps overground, pan",
                 "synthetic 25 fps, small runner",
                 # issue 24: a hand-held phone (camera-compensated) and the second shared clip
                 "hand-held shake, camera-compensated", "garage clip 30 fps",
                 # the edit's pieces once the low-pass continues each piece by its own stride
                 "edit of 4 pieces (3 cuts), segments",
                 "synthetic edit, 2.2-2.5 s pieces at random phases, segments",
                 "synthetic edit at 30 fps, runner 2x smaller, segments"]


@pytest.mark.parametrize("condition", MEETS_TARGETS)
def test_event_timing_meets_the_targets(scores, condition):
    r = scores[condition]["velocity"]
    assert r["ok"], r


@pytest.mark.parametrize("condition", ["runner 180 px (640x360)", "runner 90 px (320x180)", "motion blur 20 %"])
def test_event_timing_near_the_targets_where_the_clip_bias_dominates(scores, condition):
    """At 60 fps one frame is 16.7 ms and the clip's own TO bias (+12 ms against the
    annotation, +14/-15 ms contact/flight) leaves little room: with extra noise
    the worst seed exceeds a frame by 1-3 ms (measured: 180 px runner flight -18 ms,
    90 px TO 76 % within a frame, blur contact +16 ms / flight -17 ms). A local cubic fit
    of the velocity around each crossing moved them inside the targets only by shifting
    TO earlier: on a filtered velocity step with 1.5 px noise its spread was 0.128 frame
    against the interpolation's 0.137, and its bias -0.27 frame (measured), so it was
    left out. Bounded here so a regression shows."""
    r = scores[condition]["velocity"]
    assert r["ic_within_1_frame"] >= 0.9, r
    assert r["to_within_1_frame"] >= 0.7, r
    assert abs(r["contact_err_ms_worst"]) <= 22 and abs(r["flight_err_ms_worst"]) <= 22, r


def test_a_panning_camera_does_not_move_the_events(scores):
    """Before the step-period pelvis reference, the 0.9 Hz sway leaked into the foot track
    (0.5 Hz low-pass): 67 % of TO within a frame on the clip, 5 % overground."""
    base, pan = scores["shared clip 60 fps"]["velocity"], scores["panning camera"]["velocity"]
    assert abs(pan["contact_err_ms"] - base["contact_err_ms"]) < 3
    assert pan["to_within_1_frame"] >= 0.85


def test_cuts_and_shake_cost_events_without_segments_and_compensation(scores):
    """Issue 24: one analysis over an edit paired events across its cuts (measured IC 48 %,
    TO 52 % within a frame); an uncompensated hand-held camera lost TO (80 %)."""
    one, seg = scores["edit of 4 pieces (3 cuts), one analysis"]["velocity"], \
        scores["edit of 4 pieces (3 cuts), segments"]["velocity"]
    assert seg["ic_within_1_frame"] - one["ic_within_1_frame"] >= 0.3
    raw, comp = scores["hand-held shake, uncompensated"]["velocity"], \
        scores["hand-held shake, camera-compensated"]["velocity"]
    assert comp["to_within_1_frame"] > raw["to_within_1_frame"]
