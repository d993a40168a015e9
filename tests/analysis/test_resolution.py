"""Frame-time resolution of frame-counted durations (issue 25, item 3)."""
from __future__ import annotations

import pytest

from analysis.resolution import frame_time_s, relative_uncertainty, resolution_text


def test_one_frame_at_60_fps_is_17_ms_and_a_76_ms_flight_is_22_percent():
    assert frame_time_s({"frame_time_s": 1 / 60}) == pytest.approx(1 / 60)
    assert frame_time_s({"fps_used": 30.0}) == pytest.approx(1 / 30)       # documents before frame_time_s
    assert frame_time_s({}) is None and frame_time_s({"fps_used": 0}) is None
    assert relative_uncertainty(0.076, 1 / 60) == pytest.approx(0.2193, abs=1e-4)
    assert resolution_text(0.076, 1 / 60) == "±17 ms (1 frame at 60 fps), ±22 %"
    assert resolution_text(0.280, 1 / 60) == "±17 ms (1 frame at 60 fps)"       # 6 %: not large
    assert resolution_text(0.284, 1 / 30) == "±33 ms (1 frame at 30 fps), ±12 %"
    assert resolution_text(0.25, 1001 / 30000) == "±33 ms (1 frame at 29.97 fps), ±13 %"
    assert resolution_text(None, 1 / 60) == "±17 ms (1 frame at 60 fps)"
    assert resolution_text(0.1, None) is None
