"""The floor line under a moving camera (analysis/feet.py ``floor_lines_deg``): exact geometry on
synthetic feet, and the shared clips' stored strike points seen through a synthetic moving camera.

A hand-held camera rolls and a pan changes the running direction's perspective, so the image's
floor turns during the shot and one floor median per foot is off at each contact by the turn
since. The synthetic cameras below move the stored points of the shared (static) clips by an
exactly known image transform per frame: the touchdown angles of the moved points are compared
with those of the unmoved ones, contact by contact, under each floor rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pytest

import analysis.feet as F
from analysis.engine import analyze
from analysis.tracking import select_runner
from tests.analysis.conftest import DATA, load_detections
from tests.analysis.test_feet import CLIPS, needs_videos
from tests.engine_params import ENGINE_PARAMS


# --- exact geometry ------------------------------------------------------------------------------
def _turning_floor(T=200):
    """A foot whose flat sole reads 2 deg + the camera's turn (0.05 deg per frame), its touchdown
    20 deg above that floor; stances of 10 frames every 40 (flat window = frames IC+2..IC+5)."""
    turn = 0.05 * np.arange(T)
    sole = 2.0 + turn + 30.0                       # swing: toe up
    ic = np.arange(10, T - 20, 40)
    for a in ic:
        sole[a - 1:a + 1] = 2.0 + turn[a - 1:a + 1] + 20.0
        sole[a + 1:a + 11] = 2.0 + turn[a + 1:a + 11]
    return sole, ic, ic + 10, turn


def test_a_static_shot_takes_one_floor_per_foot_and_a_moving_one_each_stance_s_own():
    sole, ic, to, turn = _turning_floor()
    static = F.floor_lines_deg(sole, ic, to, None)
    assert np.all(static == F.flat_foot_angle_deg(sole, ic, to))
    moving = F.floor_lines_deg(sole, ic, to, [(0, len(sole) - 1, "hand-held")])
    # each stance's flat window IC+2..IC+5 and its neighbours' (NEIGHBOUR_STANCES = 1): a steady
    # turn's median is that of the middle stance's IC+3.5; the first and last stances have one
    # neighbour, so their median sits half a stance spacing (40 frames) towards it
    assert F.NEIGHBOUR_STANCES == 1
    np.testing.assert_allclose(moving[1:-1], 2.0 + 0.05 * (ic[1:-1] + 3.5))
    np.testing.assert_allclose(moving[[0, -1]], 2.0 + 0.05 * (ic[[0, -1]] + 3.5 + np.array([20.0, -20.0])))
    touchdown = [F.touchdown_angle_deg(sole, a, f) for a, f in zip(ic[1:-1], moving[1:-1])]
    np.testing.assert_allclose(touchdown, 20.0 - 0.05 * 4.0)      # the turn over 4 frames remains
    assert F.floor_lines_deg(sole, ic, to, [(0, len(sole) - 1, "tracking")]).tolist() == moving.tolist()
    assert F.floor_lines_deg(sole, ic, to, [(0, len(sole) - 1, "unknown")]).tolist() == static.tolist()


def test_a_stance_without_angles_takes_its_neighbours_floor_at_its_time_and_shots_are_kept_apart():
    sole, ic, to, _ = _turning_floor()
    hidden = sole.copy()
    hidden[ic[2] + 1:ic[2] + 11] = np.nan
    moving = F.floor_lines_deg(hidden, ic, to, [(0, len(sole) - 1, "hand-held")])
    assert moving[2] == pytest.approx((moving[1] + moving[3]) / 2)
    # two static shots (a cut at frame 100): each shot's own median
    shots = [(0, 99, "static"), (100, len(sole) - 1, "static")]
    split = F.floor_lines_deg(sole, ic, to, shots)
    first = ic < 100
    assert split[first].tolist() == [F.flat_foot_angle_deg(sole, ic[first], to[first])] * int(first.sum())
    assert split[~first].tolist() == [F.flat_foot_angle_deg(sole, ic[~first], to[~first])] * int((~first).sum())
    # no flat angle in a moving shot at all: no floor, so the contacts say floor_line_unknown
    assert np.isnan(F.floor_lines_deg(np.full(len(sole), np.nan), ic, to, [(0, len(sole) - 1, "hand-held")])).all()


def test_a_moving_shot_reads_every_stance_s_flat_window():
    ics = {"left": np.array([10, 50, 90]), "right": np.array([], int)}
    tos = {"left": np.array([20, 60, 100]), "right": np.array([], int)}
    windows = [set(range(a + 2, a + 6)) for a in (10, 50, 90)]
    contacts = {9, 10, 49, 50, 89, 90}
    static = F.strike_frames(ics, tos, 200, floor_stances=2)
    assert set(static.tolist()) == contacts | windows[0] | windows[2]
    moving = F.strike_frames(ics, tos, 200, floor_stances=2, shots=[(0, 199, "hand-held")])
    assert set(moving.tolist()) == contacts | windows[0] | windows[1] | windows[2]
    # a static first shot keeps its cap, a moving second shot takes all of its own
    mixed = F.strike_frames(ics, tos, 200, floor_stances=1, shots=[(0, 69, "static"), (70, 199, "tracking")])
    assert set(mixed.tolist()) == contacts | windows[0] | windows[2]


# --- the shared clips through a synthetic moving camera ----------------------------------------------
@dataclass(frozen=True)
class _Clip:
    feet: F.FootSides             # the stored strike points given to the engine's legs
    ics: dict
    tos: dict
    facing: float
    fps: float
    size: tuple[int, int]
    frames: int


@lru_cache(maxsize=None)
def _clip(name: str) -> _Clip:
    from tasks.feet import FootTrack

    fps, size = CLIPS[name]
    result = analyze(select_runner(*load_detections(DATA / f"{name}.detections.npz")).keypoints.astype(float),
                     fps, frame_size=size, params=ENGINE_PARAMS)
    fs = result.frame_series
    points = FootTrack.from_bytes((DATA / f"{name}.strike.npz").read_bytes()).points
    feet = F.assign_feet(points, np.stack([fs["left_ankle_x_px"], fs["left_ankle_y_px"]], 1),
                         np.stack([fs["right_ankle_x_px"], fs["right_ankle_y_px"]], 1))
    ics, tos = F.stance_pairs(result.events)
    return _Clip(feet, ics, tos, 1.0 if result.summary.facing == "+x" else -1.0, fps, size, len(points))


def _angles(clip: _Clip, feet: F.FootSides, shots) -> dict:
    """(side, IC) -> touchdown angle of ``feet``, no frame-edge check (a turned frame moves points
    across its edge: that is not what is compared)."""
    return {(c.side, c.ic_frame): c.angle_deg
            for c in F.contact_strikes(feet, clip.ics, clip.tos, clip.facing, None, shots)}


def _moved(feet: F.FootSides, move) -> F.FootSides:
    """``feet`` with each frame's heel and toe x/y mapped by ``move(frame, xy (n, 2))``. The sides
    stay those of the unmoved points: the comparison is of floor rules, not of side assignment."""
    def each(track: np.ndarray) -> np.ndarray:
        out = track.copy()
        for t in range(len(out)):
            out[t, :2] = move(t, out[t:t + 1, :2])[0]
        return out
    return F.FootSides({s: each(h) for s, h in feet.heel.items()}, {s: each(t) for s, t in feet.toe.items()},
                       feet.swapped)


def _roll(T: int, fps: float, size: tuple[int, int], sway_deg: float = 3.0):
    """A hand-held camera: it rolls ``sway_deg`` either way at 0.3 Hz (arm sway) and drifts
    0.5 deg/s, the image turning about its centre."""
    centre = np.array(size, dtype=np.float64) / 2
    theta = np.radians(sway_deg * np.sin(2 * np.pi * 0.3 * np.arange(T) / fps) + 0.5 * np.arange(T) / fps)

    def move(t, xy):
        c, s = np.cos(theta[t]), np.sin(theta[t])
        return centre + (xy - centre) @ np.array([[c, s], [-s, c]])
    return lambda feet: _moved(feet, move)


def _pan(T: int, fps: float, size: tuple[int, int], pitch_deg: float = 5.0, sweep_deg: float = 40.0):
    """A tracking camera: it pans ``sweep_deg`` about the vertical over the clip, pitched down
    ``pitch_deg``, focal length 0.75 x the long side (a phone's main camera). A camera turning
    about its centre maps its image by the homography K R K^-1, whatever the scene's depth."""
    f = 0.75 * max(size)
    K = np.array([[f, 0, size[0] / 2], [0, f, size[1] / 2], [0, 0, 1.0]])
    p = np.radians(pitch_deg)
    tilt = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    psi = np.radians(np.linspace(-sweep_deg / 2, sweep_deg / 2, T))

    def move(t, xy):
        c, s = np.cos(psi[t]), np.sin(psi[t])
        H = K @ tilt.T @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]) @ tilt @ np.linalg.inv(K)
        h = np.c_[xy, np.ones(len(xy))] @ H.T
        return h[:, :2] / h[:, 2:]
    return lambda feet: _moved(feet, move)


