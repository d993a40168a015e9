"""Labels, low-confidence marks and the form snapshots' leg, on synthetic pictures with known answers;
and `gaitlake report SESSION_ID` finding the stored artifacts."""
from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from analysis.keypoints import KP
from analysis.phase_report import PhaseMark, Phases, SidePhases
from tasks.render import (COLOR, RenderData, draw_skeleton, form_side_and_reason, low_confidence_mask,
                          render_lake_run)
from tasks.render.draw import fmt_value, put_text


@pytest.mark.parametrize("value, fmt, unit, expected", [
    (-0.3, "{:+.0f}", "", "0"), (0.2, "{:+.0f}", " deg", "0 deg"), (-0.04, "{:.1f}", "", "0.0"),
    (-1.6, "{:+.0f}", "", "-2"), (3.0, "{:+.0f}", "", "+3"), (None, "{:.0f}", "", "--"),
])
def test_numbers_that_round_to_zero_have_no_sign(value, fmt, unit, expected):
    assert fmt_value(value, fmt, unit) == expected


@pytest.mark.parametrize("size, thickness", [(0.75, 1), (1.0, 2), (1.6, 2)])
def test_the_text_outline_hugs_the_glyphs(size, thickness):
    """The dark outline spans the coloured text plus at most its 1-step border on each side;
    the old shadow (drawn thicker) drifted right letter by letter."""
    img = np.full((120, 900, 3), 128, np.uint8)
    label = "knee flexion 17 deg  shank vs vertical +16 deg"
    put_text(img, label, (10, 70), size, (255, 255, 255), thickness)
    colour = np.argwhere((img == 255).all(axis=2))
    dark = np.argwhere(img.max(axis=2) < 40)
    step = max(1, int(round(size)))
    assert colour.size and dark.size
    assert dark[:, 1].max() <= colour[:, 1].max() + step + 1
    assert dark[:, 1].min() >= colour[:, 1].min() - step - 1


def _standing(T: int = 10) -> np.ndarray:
    """A side-view runner: hips at y=500, knees at 600, ankles at 700, legs 60 px apart."""
    xy = np.full((T, 17, 2), np.nan)
    for side, dx in (("LEFT", -30.0), ("RIGHT", 30.0)):
        xy[:, KP[f"{side}_SHOULDER"]] = (300 + dx / 3, 300)
        xy[:, KP[f"{side}_HIP"]] = (300 + dx / 3, 500)
        xy[:, KP[f"{side}_KNEE"]] = (300 + dx, 600)
        xy[:, KP[f"{side}_ANKLE"]] = (300 + dx, 700)
    return xy


def test_collapsed_legs_and_low_confidence_points_are_flagged():
    xy = _standing()
    conf = np.ones(xy.shape[:2])
    legs = [KP.LEFT_KNEE, KP.RIGHT_KNEE, KP.LEFT_ANKLE, KP.RIGHT_ANKLE]
    xy[3, KP.RIGHT_KNEE] = xy[3, KP.LEFT_KNEE] + (5, 0)      # both legs on one: knee and ankle
    xy[3, KP.RIGHT_ANKLE] = xy[3, KP.LEFT_ANKLE] + (0, 5)
    xy[5, KP.RIGHT_KNEE] = xy[5, KP.LEFT_KNEE] + (4, 0)      # knees crossing alone: a normal stride
    conf[7, KP.LEFT_WRIST] = 0.2
    xy[7, KP.LEFT_WRIST] = (280, 420)
    low = low_confidence_mask(xy, conf)
    assert low[3, legs].all()
    assert not low[5].any()
    assert low[7, KP.LEFT_WRIST] and low.sum() == 5
    assert not low_confidence_mask(_standing(), None).any()


def test_low_confidence_points_are_drawn_hollow():
    xy = _standing(1)[0]
    solid = np.zeros((900, 600, 3), np.uint8)
    hollow = solid.copy()
    low = np.zeros(17, bool)
    low[KP.LEFT_KNEE] = True
    draw_skeleton(solid, xy, 1.0, thickness=3)
    draw_skeleton(hollow, xy, 1.0, thickness=3, low=low)
    x, y = (int(v) for v in xy[KP.LEFT_KNEE])
    assert tuple(solid[y, x]) == COLOR["left"]          # a filled dot
    assert tuple(hollow[y, x]) != COLOR["left"]         # a ring: the centre is not painted
    ring = hollow[y - 8:y + 9, x - 8:x + 9].reshape(-1, 3).astype(int)
    assert (np.abs(ring - np.array(COLOR["left"])).max(axis=1) < 60).any()  # the ring, anti-aliased


def _data(near: str | None, phases=("left", "right")) -> RenderData:
    T = 10
    marks = {"strike": PhaseMark(2, 0, 0), "takeoff": PhaseMark(5, 3, 38)}
    gait = Phases(**{side: SidePhases(marks=marks) for side in phases})
    return RenderData(xy=_standing(T), contact={"left": np.zeros(T, bool), "right": np.zeros(T, bool)},
                      angles={}, series={}, time_s=np.arange(T) / 30, events=[], phases=gait,
                      summary={"quality_doc": json.dumps({"near_leg": near})})


def test_form_snapshots_use_the_near_leg_or_say_why_not():
    assert form_side_and_reason(_data("right")) == ("right", "near leg")
    assert form_side_and_reason(_data("left")) == ("left", "near leg")
    side, why = form_side_and_reason(_data("right", phases=("left",)))
    assert side == "left" and why == "the near (right) leg has no complete stride"
    assert form_side_and_reason(_data(None))[1] == "the leg seen best; the near leg is not known"


