"""The COCO-17 keypoint schema that YOLO pose produces, and helpers on it.

Keypoint arrays throughout gaitlake have shape ``(n_frames, 17, 3)``: pixel
``x``, pixel ``y`` (image coordinates, y down) and confidence in [0, 1].
Missing keypoints (runner not found, or below the confidence threshold) are
``NaN`` in x and y and 0 in confidence.

COCO-17 has no heel, toe or pelvis point: any metric that needs one uses a
documented proxy (the ankle for the foot, mid-hip for the pelvis).
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np

N_KEYPOINTS = 17


class KP(IntEnum):
    """COCO-17 keypoint indices, in the order YOLO pose emits them."""

    NOSE = 0
    LEFT_EYE = 1
    RIGHT_EYE = 2
    LEFT_EAR = 3
    RIGHT_EAR = 4
    LEFT_SHOULDER = 5
    RIGHT_SHOULDER = 6
    LEFT_ELBOW = 7
    RIGHT_ELBOW = 8
    LEFT_WRIST = 9
    RIGHT_WRIST = 10
    LEFT_HIP = 11
    RIGHT_HIP = 12
    LEFT_KNEE = 13
    RIGHT_KNEE = 14
    LEFT_ANKLE = 15
    RIGHT_ANKLE = 16


KEYPOINT_NAMES: tuple[str, ...] = tuple(k.name.lower() for k in KP)

# Pairs (left, right) of the same landmark; used to repair left/right swaps.
LEFT_RIGHT_PAIRS: tuple[tuple[int, int], ...] = (
    (KP.LEFT_EYE, KP.RIGHT_EYE),
    (KP.LEFT_EAR, KP.RIGHT_EAR),
    (KP.LEFT_SHOULDER, KP.RIGHT_SHOULDER),
    (KP.LEFT_ELBOW, KP.RIGHT_ELBOW),
    (KP.LEFT_WRIST, KP.RIGHT_WRIST),
    (KP.LEFT_HIP, KP.RIGHT_HIP),
    (KP.LEFT_KNEE, KP.RIGHT_KNEE),
    (KP.LEFT_ANKLE, KP.RIGHT_ANKLE),
)

# Skeleton edges for drawing overlays (COCO convention).
SKELETON_EDGES: tuple[tuple[int, int], ...] = (
    (KP.LEFT_SHOULDER, KP.RIGHT_SHOULDER),
    (KP.LEFT_SHOULDER, KP.LEFT_ELBOW), (KP.LEFT_ELBOW, KP.LEFT_WRIST),
    (KP.RIGHT_SHOULDER, KP.RIGHT_ELBOW), (KP.RIGHT_ELBOW, KP.RIGHT_WRIST),
    (KP.LEFT_SHOULDER, KP.LEFT_HIP), (KP.RIGHT_SHOULDER, KP.RIGHT_HIP),
    (KP.LEFT_HIP, KP.RIGHT_HIP),
    (KP.LEFT_HIP, KP.LEFT_KNEE), (KP.LEFT_KNEE, KP.LEFT_ANKLE),
    (KP.RIGHT_HIP, KP.RIGHT_KNEE), (KP.RIGHT_KNEE, KP.RIGHT_ANKLE),
)


def validate_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """Return ``keypoints`` as float64 ``(n, 17, 3)``; raise ``ValueError`` otherwise."""
    arr = np.asarray(keypoints, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1:] != (N_KEYPOINTS, 3):
        raise ValueError(f"keypoints must have shape (n_frames, 17, 3), got {arr.shape}")
    return arr


def empty_keypoints(n_frames: int) -> np.ndarray:
    """An all-missing keypoint array of ``n_frames`` frames."""
    out = np.full((n_frames, N_KEYPOINTS, 3), np.nan, dtype=np.float32)
    out[..., 2] = 0.0
    return out
