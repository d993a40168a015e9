"""The multi-person walking video: the tracker must keep the walker, not the jumper."""
import numpy as np
import pytest

from analysis.engine import RunnerProfile, analyze
from analysis.tracking import select_runner
from tasks.detect import detect_video
from tasks.video import probe_video
from tests.engine_params import ENGINE_PARAMS

pytestmark = pytest.mark.slow


def test_walker_is_tracked_and_analysed_as_walking(pose_pool, walking_video):
    info = probe_video(walking_video)
    detections = detect_video(pose_pool, str(walking_video), chunk_frames=64)
    assert detections.n_frames == 230
    boxes, keypoints = detections.per_frame()
    track = select_runner(boxes, keypoints)

    # The woman crosses the frame from right to left; the man stays by his box.
    centres = (track.boxes[track.found, 0] + track.boxes[track.found, 2]) / 2
    assert centres[-1] - centres[0] < -0.4 * info.width
    assert np.all(np.diff(centres[np.isfinite(centres)]) < 0.05 * info.width)  # no jump to the other person

    result = analyze(track.keypoints.astype(float), info.fps, RunnerProfile(), (info.width, info.height), params=ENGINE_PARAMS)
    assert result.quality.gait == "walking"
    assert result.summary.facing == "-x"
    assert 80 <= result.summary.cadence_spm <= 135  # ordinary walking range
    assert result.summary.flight_time_s == pytest.approx(0.0, abs=0.02)
    assert result.quality.implausible_timing is False
