"""The shared treadmill video end to end through the renderer (real pose keypoints; slow)."""
from __future__ import annotations

import time
from fractions import Fraction

import av
import numpy as np
import pytest

from analysis.engine import RunnerProfile, analyze
from analysis.tracking import RunnerTrack
from api.documents import from_analysis
from storage.lake import Lake
from storage.objectstore import ObjectStore
from tasks.render import GAIT_PHASES, render_lake_run
from tasks.results import frames_table, sessions_table, strides_table
from tests.engine_params import ENGINE_PARAMS


@pytest.mark.slow
def test_treadmill_overlay_renders_fast_with_every_frame(treadmill_video, treadmill_keypoints, tmp_path):
    kp, fps = treadmill_keypoints
    T = kp.shape[0]
    result = analyze(kp, fps, RunnerProfile(height_m=1.75, weight_kg=70.0), frame_size=(1080, 1920), params=ENGINE_PARAMS)
    boxes = np.zeros((T, 5))
    track = RunnerTrack(keypoints=kp, boxes=boxes, found=np.isfinite(kp[..., 0]).any(1), n_tracks=1, track_scores={})
    store = ObjectStore((tmp_path / "store").as_uri())
    lake = Lake(store)
    store.put_file(treadmill_video, "videos/t/source.mp4")
    meta = {"title": "treadmill", "video_key": "videos/t/source.mp4"}
    docs = {"summary_doc": from_analysis(result)["summary_doc"], "form_doc": from_analysis(result)["form_doc"],
            "gait_doc": from_analysis(result)["gait_doc"], "quality_doc": result.quality.to_dict()}
    lake.write_session("t", "pv", "cfg", {"sessions": sessions_table(meta, result.summary, docs),
                                          "frames": frames_table(track, fps, result.frame_series),
                                          "strides": strides_table(result.strides)}, publish=False)
    t0 = time.perf_counter()
    images = render_lake_run(store, lake, "t", "pv")
    elapsed = time.perf_counter() - t0
    assert elapsed < 60, f"rendering took {elapsed:.1f} s"
    with store.local_copy(images["video"]) as path, av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264"
        assert Fraction(s.average_rate) == Fraction(60)
        assert sum(1 for _ in c.decode(s)) == T == 388
    for side in ("left", "right"):
        assert set(images["gait"][side]) == set(GAIT_PHASES)
    assert set(images["form"]) == {"contact_angle", "push_angle", "knee_ankle"}
