"""Decode a video in chunks and run pose on the Ray actor pool; persist every detection.

The detections file (``work/<session>/detections.npz`` in the object store)
keeps every person found in every frame, so the runner selection and the
analysis can be re-run without pose (and a replay backend can serve them).
"""
from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from storage.objectstore import ObjectStore
from tasks.pose import FrameDetections, PosePool
from tasks.video import iter_frame_chunks, resize_long_side


@dataclass
class Detections:
    """All detections of a video: flattened rows with their frame index."""

    n_frames: int
    frame_index: np.ndarray  # (N,) int32
    boxes: np.ndarray        # (N, 5)
    keypoints: np.ndarray    # (N, 17, 3)

    @classmethod
    def from_frames(cls, per_frame: list[FrameDetections]) -> "Detections":
        counts = [len(d) for d in per_frame]
        frame_index = np.repeat(np.arange(len(per_frame), dtype=np.int32), counts)
        boxes = np.concatenate([d.boxes for d in per_frame]) if per_frame else np.zeros((0, 5), np.float32)
        keypoints = (np.concatenate([d.keypoints for d in per_frame]) if per_frame
                     else np.zeros((0, 17, 3), np.float32))
        return cls(len(per_frame), frame_index, boxes, keypoints)

    def per_frame(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Boxes and keypoints split back into one array per frame."""
        bounds = np.searchsorted(self.frame_index, np.arange(self.n_frames + 1))
        boxes = [self.boxes[bounds[i]:bounds[i + 1]] for i in range(self.n_frames)]
        keypoints = [self.keypoints[bounds[i]:bounds[i + 1]] for i in range(self.n_frames)]
        return boxes, keypoints

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, n_frames=self.n_frames, frame_index=self.frame_index,
                            boxes=self.boxes, keypoints=self.keypoints)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Detections":
        with np.load(io.BytesIO(data)) as npz:
            return cls(int(npz["n_frames"]), npz["frame_index"], npz["boxes"], npz["keypoints"])


def frame_batches(video_path: str, chunk_frames: int, batch_size: int, imgsz: int,
                  max_frames: int | None = None,
                  on_decoded: Callable[[int], None] | None = None) -> Iterator[tuple[list[np.ndarray], float]]:
    """Decoded, downscaled frames in batches of ``batch_size`` with their scale factor."""
    for chunk in iter_frame_chunks(video_path, chunk_frames, max_frames):
        resized = [resize_long_side(frame, imgsz) for frame in chunk]
        for start in range(0, len(resized), batch_size):
            part = resized[start:start + batch_size]
            yield [frame for frame, _ in part], part[0][1]
        if on_decoded:
            on_decoded(len(chunk))


def detect_video(pool: PosePool, video_path: str, chunk_frames: int, max_frames: int | None = None,
                 on_progress: Callable[[int], None] | None = None) -> Detections:
    """Run pose over every decodable frame of ``video_path``."""
    per_frame: list[FrameDetections] = []
    batches = frame_batches(video_path, chunk_frames, pool.batch_size, pool.imgsz, max_frames)
    for result in pool.map(batches):
        per_frame.extend(result)
        if on_progress:
            on_progress(len(result))
    return Detections.from_frames(per_frame)


def detections_key(session_id: str) -> str:
    return f"work/{session_id}/detections.npz"


def save_detections(store: ObjectStore, session_id: str, detections: Detections) -> str:
    key = detections_key(session_id)
    store.write_bytes(key, detections.to_bytes())
    return key


def load_detections(store: ObjectStore, key: str) -> Detections:
    return Detections.from_bytes(store.read_bytes(key))
