"""Artifacts from a synthetic session in a real lake: the analysed video, snapshots, the report."""
from __future__ import annotations

import json
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from analysis.keypoints import KP
from tasks.render import COLOR, FORM_IMAGES, GAIT_PHASES, RenderData, render_lake_run, render_report_png
from tests.video_support import to_ndarray


@pytest.fixture(scope="module")
def rendered(synthetic_lake_session):
    s = synthetic_lake_session
    images = render_lake_run(s.store, s.lake, s.session_id, s.version, crf=12)
    return s, images


def _decode(store, key):
    with store.local_copy(key) as path, av.open(str(path)) as c:
        stream = c.streams.video[0]
        info = {"codec": stream.codec_context.name, "pix_fmt": stream.codec_context.pix_fmt,
                "rate": Fraction(stream.average_rate), "size": (stream.width, stream.height)}
        frames = [to_ndarray(f, format="bgr24") for f in c.decode(stream)]
    return info, frames


def test_overlay_is_h264_with_the_source_frame_count_and_exact_rate(rendered):
    s, images = rendered
    info, frames = _decode(s.store, images["video"])
    src_info, src_frames = _decode(s.store, s.video_key)
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert info["rate"] == src_info["rate"] == Fraction(30000, 1001)
    assert len(frames) == len(src_frames) == s.n_frames
    assert images["video_info"]["frames"] == s.n_frames


def test_snapshots_exist_for_every_phase_and_side_and_every_form_image(rendered):
    s, images = rendered
    for side in ("left", "right"):
        assert set(images["gait"][side]) == set(GAIT_PHASES)
        for key in images["gait"][side].values():
            img = cv2.imdecode(np.frombuffer(s.store.read_bytes(key), np.uint8), cv2.IMREAD_COLOR)
            assert img is not None and img.shape[:2] == (320, 480)
    assert set(images["form"]) == set(FORM_IMAGES)
    for key in images["form"].values():
        assert s.store.read_bytes(key)[:2] == b"\xff\xd8"  # JPEG


def test_drawn_keypoints_land_where_the_lake_says(rendered):
    """Sample the overlay at the lake's keypoint pixels: the side's colour there, background elsewhere."""
    s, images = rendered
    frames_tab = s.lake.read_table(s.session_id, "frames", manifest=s.lake.manifest(s.session_id, s.version))
    data = RenderData.from_tables(frames_tab)
    _, frames = _decode(s.store, images["video"])
    bg = np.array([90, 90, 90], float)
    checked = 0
    for i in range(5, s.n_frames - 5, 7):
        img = frames[i].astype(float)
        for kp, side in ((KP.LEFT_KNEE, "left"), (KP.RIGHT_KNEE, "right"), (KP.LEFT_HIP, "left"),
                         (KP.RIGHT_ELBOW, "right"), (KP.LEFT_ANKLE, "left"), (KP.RIGHT_ANKLE, "right")):
            x, y = data.xy[i, kp]
            assert np.isfinite(x) and np.isfinite(y)
            px = img[int(round(y)), int(round(x))]
            # the lake's point is drawn in its side's colour (video is 1:1 with the source here);
            # where the contralateral point lies on top of it (side view), either side's colour
            other = KP[kp.name.replace("LEFT", "X").replace("RIGHT", "LEFT").replace("X", "RIGHT")]
            colours = [COLOR[side]]
            if np.hypot(*(data.xy[i, other] - data.xy[i, kp])) < 8:
                colours.append(COLOR["right" if side == "left" else "left"])
            assert min(np.abs(px - np.array(c, float)).sum() for c in colours) < 140, (i, kp, px)
            assert np.abs(px - bg).sum() > 120
            checked += 1
        # far from the runner (between panel and figure), the background is untouched
        assert np.abs(img[200, 200] - bg).sum() < 30
    assert checked >= 40


def test_contact_foot_is_highlighted(rendered):
    s, images = rendered
    frames_tab = s.lake.read_table(s.session_id, "frames", manifest=s.lake.manifest(s.session_id, s.version))
    data = RenderData.from_tables(frames_tab)
    _, frames = _decode(s.store, images["video"])
    i = int(np.flatnonzero(data.contact["left"] & ~data.contact["right"])[3])
    x, y = data.xy[i, KP.LEFT_ANKLE]
    ring = frames[i][int(round(y)) - 6, int(round(x))].astype(float)  # inside the contact disc, off the dot
    assert np.abs(ring - np.array(COLOR["contact"], float)).sum() < 140


def test_publish_puts_artifact_keys_in_the_served_row(synthetic_lake_session, rendered):
    s, images = rendered
    s.lake.attach_artifacts(s.session_id, s.version, images, publish=True)
    row = s.lake.read_table(s.session_id, "sessions").to_pylist()[0]
    assert row["analyzed_video_key"] == images["video"]
    doc = json.loads(row["images_doc"])
    assert doc["gait"]["left"]["strike"] == images["gait"]["left"]["strike"]
    assert all(s.store.exists(k) for k in doc["form"].values())
    assert s.lake.read_table(s.session_id, "frames").num_rows == s.n_frames


def test_report_png_and_cli(rendered, monkeypatch, tmp_path, capsys):
    s, _ = rendered
    s.lake.attach_artifacts(s.session_id, s.version, None, publish=True)
    from configs import get_settings
    from gaitlake.cli import main

    monkeypatch.setenv("GAITLAKE_DATA_DIR", str(s.data_dir))
    get_settings.cache_clear()
    try:
        out = tmp_path / "r.png"
        assert main(["report", s.session_id, "-o", str(out), "--comments"]) == 0
        img = cv2.imread(str(out))
        assert img is not None and img.shape[1] > 1000
        assert "[summary/final_summary]" in capsys.readouterr().out
        assert main(["report", "nosuchsession", "-o", str(tmp_path / "x.png")]) == 1
    finally:
        get_settings.cache_clear()


def test_report_png_without_strides_still_renders():
    T = 30
    data = RenderData(xy=np.full((T, 17, 2), np.nan), contact={"left": np.zeros(T, bool), "right": np.zeros(T, bool)},
                      angles={}, series={}, time_s=np.arange(T) / 30, events=[])
    png = render_report_png(data, "empty")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_overlay_marks_the_events_the_engine_counted():
    """The overlay labels the sessions row's ``events_doc`` (the engine's events, after its
    validity gate), not events re-derived from the contact flags; old rows fall back to those."""
    import pyarrow as pa

    T = 40
    contact = np.zeros(T)
    contact[5:10] = contact[20:25] = 1.0            # two complete left contacts in the flags
    frames = pa.table({"left_contact": contact, "right_contact": np.zeros(T), "time_s": np.arange(T) / 30})
    counted = {"events": [{"side": "left", "kind": "TO", "frame": 10, "time_s": 10 / 30},
                          {"side": "left", "kind": "IC", "frame": 5, "time_s": 5 / 30}]}
    data = RenderData.from_tables(frames, {"events_doc": json.dumps(counted)})
    assert data.events == [(5, "left", "IC"), (10, "left", "TO")]   # the second contact was not counted
    legacy = RenderData.from_tables(frames, {})
    assert legacy.events == [(5, "left", "IC"), (10, "left", "TO"), (20, "left", "IC"), (25, "left", "TO")]
