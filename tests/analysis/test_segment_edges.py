"""Events next to a cut (issue 24, item 3): synthetic edits with exact events.

A synthetic runner (``synthetic.make_session``, 60 fps, 1.5 px keypoint noise, exact
IC/TO frames) is cut into pieces of 2.2-2.5 s that start and end at random phases of
the stride (often mid-stance or just after the legs pass each other) with random gaps
between them, joined, and analysed by segments with the cuts given. Each piece is a
record of its own for the engine, so every piece has two record edges.

Before the edge fixes, 3 of 4 such edits reported a toe-off that never happened, in
the last frames of a piece that ends mid-stance: the swap repair did not see a leg
crossing 1-3 frames before the record's end (``find_peaks`` needs the rise after a
minimum) and exchanged the legs after it, and the last frame's one-sided velocity
made a contact edge of its own.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from analysis.cleaning import swap_mask_for_pair
from analysis.engine import EngineParams, RunnerProfile
from analysis.segments import analyze_segments
from benchmarks.bench_events import synthetic_edit

FPS = 60.0


def _edit(seed: int):
    """(session, pieces [(first, end) frames of the source], first frames in the edit, analysis)."""
    s, pieces, edit, cuts = synthetic_edit(seed, FPS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa = analyze_segments(edit, FPS, cuts, RunnerProfile(), None, EngineParams())
    return s, pieces, np.r_[0, cuts], sa


@pytest.fixture(scope="module")
def edits():
    return [_edit(seed) for seed in range(4)]


def _source_frame(frame: int, pieces, starts) -> tuple[int, int, int]:
    k = int(np.searchsorted(starts, frame, side="right")) - 1
    return pieces[k][0] + frame - int(starts[k]), pieces[k][0], pieces[k][1]


def test_no_event_without_a_true_one_next_to_the_cuts(edits):
    for s, pieces, starts, sa in edits:
        for e in sa.events:
            if e.kind == "MS":
                continue
            f, a, b = _source_frame(e.frame, pieces, starts)
            true = np.asarray(s.events[e.side][e.kind])
            true = true[(true > a) & (true < b)]
            assert true.size and np.min(np.abs(true - f)) <= 1, \
                f"{e.side} {e.kind} at frame {f - a} of a {b - a}-frame piece has no true event within a frame"


def test_events_and_contact_and_flight_within_one_frame(edits):
    hits = {"IC": [], "TO": []}
    for s, pieces, starts, sa in edits:
        for (a, b), start in zip(pieces, starts):
            for side in ("left", "right"):
                for kind in ("IC", "TO"):
                    found = np.array([e.frame for e in sa.events if e.side == side and e.kind == kind
                                      and start <= e.frame < start + b - a]) - start + a
                    for f in s.events[side][kind]:
                        if a < f < b:          # its first frame and the frame before it are in the piece
                            hits[kind].append(bool(found.size) and np.min(np.abs(found - f)) <= 1)
        frame_ms = 1000.0 / FPS
        assert abs(sa.summary["contact_time_s"] - s.truth["contact_time_s"]) * 1000 <= frame_ms
        assert abs(sa.summary["flight_time_s"] - s.truth["flight_time_s"]) * 1000 <= frame_ms
    for kind, h in hits.items():
        assert np.mean(h) >= 0.9, f"{kind}: {np.mean(h):.0%} within one frame"


@pytest.mark.parametrize("after", [2, 3, 4])
def test_a_leg_crossing_just_before_the_record_end_is_a_crossing(after):
    """Two ankles swinging past each other (x = +-A sin), the record ending ``after``
    frames past a crossing: the labels are right throughout, so nothing is swapped (the
    crossing was not found and the frames after it were exchanged)."""
    period = 42                                          # sin = 0 every 21 frames: the crossings
    T = 9 * period // 2 + 1 + after
    t = np.arange(T)
    left = 200 * np.sin(2 * np.pi * t / period)
    mask = swap_mask_for_pair(left, -left, FPS)
    assert not mask.any(), f"frames {np.flatnonzero(mask).tolist()} taken as swapped"
