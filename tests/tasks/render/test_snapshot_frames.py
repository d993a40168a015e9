"""Snapshot frames where the view is clean (issue 25, item 13): on the real clips no
mid-stance snapshot shows legs merged onto one (they did on both sides of the 60 fps clip,
"knee 55?"), and takeoff and flight are never one frame apart (same picture) or the same
frame (a walk has no flight: no flight snapshot)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tasks.render.data import doubt_mark
from tasks.render.snapshots import MIN_FLIGHT_GAP_FRAMES, clean_view_score, snapshot_plan
from tests.analysis.conftest import (DATA, TREADMILL_DETECTIONS, TREADMILL_FPS, WALKING_DETECTIONS, WALKING_FPS,
                                     load_detections)
from tests.tasks.render.test_not_selected import _render_data

CLIPS = {"treadmill-60fps": (TREADMILL_DETECTIONS, TREADMILL_FPS),
         "garage-30fps": (DATA / "treadmill-garage-30fps.detections.npz", 30.0),
         "walking-30fps": (WALKING_DETECTIONS, WALKING_FPS)}


def _data(path: Path, fps: float):
    from analysis.tracking import select_runner

    return _render_data(select_runner(*load_detections(path)).keypoints.astype(float), fps, ("all",))[1]


@pytest.fixture(scope="module", params=sorted(CLIPS))
def clip(request):
    path, fps = CLIPS[request.param]
    data = _data(path, fps)
    return request.param, data, snapshot_plan(data)


def test_no_phase_snapshot_shows_merged_or_doubtful_legs(clip):
    name, data, plan = clip
    gait = {k: v for k, v in plan.items() if k.startswith("gait/")}
    assert len(gait) >= 8, name
    for key, (frame, side, _, phase) in gait.items():
        assert doubt_mark(data, frame, side) == "", (name, key, frame)
    for side in ("left", "right"):
        frame = plan[f"gait/{side}_mid_stance"][0]
        assert clean_view_score(data, frame) >= 1.2, (name, side, frame)   # four leg points solid, legs apart


def test_takeoff_and_flight_are_different_pictures(clip):
    name, data, plan = clip
    for side in ("left", "right"):
        takeoff = plan[f"gait/{side}_takeoff"][0]
        flight = plan.get(f"gait/{side}_flight")
        if name.startswith("walking"):
            assert flight is None, (name, side)                        # walking has no flight phase
            continue
        if flight is None:
            continue                                                   # no stride with 3 flight frames
        assert flight[0] - takeoff >= MIN_FLIGHT_GAP_FRAMES, (name, side, takeoff, flight[0])
        assert not any(bool(data.contact[s][flight[0]]) for s in ("left", "right"))
    assert name.startswith("walking") or "gait/left_flight" in plan or "gait/right_flight" in plan


def test_the_page_seeks_to_the_frame_the_snapshot_shows():
    from api import reports
    from api.viewer.view import gait

    class Record(reports.SessionRecord):
        pass

    docs = {"gait_doc": {"left": {"marks": {"strike": {"frame": 10, "frames_since_strike": 0, "percent_of_stride": 0}}}},
            "images_doc": {"gait": {"left": {"strike": "k"}}, "gait_frames": {"left": {"strike": 310}}}}
    record = Record("s", "v", {}, docs, None, None)
    left = gait(record, lambda key: key, 60.0)["left"]["phases"][0]
    assert left["frame"] == 310 and left["time_s"] == pytest.approx(310 / 60, abs=1e-4)
