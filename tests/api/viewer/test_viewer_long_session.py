"""A ten-minute session on the coach's page (issue 21): each chart gets at most
``DISPLAY_MAX_POINTS`` points (a min/max envelope keeps every peak), the contact strip
gets one interval per contact, and the exports keep every frame."""
from __future__ import annotations

import warnings

import numpy as np
import orjson
import pytest

from analysis.engine import RunnerProfile, analyze
from analysis.synthetic import make_session
from api.documents import from_analysis
from api.reports import SessionRecord
from api.viewer import view
from tasks.results import frames_table
from tests.api.viewer.viewer_support import synthetic_analysis
from tests.engine_params import ENGINE_PARAMS

FPS = 60.0


@pytest.fixture(scope="module")
def ten_minutes():
    s = make_session(duration_s=600, fps=FPS, noise_px=1.0, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = analyze(s.keypoints, FPS, RunnerProfile(height_m=1.75, weight_kg=70.0), params=ENGINE_PARAMS)
    T = s.keypoints.shape[0]
    kp = s.keypoints
    boxes = np.stack([np.nanmin(kp[..., 0], 1), np.nanmin(kp[..., 1], 1),
                      np.nanmax(kp[..., 0], 1), np.nanmax(kp[..., 1], 1), np.ones(T)], 1)
    from analysis.tracking import RunnerTrack
    track = RunnerTrack(keypoints=kp, boxes=boxes, found=np.ones(T, bool), n_tracks=1, track_scores={0: 1.0})
    frames = frames_table(track, FPS, result.frame_series)
    record = SessionRecord("s", "v", {}, {"details_doc": from_analysis(result)["details_doc"]})
    return result, frames, record


def test_ten_minutes_ship_a_bounded_envelope(ten_minutes):
    result, frames, record = ten_minutes
    assert frames.num_rows == 36_000                       # the lake and exports keep every frame
    series = view.frame_series(record, frames, "all")
    assert series["frames"] == 36_000
    assert len(series["time_s"]) <= view.DISPLAY_MAX_POINTS
    details = record.doc("details_doc")
    for key, values in series["angles"].items():
        assert len(values) == len(series["time_s"])
        full = np.array([np.nan if v is None else v for v in details["angles"][key]], float)
        shown = np.array([np.nan if v is None else v for v in values], float)
        # the envelope keeps the extremes that a plain every-n-th sample would miss
        assert np.nanmax(shown) == pytest.approx(np.nanmax(full), abs=0.01)
        assert np.nanmin(shown) == pytest.approx(np.nanmin(full), abs=0.01)
    # one contact interval per counted contact (give or take the clip's ends)
    for side in ("left", "right"):
        n_ic = int(sum(1 for e in result.events if e.side == side and e.kind == "IC"))
        assert abs(len(series["contact"][side]) - n_ic) <= 2
        starts = [a for a, _ in series["contact"][side]]
        assert starts == sorted(starts)
    assert len(orjson.dumps(series)) < 400_000


def test_a_short_session_is_sent_frame_by_frame():
    result, track, T = synthetic_analysis(duration_s=4.0)
    frames = frames_table(track, 30.0, result.frame_series)
    record = SessionRecord("s", "v", {}, {"details_doc": from_analysis(result)["details_doc"]})
    series = view.frame_series(record, frames, "all")
    assert len(series["time_s"]) == T
    contact = np.asarray(frames.column("left_contact").to_pylist(), float) > 0.5
    # the intervals cover exactly the contact frames
    covered = np.zeros(T, bool)
    t = np.asarray(series["time_s"])
    for a, b in series["contact"]["left"]:
        covered |= (t >= a - 1e-6) & (t < b - 1e-6)
    assert (covered == contact).all()
