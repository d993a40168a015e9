"""The engine on the shared treadmill video against its hand-annotated events.

Tolerances (measured on YOLO11n-pose keypoints of the clip, 60 fps; see
docs/analysis.md): each IC and TO within 2 frames (33 ms) of the annotation,
which is itself +/-1 frame; kinematic event methods in the literature err by
~10-25 ms (Fellin et al. 2010; Zeni et al. 2008). Cadence within 1.5 spm,
mean contact and flight time within one frame (17 ms), stride time within 10 ms.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.engine import RunnerProfile, analyze

GT = Path(__file__).resolve().parents[2].parent / "shared" / "videos" / "ground-truth.json"
FOOT_SIDE = {"near": "right", "far": "left"}   # README: near foot = right leg


def _errors(sa, events, kind):
    out = []
    for e in events:
        if e["event"] != kind:
            continue
        det = np.array([x.frame for x in sa.events if x.kind == kind and x.side == FOOT_SIDE[e["foot"]]])
        assert det.size, f"no {kind} detected"
        out.append(int(det[np.argmin(np.abs(det - e["frame"]))] - e["frame"]))
    return np.array(out)


@pytest.mark.slow
def test_treadmill_video_matches_ground_truth(treadmill_keypoints):
    if not GT.exists():
        pytest.skip("shared ground truth not found")
    gt = json.loads(GT.read_text())["treadmill-side-60fps.mp4"]
    keypoints, fps = treadmill_keypoints
    sa = analyze(np.asarray(keypoints, float), float(fps), RunnerProfile())
    ic, to = _errors(sa, gt["events"], "IC"), _errors(sa, gt["events"], "TO")
    assert np.abs(ic).max() <= 2, ic
    assert np.abs(to).max() <= 2, to
    d, S = gt["derived"], sa.summary
    assert sa.quality["mode"] == "treadmill" and sa.quality["gait"] == "running"
    assert S["facing"] == "+x"
    assert S["cadence_spm"] == pytest.approx(d["cadence_steps_per_min"], abs=1.5)
    assert S["contact_time_s"] == pytest.approx(d["mean_contact_time_s"], abs=1 / 60)
    assert S["flight_time_s"] == pytest.approx(d["mean_flight_time_s"], abs=1 / 60)
    assert S["stride_time_s"] == pytest.approx(d["mean_stride_time_s"], abs=0.010)
    n_ic = sum(e["event"] == "IC" for e in gt["events"])
    assert sum(e.kind == "IC" for e in sa.events) == n_ic      # no missed or extra contacts


def test_dev_keypoints_match_ground_truth(treadmill_keypoints_dev):
    """Same check on developer-generated keypoints, when present (skips otherwise)."""
    test_treadmill_video_matches_ground_truth(treadmill_keypoints_dev)
