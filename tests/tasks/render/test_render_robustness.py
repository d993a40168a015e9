"""Text from users is drawn literally and one failed artifact never takes the others (issue 25
item 19): a session name that matplotlib would read as mathtext (``Treadmill run $\\foo$``) made
the chart report raise, and with it the analysed video, snapshots and chart were all lost."""
from __future__ import annotations

import numpy as np
import pytest

from api.viewer.view import artifact_notes
from tasks.render import FORM_IMAGES, GAIT_PHASES, RenderData, render_lake_run, render_report_png

MATHTEXT_TITLE = r"Treadmill run $\foo$"


def _empty_data() -> RenderData:
    T = 30
    return RenderData(xy=np.full((T, 17, 2), np.nan), contact={"left": np.zeros(T, bool), "right": np.zeros(T, bool)},
                      angles={}, series={}, time_s=np.arange(T) / 30, events=[])


def _title_ink_width(png: bytes) -> int:
    """Width in px of the dark pixels in the title band at the top of the chart report."""
    import cv2

    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    band = img[: int(img.shape[0] * 0.05)] < 128
    cols = np.flatnonzero(band.any(axis=0))
    assert cols.size, "no title drawn"
    return int(cols[-1] - cols[0] + 1)


def test_report_png_draws_a_mathtext_session_name_literally():
    data = _empty_data()
    assert render_report_png(data, MATHTEXT_TITLE)[:8] == b"\x89PNG\r\n\x1a\n"   # raised ValueError before
    # Drawn literally, '$x^2$' keeps its dollars and caret: as wide as the same title with 'S' for
    # '$' (DejaVu: 636 vs 635 font units); read as mathtext it drew a short superscript x².
    literal = _title_ink_width(render_report_png(data, "Run $x^2$ for the team"))
    same_width = _title_ink_width(render_report_png(data, "Run Sx^2S for the team"))
    assert abs(literal - same_width) <= 3, (literal, same_width)


@pytest.fixture(scope="module")
def broken_source(synthetic_lake_session):
    """The shared synthetic run with a source "video" that does not decode, under a key of its own."""
    s = synthetic_lake_session
    key = f"videos/{s.session_id}/broken.mp4"
    s.store.write_bytes(key, b"\x00\x00\x00\x18ftypmp42" + b"\x13not a video" * 200)
    return s, key


def test_a_failed_video_leaves_the_chart_report_and_says_why(broken_source):
    s, key = broken_source
    images = render_lake_run(s.store, s.lake, s.session_id, s.version, key, title=MATHTEXT_TITLE, preset="ultrafast")
    assert "video" not in images and set(images["failed"]) == {"video"}
    reason = images["failed"]["video"]
    assert reason.startswith("InvalidDataError: ") and "Invalid data" in reason and "/" not in reason, reason
    assert s.store.read_bytes(images["report"])[:8] == b"\x89PNG\r\n\x1a\n"       # still drawn
    assert images["gait"] == {} and images["form"] == {}    # cut from the frames the video pass decodes
    notes = artifact_notes(images)
    assert len(notes) == 1 and notes[0]["text"].startswith("The analysed video could not be rendered (")


def test_a_mathtext_session_name_keeps_every_artifact(synthetic_lake_session):
    s = synthetic_lake_session
    images = render_lake_run(s.store, s.lake, s.session_id, s.version, title=MATHTEXT_TITLE, preset="ultrafast")
    assert "failed" not in images, images.get("failed")
    assert s.store.exists(images["video"]) and s.store.exists(images["report"])
    assert all(set(images["gait"][side]) == set(GAIT_PHASES) for side in ("left", "right"))
    assert set(images["form"]) == set(FORM_IMAGES)
