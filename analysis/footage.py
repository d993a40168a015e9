"""Real footage around the gait engine: cuts, the camera, and the mode they imply.

:func:`analyze_footage` is what the pipeline runs on the runner's track when the frames'
own evidence (``tasks.video.FrameSignals``) is at hand:

1. cuts: picture changes (:func:`analysis.segments.cut_frames`) found before the runner
   was selected (the selection restarts at them) plus re-framings of the runner's box
   (:func:`analysis.segments.reframing_cuts`);
2. the camera (:mod:`analysis.camera`): the background's motion, static / tracking /
   hand-held, for each continuous segment (each shot of an edit has its own camera);
3. camera-compensated keypoints: ``image - cumulative background shift``, a frame fixed to
   the scene, so a panning or shaking camera adds nothing to foot velocities, events and
   speed (angles are unchanged by a shift); the result's px series are put back on the
   image (:func:`on_image`), so the overlay and the foot stage draw and read the video's pixels;
4. the mode: a tracking camera keeps the runner in frame while the scene passes, which
   an image-only rule takes for a treadmill: it is overground (ground speed); otherwise
   the engine decides from the compensated track;
5. :func:`analysis.segments.analyze_segments` over the continuous segments.

``quality`` gains ``camera`` (the camera of most frames), ``camera_speed_box_heights_per_s``,
each segment's ``camera`` in ``segments_detail``, and a note saying which speed is
reported (belt speed on a treadmill, ground speed overground).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from analysis import camera as cam
from analysis import timebase
from analysis.engine import EngineParams, RunnerProfile, SessionAnalysis
from analysis.strides import StrideTable
from analysis.segments import analyze_segments, continuous_segments, reframing_cuts

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
                    *, params: EngineParams, frame_times_s: list[float] | None = None,
                    foot_points: np.ndarray | None = None) -> SessionAnalysis:
    """The session's analysis from the runner's ``keypoints`` (T, 17, 3) and ``runner_boxes``
    (T, >=4; NaN where not found) with the frames' evidence: ``cuts`` (first frames of new
    shots) and the tile shifts of ``tasks.video.FrameSignals`` (None: the camera is not
    measured and treated as static). See the module docs.

    ``frame_times_s``: the decoded frames' presentation times of a variable-frame-rate
    clip (``VideoInfo.frame_times_s``). Then everything per frame goes onto an evenly
    spaced grid in real time (:class:`analysis.timebase.TimeGrid`, at the timestamps' mean
    rate), the engine runs there (``fps`` is not used for time), and the results come back
    on the decoded frames (:func:`on_decoded_frames`). ``quality.frame_times`` says which
    (``variable`` / ``constant``).

    ``foot_points``: the foot stage's ``(T, 6, 3)`` heel and toe per decoded frame, for the
    ``foot`` event method (:func:`analysis.engine.analyze`); they go through the same grid and
    camera compensation as the keypoints."""
    boxes = np.asarray(runner_boxes, dtype=np.float64)
    cuts = np.asarray(cuts, dtype=np.int64)
    motion = None
    if tile_shift is not None and tile_response is not None and frame_size is not None:
        motion = cam.background_motion(tile_shift, tile_response, frame_size, boxes, cuts)
    grid = timebase.time_grid(frame_times_s, np.asarray(keypoints).shape[0])
    if grid is None:
        sa = _analyze_scene(np.asarray(keypoints, dtype=np.float64), boxes, fps, cuts, motion, profile,
                            frame_size, params, foot_points)
        return replace(sa, quality=sa.quality.with_added(frame_times="constant"))
    # Variable frame rate: the camera's path (measured frame to frame on the decoded frames,
    # zero across cuts) goes onto the grid as a path, not its per-frame steps
    grid_cuts = np.unique(grid.grid_frames(cuts))
    if motion is not None:
        step = np.diff(grid.to_grid(motion.cumulative_shift), axis=0, prepend=np.full((1, 2), np.nan))
        step[grid_cuts] = 0.0
        motion = cam.CameraMotion(step, np.cumsum(np.nan_to_num(step), axis=0), motion.measured_share)
    sa = _analyze_scene(grid.to_grid(keypoints), grid.to_grid(boxes), grid.rate, grid_cuts, motion, profile,
                        frame_size, params, None if foot_points is None else grid.to_grid(foot_points))
    sa = on_decoded_frames(sa, grid)
    return replace(sa, quality=sa.quality.with_added(frame_times="variable").with_reasons(
        before=[timebase.variable_rate_note(grid)]))


def _analyze_scene(kp: np.ndarray, boxes: np.ndarray, fps: float, cuts: np.ndarray, motion: cam.CameraMotion | None,
                   profile: RunnerProfile | None, frame_size: tuple[int, int] | None,
                   params: EngineParams, foot_points: np.ndarray | None = None) -> SessionAnalysis:
    """:func:`analyze_footage` on evenly spaced frames, with the background's ``motion``."""
    profile = profile or RunnerProfile()
    kp = kp.copy()
    feet = None if foot_points is None else np.array(foot_points, dtype=np.float64)
    ranges = continuous_segments(kp.shape[0], cuts)
    cameras, speeds = ["unknown"] * len(ranges), [None] * len(ranges)
    offset = np.zeros((kp.shape[0], 2))
    if motion is not None:
        for i, (a, b) in enumerate(ranges):
            cameras[i], speeds[i] = _segment_camera(motion, a, b, boxes, fps, float(max(frame_size)))
            if cameras[i] in ("tracking", "hand-held"):
                # scene coordinates: the camera's own motion since the segment's first frame removed
                offset[a:b] = motion.cumulative_shift[a:b] - motion.cumulative_shift[a]
        kp[:, :, :2] -= offset[:, None, :]
        if feet is not None:
            feet[:, :, :2] -= offset[:, None, :]
    profiles = [replace(profile, mode=cam.mode_for_camera(c)) if cam.mode_for_camera(c) and profile.mode == "auto"
                else profile for c in cameras]
    sa = on_image(analyze_segments(kp, fps, cuts, profile, frame_size, params=params, segment_profiles=profiles,
                                   foot_points=feet), offset)
    q = sa.quality
    frames = [b - a for a, b in ranges]
    camera = max(set(cameras), key=lambda c: sum(f for f, x in zip(frames, cameras) if x == c))
    main = cameras.index(camera)
    detail = [{**d, "camera": c} for d, c in zip(q.segments_detail, cameras)]
    speed_words = ("belt speed (the treadmill's)" if q.mode == "treadmill"
                   else "ground speed (the runner's over the ground)")
    note = f"Camera: {CAMERA_WORDS[camera]}; the speed reported is {speed_words}."
    if len(set(cameras)) > 1:
        note += " The shots differ: " + ", ".join(f"segment {i + 1} {c}" for i, c in enumerate(cameras)) + "."
    if camera in ("tracking", "hand-held"):
        note += " Events and speed are measured in scene coordinates (the camera's motion, from the background, removed)."
    if camera == "tracking":
        note += " The runner stays in frame because the camera follows: overground, not a treadmill."
    q = q.with_added(camera=camera, camera_speed_box_heights_per_s=speeds[main], segments_detail=detail)
    return replace(sa, quality=q.with_reasons(before=[note]))


