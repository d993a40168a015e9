"""Edited clips (issue 24): cuts split a session into continuous segments.

The stored detections of the two shared treadmill clips (60 fps, runner facing +x; the
garage clip's 30 fps resampled to 60 by ``synthetic.slow_motion(kp, 2)``, runner facing
-x, another scale) are cut into pieces at different offsets and joined into one "edit",
as a user who films several paces does. Truth: the hand-annotated ICs of each piece.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from analysis.engine import AnalysisError, analyze
from analysis.segments import analyze_segments, continuous_segments, cut_frames, reframing_cuts
from analysis.synthetic import slow_motion
from analysis.tracking import select_runner
from tests.analysis.conftest import DATA, load_detections
from tests.engine_params import ENGINE_PARAMS

VIDEOS = Path(__file__).resolve().parents[2].parent / "shared" / "videos"
GARAGE_DETECTIONS = DATA / "treadmill-garage-30fps.detections.npz"


def _truth_ics(name: str) -> list[tuple[int, str]]:
    if name == "side":
        gt = json.loads((VIDEOS / "ground-truth.json").read_text())["treadmill-side-60fps.mp4"]
        return [(e["frame"], e["foot"]) for e in gt["events"] if e["event"] == "IC"]
    gt = json.loads((VIDEOS / "treadmill-garage-30fps.truth.json").read_text())
    return [(2 * e["frame"], e["foot"]) for e in gt["events"] if e["event"] == "IC"]   # at 60 fps


@pytest.fixture(scope="module")
def clips(treadmill_keypoints_dev):
    if not (VIDEOS / "treadmill-garage-30fps.truth.json").exists():
        pytest.skip("shared ground truth not found")
    garage = select_runner(*load_detections(GARAGE_DETECTIONS)).keypoints.astype(float)
    return {"side": treadmill_keypoints_dev[0], "garage": slow_motion(garage, 2)}


#: (clip, first frame, end frame) of each piece of the edit, at 60 fps.
EDIT = [("side", 0, 170), ("garage", 100, 400), ("side", 180, 388), ("garage", 450, 700)]


def _edit(clips):
    parts = [clips[name][a:b] for name, a, b in EDIT]
    cuts = np.cumsum([len(p) for p in parts])[:-1]
    # truth: the annotated steps inside each piece (an IC pair of alternating feet), never across pieces
    steps = []
    for name, a, b in EDIT:
        ics = [(f, foot) for f, foot in _truth_ics(name) if a <= f < b]
        steps += [(g - f) / 60.0 for (f, s), (g, t) in zip(ics, ics[1:]) if s != t]
    return np.concatenate(parts), cuts, 60.0 / float(np.mean(steps))


def test_no_step_stride_or_flight_spans_a_cut_and_cadence_is_the_within_segment_mean(clips):
    kp, cuts, truth_cadence = _edit(clips)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa = analyze_segments(kp, 60.0, cuts, params=ENGINE_PARAMS)
        whole = analyze(kp, 60.0, params=ENGINE_PARAMS)
    q = sa.quality
    assert q.segments == 4 and q.cuts == cuts.tolist()
    seg_of = lambda frames: np.searchsorted(cuts, frames, side="right")  # noqa: E731
    st = sa.strides
    assert len(st) >= 30
    assert (seg_of(st.ic_frame) == seg_of(st.next_ic_frame)).all()
    c = st.has_contralateral_ic
    assert (seg_of(st.contralateral_ic_frame[c]) == seg_of(st.ic_frame[c])).all()   # steps and flights
    assert sa.summary.cadence_spm == pytest.approx(truth_cadence, rel=0.02)
    # each segment answers for itself: the two runners' speeds differ (3.2 vs 2.2 m/s measured)
    detail = q.segments_detail
    assert [d["start_frame"] for d in detail] == [0, *cuts.tolist()]
    assert all(d["cadence_spm"] == pytest.approx(truth_cadence, rel=0.04) for d in detail)
    assert abs(detail[0]["speed_mps"] - detail[1]["speed_mps"]) > 0.5
    # before: one analysis over the edit paired events across the cuts
    assert (seg_of(whole.strides.ic_frame) != seg_of(whole.strides.next_ic_frame)).any()
    assert abs(whole.summary.cadence_spm / truth_cadence - 1) > 2 * abs(sa.summary.cadence_spm / truth_cadence - 1)


def test_a_clip_without_cuts_is_one_segment_and_unchanged(clips):
    kp = clips["side"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa, plain = analyze_segments(kp, 60.0, [], params=ENGINE_PARAMS), analyze(kp, 60.0, params=ENGINE_PARAMS)
    assert sa.quality.segments == 1 and sa.quality.cuts == []
    assert sa.summary == plain.summary and len(sa.events) == len(plain.events)


def test_too_short_segments_are_reported_not_analysed(clips):
    kp = np.concatenate([clips["side"][:20], clips["side"][100:388]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa = analyze_segments(kp, 60.0, [20], params=ENGINE_PARAMS)
    assert sa.quality.segments == 1
    assert sa.quality.segments_detail[0]["not_analysed"].startswith("shorter than")
    assert all(e.frame >= 20 for e in sa.events)
    with pytest.raises(AnalysisError):
        analyze_segments(clips["side"][:30], 60.0, [10, 20], params=ENGINE_PARAMS)


def test_cut_frames_from_frame_change():
    rng = np.random.default_rng(0)
    change = np.abs(rng.normal(0.02, 0.01, 300))
    change[0] = np.nan
    change[[80, 200]] = [0.6, 0.35]
    change[120:175] = 0.11                                # a pan (measured 0.11): large but not a cut
    assert cut_frames(change).tolist() == [80, 200]
    assert continuous_segments(300, np.array([80, 200])) == [(0, 80), (80, 200), (200, 300)]


def test_reframing_is_a_cut():
    h = np.r_[np.full(50, 400.0), np.full(50, 250.0)]      # zoomed out at frame 50
    boxes = np.stack([np.full(100, 100.0), 50 + np.zeros(100), np.full(100, 300.0), 50 + h], axis=1)
    boxes[60:63] = np.nan
    assert reframing_cuts(boxes).tolist() == [50]


def test_a_lone_glitch_of_the_box_is_not_a_reframing():
    """YOLO's box cut short on one frame and back on the next (the garage clip re-encoded: frame
    158's box 377 px high between 587 and 531) made two cuts, a 1-frame segment and a last
    0.7 s without events; a zoom that lasts is still a cut."""
    h = np.full(100, 590.0)
    h[58] = 377.0                                           # one frame's box ends at the knees
    h[80:] = 400.0                                          # zoomed out at frame 80, and stays
    boxes = np.stack([np.full(100, 180.0), np.full(100, 620.0), np.full(100, 380.0), 620 + h], axis=1)
    assert reframing_cuts(boxes).tolist() == [80]
