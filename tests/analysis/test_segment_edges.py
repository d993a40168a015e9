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
from analysis.engine import RunnerProfile
from analysis.segments import analyze_segments
from benchmarks.bench_events import synthetic_edit
from tests.engine_params import ENGINE_PARAMS

FPS = 60.0


def _edit(seed: int):
    """(session, pieces [(first, end) frames of the source], first frames in the edit, analysis)."""
    s, pieces, edit, cuts = synthetic_edit(seed, FPS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa = analyze_segments(edit, FPS, cuts, RunnerProfile(), None, params=ENGINE_PARAMS)
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
        assert abs(sa.summary.contact_time_s - s.truth["contact_time_s"]) * 1000 <= frame_ms
        assert abs(sa.summary.flight_time_s - s.truth["flight_time_s"]) * 1000 <= frame_ms
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


def _gait_track(n_frames: int) -> np.ndarray:
    """A foot's forward position (px) relative to the pelvis at 60 fps: stance 17 frames
    backwards at 20 px/frame, swing 25 frames forwards at 13.6 px/frame (a 42-frame
    stride), contacts starting at frames 10, 52, 94, ..."""
    t = np.arange(n_frames)
    phase = (t - 10) % 42
    return np.where(phase < 17, 200 - 20.0 * phase, -140 + 13.6 * (phase - 17))


@pytest.mark.parametrize("after", [1, 2, 4])
def test_the_low_pass_keeps_a_contact_that_starts_just_before_the_record_end(after, monkeypatch):
    """A record ending ``after`` frames past the start of a contact (frame 136): its
    filtered velocity up to the end is that of the uncut record (the gait's own previous
    stride continues it past the end; the last frame's velocity is one-sided in both and
    left out). The odd reflection of before mirrored the velocity about the end, and the
    8 Hz filter blurred the step with its mirror image: 1.2-8 px/frame off (measured)."""
    from analysis import cleaning

    full = np.gradient(cleaning.lowpass(_gait_track(200), FPS, 8.0))
    end = 136 + after
    cut = np.gradient(cleaning.lowpass(_gait_track(end), FPS, 8.0))
    assert np.max(np.abs(cut[-8:-1] - full[end - 8:end - 1])) < 0.2
    monkeypatch.setattr(cleaning, "repeat_periods", lambda x, fps: np.zeros(x.shape[1], dtype=int))
    odd = np.gradient(cleaning.lowpass(_gait_track(end), FPS, 8.0))
    assert np.max(np.abs(odd[-8:-1] - full[end - 8:end - 1])) > 1.0


def test_a_track_without_a_repeat_keeps_the_odd_reflection():
    """A ramp with a bend (no gait: a pelvis crossing the frame) has no period, and the
    low-pass continues its level and slope at both ends (odd reflection): a straight
    line comes out unchanged (within the filter's start-up transient, 1e-3 px)."""
    from analysis import cleaning

    t = np.arange(120, dtype=float)
    assert cleaning.repeat_periods((3.0 * t + 0.01 * t ** 2)[:, None], FPS)[0] == 0
    np.testing.assert_allclose(cleaning.lowpass(5.0 + 3.0 * t, FPS, 8.0), 5.0 + 3.0 * t, atol=1e-2)


@pytest.mark.parametrize("after", [3, 5])
def test_a_contact_starting_just_before_the_record_end_is_an_event(after):
    """The same track (unfiltered), cut ``after`` frames past the contact that starts at
    frame 136: the most forward position (frame 135) is too close to the end for
    ``find_peaks``' prominence test, and the backward half-cycle from it was not
    searched for a contact; now IC is found within a frame of 136."""
    from analysis import events as ev

    u = _gait_track(136 + after).astype(float)
    valid = np.ones(u.size, dtype=bool)
    found = ev.side_events("velocity", u, np.zeros(u.size), np.zeros(u.size), FPS, valid)
    assert found["IC"].size and abs(int(found["IC"][-1]) - 136) <= 1, found["IC"]