def on_image(sa: SessionAnalysis, offset: np.ndarray) -> SessionAnalysis:
    """``sa`` with its per-frame keypoints in px back on the image: the engine measured in scene
    coordinates (``image - offset``, ``offset`` (T, 2) the camera's path removed per frame), but
    the lake's, the overlay's and the foot stage's px are the video's own pixels. Metres and
    angles stay as measured (scene)."""
    if not np.any(offset):
        return sa
    fs = dict(sa.frame_series)
    for key in fs:
        if key.endswith("_x_px") or key.endswith("_y_px"):
            fs[key] = np.asarray(fs[key], dtype=np.float64) + offset[:, 0 if key.endswith("_x_px") else 1]
    return replace(sa, frame_series=fs)


def _segment_camera(motion: cam.CameraMotion, a: int, b: int, boxes: np.ndarray, fps: float,
                    frame_long_side_px: float) -> tuple[str, float | None]:
    """The camera of frames ``[a, b)`` (:func:`analysis.camera.classify_camera`) and the
    background's mean horizontal speed there (box heights per second)."""
    shift = motion.shift[a:b].copy()
    shift[0] = np.nan                                     # the cut into this segment is no motion
    part = cam.CameraMotion(shift, np.cumsum(np.where(np.isfinite(shift), shift, 0.0), axis=0),
                            float(np.isfinite(shift[:, 0]).mean()))
    heights = boxes[a:b, 3] - boxes[a:b, 1]
    box_h = float(np.nanmedian(heights)) if np.isfinite(heights).any() else float("nan")
    camera = cam.classify_camera(part, fps, box_h, frame_long_side_px)
    v = shift[np.isfinite(shift[:, 0]), 0]
    speed = float(abs(v.mean()) * fps / box_h) if v.size and box_h > 0 else None
    return camera, speed


