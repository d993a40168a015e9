"""The chart report (report.png) on real footage (issue 25, item 15): it says which leg is
near the camera, every contact bar stays inside its axis, and a stride whose cadence is no
walker's (229 steps/min from a mislocated first strike on the walking clip) is not a point of
the cadence line."""
from __future__ import annotations

import numpy as np
import pytest

from tasks.render.report import report_figure
from tests.analysis.conftest import WALKING_DETECTIONS, WALKING_FPS, load_detections
from tests.tasks.render.test_not_selected import _render_data


@pytest.fixture(scope="module")
def walking():
    from analysis.tracking import select_runner

    keypoints = select_runner(*load_detections(WALKING_DETECTIONS)).keypoints.astype(float)
    result, data = _render_data(keypoints, WALKING_FPS, ("all",))
    return result, data, report_figure(data, "walk")


def _panel(fig, title: str):
    return next(ax for ax in fig.axes if ax.get_title().startswith(title))


def test_the_chart_names_the_near_leg(walking):
    result, _, fig = walking
    near = result.quality["near_leg"]
    far = "left" if near == "right" else "right"
    assert near in ("left", "right")
    assert f"The {near} leg is near the camera" in fig._suptitle.get_text()
    labels = [t.get_text() for t in _panel(fig, "knee").get_legend().get_texts()]
    assert any(lbl.startswith(f"{near} (near)") for lbl in labels)
    assert any(lbl.startswith(f"{far} (far)") for lbl in labels)


def test_every_contact_bar_is_inside_its_axis(walking):
    _, _, fig = walking
    ax = _panel(fig, "contact")
    lo, hi = ax.get_ylim()
    bars = [p for p in ax.patches if p.get_height() > 0]
    assert len(bars) >= 7
    tops = [p.get_y() + p.get_height() for p in bars]
    assert max(tops) < hi and lo <= 0
    xlo, xhi = ax.get_xlim()
    assert all(xlo <= p.get_x() and p.get_x() + p.get_width() <= xhi for p in bars)


def test_an_absurd_cadence_is_not_a_point_of_the_line(walking):
    result, _, fig = walking
    cadences = [r["cadence_spm"] for r in result.strides.rows() if r["cadence_spm"] is not None]
    assert max(cadences) > 200                     # the stored walking detections hold the 229 stride
    ax = _panel(fig, "cadence")
    line = ax.get_lines()[0]
    y = np.asarray(line.get_ydata(), float)
    shown = y[np.isfinite(y)]
    median = float(np.median(cadences))
    assert len(shown) >= 6 and np.all(np.abs(shown / median - 1) <= 0.3)
    assert ax.get_ylim()[1] < 150                  # the axis fits the walk (~100 steps/min)
    assert any("229" in t.get_text() for t in ax.texts)          # named, not hidden