def _shift(T: int, fps: float, size: tuple[int, int]):
    """A pan seen as the image's shift alone: 400 px/s sideways and a 20 px bob at 1.5 Hz."""
    t = np.arange(T) / fps
    d = np.stack([400.0 * t, 20.0 * np.sin(2 * np.pi * 1.5 * t)], 1)
    return lambda feet: _moved(feet, lambda k, xy: xy + d[k])


def _rmse(a: dict, b: dict, keys) -> float:
    return float(np.sqrt(np.mean([(a[k] - b[k]) ** 2 for k in keys])))


def _compare(name: str, camera, moving: str, against: str = "same rule") -> dict:
    """Per rule (``session``: one floor per foot, ``stance``: each stance's own), the RMSE of the
    touchdown angles seen through ``camera`` against the unmoved angles of the same rule (or, with
    ``against="session"``, of the session rule: the static clip's own result, landmark noise
    included), over the contacts both measure; and the number of those contacts."""
    clip = _clip(name)
    T = clip.frames
    out = {}
    for rule, shots in (("session", None), ("stance", [(0, T - 1, moving)])):
        still = _angles(clip, clip.feet, None if against == "session" else shots)
        moved = _angles(clip, camera(T, clip.fps, clip.size)(clip.feet), shots)
        keys = [k for k in still if np.isfinite(still[k]) and np.isfinite(moved.get(k, np.nan))]
        out[rule], out["n"] = _rmse(still, moved, keys), len(keys)
    return out


