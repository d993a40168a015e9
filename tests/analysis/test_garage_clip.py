"""The second shared treadmill clip (garage, static phone, 30 fps, runner facing -x) against
its hand annotation (issue 24): stored YOLO11n-pose detections
(``data/treadmill-garage-30fps.detections.npz``, ``python -m tests.analysis.make_fixtures
treadmill-garage-30fps``), runner selection and the engine.

Measured: runner in 360/360 frames (92.5 % before duplicate boxes were suppressed), IC
33/34 and TO 32/34 within one frame, cadence 168.5 (truth 168.3), contact 0.288 s (0.284),
flight 0.068 s (0.073).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from analysis.engine import analyze
from analysis.tracking import select_runner, suppress_duplicates
from tests.analysis.conftest import DATA, load_detections
from tests.engine_params import ENGINE_PARAMS

TRUTH = Path(__file__).resolve().parents[2].parent / "shared" / "videos" / "treadmill-garage-30fps.truth.json"
FPS = 30.0


@pytest.fixture(scope="module")
def garage():
    if not TRUTH.exists():
        pytest.skip("shared ground truth not found")
    return load_detections(DATA / "treadmill-garage-30fps.detections.npz"), json.loads(TRUTH.read_text())


def test_the_runner_is_found_in_at_least_97_percent_of_frames(garage):
    (boxes, keypoints), _ = garage
    track = select_runner(boxes, keypoints)
    assert track.found_share >= 0.97
    assert track.fragments_joined <= 3


def test_events_within_one_frame_and_session_values(garage):
    (boxes, keypoints), truth = garage
    track = select_runner(boxes, keypoints)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa = analyze(track.keypoints.astype(float), FPS, params=ENGINE_PARAMS)
    shares = {}
    for kind in ("IC", "TO"):
        hits = []
        for e in truth["events"]:
            if e["event"] != kind:
                continue
            det = np.array([x.frame for x in sa.events if x.kind == kind and x.side == e["side"]])
            hits.append(det.size > 0 and np.abs(det - e["frame"]).min() <= 1)
        shares[kind] = float(np.mean(hits))
    assert shares["IC"] >= 0.9 and shares["TO"] >= 0.9, shares
    d, S = truth["derived"], sa.summary
    assert S.facing == "-x" and sa.quality.mode == "treadmill"
    assert S.cadence_spm == pytest.approx(d["cadence_steps_per_min"], rel=0.02)
    assert S.contact_time_s == pytest.approx(d["mean_contact_time_s"], abs=1 / FPS)
    assert S.flight_time_s == pytest.approx(d["mean_flight_time_s"], abs=1 / FPS)


def test_a_duplicate_box_is_suppressed_and_two_people_are_kept():
    kp = np.zeros((1, 17, 3))
    full, part = [180, 600, 380, 1230, 0.9], [180, 600, 330, 1230, 0.8]     # the same runner twice
    other = [600, 600, 800, 1230, 0.9]                                        # someone else
    boxes = [np.array([part, full, other], float)]
    kps = [np.concatenate([kp + [0, 0, 0.5], kp + [0, 0, 0.8], kp + [0, 0, 0.7]])]
    b, k = suppress_duplicates(boxes, kps)
    assert b[0][:, 2].tolist() == [380, 800] and k[0][:, 0, 2].tolist() == [0.8, 0.7]
    b, k = suppress_duplicates([np.array([full, part], float)], [np.concatenate([kp + [0, 0, 0.3], kp + [0, 0, 0.9]])])
    assert b[0][:, 2].tolist() == [380]                   # the whole person, whatever the confidences
