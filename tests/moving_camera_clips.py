"""Moving-camera versions of a static clip, with the camera's path known per frame.

A static side-view clip (a treadmill, whose hand-annotated events and foot strikes are
known) is re-filmed by a virtual camera: each frame is warped by a known similarity
transform ``A_k`` (2x3, original px -> new px), so the same frames carry the same events
and every original pixel ``p`` lies at ``A_k p`` in the new clip. Two cameras:

* :func:`hand_held_path`: a phone held in the hand: roll of +/-3 deg at 0.3 Hz plus a slow
  drift, a translation that wanders (a bounded random walk) plus a 2.5 Hz tremor, the
  frame zoomed in so the borders stay covered;
* :func:`pan_path`: a steady horizontal pan over the frame scaled up, the window sliding
  one way at a constant speed (the runner and the treadmill slide with the scene).

:func:`write_clip` writes the warped frames as constant-rate H.264 (as a phone would).
"""
from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from tests.video_support import to_ndarray


def similarity(scale: float, angle_deg: float, centre: tuple[float, float], shift: tuple[float, float]) -> np.ndarray:
    """2x3 matrix: scale and rotate (counter-clockwise on screen for positive ``angle_deg``) about
    ``centre``, then translate by ``shift`` px."""
    a = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(angle_deg), float(scale))
    a[:, 2] += np.asarray(shift, dtype=np.float64)
    return a


def hand_held_path(n: int, fps: float, size: tuple[int, int], seed: int = 7, roll_deg: float = 3.0,
                   roll_hz: float = 0.3, drift_deg_per_s: float = 0.25, wander: float = 0.01,
                   tremor: float = 0.006, tremor_hz: float = 2.5, scale: float = 1.15,
                   centre: tuple[float, float] | None = None) -> np.ndarray:
    """(n, 2, 3) transforms of a hand-held camera over a ``size`` (w, h) frame. ``wander`` and
    ``tremor``: standard deviation of the wandering translation and amplitude of the tremor, as
    shares of the frame's long side. ``centre``: the zoom's fixed point (default the frame's
    centre); put it near the runner's feet to keep them in frame."""
    rng = np.random.default_rng(seed)
    w, h = size
    t = np.arange(n) / fps
    long_side = float(max(w, h))
    roll = roll_deg * np.sin(2 * np.pi * roll_hz * t + 0.4) + drift_deg_per_s * t
    # a bounded random walk (Ornstein-Uhlenbeck, ~1 s memory) of standard deviation ``wander``
    walk = np.zeros((n, 2))
    keep = np.exp(-1.0 / fps)
    for k in range(1, n):
        walk[k] = keep * walk[k - 1] + np.sqrt(1 - keep ** 2) * rng.normal(size=2)
    phase = rng.uniform(0, 2 * np.pi, 2)
    shake = wander * long_side * walk + tremor * long_side * np.sin(2 * np.pi * tremor_hz * t[:, None] + phase)
    c = centre if centre is not None else (w / 2, h / 2)
    return np.stack([similarity(scale, roll[k], c, shake[k]) for k in range(n)])


def pan_path(n: int, size: tuple[int, int], scale: float = 1.3, direction: int = 1,
             centre: tuple[float, float] | None = None) -> np.ndarray:
    """(n, 2, 3) transforms of a steady horizontal pan: the frame scaled by ``scale`` about
    ``centre`` (default the frame's centre) and a ``size`` window slid across the spare width
    at a constant speed, the scene moving toward ``direction`` (+1: image right) from one edge
    to the other."""
    w, h = size
    c = centre if centre is not None else (w / 2, h / 2)
    spare = (scale - 1.0) * min(c[0], w - c[0])       # px the scaled frame overhangs on the nearer side
    dx = direction * np.linspace(-spare, spare, n)
    return np.stack([similarity(scale, 0.0, c, (x, 0.0)) for x in dx])


def apply(transform: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Points ``xy`` (..., 2) px of the original frame in the transformed one (``transform`` 2x3)."""
    xy = np.asarray(xy, dtype=np.float64)
    return xy @ transform[:, :2].T + transform[:, 2]


def write_clip(source: Path, out: Path, transforms: np.ndarray | None, frames: range, fps: int = 30) -> int:
    """The ``frames`` of ``source`` (decode order), each warped by its transform
    (``transforms[i]`` for the i-th written frame; None: unchanged), into a constant-rate H.264
    file of the same size. Borders a transform leaves uncovered are mirrored. Returns the
    number of frames written."""
    n = 0
    with av.open(str(source)) as inp, av.open(str(out), "w") as dst:
        stream = None
        for i, frame in enumerate(inp.decode(video=0)):
            if i >= frames.stop:
                break
            if i not in frames:
                continue
            rgb = to_ndarray(frame, format="rgb24")
            h, w = rgb.shape[:2]
            if stream is None:
                stream = dst.add_stream("libx264", rate=fps)
                stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                stream.options = {"preset": "ultrafast", "crf": "18"}
            if transforms is not None:
                rgb = cv2.warpAffine(rgb, transforms[n], (w, h), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT_101)
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            vf.pts = n
            n += 1
            dst.mux(stream.encode(vf))
        if stream is not None:
            dst.mux(stream.encode())
    return n
