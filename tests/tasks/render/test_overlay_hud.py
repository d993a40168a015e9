"""The analysed video's overlay (issue 25, item 12): the contact timeline is not burned into
the frames (the page draws it under the video), the panel's text is large enough to read
where the page shows the video, and the panel says what the ankle number is (a shank proxy)
and which way trunk lean is positive."""
from __future__ import annotations

import numpy as np
import pytest

from tasks.render.data import RenderData
from tasks.render.video import Overlay
from tests.tasks.render.test_artifacts_render import _decode, rendered  # noqa: F401  (fixture)


def test_no_contact_timeline_is_burned_into_the_video(rendered):
    """The synthetic clip is plain grey with the runner in the upper middle: the bottom 7 %
    of every overlay frame must stay as the source has it (the strip covered it in bars)."""
    s, images = rendered
    frames, source = _decode(s.store, images["video"])[1], _decode(s.store, s.video_key)[1]
    assert len(frames) == len(source)
    for img, src in list(zip(frames, source))[:: max(1, len(frames) // 10)]:
        cut = int(0.93 * img.shape[0])          # below the event rings at the ankles (the strip was 7.5 %)
        diff = np.abs(img[cut:].astype(int) - src[cut:].astype(int)).max()
        assert diff <= 8, diff


def cap_height_px(overlay: Overlay, size: tuple[int, int], data: RenderData, frame: int = 0) -> int:
    """Height (px) of the panel's first line ('Cadence ...', capitals and digits) drawn on black."""
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    overlay.draw(img, frame)
    lh = int(32 * overlay.unit)
    y0 = int(10 * overlay.unit)
    band = img[y0:y0 + lh + int(4 * overlay.unit), : w // 2].max(axis=2) > 128
    rows = np.flatnonzero(band.any(axis=1))
    return int(rows.max() - rows.min() + 1)


@pytest.mark.parametrize("size,min_px", [((720, 1280), 18), ((1280, 720), 18), ((640, 360), 9)])
def test_panel_text_is_sized_to_the_frame(synthetic_lake_session, size, min_px):
    """Digits at least ~2.5 % of the frame's shorter side (13 px on a 720x1280 frame before,
    about 7 px on a 1440x900 page)."""
    s = synthetic_lake_session
    data = RenderData.from_tables(s.lake.read_table(s.session_id, "frames", manifest=s.lake.manifest(s.session_id, s.version)),
                                  s.lake.read_table(s.session_id, "sessions", manifest=s.lake.manifest(s.session_id, s.version)))
    ov = Overlay(data, size, 1.0, 30.0)
    assert cap_height_px(ov, size, data, frame=40) >= min_px


def test_panel_names_the_ankle_proxy_and_the_trunk_sign(synthetic_lake_session):
    s = synthetic_lake_session
    m = s.lake.manifest(s.session_id, s.version)
    data = RenderData.from_tables(s.lake.read_table(s.session_id, "frames", manifest=m),
                                  s.lake.read_table(s.session_id, "sessions", manifest=m))
    ov = Overlay(data, (720, 1280), 1.0, 30.0, ("knee", "hip", "ankle"))
    ov.draw(np.zeros((1280, 720, 3), np.uint8), 40)
    lines = ov.panel_lines
    assert any(x.startswith("Shank* L ") for x in lines) and "*ankle proxy: shank" in lines
    trunk = next(x for x in lines if x.startswith("Trunk lean"))
    assert trunk.endswith("(+fwd)") and trunk.split()[2][0] in "+-"
    assert not any(x.startswith("Ankle") for x in lines)
    ov = Overlay(data, (720, 1280), 1.0, 30.0, ("knee", "hip"))           # no ankle: no footnote
    ov.draw(np.zeros((1280, 720, 3), np.uint8), 40)
    assert not any("proxy" in x for x in ov.panel_lines)
