"""Real footage around the gait engine: cuts, the camera, and the mode they imply.

:func:`analyze_footage` is what the pipeline runs on the runner's track when the frames'
own evidence (``tasks.video.FrameSignals``) is at hand:

1. cuts: picture changes (:func:`analysis.segments.cut_frames`) found before the runner
   was selected (the selection restarts at them) plus re-framings of the runner's box
   (:func:`analysis.segments.reframing_cuts`);
2. the camera (:mod:`analysis.camera`): the background's motion, static / tracking /
   hand-held;
3. camera-compensated keypoints: ``image - cumulative background shift``, a frame fixed to
   the scene, so a panning or shaking camera adds nothing to foot velocities, events and
   speed (angles are unchanged by a shift);
4. the mode: a tracking camera keeps the runner in frame while the scene passes, which
   an image-only rule takes for a treadmill: it is overground (ground speed); otherwise
   the engine decides from the compensated track;
5. :func:`analysis.segments.analyze_segments` over the continuous segments.

``quality`` gains ``camera``, ``camera_speed_box_heights_per_s`` and a note saying which
speed is reported (belt speed on a treadmill, ground speed overground).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from analysis import camera as cam
from analysis.engine import EngineParams, RunnerProfile, SessionAnalysis
from analysis.segments import analyze_segments, reframing_cuts

CAMERA_WORDS = {
    "static": "static (the background does not move)",
    "tracking": "tracking (it pans with the runner)",
    "hand-held": "hand-held (the background shakes or wanders)",
    "unknown": "not measured (too little background texture, or no frame evidence)",
}


def all_cuts(picture_cuts: np.ndarray | list[int], runner_boxes: np.ndarray) -> np.ndarray:
    """Sorted union of the picture cuts and the runner box's re-framings."""
    return np.unique(np.r_[np.asarray(picture_cuts, dtype=np.int64), reframing_cuts(runner_boxes)]).astype(np.int64)


def analyze_footage(keypoints: np.ndarray, runner_boxes: np.ndarray, fps: float, cuts: np.ndarray | list[int],
                    tile_shift: np.ndarray | None, tile_response: np.ndarray | None,
                    profile: RunnerProfile | None = None, frame_size: tuple[int, int] | None = None,
                    params: EngineParams | None = None) -> SessionAnalysis:
    """The session's analysis from the runner's ``keypoints`` (T, 17, 3) and ``runner_boxes``
    (T, >=4; NaN where not found) with the frames' evidence: ``cuts`` (first frames of new
    shots) and the tile shifts of ``tasks.video.FrameSignals`` (None: the camera is not
    measured and treated as static). See the module docs."""
    profile = profile or RunnerProfile()
    kp = np.asarray(keypoints, dtype=np.float64).copy()
    boxes = np.asarray(runner_boxes, dtype=np.float64)
    cuts = np.asarray(cuts, dtype=np.int64)
    camera, speed = "unknown", None
    if tile_shift is not None and tile_response is not None and frame_size is not None:
        motion = cam.background_motion(tile_shift, tile_response, frame_size, boxes, cuts)
        heights = boxes[:, 3] - boxes[:, 1]
        box_h = float(np.nanmedian(heights)) if np.isfinite(heights).any() else float("nan")
        camera = cam.classify_camera(motion, fps, box_h, float(max(frame_size)))
        v = motion.shift[np.isfinite(motion.shift[:, 0]), 0]
        speed = float(abs(v.mean()) * fps / box_h) if v.size and box_h > 0 else None
        if camera in ("tracking", "hand-held"):
            kp[..., 0] -= motion.cumulative_shift[:, None, 0]
            kp[..., 1] -= motion.cumulative_shift[:, None, 1]
    mode = cam.mode_for_camera(camera)
    if mode is not None and profile.mode == "auto":
        profile = replace(profile, mode=mode)
    sa = analyze_segments(kp, fps, cuts, profile, frame_size, params)
    q = dict(sa.quality)
    speed_words = ("belt speed (the treadmill's)" if q.get("mode") == "treadmill"
                   else "ground speed (the runner's over the ground)")
    note = f"Camera: {CAMERA_WORDS[camera]}; the speed reported is {speed_words}."
    if camera in ("tracking", "hand-held"):
        note += " Events and speed are measured in scene coordinates (the camera's motion, from the background, removed)."
    if camera == "tracking":
        note += " The runner stays in frame because the camera follows: overground, not a treadmill."
    q.update(camera=camera, camera_speed_box_heights_per_s=speed, reasons=[note, *q.get("reasons", [])])
    return replace(sa, quality=q)
