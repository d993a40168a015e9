"""Keeping one person: the runner's track across frames.

Detections are linked frame to frame into tracks (Hungarian assignment on
centre distance in units of box height, gated; a track survives short gaps).
The runner is then the track with the most evidence of gait: long-lived,
large, and with the ankles alternating front/back (the horizontal ankle
separation oscillates). A person standing, or jumping with both feet, has a
flat separation signal; so does a bystander who happens to be bigger.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from analysis.keypoints import KP, N_KEYPOINTS

_UNMATCHED = 1e6


@dataclass
class Track:
    track_id: int
    frames: list[int] = field(default_factory=list)
    detections: list[int] = field(default_factory=list)  # index of the detection within its frame
    last_center: np.ndarray | None = None
    last_height: float = 1.0
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # px per frame

    def predict(self, frame_index: int) -> np.ndarray:
        return self.last_center + self.velocity * (frame_index - self.frames[-1])

    def update(self, frame_index: int, detection: int, center: np.ndarray, height: float) -> None:
        gap = frame_index - self.frames[-1]
        # Smoothed constant-velocity model: bridging a gap predicts where the person went.
        self.velocity = 0.7 * self.velocity + 0.3 * (center - self.last_center) / gap
        self.frames.append(frame_index)
        self.detections.append(detection)
        self.last_center, self.last_height = center, height


@dataclass(frozen=True)
class RunnerTrack:
    """The runner's keypoints and boxes for every frame (NaN where not found)."""

    keypoints: np.ndarray  # (T, 17, 3)
    boxes: np.ndarray      # (T, 5)
    found: np.ndarray      # (T,) bool
    n_tracks: int
    track_scores: dict[int, float]

    @property
    def found_share(self) -> float:
        return float(self.found.mean()) if len(self.found) else 0.0


def _centers_heights(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centers = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    heights = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    return centers, heights


def link_tracks(boxes_per_frame: list[np.ndarray], max_jump_box_heights: float = 0.75,
                max_gap_frames: int = 15) -> list[Track]:
    """Link per-frame boxes ``(n_i, >=4)`` into tracks."""
    tracks: list[Track] = []
    active: list[Track] = []
    for frame_index, boxes in enumerate(boxes_per_frame):
        active = [t for t in active if frame_index - t.frames[-1] <= max_gap_frames + 1]
        if len(boxes) == 0:
            continue
        centers, heights = _centers_heights(np.asarray(boxes, dtype=np.float64))
        matched_detections: set[int] = set()
        if active:
            cost = np.full((len(active), len(boxes)), _UNMATCHED)
            for i, track in enumerate(active):
                gap = frame_index - track.frames[-1]
                distance = np.linalg.norm(centers - track.predict(frame_index), axis=1) / track.last_height
                size_change = np.abs(np.log(heights / track.last_height))
                # The gate widens slowly with the gap: a lost person may have changed pace,
                # but must not teleport onto someone else across the frame.
                gate = max_jump_box_heights * (1.0 + 0.1 * (gap - 1))
                allowed = (distance <= gate) & (size_change < 0.7)
                cost[i, allowed] = distance[allowed] + size_change[allowed]
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if cost[r, c] >= _UNMATCHED:
                    continue
                active[r].update(frame_index, int(c), centers[c], float(heights[c]))
                matched_detections.add(int(c))
        for c in range(len(boxes)):
            if c not in matched_detections:
                track = Track(len(tracks), [frame_index], [c], centers[c], float(heights[c]))
                tracks.append(track)
                active.append(track)
    return tracks


def gait_evidence(keypoints: np.ndarray, heights: np.ndarray) -> float:
    """Spread of the horizontal ankle separation, in box heights (0 for no alternation).

    Uses the 5th-95th percentile range so single mis-detections do not count.
    """
    separation = (keypoints[:, KP.LEFT_ANKLE, 0] - keypoints[:, KP.RIGHT_ANKLE, 0]) / heights
    separation = separation[np.isfinite(separation)]
    if len(separation) < 5:
        return 0.0
    low, high = np.percentile(separation, [5, 95])
    return float(high - low)


def select_runner(boxes_per_frame: list[np.ndarray], keypoints_per_frame: list[np.ndarray],
                  max_jump_box_heights: float = 0.75, max_gap_frames: int = 15) -> RunnerTrack:
    """Pick the runner's track and lay it out over every frame.

    Score = frames present x median box height x (0.05 + ankle alternation):
    presence and size break ties, alternation tells a runner from a bystander.
    """
    n_frames = len(boxes_per_frame)
    keypoints = np.full((n_frames, N_KEYPOINTS, 3), np.nan, np.float32)
    keypoints[..., 2] = 0.0
    boxes = np.full((n_frames, 5), np.nan, np.float32)
    tracks = link_tracks(boxes_per_frame, max_jump_box_heights, max_gap_frames)
    scores: dict[int, float] = {}
    for track in tracks:
        kp = np.stack([keypoints_per_frame[f][d] for f, d in zip(track.frames, track.detections)]).astype(np.float64)
        bx = np.stack([boxes_per_frame[f][d] for f, d in zip(track.frames, track.detections)]).astype(np.float64)
        heights = np.maximum(bx[:, 3] - bx[:, 1], 1.0)
        scores[track.track_id] = len(track.frames) * float(np.median(heights)) * (0.05 + gait_evidence(kp, heights))
    if scores:
        best = tracks[max(scores, key=scores.get)]
        for f, d in zip(best.frames, best.detections):
            keypoints[f] = keypoints_per_frame[f][d]
            boxes[f] = boxes_per_frame[f][d][:5]
    found = np.isfinite(boxes[:, 0])
    return RunnerTrack(keypoints, boxes, found, len(tracks), scores)
