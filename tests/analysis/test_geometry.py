"""analysis/geometry.py: scale, facing, floor line, mode and view against known geometry."""
from __future__ import annotations

import numpy as np
import pytest

from analysis import geometry as geo
from analysis.keypoints import KP
from analysis.synthetic import make_session


@pytest.mark.parametrize("height_m, px_per_m, facing", [(1.75, 400.0, 1.0), (1.60, 250.0, -1.0)])
def test_scale_facing_and_view_of_a_synthetic_runner(height_m, px_per_m, facing):
    """The synthetic body (analysis.synthetic, Winter's landmark heights, not geometry's constants)."""
    s = make_session(height_m=height_m, px_per_m=px_per_m, facing=facing, duration_s=3.0)
    xy = s.keypoints[..., :2]
    ppm, default = geo.pixels_per_metre(xy, height_m, None, default_height_m=1.0)
    assert not default and ppm == pytest.approx(px_per_m, rel=0.02)
    ppm_default, default = geo.pixels_per_metre(xy, None, None, default_height_m=height_m)
    assert default and ppm_default == pytest.approx(ppm, rel=1e-12)         # same height, same scale
    assert geo.pixels_per_metre(xy, None, None, default_height_m=2 * height_m)[0] == pytest.approx(ppm / 2)
    assert geo.facing_direction(xy) == facing
    assert geo.side_view_score(xy) < 0.35


def test_midpoint_ignores_a_missing_side():
    xy = np.full((2, 17, 2), np.nan)
    xy[0, KP.LEFT_HIP], xy[0, KP.RIGHT_HIP] = (0.0, 10.0), (4.0, 14.0)
    xy[1, KP.LEFT_HIP] = (7.0, 3.0)
    assert geo.midpoint(xy, KP.LEFT_HIP, KP.RIGHT_HIP).tolist() == [[2.0, 12.0], [7.0, 3.0]]


def test_floor_line_through_contact_ankles():
    x = np.arange(10.0)
    ankles = np.stack([x, 0.1 * x + 500.0], axis=1)                          # a floor tilted by 0.1
    contact = np.ones(10, dtype=bool)
    assert geo.floor_line(ankles, contact) == pytest.approx((0.1, 500.0))
    contact[2:] = False
    assert geo.floor_line(ankles, contact) is None                             # fewer than 3 points


@pytest.mark.parametrize("travel_px_s, mode", [(0.0, "treadmill"), (100.0, "treadmill"), (400.0, "overground")])
def test_detect_mode_from_pelvis_travel(travel_px_s, mode):
    """Overground when the pelvis moves faster than 30 % of the stance-foot speed (1000 px/s here)."""
    fps = 60.0
    pelvis = 300.0 + travel_px_s * np.arange(120) / fps
    assert geo.detect_mode(pelvis, 1000.0, fps) == mode


def test_frontal_view_is_not_a_side_view():
    s = make_session(duration_s=1.0)
    xy = s.keypoints[..., :2].copy()
    trunk = np.linalg.norm(xy[:, KP.LEFT_HIP] - xy[:, KP.LEFT_SHOULDER], axis=1)
    xy[:, KP.LEFT_SHOULDER, 0] = xy[:, KP.RIGHT_SHOULDER, 0] + 0.8 * trunk      # shoulders spread: camera in front
    assert geo.side_view_score(xy) > 0.35
