"""analysis/events.py: contact edges, the stance run and mid-stance on hand-made series."""
from __future__ import annotations

import numpy as np
import pytest

from analysis import events as ev


def test_events_from_mask_counts_edges_between_tracked_frames():
    mask = np.array([0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0], dtype=bool)
    valid = np.ones(mask.size, dtype=bool)
    ic, to = ev.events_from_mask(mask, valid)
    assert ic.tolist() == [2, 7, 11] and to.tolist() == [5, 9, 12]            # TO = first frame off the ground
    valid[6:8] = False                                                         # a tracking gap hides the IC at 7
    ic, to = ev.events_from_mask(mask, valid)
    assert ic.tolist() == [2, 11] and to.tolist() == [5, 9, 12]


def test_events_from_mask_needs_a_measured_velocity_on_both_sides_of_an_edge():
    """The first and last frames' velocities are one-sided differences over the filter's
    edge extension: a change of the mask between frames 0 and 1 or T-2 and T-1 is no event."""
    mask = np.array([0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0], dtype=bool)
    ic, to = ev.events_from_mask(mask, np.ones(mask.size, dtype=bool))
    assert ic.tolist() == [6] and to.tolist() == [4]


@pytest.mark.parametrize("below, merge_gap, expected", [
    ([0, 1, 1, 0, 1, 1, 1, 1, 0, 1], 0, (4, 8)),    # the longest run
    ([0, 1, 1, 0, 1, 1, 1, 1, 0, 1], 1, (1, 8)),    # an earlier run one frame before joins it ...
    ([0, 1, 1, 1, 1, 0, 1, 0, 0, 0], 1, (1, 5)),    # ... a later one does not
    ([0, 0, 0], 2, (0, 0)),
])
def test_longest_run(below, merge_gap, expected):
    assert ev.longest_run(np.array(below, dtype=bool), merge_gap) == expected


def test_mid_stance_is_peak_knee_flexion_before_the_next_toe_off():
    knee = np.array([5, 20, 40, 35, 10, 5, np.nan, 30, 30, 10, 0, 0], dtype=float)
    pairs = ev.mid_stance_frames(np.array([0, 6, 10]), np.array([4, 9]), knee)
    assert pairs == [(0, 2), (6, 7)]                 # first of a tied peak; NaN ignored; no TO after IC 10
    assert ev.mid_stance_frames(np.array([0]), np.array([3]), np.full(5, np.nan)) == []
