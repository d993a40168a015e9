"""The gait-phase report is typed (analysis.phase_report) and the spec's names live in api/ only.

On the shared treadmill clip's stored detections: the marks follow the stride they come from,
the typed values are what the API's gait-analysis document shows (and what the snapshot
recorded), and the lake's form (``Phases.to_dict``) and the spec document both round-trip.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from analysis.phase_report import CURVE_POINTS, PhaseMark, Phases, SidePhases
from analysis.vocabulary import GAIT_PHASES, SIDES
from api.documents import gait_document, phases_from_gait_document
from tests.analysis.treadmill_snapshot import FPS, FRAME_SIZE, HEIGHT_M, SNAPSHOT, WEIGHT_KG, differences, load_track
from tests.engine_params import ENGINE_PARAMS

REPO = Path(__file__).resolve().parents[2]
#: The gait-analysis document's names (running-openapi.json), which the engine does not use.
SPEC_NAMES = {"video_frame", "video_phase", "graph_phase", "initiator", "peak_time", "current", "std_dev", "next",
              "graph_timestamps"}


def _quoted(path: Path) -> set[str]:
    """Every string literal of a module (f-string parts included)."""
    return {node.value for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_spec_names_are_not_in_the_engine():
    found = {f"{p.relative_to(REPO)}: {name}" for p in sorted((REPO / "analysis").rglob("*.py"))
             for name in _quoted(p) & SPEC_NAMES}
    assert not found, sorted(found)
    # the scan sees them where they are
    assert {"video_frame", "graph_phase", "current"} <= _quoted(REPO / "api" / "documents.py")


@pytest.fixture(scope="module")
def treadmill():
    from analysis.engine import RunnerProfile, analyze

    track = load_track()
    return analyze(track.keypoints, FPS, RunnerProfile(height_m=HEIGHT_M, weight_kg=WEIGHT_KG), frame_size=FRAME_SIZE, params=ENGINE_PARAMS)


def test_marks_follow_their_stride(treadmill):
    phases = treadmill.phases
    assert isinstance(phases, Phases)
    first_ic = min((e for e in treadmill.events if e.kind == "IC"), key=lambda e: e.frame)
    for side, block in phases.items():
        assert block.first_side == first_ic.side
        marks = [block.marks[name] for name in GAIT_PHASES]
        strike = marks[0]
        assert [m.frame for m in marks] == sorted(m.frame for m in marks)
        assert all(m.frames_since_strike == m.frame - strike.frame for m in marks)
        assert (strike.percent_of_stride, marks[-1].percent_of_stride) == (0, 100)
        # the representative stride is one of the side's strides (IC to next IC)
        own = treadmill.strides.of_side(side)
        assert (strike.frame, marks[-1].frame) in set(zip(own.ic_frame.tolist(), own.next_ic_frame.tolist()))
        assert block.curve_times_ms.size == CURVE_POINTS
        assert block.curve_times_ms[-1] == pytest.approx(np.median(own.stride_time_s) * 1000.0, rel=1e-12)
        assert 0.0 < block.peak_ms < np.median(own.contact_time_s) * 1000.0   # mid-stance within contact
        knee = block.angle_curves[f"{side[0]}kne_angle"]
        assert knee.mean.shape == knee.sd.shape == knee.next_stride.shape == (CURVE_POINTS,)
        assert np.all(knee.sd >= 0)


def test_the_document_shows_the_typed_values(treadmill):
    phases = treadmill.phases
    doc = gait_document(phases)
    for side, block in phases.items():
        shown = doc[side]
        assert shown["peak_time"] == block.peak_ms and shown["initiator"] == block.first_side
        assert shown["phases"] == {name: {"video_frame": m.frame, "video_phase": m.frames_since_strike,
                                          "graph_phase": m.percent_of_stride} for name, m in block.marks.items()}
        assert shown["graph_timestamps"] == block.curve_times_ms.tolist()
        for key, curve in block.angle_curves.items():
            for spec, values in (("current", curve.mean), ("std_dev", curve.sd), ("next", curve.next_stride)):
                assert shown["angles"][key][spec] == [None if not np.isfinite(v) else v for v in values.tolist()]
    # what the snapshot recorded (built from the lake's gait_doc before the report was typed),
    # within the snapshot's own tolerance: another CPU's SIMD paths change the last bits
    assert not differences(json.loads(SNAPSHOT.read_text())["documents"]["gait_doc"], json.loads(json.dumps(doc)))
    # the lake's form and the spec document both give the same report back
    stored = json.loads(json.dumps(phases.to_dict()))
    assert not SPEC_NAMES & {k for side in SIDES for k in stored[side]}
    assert Phases.from_dict(stored).to_dict() == phases.to_dict()
    assert phases_from_gait_document(doc).to_dict() == phases.to_dict()


def test_frames_map_to_another_numbering_and_nothing_else_moves():
    block = SidePhases(peak_ms=120.0, first_side="left", marks={"strike": PhaseMark(10, 0, 0),
                                                                 "takeoff": PhaseMark(25, 15, 38)},
                       curve_times_ms=np.linspace(0.0, 700.0, CURVE_POINTS))
    moved = Phases(left=block).with_frames(lambda f: f + 7)
    assert moved.left.marks == {"strike": PhaseMark(17, 0, 0), "takeoff": PhaseMark(32, 15, 38)}
    assert moved.left.peak_ms == 120.0 and moved.left.curve_times_ms is block.curve_times_ms
    assert moved.right.to_dict() == SidePhases().to_dict() == Phases.from_dict(None).left.to_dict()
    assert Phases.from_dict({}).to_dict()["left"] == {"peak_ms": None, "first_side": None, "marks": {},
                                                      "angle_curves": {}, "curve_times_ms": []}
