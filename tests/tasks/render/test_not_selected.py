"""A joint not selected at upload is said to be "not selected", never "not enough clean
strides", and stays out of the snapshots (issue 25, item 2).

The spec's own example selection, ``body_joint_angles=elbow, knee, ankle`` (no hip), on
the real 60 fps treadmill keypoints: 8 + 8 strides, so nothing is missing for lack of them.
"""
from __future__ import annotations

import numpy as np
import pytest

from analysis.commentary import SessionFacts, comment
from analysis.engine import RunnerProfile, analyze
from analysis.tracking import RunnerTrack
from api.documents import from_analysis
from tasks.render.data import RenderData
from tasks.render.report import report_figure
from tasks.render.snapshots import draw_form_snapshot, draw_phase_snapshot, snapshot_plan
from tasks.results import frames_table, sessions_table, strides_table
from tests.analysis.conftest import TREADMILL_DETECTIONS, TREADMILL_FPS, load_detections
from tests.engine_params import ENGINE_PARAMS


def _render_data(keypoints: np.ndarray, fps: float, joints: tuple[str, ...]):
    result = analyze(keypoints, fps, RunnerProfile(joints=joints), params=ENGINE_PARAMS)
    T = keypoints.shape[0]
    track = RunnerTrack(keypoints=keypoints, boxes=np.zeros((T, 5)), found=np.ones(T, bool), n_tracks=1,
                        track_scores={0: 1.0})
    docs = from_analysis(result)
    meta = {"title": "t", "user_id": "u", "created_at": "2025-01-01T00:00:00+00:00", "fps": fps, "n_frames": T,
            "width": 1080, "height": 1920, "video_key": "v", "analyzed_video_key": None}
    row_docs = {"summary_doc": docs["summary_doc"], "form_doc": docs["form_doc"], "gait_doc": docs["gait_doc"],
                "quality_doc": result.quality.to_dict()}
    data = RenderData.from_tables(frames_table(track, fps, result.frame_series),
                                  sessions_table(meta, result.summary, row_docs), strides_table(result.strides))
    return result, data


@pytest.fixture(scope="module")
def no_hip():
    from analysis.tracking import select_runner

    keypoints = select_runner(*load_detections(TREADMILL_DETECTIONS)).keypoints.astype(float)
    return _render_data(keypoints, TREADMILL_FPS, ("elbow", "knee", "ankle"))


def test_commentary_says_not_selected_for_the_hip(no_hip):
    result, _ = no_hip
    assert result.quality.strides_left >= 8 and result.quality.strides_right >= 8
    facts = SessionFacts.from_results(result.summary, result.quality, result.phases, result.strides)
    for kind, block in (("form", "push_angle"), ("recommendation", "left_hip_angle"),
                        ("recommendation", "right_hip_angle")):
        text = comment(kind, block, facts).text
        assert "not selected" in text, (block, text)
        assert "strides" not in text, (block, text)
    knee = comment("recommendation", "left_knee_angle", facts).text
    assert "not selected" not in knee and "°" in knee


def test_the_chart_png_says_not_selected_in_the_hip_panel(no_hip):
    _, data = no_hip
    fig = report_figure(data, "t")
    hip = next(ax for ax in fig.axes if ax.get_title().startswith("hip"))
    assert [t.get_text() for t in hip.texts] == ["not selected for this session"]
    knee = next(ax for ax in fig.axes if ax.get_title().startswith("knee"))
    assert knee.lines and not knee.texts


def test_snapshots_leave_the_deselected_hip_out(no_hip, monkeypatch):
    _, data = no_hip
    plan = snapshot_plan(data)
    assert "form/push_angle" not in plan and "form/knee_ankle" in plan and "gait/left_takeoff" in plan
    captions: list[str] = []
    import tasks.render.snapshots as snaps

    monkeypatch.setattr(snaps, "_annotate_common", lambda img, xy, side, scale, title, lines: captions.extend(lines))
    drawn: list[str] = []
    monkeypatch.setattr(snaps, "draw_angle", lambda img, a, b, c, label, *args, **kw: drawn.append(label))
    frame = np.zeros((1920, 1080, 3), np.uint8)
    f, side, _, phase = plan["gait/left_takeoff"]
    draw_phase_snapshot(frame, data, f, side, phase, 1.0)
    f, side, _, kind = plan["form/knee_ankle"]
    draw_form_snapshot(frame, data, f, side, kind, 1.0)
    assert "hip: not selected" in captions
    assert not any(c.startswith("hip ") for c in captions)
    assert not any(label.startswith("hip") for label in drawn)
    assert any(c.startswith("knee flexion") for c in captions)
