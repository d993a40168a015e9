"""Decode a video in chunks and run pose on the Ray actor pool, keeping every detection.

What the loop returns (:class:`tasks.detections.Detections`) and how it is kept in the
object store (``work/<session>/detections.npz``) live in :mod:`tasks.detections`; the
persistence functions are re-exported here for the flows that detect and save in one place.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from tasks.detections import (Detections, FrameDetections, detections_key, load_detections,  # noqa: F401
                              save_detections)
from tasks.pose import PosePool
from tasks.video import FrameSignals, iter_frame_chunks, prefetch, resize_long_side


def frame_batches(video_path: str, chunk_frames: int, batch_size: int, imgsz: int,
                  max_frames: int | None = None,
                  on_decoded: Callable[[int], None] | None = None,
                  prefetch_chunks: int = 0,
                  on_frame: Callable[[np.ndarray], None] | None = None) -> Iterator[tuple[list[np.ndarray], float]]:
    """Decoded, downscaled frames in batches of ``batch_size`` with their scale factor.

    ``prefetch_chunks`` > 0 decodes (and downscales) on a background thread that
    many chunks ahead, so decoding overlaps whatever consumes the batches.
    ``on_frame`` sees each full-resolution frame as it decodes (``FrameSignals``).
    """
    def chunks():
        # Downscaled as each frame decodes: memory stays chunk_frames x imgsz^2, whatever the source size.
        for chunk in iter_frame_chunks(video_path, chunk_frames, max_frames,
                                       transform=lambda frame: resize_long_side(frame, imgsz), on_frame=on_frame):
            yield len(chunk), chunk

    source = prefetch(chunks(), prefetch_chunks) if prefetch_chunks > 0 else chunks()
    for n, resized in source:
        for start in range(0, len(resized), batch_size):
            part = resized[start:start + batch_size]
            yield [frame for frame, _ in part], part[0][1]
        if on_decoded:
            on_decoded(n)


# --- ROI inference -------------------------------------------------------------
Box = tuple[int, int, int, int]


@dataclass
class RoiTracker:
    """Where to crop next: the extent of the people found in recent frames.

    Pure bookkeeping (no model): :meth:`crop_for` gives the crop for a run of
    upcoming frames (or ``None`` = run a full-frame detection), :meth:`update`
    takes each frame's detections (source px) and says whether the crop held the
    runner (``False`` = lost: re-detect that frame on the full frame).

    The crop is the union of the people's boxes over the last ``history`` frames
    with results, shifted by the box centre's velocity to the target frames
    (results arrive a few batches late), grown by ``margin`` of its size on each
    side and clipped to the frame. A full-frame detection runs at least every
    ``refresh_frames`` frames and whenever the people found cover more than
    ``max_area_share`` of the frame (then a crop gains little and may cut someone out).
    """

    width: int
    height: int
    margin: float = 0.3
    refresh_frames: int = 60
    max_area_share: float = 0.5
    history: int = 32
    edge_px: float = 2.0

    def __post_init__(self):
        self._recent: deque = deque(maxlen=self.history)   # (frame, x1, y1, x2, y2)
        self.last_full = -(10 ** 9)

    def crop_for(self, first: int, last: int) -> Box | None:
        if not self._recent or first - self.last_full >= self.refresh_frames or \
                last - self.last_full >= 2 * self.refresh_frames:
            return None
        rec = np.array(self._recent, dtype=np.float64)
        ext = np.array([rec[:, 1].min(), rec[:, 2].min(), rec[:, 3].max(), rec[:, 4].max()])
        newest = rec[-1]
        v = np.zeros(2)
        if len(rec) > 1 and newest[0] > rec[0][0]:
            c0 = (rec[0][1:3] + rec[0][3:5]) / 2
            c1 = (newest[1:3] + newest[3:5]) / 2
            v = (c1 - c0) / (newest[0] - rec[0][0])
        lo, hi = v * (first - newest[0]), v * (last - newest[0])
        shift_lo, shift_hi = np.minimum(lo, hi), np.maximum(lo, hi)
        w, h = ext[2] - ext[0], ext[3] - ext[1]
        x1 = ext[0] + shift_lo[0] - self.margin * w
        x2 = ext[2] + shift_hi[0] + self.margin * w
        y1 = ext[1] + shift_lo[1] - self.margin * h
        y2 = ext[3] + shift_hi[1] + self.margin * h
        box = (max(0, int(np.floor(x1))), max(0, int(np.floor(y1))),
               min(self.width, int(np.ceil(x2))), min(self.height, int(np.ceil(y2))))
        area = (box[2] - box[0]) * (box[3] - box[1])
        if box[2] - box[0] < 8 or box[3] - box[1] < 8 or area > self.max_area_share * self.width * self.height:
            return None
        return box

    def update(self, frame: int, boxes: np.ndarray, crop: Box | None) -> bool:
        """Record frame ``frame``'s person boxes ``(n, 4+)`` found in ``crop`` (None = full frame)."""
        if crop is None:
            self.last_full = max(self.last_full, frame)
        if len(boxes) == 0:
            return crop is None
        b = np.asarray(boxes, dtype=np.float64)[:, :4]
        u = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
        if crop is not None:
            # a person touching a crop edge that is not the frame's edge was cut off
            e = self.edge_px
            if (u[0] <= crop[0] + e and crop[0] > 0) or (u[1] <= crop[1] + e and crop[1] > 0) or \
                    (u[2] >= crop[2] - e and crop[2] < self.width) or (u[3] >= crop[3] - e and crop[3] < self.height):
                return False
        self._recent.append((frame, *u))
        return True


