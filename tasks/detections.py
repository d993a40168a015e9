"""What pose found, and where it is kept: the detections of one frame (:class:`FrameDetections`),
of a whole video (:class:`Detections`), and their file in the object store.

The detections file (``work/<session>/detections.npz``) keeps every person found in
every frame, so the runner selection and the analysis can be re-run without pose (and
the replay backend, ``tasks.pose.ReplayPose``, can serve them). The pose backends
(``tasks.pose``) produce these types and the detection loop (``tasks.detect``) collects
them; both import them from here, so neither imports the other.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analysis.keypoints import N_KEYPOINTS

if TYPE_CHECKING:  # the pose actors import this module; fsspec is loaded only where a store is used
    from storage.objectstore import ObjectStore


@dataclass
class FrameDetections:
    """Every person found in one frame, in source-image pixels.

    boxes: ``(n, 5)`` x1, y1, x2, y2, confidence. keypoints: ``(n, 17, 3)`` x, y, confidence.
    feet: ``(n, 6, 3)`` the foot stage's points (``tasks.feet.FOOT_POINTS``; NaN for a person it
    did not run on), or None when the foot stage is off.
    """

    boxes: np.ndarray
    keypoints: np.ndarray
    feet: np.ndarray | None = None

    @classmethod
    def empty(cls) -> "FrameDetections":
        return cls(np.zeros((0, 5), np.float32), np.zeros((0, N_KEYPOINTS, 3), np.float32))

    def __len__(self) -> int:
        return len(self.boxes)


def to_source_pixels(raw: list[tuple], n: int, scale=1.0, offsets: np.ndarray | None = None) -> list[FrameDetections]:
    """Per-frame ``(boxes, keypoints)`` in model-input pixels (``(None, None)`` = nobody) -> source pixels.

    Coordinates are divided by ``scale`` (a number or one per frame), then
    ``offsets`` (``(n, 2)`` source px: the top-left corners of ROI crops) are added.
    """
    scales = np.broadcast_to(np.asarray(scale, dtype=np.float64), (n,))
    out = []
    for i, (boxes, keypoints) in enumerate(raw):
        if boxes is None:
            out.append(FrameDetections.empty())
            continue
        boxes[:, :4] /= scales[i]
        keypoints[..., :2] /= scales[i]
        if offsets is not None:
            dx, dy = float(offsets[i][0]), float(offsets[i][1])
            boxes[:, [0, 2]] += dx
            boxes[:, [1, 3]] += dy
            keypoints[..., 0] += dx
            keypoints[..., 1] += dy
        out.append(FrameDetections(boxes.astype(np.float32), keypoints.astype(np.float32)))
    return out


@dataclass
class Detections:
    """All detections of a video: flattened rows with their frame index."""

    n_frames: int
    frame_index: np.ndarray  # (N,) int32
    boxes: np.ndarray        # (N, 5)
    keypoints: np.ndarray    # (N, 17, 3)
    feet: np.ndarray | None = None   # (N, 6, 3) foot points per detection; None: no foot stage

    @classmethod
    def from_frames(cls, per_frame: list[FrameDetections]) -> "Detections":
        counts = [len(d) for d in per_frame]
        frame_index = np.repeat(np.arange(len(per_frame), dtype=np.int32), counts)
        boxes = np.concatenate([d.boxes for d in per_frame]) if per_frame else np.zeros((0, 5), np.float32)
        keypoints = (np.concatenate([d.keypoints for d in per_frame]) if per_frame
                     else np.zeros((0, 17, 3), np.float32))
        feet = None
        if per_frame and any(d.feet is not None for d in per_frame):
            feet = np.concatenate([d.feet if d.feet is not None else _no_feet(len(d)) for d in per_frame])
        return cls(len(per_frame), frame_index, boxes, keypoints, feet)

    def per_frame(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Boxes and keypoints split back into one array per frame."""
        bounds = np.searchsorted(self.frame_index, np.arange(self.n_frames + 1))
        boxes = [self.boxes[bounds[i]:bounds[i + 1]] for i in range(self.n_frames)]
        keypoints = [self.keypoints[bounds[i]:bounds[i + 1]] for i in range(self.n_frames)]
        return boxes, keypoints

    def per_frame_feet(self) -> list[np.ndarray] | None:
        """The foot points split back into one ``(n_i, 6, 3)`` array per frame (None without a foot stage)."""
        if self.feet is None:
            return None
        bounds = np.searchsorted(self.frame_index, np.arange(self.n_frames + 1))
        return [self.feet[bounds[i]:bounds[i + 1]] for i in range(self.n_frames)]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        extra = {} if self.feet is None else {"feet": self.feet.astype(np.float32)}
        np.savez_compressed(buffer, n_frames=self.n_frames, frame_index=self.frame_index,
                            boxes=self.boxes, keypoints=self.keypoints, **extra)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Detections":
        """A detections file; one written before the foot stage existed reads with ``feet`` None."""
        with np.load(io.BytesIO(data)) as npz:
            feet = npz["feet"] if "feet" in npz.files else None
            return cls(int(npz["n_frames"]), npz["frame_index"], npz["boxes"], npz["keypoints"], feet)


def _no_feet(n: int) -> np.ndarray:
    out = np.full((n, 6, 3), np.nan, np.float32)
    out[..., 2] = 0.0
    return out


def detections_key(session_id: str) -> str:
    return f"work/{session_id}/detections.npz"


def save_detections(store: ObjectStore, session_id: str, detections: Detections) -> str:
    key = detections_key(session_id)
    store.write_bytes(key, detections.to_bytes())
    return key


def load_detections(store: ObjectStore, key: str) -> Detections:
    return Detections.from_bytes(store.read_bytes(key))
