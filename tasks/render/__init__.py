"""Artifacts people look at: the analysed video, gait-phase and form snapshots, and the chart report.

Everything is drawn from what the lake says about a session (cleaned keypoints
in pixels, contact flags, joint angles, metric series, strides and the
gait-analysis document), never from a new pose run. One job per module:

- :mod:`tasks.render.data`: one lake run -> :class:`RenderData` (arrays, events,
  which keypoints are doubtful);
- :mod:`tasks.render.draw`: OpenCV primitives (skeleton, angle arcs, legible text);
- :mod:`tasks.render.video`: the overlay, decoded, drawn and encoded H.264 chunk by chunk;
- :mod:`tasks.render.snapshots`: the gait-phase and form JPEGs;
- :mod:`tasks.render.report`: the matplotlib chart report PNG;
- :mod:`tasks.render.session`: the flow's render step (:func:`render_session`,
  :func:`render_lake_run`) and the artifacts' object keys.

Naming the artifacts in the run's sessions row and publishing it is the lake's job
(``storage.lake.Lake.attach_artifacts``).
"""
from __future__ import annotations

from analysis.vocabulary import FORM_IMAGES, GAIT_PHASES
from tasks.render.data import RenderData, RenderError, events_from_contact, low_confidence_mask
from tasks.render.draw import COLOR, draw_angle, draw_skeleton
from tasks.render.report import render_report_png
from tasks.render.session import (artifact_keys, panel_joints, render_lake_run, render_options,
                                  render_session)
from tasks.render.snapshots import form_side, form_side_and_reason, render_snapshots, snapshot_plan
from tasks.render.video import DEFAULT_PANEL_JOINTS, h264_encoder, render_video, source_rate

__all__ = [
    "COLOR", "DEFAULT_PANEL_JOINTS", "FORM_IMAGES", "GAIT_PHASES", "RenderData", "RenderError", "artifact_keys",
    "draw_angle", "draw_skeleton", "events_from_contact", "form_side", "form_side_and_reason", "h264_encoder",
    "low_confidence_mask", "panel_joints", "render_lake_run", "render_options", "render_report_png",
    "render_session", "render_snapshots", "render_video", "snapshot_plan", "source_rate",
]