# Measured (per-stance floor, over each stance and one neighbour either side, vs one session
# floor, RMSE against the unmoved angles): the roll 1.23 vs 2.12 deg (60 fps), 1.58 vs 3.07 deg
# (garage); the pan 0.47 vs 2.17, 0.99 vs 6.05 deg (the feet lie well below the horizon); with
# each stance's own window alone it was 0.48 / 0.86 and 0.30 / 0.70, but that rule read the swing
# foot where YOLO's ankles collapse on real pixels (tests/gaitlake/test_moving_camera_e2e.py). What the per-stance floor keeps is the turn between
# touchdown and its flat window (0.1 s: up to 0.6 deg of this roll), and on the garage clip the
# stances whose window the stored points lack (5 of 17 per side, read under the static cap) take
# their neighbours' floors.
@needs_videos
@pytest.mark.parametrize("camera, moving", [(_roll, "hand-held"), (_pan, "tracking")], ids=["roll", "pan"])
@pytest.mark.parametrize("name", list(CLIPS))
def test_per_stance_floors_follow_a_moving_camera_and_one_session_floor_does_not(name, camera, moving):
    got = _compare(name, camera, moving)
    assert got["n"] >= 18
    assert got["stance"] < 0.65 * got["session"] and got["session"] > 2.0


# Against the static clip's own result (one floor per foot, unmoved), the per-stance floor also
# carries the landmark noise of its three stances: RMSE 1.7 (60 fps) and 2.8 deg (garage) with no
# sway at all (0.5 deg/s drift only: session 1.2, 2.1), 2.1 / 2.4 at 3 deg, 2.4 / 2.5 at 5, 3.5 /
# 3.3 at 8, while the session floor's grows with the sway (2.1 / 3.1 at 3 deg, 3.5 / 4.2 at 5,
# 5.7 / 6.0 at 8). So it pays once the camera turns more than about 3 deg (docs/analysis.md).
# A strict xfail: it starts passing the day the per-stance floor gets quieter.
@needs_videos
@pytest.mark.parametrize("sway_deg", [8.0, pytest.param(3.0, marks=pytest.mark.xfail(
    strict=True, reason="3 deg sway: per stance 2.1 / 2.4 deg vs session 2.1 / 3.1 (60 fps / garage)"))])
@pytest.mark.parametrize("name", list(CLIPS))
def test_against_the_unmoved_result_per_stance_floors_beat_one_session_floor(name, sway_deg):
    got = _compare(name, lambda T, fps, size: _roll(T, fps, size, sway_deg), "hand-held", "session")
    assert got["stance"] < got["session"] - 1.0


@needs_videos
def test_a_pan_s_image_shift_changes_no_angle():
    got = _compare("treadmill-garage-30fps", _shift, "tracking")
    assert got["n"] >= 20 and got["session"] == pytest.approx(0.0, abs=1e-9) and \
        got["stance"] == pytest.approx(0.0, abs=1e-9)


@needs_videos
def test_the_session_s_shots_choose_the_floor_and_quality_says_which():
    from tests.analysis.test_feet import _measured, _strike

    name = "treadmill-garage-30fps"
    result, static, feet = _measured(name)
    strike, T = _strike(name), len(feet.points)

    def measured(shots):
        return F.with_feet(result, feet.points, CLIPS[name][1], feet.model, strike.points, strike.model, shots=shots)
    moving = measured([(0, T - 1, "hand-held")])
    unknown = measured([(0, T - 1, "unknown")])
    assert static.quality.added["footstrike_floor"] == "per foot" == unknown.quality.added["footstrike_floor"]
    assert moving.quality.added["footstrike_floor"] == "per stance"
    assert measured([(0, 179, "static"), (180, T - 1, "tracking")]).quality.added["footstrike_floor"] == "mixed"
    angles = {k: [r["footstrike_angle_deg"] for r in sa.strides.rows()] for k, sa in (("s", static), ("m", moving))}
    assert angles["s"] != angles["m"]