@pytest.fixture
def published(tmp_path):
    from tests.tasks.render.conftest import build_session

    s = build_session(tmp_path / "data")
    images = render_lake_run(s.store, s.lake, s.session_id, s.version, crf=30)
    s.lake.attach_artifacts(s.session_id, s.version, images, publish=True)
    return s, images


def test_report_finds_the_stored_artifacts_by_session_id(published, tmp_path, monkeypatch, capsys):
    from configs import get_settings
    from gaitlake.cli import main

    s, images = published
    monkeypatch.setenv("GAITLAKE_DATA_DIR", str(s.data_dir))
    get_settings.cache_clear()
    try:
        assert main(["report", s.session_id, "-o", str(tmp_path / "r.png")]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    listed = dict(re.findall(r"^  (analysed video|report|snapshots) +(.+)$", out, re.M))
    assert Path(listed["analysed video"]) == Path(s.store.path(images["video"])) and Path(listed["analysed video"]).is_file()
    assert Path(listed["report"]).is_file()
    count, folder = re.fullmatch(r"(\d+) JPEGs under (.+)/ \(gait/, form/\)", listed["snapshots"]).groups()
    jpegs = sorted(Path(folder).rglob("*.jpg"))
    assert int(count) == len(jpegs) == sum(len(v) for v in images["gait"].values()) + len(images["form"])


def test_the_video_panel_marks_angles_from_doubtful_legs(monkeypatch):
    import tasks.render.video as video

    T = 10
    xy = _standing(T)
    xy[3, KP.RIGHT_KNEE] = xy[3, KP.LEFT_KNEE] + (5, 0)
    xy[3, KP.RIGHT_ANKLE] = xy[3, KP.LEFT_ANKLE] + (0, 5)
    data = RenderData(xy=xy, contact={"left": np.zeros(T, bool), "right": np.zeros(T, bool)},
                      angles={"lkne_angle": np.full(T, 20.0), "rkne_angle": np.full(T, 30.0)}, series={},
                      time_s=np.arange(T) / 30, events=[])
    overlay = video.Overlay(data, (600, 900), 1.0, 30.0)

    def panel(frame: int) -> list[str]:
        drawn: list[str] = []
        monkeypatch.setattr(video, "put_text", lambda img, text, *a, **k: drawn.append(text))
        overlay.draw(np.zeros((900, 600, 3), np.uint8), frame)
        return drawn

    collapsed, normal = panel(3), panel(4)
    assert "Knee flex L 20? R 30?" in collapsed and "Hip flex L -- R --" in collapsed
    assert "Knee flex L 20 R 30" in normal


def test_the_overlay_draws_the_contact_foot_sole_line_and_skips_unseen_feet():
    """Heel (270, 720) -> toe (340, 705) of the left foot in contact: green pixels along that line;
    the right foot below the confidence floor is not drawn at all."""
    import tasks.render.video as video

    T = 4
    xy = _standing(T)
    feet = {"left": np.tile(np.array([[[270.0, 720.0, 0.9], [340.0, 705.0, 0.9]]]), (T, 1, 1)),
            "right": np.tile(np.array([[[500.0, 820.0, 0.2], [570.0, 805.0, 0.2]]]), (T, 1, 1))}
    data = RenderData(xy=xy, contact={"left": np.ones(T, bool), "right": np.zeros(T, bool)}, angles={},
                      series={}, time_s=np.arange(T) / 30, events=[], feet=feet)
    img = video.Overlay(data, (700, 900), 1.0, 30.0).draw(np.zeros((900, 700, 3), np.uint8), 1)
    green = np.array(COLOR["contact"])
    mid = img[712, 305]                                   # the sole line's midpoint
    assert np.abs(mid.astype(int) - green).max() < 40
    assert img[790:830, 480:590].max() == 0              # the unseen right foot: nothing drawn
    data.feet = None                                      # a session without the foot stage: no sole line
    img = video.Overlay(data, (700, 900), 1.0, 30.0).draw(np.zeros((900, 700, 3), np.uint8), 1)
    assert np.abs(img[712, 305].astype(int) - green).max() > 40


def test_strike_snapshot_prints_the_measured_foot_strike(monkeypatch):
    """The strike image says the contact's measured touchdown angle and pattern (the strides row of
    that IC); a contact left out says so; a session without the foot stage adds nothing."""
    import tasks.render.snapshots as snaps

    T = 6
    feet = {s: np.tile(np.array([[[270.0, 720.0, 0.9], [340.0, 705.0, 0.9]]]), (T, 1, 1)) for s in ("left", "right")}
    strides = [{"side": "left", "ic_frame": 3, "footstrike_angle_deg": 18.6, "footstrike": "rearfoot"},
               {"side": "right", "ic_frame": 3, "footstrike_angle_deg": None, "footstrike": None}]
    data = RenderData(xy=_standing(T), contact={"left": np.ones(T, bool), "right": np.zeros(T, bool)}, angles={},
                      series={}, time_s=np.arange(T) / 30, events=[], strides=strides, feet=feet)

    def lines(side: str) -> list[str]:
        drawn: list[str] = []
        monkeypatch.setattr(snaps, "put_text", lambda img, text, *a, **k: drawn.append(text))
        snaps.draw_phase_snapshot(np.zeros((900, 700, 3), np.uint8), data, 3, side, "strike", 1.0)
        return drawn

    assert "foot strike +19 deg (rearfoot)" in lines("left")
    assert "foot strike not measured" in lines("right")
    data.feet = None
    assert not any(t.startswith("foot strike") for t in lines("left"))
