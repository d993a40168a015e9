"""The chart report (report.png) on real footage (issue 25, item 15): it says which leg is
near the camera, every contact bar stays inside its axis, and a stride whose cadence is no
walker's (229 steps/min from a mislocated first strike on the walking clip) is not a point of
the cadence line."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.catalogue import by_name
from analysis.synthetic import make_session
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
    near = result.quality.near_leg
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
    bars = [p for p in ax.patches if p.get_height() > 0 and not str(p.get_gid()).startswith("reference:")]
    assert len(bars) >= 7
    tops = [p.get_y() + p.get_height() for p in bars]
    assert max(tops) < hi and lo <= 0
    xlo, xhi = ax.get_xlim()
    assert all(xlo <= p.get_x() and p.get_x() + p.get_width() <= xhi for p in bars)


def test_an_absurd_cadence_is_not_a_point_of_the_line(walking):
    result, _, fig = walking
    cadences = [r["cadence_spm"] for r in result.strides.rows() if r["cadence_spm"] is not None]
    assert max(cadences) > 200                     # the stored walking detections hold a ~228 steps/min stride
    ax = _panel(fig, "cadence")
    line = ax.get_lines()[0]
    y = np.asarray(line.get_ydata(), float)
    shown = y[np.isfinite(y)]
    median = float(np.median(cadences))
    assert len(shown) >= 6 and np.all(np.abs(shown / median - 1) <= 0.3)
    assert ax.get_ylim()[1] < 150                  # the axis fits the walk (~100 steps/min)
    assert any(f"{max(cadences):.0f} steps/min" in t.get_text() for t in ax.texts)   # named, not hidden


def _band(ax, name: str):
    bands = [p for p in ax.patches if p.get_gid() == f"reference:{name}"]
    assert len(bands) <= 1
    return bands[0] if bands else None


def _band_limits(band) -> tuple[float, float]:
    y = band.get_path().transformed(band.get_patch_transform()).vertices[:, 1]
    return float(y.min()), float(y.max())


@pytest.fixture(scope="module")
def running():
    """A synthetic runner with known truth: 170 steps/min, 0.25 s contact, 3 m/s (inside the
    speed window of the catalogue's contact-time range)."""
    syn = make_session(cadence_spm=170.0, contact_time_s=0.25, speed_mps=3.0, fps=30.0, duration_s=4.0,
                       px_per_m=150.0)
    result, data = _render_data(syn.keypoints.astype(float), 30.0, ("all",))
    return result, report_figure(data, "run")


def test_the_normal_ranges_are_bands_where_the_runner_sits_in_them(running):
    """Issue 22, item 6: the catalogue's cadence and contact-time ranges shaded behind the
    per-stride values (contact in ms), labelled with range and source, and the axis shows
    the whole band around the runner's strides (all inside it here)."""
    result, fig = running
    cadence = by_name("cadence_spm").reference
    contact = by_name("contact_time_s").reference
    ax = _panel(fig, "cadence")
    band = _band(ax, "cadence_spm")
    assert _band_limits(band) == pytest.approx((cadence.low, cadence.high))
    lo, hi = ax.get_ylim()
    assert lo < cadence.low and hi > cadence.high
    y = np.asarray(ax.get_lines()[0].get_ydata(), float)
    assert np.all((y[np.isfinite(y)] > cadence.low) & (y[np.isfinite(y)] < cadence.high))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"normal 160\u2013180, {cadence.short_source}" in labels
    band = _band(_panel(fig, "contact"), "contact_time_s")
    assert _band_limits(band) == pytest.approx((contact.low * 1000, contact.high * 1000))
    assert band.get_label().startswith("normal 200\u2013300, Folland et al. 2017")
    # metrics without a range get no band
    assert [p.get_gid() for a in fig.axes for p in a.patches if str(p.get_gid()).startswith("reference:")] == [
        "reference:contact_time_s", "reference:cadence_spm"]


def test_a_range_clear_of_the_axis_is_named_not_squashed_into_view(walking):
    """The walk (~100 steps/min, ~1 m/s): the cadence axis still fits the walk, the legend says
    the runners' range lies above it, and contact time (whose range holds at 2.8-4 m/s only)
    has no band."""
    result, _, fig = walking
    ax = _panel(fig, "cadence")
    assert ax.get_ylim()[1] < by_name("cadence_spm").reference.low
    assert "(above this axis)" in _band(ax, "cadence_spm").get_label()
    assert result.summary.speed_mps < 2.8
    assert _band(_panel(fig, "contact"), "contact_time_s") is None


def test_a_steady_speed_reads_steady_and_the_legend_sits_above_the_lines(running):
    """Issue 25 item 14 (a review of the PDF): the speed axis spanned 3.048-3.064 m/s, so a few
    cm/s of noise read as deep dips, and the legend covered the points. The speed axis is at
    least MIN_SPEED_SPAN_MPS tall and both lines stay below the room kept for the legend."""
    from tasks.render.report import LEGEND_ROOM, MIN_SPEED_SPAN_MPS

    _, fig = running
    ax = _panel(fig, "cadence")
    speed_ax = next(a for a in fig.axes if a is not ax and a.bbox.bounds == ax.bbox.bounds)
    lo, hi = speed_ax.get_ylim()
    assert hi - lo >= MIN_SPEED_SPAN_MPS
    for axis in (ax, speed_ax):
        lo, hi = axis.get_ylim()
        y = np.concatenate([np.asarray(line.get_ydata(), float) for line in axis.get_lines()])
        assert np.nanmax(y) <= lo + (hi - lo) / (1 + LEGEND_ROOM) + 1e-9
