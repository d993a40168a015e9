"""The camera: its motion from the background, static / tracking / hand-held, and the mode.

Input: per-frame tile shifts measured while decoding (``tasks.video.FrameSignals``:
the image shift of each tile of a grid since the previous frame, by phase
correlation) and the runner's box. The background's motion is the median shift of
the tiles that the runner's box (grown by a tenth) does not touch and whose
correlation peak shows texture. Under a pan or a hand-held camera every background
point moves alike in the image (a rotation of the camera is a shift of the image, to
first order), so ``cumulative_shift`` maps image coordinates to a frame fixed to the
scene: ``world = image - cumulative_shift``.

Classification (:func:`classify_camera`), from the background motion relative to the
frame (stillness) and to the runner's box height (a pan's speed), so it does not
depend on the resolution:

* ``static``: the background drifts less than :data:`STATIC_DRIFT` of the frame over
  the clip and moves less than :data:`STATIC_JITTER` of it per frame;
* ``tracking``: the background moves steadily one way (a pan following the runner):
  the mean horizontal speed is at least :data:`TRACKING_SPEED` box heights per second
  and three times its frame-to-frame jitter;
* ``hand-held``: anything else that moves (shake, sway, a wandering framing).

The treadmill / overground decision (:func:`mode_for_camera`): a runner fixed in the
image under a tracking camera moves through the scene, so overground; otherwise the
engine decides from the camera-compensated track.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Below this total background drift (share of the frame's long side over the clip) a camera
#: is static. A tripod or a phone leant on something drifts < 0.5 % (measured on the garage
#: clip: 2 px of 640 over 4 s).
STATIC_DRIFT = 0.01
#: Below this background motion per frame (share of the frame's long side, 95th percentile) a
#: camera is static (the measurement's own noise on a still scene is ~0.03 %).
STATIC_JITTER = 0.0015
#: Mean horizontal background speed (box heights per second) of a tracking camera.
TRACKING_SPEED = 0.5
#: Share of the runner's box size added on each side before its tiles are left out (the box
#: holds the limbs already; a large margin leaves no background in a portrait close-up).
RUNNER_MARGIN = 0.1
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
    NaN where not found) grown by :data:`RUNNER_MARGIN` of its size on each side touches. At a cut (``cuts``: first
    frames of new shots) the shift is not a motion: it is set to 0."""
    s = np.asarray(tile_shift, dtype=np.float64)
    resp = np.asarray(tile_response, dtype=np.float64)
    T, rows, cols = s.shape[:3]
    w, h = frame_size
    usable = resp >= MIN_TILE_RESPONSE
    if runner_boxes is not None:
        b = np.asarray(runner_boxes, dtype=np.float64)[:, :4]
        bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        x1, x2 = b[:, 0] - RUNNER_MARGIN * bw, b[:, 2] + RUNNER_MARGIN * bw
        y1, y2 = b[:, 1] - RUNNER_MARGIN * bh, b[:, 3] + RUNNER_MARGIN * bh
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


def classify_camera(motion: CameraMotion, fps: float, box_height_px: float, frame_long_side_px: float) -> str:
    """``'static'``, ``'tracking'`` or ``'hand-held'`` (see the module docs); ``'unknown'``
    when less than half of the frames measured the background. Stillness is judged
    against the frame (``frame_long_side_px``), a pan's speed against the runner
    (``box_height_px``: a camera following a runner moves with the runner)."""
    if motion.measured_share < 0.5 or not (box_height_px > 0) or not (frame_long_side_px > 0):
        return "unknown"
    v = motion.shift[np.isfinite(motion.shift[:, 0])]                           # px per frame
    drift = np.abs(motion.cumulative_shift[-1] - motion.cumulative_shift[0]).max() / frame_long_side_px
    jitter = float(np.percentile(np.hypot(v[:, 0], v[:, 1]), 95)) / frame_long_side_px
    if drift < STATIC_DRIFT and jitter < STATIC_JITTER:
        return "static"
    mean_vx = abs(float(v[:, 0].mean())) * fps / box_height_px                  # box heights per second
    spread = float(np.std(np.diff(v[:, 0]))) * fps / box_height_px if len(v) > 2 else 0.0
    if mean_vx >= TRACKING_SPEED and mean_vx >= 3.0 * spread / np.sqrt(2.0):
        return "tracking"
    return "hand-held"


def mode_for_camera(camera: str) -> str | None:
    """``'overground'`` for a tracking camera (it keeps the runner in frame while the scene
    passes, which the engine's image-only rule takes for a treadmill); None otherwise: in
    camera-compensated coordinates the engine's own rule (pelvis travel against the
    stance foot's speed, ``geometry.detect_mode``) tells a treadmill from overground."""
    return "overground" if camera == "tracking" else None