def on_decoded_frames(sa: SessionAnalysis, grid: timebase.TimeGrid) -> SessionAnalysis:
    """``sa`` (computed on ``grid``'s evenly spaced frames) given on the decoded frames: every
    event at the first decoded frame shown at or after its instant (``time_s`` stays the
    instant, s from the first frame), the strides' frames those of their events, each
    frame series sampled at the grid frame nearest in time to each decoded frame,
    ``time_s`` the decoded frames' own times, the phases' frames mapped alike."""
    mapped = {}
    events = []
    for e in sa.events:
        frame = int(grid.decoded_frames(np.array([e.time_s]), first_at_or_after=e.kind != "MS")[0])
        mapped[(e.side, e.kind, e.frame)] = frame
        events.append(replace(e, frame=frame))

    def frame_of(side: str, kind: str, grid_frame: int) -> int:
        if (side, kind, grid_frame) in mapped:
            return mapped[(side, kind, grid_frame)]
        return int(grid.decoded_frames(np.array([grid_frame / grid.rate]))[0])

    rows = sa.strides.rows()
    for r in rows:
        other = "right" if r["side"] == "left" else "left"
        r["ic_frame"] = frame_of(r["side"], "IC", r["ic_frame"])
        r["to_frame"] = frame_of(r["side"], "TO", r["to_frame"])
        r["next_ic_frame"] = frame_of(r["side"], "IC", r["next_ic_frame"])
        if r["contralateral_ic_frame"] is not None:
            r["contralateral_ic_frame"] = frame_of(other, "IC", r["contralateral_ic_frame"])
    strides = StrideTable.from_rows(rows) if rows else sa.strides
    nearest = grid.grid_frames(np.arange(grid.decoded_s.size))
    series = {k: np.asarray(v)[nearest] for k, v in sa.frame_series.items()}
    grid_to_decoded = grid.decoded_frames(np.arange(grid.n) / grid.rate, first_at_or_after=False)
    phases = sa.phases.with_frames(lambda f: grid_to_decoded[f])
    cuts = sa.quality.cuts
    q = sa.quality.with_added(
        **({"cuts": [int(grid_to_decoded[c]) for c in cuts]} if cuts else {}),
        segments_detail=[{**d, "start_frame": int(grid_to_decoded[d["start_frame"]]),
                          "end_frame": int(grid_to_decoded[d["end_frame"]])}
                         for d in sa.quality.segments_detail])
    # fps: the decoded frames' mean rate, so frame index / fps (the lake's timestamps) stays
    # within the reported offsets of each frame's time; quality's fps_used is the grid's
    mean_fps = (grid.decoded_s.size - 1) / float(grid.decoded_s[-1] - grid.decoded_s[0])
    return replace(sa, fps=mean_fps, events=events, strides=strides, frame_series=series,
                   time_s=grid.decoded_s - grid.decoded_s[0], phases=phases, quality=q)