def crop_frames(frames: list[np.ndarray], box: Box, imgsz: int) -> tuple[list[np.ndarray], float]:
    """Crops of ``frames`` at ``box`` (source px), downscaled to ``imgsz`` long side; the scale."""
    x1, y1, x2, y2 = box
    out, scale = [], 1.0
    for frame in frames:
        small, scale = resize_long_side(np.ascontiguousarray(frame[y1:y2, x1:x2]), imgsz)
        out.append(small)
    return out, scale


def _detect_video_roi(pool, video_path: str, chunk_frames: int, max_frames: int | None,
                      on_progress: Callable[[int], None] | None, ps, on_frame=None) -> Detections:
    per_frame: list[FrameDetections] = []
    meta: deque = deque()
    state: dict = {"tracker": None, "full": 0, "roi": 0, "lost": 0}
    batch_size, imgsz = pool.batch_size, pool.imgsz

    def batches():
        index = 0
        for chunk in iter_frame_chunks(video_path, chunk_frames, max_frames, on_frame=on_frame):
            if state["tracker"] is None:
                h, w = chunk[0].shape[:2]
                state["tracker"] = RoiTracker(w, h, ps.roi_margin, ps.roi_refresh_frames, ps.roi_max_area_share)
            tracker = state["tracker"]
            for start in range(0, len(chunk), batch_size):
                part = chunk[start:start + batch_size]
                first, last = index, index + len(part) - 1
                box = tracker.crop_for(first, last)
                if box is None:
                    resized = [resize_long_side(f, imgsz) for f in part]
                    frames, scale = [f for f, _ in resized], resized[0][1]
                    meta.append((first, None, None))
                    yield frames, scale
                else:
                    frames, scale = crop_frames(part, box, ps.roi_imgsz)
                    # keep the full-frame inputs for re-detection of lost frames
                    meta.append((first, box, [resize_long_side(f, imgsz) for f in part]))
                    offsets = np.tile(np.array(box[:2], np.float32), (len(part), 1))
                    yield frames, scale, offsets
                index += len(part)

    for result in pool.map(batches()):
        first, box, full_inputs = meta.popleft()
        tracker = state["tracker"]
        lost = []
        for k, det in enumerate(result):
            if not tracker.update(first + k, det.boxes, box):
                lost.append(k)
        if box is None:
            state["full"] += len(result)
        else:
            state["roi"] += len(result) - len(lost)
            state["lost"] += len(lost)
        if lost:
            redo = pool.infer([full_inputs[k][0] for k in lost], full_inputs[lost[0]][1])
            for k, det in zip(lost, redo):
                result[k] = det
                tracker.update(first + k, det.boxes, None)
        per_frame.extend(result)
        if on_progress:
            on_progress(len(result))
    detections = Detections.from_frames(per_frame)
    detections.roi_stats = {k: state[k] for k in ("full", "roi", "lost")}
    return detections


def detect_video(pool: PosePool, video_path: str, chunk_frames: int, max_frames: int | None = None,
                 on_progress: Callable[[int], None] | None = None, roi: bool | None = None,
                 signals: FrameSignals | None = None) -> Detections:
    """Run pose over every decodable frame of ``video_path``.

    ``roi`` (default: the pool's ``pose.roi`` setting) infers on crops around the
    tracked people once found (see :class:`RoiTracker`); image backends only.
    ``signals`` (a :class:`tasks.video.FrameSignals`) measures every decoded frame's
    cut and camera-motion evidence on the way, in the same decode.
    """
    ps = getattr(pool, "pose_settings", None)
    use_roi = bool(ps is not None and ps.backend != "replay" and (ps.roi if roi is None else roi))
    if use_roi:
        return _detect_video_roi(pool, video_path, chunk_frames, max_frames, on_progress, ps, signals)
    per_frame: list[FrameDetections] = []
    batches = frame_batches(video_path, chunk_frames, pool.batch_size, pool.imgsz, max_frames, on_frame=signals)
    for result in pool.map(batches):
        per_frame.extend(result)
        if on_progress:
            on_progress(len(result))
    return Detections.from_frames(per_frame)


def decode_frames_sample(video_path: str, imgsz: int, max_frames: int = 256) -> list[np.ndarray]:
    """Up to ``max_frames`` decoded frames downscaled to ``imgsz`` (benchmarks, warm-ups)."""
    return [resize_long_side(f, imgsz)[0] for chunk in iter_frame_chunks(video_path, 64, max_frames) for f in chunk]
