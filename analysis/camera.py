"""The camera: its motion from the background, static / tracking / hand-held, and the mode.

Input: per-frame tile shifts measured while decoding (``tasks.video.FrameSignals``:
the image shift of each tile of a grid since the previous frame, by phase
correlation) and the runner's box. The background's motion is the median shift of
the tiles that the runner's box (grown by half its size) does not touch and whose
correlation peak shows texture. Under a pan or a hand-held camera every background
point moves alike in the image (a rotation of the camera is a shift of the image, to
first order), so ``cumulative_shift`` maps image coordinates to a frame fixed to the
scene: ``world = image - cumulative_shift``.

Classification (:func:`classify_camera`), from the background motion in units of the
runner's box height per second (so it does not depend on the resolution):

* ``static``: the background drifts less than :data:`STATIC_DRIFT` box heights over
  the clip and jitters less than :data:`STATIC_JITTER` per frame;
* ``tracking``: the background moves steadily one way (a pan following the runner):
  the mean horizontal speed is at least :data:`TRACKING_SPEED` and three times its
  frame-to-frame jitter;
* ``hand-held``: anything else that moves (shake, sway, a wandering framing).

The treadmill / overground decision (:func:`decide_mode`) then uses the runner's
motion in the scene frame: a runner fixed in the image under a tracking camera moves
through the scene (overground); a runner fixed in the scene under a static camera is
on a treadmill.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Below this total background drift (box heights over the clip) a camera is static.
STATIC_DRIFT = 0.15
#: Below this background motion per frame (box heights, 95th percentile) a camera is static.
STATIC_JITTER = 0.01
#: Mean horizontal background speed (box heights per second) of a tracking camera.
TRACKING_SPEED = 0.5
#: Tiles with a phase-correlation peak below this carry no usable texture.
MIN_TILE_RESPONSE = 0.08


@dataclass(frozen=True)
class CameraMotion:
    """The background's motion: ``shift`` (T, 2) px per frame (NaN where unmeasured),
    ``cumulative_shift`` (T, 2) px since the first frame (gaps hold the last value),
    ``measured_share`` of frames with a background measurement."""

    shift: np.ndarray
    cumulative_shift: np.ndarray
    measured_share: float


def background_motion(tile_shift: np.ndarray, tile_response: np.ndarray, frame_size: tuple[int, int],
                      runner_boxes: np.ndarray | None = None, cuts: np.ndarray | list[int] = ()) -> CameraMotion:
    """:class:`CameraMotion` from ``tile_shift`` (T, rows, cols, 2) px and ``tile_response``
    (T, rows, cols), leaving out tiles the runner's box (``(T, >=4)`` x1, y1, x2, y2 px,
    NaN where not found) grown by half its size touches. At a cut (``cuts``: first
    frames of new shots) the shift is not a motion: it is set to 0."""
    s = np.asarray(tile_shift, dtype=np.float64)
    resp = np.asarray(tile_response, dtype=np.float64)
    T, rows, cols = s.shape[:3]
    w, h = frame_size
    usable = resp >= MIN_TILE_RESPONSE
    if runner_boxes is not None:
        b = np.asarray(runner_boxes, dtype=np.float64)[:, :4]
        bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        x1, x2 = b[:, 0] - 0.5 * bw, b[:, 2] + 0.5 * bw
        y1, y2 = b[:, 1] - 0.5 * bh, b[:, 3] + 0.5 * bh
        tx = np.arange(cols) * w / cols
        ty = np.arange(rows) * h / rows
        over_x = (tx[None, :] < x2[:, None]) & (tx[None, :] + w / cols > x1[:, None])     # (T, cols)
        over_y = (ty[None, :] < y2[:, None]) & (ty[None, :] + h / rows > y1[:, None])     # (T, rows)
        runner = over_y[:, :, None] & over_x[:, None, :]
        runner &= np.isfinite(b[:, 0])[:, None, None]
        usable &= ~runner
    usable &= np.isfinite(s).all(axis=3)
    shift = np.full((T, 2), np.nan)
    for k in np.flatnonzero(usable.any(axis=(1, 2))):
        shift[k] = np.median(s[k][usable[k]], axis=0)
    for c in cuts:
        if 0 <= int(c) < T:
            shift[int(c)] = 0.0
    measured = np.isfinite(shift[:, 0])
    cumulative = np.cumsum(np.where(np.isfinite(shift), shift, 0.0), axis=0)
    return CameraMotion(shift, cumulative, float(measured.mean()) if T else 0.0)


def classify_camera(motion: CameraMotion, fps: float, box_height_px: float) -> str:
    """``'static'``, ``'tracking'`` or ``'hand-held'`` (see the module docs); ``'unknown'``
    when less than half of the frames measured the background."""
    if motion.measured_share < 0.5 or not (box_height_px > 0):
        return "unknown"
    v = motion.shift[np.isfinite(motion.shift[:, 0])] / box_height_px          # box heights per frame
    drift = np.abs(motion.cumulative_shift[-1] - motion.cumulative_shift[0]).max() / box_height_px
    jitter = float(np.percentile(np.hypot(v[:, 0], v[:, 1]), 95))
    if drift < STATIC_DRIFT and jitter < STATIC_JITTER:
        return "static"
    mean_vx = abs(float(v[:, 0].mean())) * fps
    spread = float(np.std(np.diff(v[:, 0]))) * fps if len(v) > 2 else 0.0
    if mean_vx >= TRACKING_SPEED and mean_vx >= 3.0 * spread / np.sqrt(2.0):
        return "tracking"
    return "hand-held"


def decide_mode(camera: str, runner_speed_in_scene: float, runner_speed_in_image: float) -> str | None:
    """``'treadmill'`` / ``'overground'`` from the evidence, or None to leave it to the engine.

    Speeds in box heights per second (absolute mean horizontal speed of the runner's
    pelvis). A tracking camera keeps the runner in frame while the scene passes:
    overground, whatever the image says. Otherwise the runner's motion through the
    scene decides (an overground runner covers about 1-4 box heights per second, a
    treadmill runner stays put); None when the camera is unknown."""
    if camera == "tracking":
        return "overground"
    if camera == "unknown":
        return None
    return "overground" if runner_speed_in_scene >= 0.5 else "treadmill"
