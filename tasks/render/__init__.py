"""Artifacts people look at: the analysed video, gait-phase and form snapshots, and the chart report.

Everything is drawn from what the lake says about a session (cleaned keypoints
in pixels, contact flags, joint angles, metric series, strides and the
gait-analysis document), never from a new pose run. Drawing is plain OpenCV
(Ultralytics' plotting fetches a font, which fails offline); charts are
matplotlib on the Agg canvas (no pyplot global state).

The video is streamed: decode a chunk -> draw -> encode, so memory stays flat
whatever the length. Output is H.264 (libx264 from PyAV's bundled FFmpeg),
yuv420p, MP4 with ``+faststart`` so browsers play it while it downloads, with
exactly the source's frame count and its exact average frame rate (a
:class:`fractions.Fraction`, so 29.97 fps stays 30000/1001).

Object keys (under the session's pipeline version)::

    artifacts/<session>/<version>/analyzed.mp4
    artifacts/<session>/<version>/gait/<side>_<phase>.jpg     (10 images)
    artifacts/<session>/<version>/form/<contact_angle|push_angle|knee_ankle>.jpg
    artifacts/<session>/<version>/report.png

Entry points: :func:`render_session` (the flow's render task; tables in,
object keys out), :func:`render_video`, :func:`render_report_png` and
:func:`RenderData.from_tables` (to re-render any session from the lake).
"""
from __future__ import annotations

import io
import json
import math
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pyarrow as pa

from analysis.keypoints import KEYPOINT_NAMES, KP
from analysis.vocabulary import FORM_IMAGES, GAIT_PHASES, JOINT_PREFIX, SIDES
from tasks.video import VideoError, iter_frame_chunks, stream_rate

__all__ = [
    "GAIT_PHASES", "FORM_IMAGES", "RenderData", "RenderError", "artifact_keys", "render_session",
    "render_video", "render_snapshots", "render_report_png", "source_rate", "h264_encoder",
]

#: BGR colours. Left blue, right orange-red (the usual convention in gait labs),
#: the foot in contact green, trunk/head white.
COLOR = {"left": (235, 140, 40), "right": (40, 90, 245), "contact": (60, 220, 60),
         "center": (235, 235, 235), "text": (255, 255, 255), "event": (0, 230, 255),
         "angle": (0, 230, 255)}

#: Skeleton edges (COCO-17 indices) with the side that colours them.
EDGES: tuple[tuple[int, int, str], ...] = (
    (KP.LEFT_SHOULDER, KP.LEFT_ELBOW, "left"), (KP.LEFT_ELBOW, KP.LEFT_WRIST, "left"),
    (KP.RIGHT_SHOULDER, KP.RIGHT_ELBOW, "right"), (KP.RIGHT_ELBOW, KP.RIGHT_WRIST, "right"),
    (KP.LEFT_HIP, KP.LEFT_KNEE, "left"), (KP.LEFT_KNEE, KP.LEFT_ANKLE, "left"),
    (KP.RIGHT_HIP, KP.RIGHT_KNEE, "right"), (KP.RIGHT_KNEE, KP.RIGHT_ANKLE, "right"),
    (KP.LEFT_SHOULDER, KP.RIGHT_SHOULDER, "center"), (KP.LEFT_HIP, KP.RIGHT_HIP, "center"),
    (KP.LEFT_SHOULDER, KP.LEFT_HIP, "left"), (KP.RIGHT_SHOULDER, KP.RIGHT_HIP, "right"),
)
#: Keypoints drawn as dots (face points beyond the nose are noise at running distance).
DOTS = (KP.NOSE, KP.LEFT_SHOULDER, KP.RIGHT_SHOULDER, KP.LEFT_ELBOW, KP.RIGHT_ELBOW,
        KP.LEFT_WRIST, KP.RIGHT_WRIST, KP.LEFT_HIP, KP.RIGHT_HIP, KP.LEFT_KNEE,
        KP.RIGHT_KNEE, KP.LEFT_ANKLE, KP.RIGHT_ANKLE)
_SIDE_OF = {i: ("left" if n.startswith("left") else "right" if n.startswith("right") else "center")
            for i, n in enumerate(KEYPOINT_NAMES)}
EVENT_LABEL = {"IC": "STRIKE", "MS": "MID-STANCE", "TO": "TOE-OFF"}
DEFAULT_PANEL_JOINTS = ("knee", "hip", "ankle")


class RenderError(RuntimeError):
    """An artifact could not be rendered; the message says which and why."""


# ---------------------------------------------------------------------------
# What we draw from
# ---------------------------------------------------------------------------
@dataclass
class RenderData:
    """One session as the lake stores it, in the arrays the renderer needs.

    Attributes
    ----------
    xy : ndarray (T, 17, 2)
        Cleaned keypoints in source-frame pixels (``<name>_x_px/_y_px``); NaN = missing.
    contact : dict side -> ndarray (T,) bool
        Per-frame foot contact flags.
    angles : dict name -> ndarray (T,)
        Joint angles (deg) ``{l,r}{hip,kne,ank,sho,elb}_angle`` and ``posture_angle``.
    series : dict name -> ndarray (T,)
        Metric series (``cadence``, ``contact_time``, ``speed``, ...), NaN until known.
    time_s : ndarray (T,)
    events : list of (frame, side, kind)
        kind in IC, MS, TO (from the contact flags and peak stance knee flexion,
        the engine's own definitions).
    gait_doc : dict
        The gait-analysis document (phases per side, stride-normalised curves).
    strides : list of dict
        Rows of the ``strides`` table.
    summary : dict
        Scalar session metrics (``cadence_spm``, ``contact_angle_deg``, ...).
    """

    xy: np.ndarray
    contact: dict[str, np.ndarray]
    angles: dict[str, np.ndarray]
    series: dict[str, np.ndarray]
    time_s: np.ndarray
    events: list[tuple[int, str, str]]
    gait_doc: dict
    strides: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    #: Pose confidence per keypoint (T, 17) from ``<name>_conf``; None = unknown (all trusted).
    conf: np.ndarray | None = None
    _low: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def n_frames(self) -> int:
        return int(self.xy.shape[0])

    @property
    def low_confidence(self) -> np.ndarray:
        """(T, 17) bool: points drawn hollow because they cannot be trusted (:func:`low_confidence_mask`)."""
        if self._low is None:
            self._low = low_confidence_mask(self.xy, self.conf)
        return self._low

    @property
    def quality(self) -> dict:
        """The engine's quality notes for this session (``quality_doc`` of the sessions row)."""
        return _json_doc(self.summary.get("quality_doc"))

    @classmethod
    def from_tables(cls, frames: pa.Table, sessions: pa.Table | dict | None = None,
                    strides: pa.Table | list | None = None) -> "RenderData":
        """Build from the lake's ``frames`` / ``sessions`` / ``strides`` tables of one session."""
        cols = set(frames.column_names)
        T = frames.num_rows

        def col(name: str) -> np.ndarray:
            if name not in cols:
                return np.full(T, np.nan)
            return np.asarray(frames.column(name).to_numpy(zero_copy_only=False), dtype=float)

        xy = np.full((T, 17, 2), np.nan)
        for i, name in enumerate(KEYPOINT_NAMES):
            xy[:, i, 0] = col(f"{name}_x_px")
            xy[:, i, 1] = col(f"{name}_y_px")
        conf = np.stack([col(f"{name}_conf") for name in KEYPOINT_NAMES], axis=1) if any(
            f"{name}_conf" in cols for name in KEYPOINT_NAMES) else None
        contact = {s: np.nan_to_num(col(f"{s}_contact")) > 0.5 for s in SIDES}
        angles = {c: col(c) for c in frames.column_names if c.endswith("_angle")}
        series = {c: col(c) for c in ("cadence", "contact_time", "flight_time", "speed", "pace",
                                      "stride_length", "balance", "contact_angle", "distance")}
        time_s = col("time_s") if "time_s" in cols else np.arange(T, dtype=float)
        row: dict = {}
        if isinstance(sessions, pa.Table):
            row = sessions.slice(0, 1).to_pylist()[0] if sessions.num_rows else {}
        elif isinstance(sessions, dict):
            row = sessions
        gait_doc = _json_doc(row.get("gait_doc"))
        if isinstance(strides, pa.Table):
            strides = strides.to_pylist()
        events = events_from_contact(contact, angles)
        return cls(xy=xy, contact=contact, angles=angles, series=series, time_s=time_s,
                   events=events, gait_doc=gait_doc, strides=list(strides or []), summary=row, conf=conf)


def _json_doc(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            doc = json.loads(value)
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}
    return {}


def events_from_contact(contact: dict[str, np.ndarray], angles: dict[str, np.ndarray]) -> list[tuple[int, str, str]]:
    """IC = first contact frame, TO = first frame off, MS = peak knee flexion in between
    (the engine's conventions, docs/analysis.md). Only complete contacts give a TO/MS."""
    out: list[tuple[int, str, str]] = []
    for side in SIDES:
        c = contact[side].astype(np.int8)
        d = np.diff(np.concatenate([[0], c, [0]]))
        starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        knee = angles.get(f"{side[0]}kne_angle")
        for a, b in zip(starts, ends):
            if a > 0:
                out.append((int(a), side, "IC"))
            if b < len(c):
                out.append((int(b), side, "TO"))
                if knee is not None and a > 0 and np.isfinite(knee[a:b]).any():
                    out.append((int(a + np.nanargmax(knee[a:b])), side, "MS"))
    order = {"IC": 0, "MS": 1, "TO": 2}
    out.sort(key=lambda e: (e[0], order[e[2]], e[1]))
    return out


#: A keypoint whose pose confidence is below this is drawn hollow (the tracker drops points
#: under tracking.min_keypoint_conf, 0.3, and interpolates them; 0.3-0.5 are kept but doubtful).
LOW_CONF = 0.5
#: Knee and ankle of both legs closer than this share of the thigh length in the same frame:
#: the detector put both legs on one (motion blur), so neither leg's points can be trusted.
COLLAPSE_SHARE = 0.25
_LEG_PAIRS = ((KP.LEFT_KNEE, KP.RIGHT_KNEE), (KP.LEFT_ANKLE, KP.RIGHT_ANKLE))


def low_confidence_mask(xy: np.ndarray, conf: np.ndarray | None = None) -> np.ndarray:
    """(T, 17) bool: keypoints not to be drawn as solid.

    A point is low-confidence when its pose confidence is below :data:`LOW_CONF`
    (NaN confidence = an interpolated point = low), or, for the knees and ankles,
    when both legs collapse onto one: left and right knee *and* left and right
    ankle each closer than :data:`COLLAPSE_SHARE` of the median thigh length
    (knees alone cross every stride; knees and ankles together only when the
    detector has put both legs on the same one).
    """
    T = xy.shape[0]
    low = np.zeros((T, xy.shape[1]), bool)
    if conf is not None and conf.shape[:2] == low.shape and np.isfinite(conf).any():
        low |= ~(np.nan_to_num(conf, nan=0.0) >= LOW_CONF) & np.isfinite(xy).all(axis=2)
    thighs = [np.linalg.norm(xy[:, k] - xy[:, h], axis=1) for h, k in ((KP.LEFT_HIP, KP.LEFT_KNEE),
                                                                      (KP.RIGHT_HIP, KP.RIGHT_KNEE))]
    finite = np.concatenate([t[np.isfinite(t)] for t in thighs])
    if finite.size:
        limit = COLLAPSE_SHARE * float(np.median(finite))
        with np.errstate(invalid="ignore"):
            close = [np.linalg.norm(xy[:, a] - xy[:, b], axis=1) < limit for a, b in _LEG_PAIRS]
        collapsed = close[0] & close[1]
        for a, b in _LEG_PAIRS:
            low[collapsed, a] = low[collapsed, b] = True
    return low


# ---------------------------------------------------------------------------
# Drawing primitives
# ---------------------------------------------------------------------------
def _pt(p: np.ndarray, scale: float) -> tuple[int, int] | None:
    if p is None or not np.isfinite(p).all():
        return None
    return int(round(p[0] * scale)), int(round(p[1] * scale))


_OUTLINE = ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1))


def _text(img: np.ndarray, text: str, org: tuple[int, int], size: float, color=COLOR["text"],
          thickness: int = 1, bg: bool = True) -> None:
    """Legible text: the same glyphs in black around the colour, 1 px each way.

    The outline uses the very font, scale and thickness of the text: Hershey glyph
    advances grow with the thickness, so a thicker shadow drifts right letter by
    letter and labels read doubled ("knee flexion 17 7deg g").
    """
    font = cv2.FONT_HERSHEY_SIMPLEX
    if bg:
        step = max(1, int(round(size)))
        for dx, dy in _OUTLINE:
            cv2.putText(img, text, (org[0] + dx * step, org[1] + dy * step), font, size, (0, 0, 0), thickness,
                        cv2.LINE_AA)
    cv2.putText(img, text, org, font, size, color, thickness, cv2.LINE_AA)


def draw_skeleton(img: np.ndarray, xy: np.ndarray, scale: float, contact: dict[str, bool] | None = None,
                  thickness: int = 3, low: np.ndarray | None = None) -> None:
    """Draw one runner's skeleton (keypoints in source pixels, scaled by ``scale``).

    The shank of a foot in contact is drawn in the contact colour and its ankle
    gets a filled disc, so stance is visible at a glance. Points flagged in
    ``low`` (17 bools, :func:`low_confidence_mask`) are drawn hollow and their
    segments thin, so a guess never looks like a measurement.
    """
    contact = contact or {}
    low = np.zeros(len(xy), bool) if low is None else np.asarray(low, bool)
    r = max(3, thickness + 1)
    thin = max(1, thickness // 2)
    for a, b, side in EDGES:
        pa_, pb = _pt(xy[a], scale), _pt(xy[b], scale)
        if pa_ and pb:
            cv2.line(img, pa_, pb, COLOR[side], thin if low[a] or low[b] else thickness, cv2.LINE_AA)
    for side, knee, ank in (("left", KP.LEFT_KNEE, KP.LEFT_ANKLE), ("right", KP.RIGHT_KNEE, KP.RIGHT_ANKLE)):
        if contact.get(side):
            pk, pa_ = _pt(xy[knee], scale), _pt(xy[ank], scale)
            if pk and pa_:
                cv2.line(img, pk, pa_, COLOR["contact"], thin if low[knee] or low[ank] else thickness + 2,
                         cv2.LINE_AA)
            if pa_:
                cv2.circle(img, pa_, 3 * r, COLOR["contact"], thin if low[ank] else -1, cv2.LINE_AA)
    for i in DOTS:
        p = _pt(xy[i], scale)
        if not p:
            continue
        if low[i]:  # hollow: a ring in the side's colour around a dark one
            cv2.circle(img, p, r + 1, (0, 0, 0), thin + 2, cv2.LINE_AA)
            cv2.circle(img, p, r + 1, COLOR[_SIDE_OF[i]], thin, cv2.LINE_AA)
        else:
            cv2.circle(img, p, r, COLOR[_SIDE_OF[i]], -1, cv2.LINE_AA)
            cv2.circle(img, p, r, (0, 0, 0), 1, cv2.LINE_AA)


def draw_angle(img: np.ndarray, vertex, p1, p2, label: str, scale: float, color=COLOR["angle"],
               thickness: int = 2, radius: int | None = None) -> None:
    """Two rays from ``vertex`` to ``p1`` and ``p2`` with the arc between them and ``label``.

    Points are in source pixels; ``p2`` may be a direction reference such as a
    point straight below the vertex (for angles against the vertical).
    """
    v, a, b = _pt(np.asarray(vertex, float), scale), _pt(np.asarray(p1, float), scale), _pt(np.asarray(p2, float), scale)
    if not (v and a and b):
        return
    cv2.line(img, v, a, color, thickness, cv2.LINE_AA)
    cv2.line(img, v, b, color, max(1, thickness - 1), cv2.LINE_AA)
    la = math.hypot(a[0] - v[0], a[1] - v[1])
    lb = math.hypot(b[0] - v[0], b[1] - v[1])
    if la < 1 or lb < 1:
        return
    rad = radius or int(max(12, 0.35 * min(la, lb)))
    t1 = math.degrees(math.atan2(a[1] - v[1], a[0] - v[0]))
    t2 = math.degrees(math.atan2(b[1] - v[1], b[0] - v[0]))
    d = (t2 - t1 + 180.0) % 360.0 - 180.0
    cv2.ellipse(img, v, (rad, rad), 0.0, t1, t1 + d, color, thickness, cv2.LINE_AA)
    mid = math.radians(t1 + d / 2.0)
    org = (int(v[0] + (rad + 8) * math.cos(mid)), int(v[1] + (rad + 8) * math.sin(mid)))
    size = max(0.5, img.shape[0] / 1600.0)
    width = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, size, max(1, thickness - 1))[0][0]
    x = org[0] if math.cos(mid) >= 0 else org[0] - width
    x = int(min(max(2, x), img.shape[1] - width - 3))  # the whole label stays inside the picture
    _text(img, label, (x, org[1]), size, color, max(1, thickness - 1))


def _fmt(value: float | None, fmt: str, unit: str = "") -> str:
    """``fmt.format(value) + unit``; ``--`` when unknown; a value that rounds to zero has no sign
    (``trunk 0``, not ``trunk -0`` or ``+0``)."""
    if value is None or not np.isfinite(value):
        return "--"
    text = fmt.format(value)
    if text.lstrip("+-").replace("0", "").replace(".", "") == "":
        text = text.lstrip("+-")
    return text + unit


# ---------------------------------------------------------------------------
# Video
# ---------------------------------------------------------------------------
def source_rate(path: str | Path) -> Fraction:
    """The exact average frame rate of the source's first video stream."""
    with av.open(str(path)) as c:
        if not c.streams.video:
            raise VideoError(f"{Path(path).name} contains no video stream")
        return stream_rate(c.streams.video[0], Path(path).name)


def h264_encoder() -> str:
    """Name of an H.264 encoder PyAV's FFmpeg provides (libx264 preferred)."""
    available = av.codecs_available
    for name in ("libx264", "libopenh264", "h264"):
        if name in available:
            try:
                av.codec.Codec(name, "w")
                return name
            except Exception:  # listed but not an encoder in this build
                continue
    raise RenderError("this PyAV/FFmpeg build has no H.264 encoder")


def _output_size(width: int, height: int, max_side: int) -> tuple[int, int, float]:
    scale = min(1.0, max_side / max(width, height)) if max_side else 1.0
    w = max(2, int(round(width * scale)) // 2 * 2)
    h = max(2, int(round(height * scale)) // 2 * 2)
    return w, h, w / width


class _Overlay:
    """Per-frame drawing of the analysed video: skeleton, contact, events, live panel, timeline."""

    def __init__(self, data: RenderData, size: tuple[int, int], scale: float, fps: float,
                 joints: Iterable[str] = DEFAULT_PANEL_JOINTS):
        self.d, (self.w, self.h), self.scale, self.fps = data, size, scale, fps
        self.unit = max(0.45, self.h / 1600.0)       # text size
        self.thick = max(2, int(round(self.h / 400)))
        self.joints = [j for j in joints if j in JOINT_PREFIX][:3] or list(DEFAULT_PANEL_JOINTS)
        self.hold = max(1, int(round(0.25 * fps)))    # frames an event label stays up
        self.by_frame: dict[int, list[tuple[str, str]]] = {}
        for f, side, kind in data.events:
            self.by_frame.setdefault(f, []).append((side, kind))
        self.strip = self._timeline()

    def _timeline(self) -> np.ndarray:
        """A strip under the video: left/right contact bars over the whole clip, event ticks."""
        T = max(1, self.d.n_frames)
        sh = max(24, int(self.h * 0.045))
        strip = np.full((sh, self.w, 3), 30, np.uint8)
        row = sh // 2
        for k, side in enumerate(SIDES):
            c = self.d.contact[side]
            y0, y1 = k * row + 3, (k + 1) * row - 3
            for a in np.flatnonzero(np.diff(np.concatenate([[0], c.astype(np.int8)])) == 1):
                b = a + int(np.argmin(c[a:])) if not c[a:].all() else T
                cv2.rectangle(strip, (int(a * self.w / T), y0), (int(b * self.w / T), y1), COLOR[side], -1)
        _text(strip, "L", (4, row - 5), self.unit * 0.6, bg=True)
        _text(strip, "R", (4, 2 * row - 5), self.unit * 0.6, bg=True)
        return strip

    def draw(self, img: np.ndarray, i: int) -> np.ndarray:
        d = self.d
        if i < d.n_frames:
            xy = d.xy[i]
            contact = {s: bool(d.contact[s][i]) for s in SIDES}
            draw_skeleton(img, xy, self.scale, contact, self.thick, d.low_confidence[i])
            # events: a ring at the ankle on the event frame, a label for ~0.25 s
            labels = []
            for f in range(max(0, i - self.hold + 1), i + 1):
                for side, kind in self.by_frame.get(f, ()):
                    labels.append((side, kind))
                    if f == i:
                        ank = _pt(xy[KP.LEFT_ANKLE if side == "left" else KP.RIGHT_ANKLE], self.scale)
                        if ank:
                            cv2.circle(img, ank, 9 * self.thick, COLOR["event"], self.thick, cv2.LINE_AA)
            self._panel(img, i, labels)
        self._strip(img, i)
        return img

    def _panel(self, img: np.ndarray, i: int, labels: list[tuple[str, str]]) -> None:
        d, u = self.d, self.unit
        cad = d.series.get("cadence", [np.nan])[i] if i < len(d.series.get("cadence", [])) else np.nan
        ct = d.series.get("contact_time", [np.nan])[i] if i < len(d.series.get("contact_time", [])) else np.nan
        lines = [f"Cadence  {_fmt(cad, '{:.0f}', ' spm')}",
                 f"Contact  {_fmt(ct * 1000 if np.isfinite(ct) else None, '{:.0f}', ' ms')}"]
        for j in self.joints:
            p = JOINT_PREFIX[j]
            lv = d.angles.get(f"l{p}_angle", np.full(d.n_frames, np.nan))[i]
            rv = d.angles.get(f"r{p}_angle", np.full(d.n_frames, np.nan))[i]
            lq, rq = (_doubt(d, i, side) if j in ("knee", "ankle", "hip") and np.isfinite(v) else ""
                      for side, v in zip(SIDES, (lv, rv)))
            lines.append(f"{j.capitalize():<8} L {_fmt(lv, '{:.0f}')}{lq}  R {_fmt(rv, '{:.0f}')}{rq}")
        post = d.angles.get("posture_angle", np.full(d.n_frames, np.nan))[i]
        lines.append(f"Trunk    {_fmt(post, '{:+.0f}', ' deg')}")
        lh = int(32 * u)
        pw, ph = int(330 * u), lh * len(lines) + int(14 * u)
        x0, y0 = int(10 * u), int(10 * u)
        roi = img[y0:y0 + ph, x0:x0 + pw]
        roi[:] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken: 40 % brightness
        for k, line in enumerate(lines):
            _text(img, line, (x0 + int(8 * u), y0 + lh * (k + 1)), 0.75 * u, bg=False)
        y = y0 + ph + lh
        seen = set()
        for side, kind in labels:
            if (side, kind) in seen:
                continue
            seen.add((side, kind))
            _text(img, f"{side.upper()} {EVENT_LABEL[kind]}", (x0, y), 0.9 * u, COLOR[side], 2)
            y += int(lh * 1.1)
        # contact state, top right
        state = " + ".join(s.upper() for s in SIDES if d.contact[s][i]) or "FLIGHT"
        _text(img, state, (self.w - int(200 * u), int(40 * u)), 0.9 * u,
              COLOR["contact"] if state != "FLIGHT" else COLOR["event"], 2)

    def _strip(self, img: np.ndarray, i: int) -> None:
        sh = self.strip.shape[0]
        img[self.h - sh:self.h] = self.strip
        x = int((i + 0.5) * self.w / max(1, self.d.n_frames))
        cv2.line(img, (x, self.h - sh), (x, self.h - 1), (255, 255, 255), 2)


def render_video(source: str | Path, data: RenderData, out_path: str | Path, *, max_side: int = 1280,
                 crf: int = 23, preset: str = "veryfast", chunk_frames: int = 32,
                 joints: Iterable[str] = DEFAULT_PANEL_JOINTS,
                 snapshot_frames: Iterable[int] = (), on_snapshot=None) -> dict[str, Any]:
    """Decode ``source`` chunk by chunk, draw the overlay, encode H.264 MP4 to ``out_path``.

    ``snapshot_frames``: frame indices whose *clean* (undrawn, full-resolution)
    frame is handed to ``on_snapshot(index, frame)`` during the same pass, so
    snapshots need no second decode. Returns ``{frames, rate, width, height, codec}``.
    """
    rate = source_rate(source)
    encoder = h264_encoder()
    wanted = set(int(f) for f in snapshot_frames)
    out_path = Path(out_path)
    n = 0
    container = av.open(str(out_path), mode="w", format="mp4", options={"movflags": "+faststart"})
    try:
        stream = None
        overlay = None
        for chunk in iter_frame_chunks(source, chunk_frames):
            for frame in chunk:
                if stream is None:
                    H, W = frame.shape[:2]
                    w, h, scale = _output_size(W, H, max_side)
                    options = {"preset": preset, "crf": str(crf)} if encoder == "libx264" else {}
                    stream = container.add_stream(encoder, rate=rate, options=options)
                    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                    frame_tb = Fraction(1, 1) / rate
                    overlay = _Overlay(data, (w, h), scale, float(rate), joints)
                if n in wanted and on_snapshot is not None:
                    on_snapshot(n, frame)
                img = frame if scale == 1.0 else cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
                img = np.ascontiguousarray(img)
                overlay.draw(img, n)
                vf = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
                vf.pts = n
                vf.time_base = frame_tb
                for packet in stream.encode(vf):
                    container.mux(packet)
                n += 1
        if stream is None:
            raise RenderError(f"{Path(source).name}: no frame decodes")
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()
    return {"frames": n, "rate": f"{rate.numerator}/{rate.denominator}", "width": stream.width,
            "height": stream.height, "codec": "h264", "encoder": encoder}


# ---------------------------------------------------------------------------
# Snapshots
# ---------------------------------------------------------------------------
def _kp(xy: np.ndarray, side: str, joint: str) -> np.ndarray:
    return xy[KP[f"{side.upper()}_{joint.upper()}"]]


def _below(p: np.ndarray, length: float) -> np.ndarray:
    return np.asarray(p, float) + np.array([0.0, length])


def _above(p: np.ndarray, length: float) -> np.ndarray:
    return np.asarray(p, float) - np.array([0.0, length])


def _angle_at(data: RenderData, key: str, frame: int) -> float | None:
    a = data.angles.get(key)
    if a is None or frame >= len(a) or not np.isfinite(a[frame]):
        return None
    return float(a[frame])


def _leg_vs_vertical(hip: np.ndarray, ank: np.ndarray) -> float | None:
    if not (np.isfinite(hip).all() and np.isfinite(ank).all()):
        return None
    return float(abs(math.degrees(math.atan2(ank[0] - hip[0], ank[1] - hip[1]))))


def _annotate_common(img, xy, side, scale, title, lines):
    u = max(0.6, img.shape[0] / 1300.0)
    _text(img, title, (int(14 * u), int(40 * u)), 1.0 * u, COLOR[side], 2)
    for k, line in enumerate(lines):
        _text(img, line, (int(14 * u), int(40 * u) + int(34 * u) * (k + 1)), 0.75 * u)


def _snapshot_base(frame: np.ndarray, data: RenderData, frame_index: int,
                   scale: float) -> tuple[np.ndarray, int, np.ndarray, int]:
    """The scaled frame with the skeleton drawn, the frame index, its keypoints and a line width."""
    img = frame if scale == 1.0 else cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    img = np.ascontiguousarray(img)
    i = min(frame_index, data.n_frames - 1)
    xy = data.xy[i]
    thick = max(2, int(round(img.shape[0] / 400)))
    draw_skeleton(img, xy, scale, {s: bool(data.contact[s][i]) for s in SIDES}, thick, data.low_confidence[i])
    return img, i, xy, thick


def draw_phase_snapshot(frame: np.ndarray, data: RenderData, frame_index: int, side: str, phase: str,
                        scale: float) -> np.ndarray:
    """A gait-phase image: skeleton, and for ``side`` the knee, hip and trunk angles drawn with values."""
    img, i, xy, thick = _snapshot_base(frame, data, frame_index, scale)
    p = side[0]
    hip, knee, ank = _kp(xy, side, "hip"), _kp(xy, side, "knee"), _kp(xy, side, "ankle")
    sho = _kp(xy, side, "shoulder")
    knee_v, hip_v = _angle_at(data, f"{p}kne_angle", i), _angle_at(data, f"{p}hip_angle", i)
    post_v = _angle_at(data, "posture_angle", i)
    thigh = float(np.linalg.norm(knee - hip)) if np.isfinite(knee - hip).all() else 80.0
    q = _doubt(data, i, side)
    draw_angle(img, knee, hip, ank, f"knee {_fmt(knee_v, '{:.0f}')}{q}", scale, thickness=thick)
    draw_angle(img, hip, knee, sho, f"hip {_fmt(hip_v, '{:+.0f}')}{q}", scale, thickness=thick)
    mid_hip = np.nanmean([xy[KP.LEFT_HIP], xy[KP.RIGHT_HIP]], axis=0)
    mid_sho = np.nanmean([xy[KP.LEFT_SHOULDER], xy[KP.RIGHT_SHOULDER]], axis=0)
    draw_angle(img, mid_hip, mid_sho, _above(mid_hip, thigh), f"trunk {_fmt(post_v, '{:+.0f}')}", scale,
               color=COLOR["center"], thickness=max(1, thick - 1))
    lines = [f"knee flexion {_fmt(knee_v, '{:.0f}', ' deg')}", f"hip {_fmt(hip_v, '{:+.0f}', ' deg')} (+ flexion)",
             f"trunk lean {_fmt(post_v, '{:+.0f}', ' deg')}"]
    if phase in ("strike", "new_strike"):
        ca = _leg_vs_vertical(hip, ank)
        draw_angle(img, hip, ank, _below(hip, thigh * 1.8), f"{_fmt(ca, '{:.0f}')}{q}", scale,
                   color=COLOR["contact"], thickness=thick)
        lines.append(f"leg vs vertical {_fmt(ca, '{:.0f}', ' deg')}")
    t = data.time_s[i] if i < len(data.time_s) else float("nan")
    _annotate_common(img, xy, side, scale, f"{side.upper()} {phase.replace('_', ' ').upper()}",
                     lines + [f"frame {frame_index}  t={_fmt(t, '{:.2f}', ' s')}"] + _low_note(data, i))
    return img


def draw_form_snapshot(frame: np.ndarray, data: RenderData, frame_index: int, side: str, kind: str,
                       scale: float) -> np.ndarray:
    """Form images: ``contact_angle`` (leg vs vertical at strike), ``push_angle`` (hip
    extension at toe-off: thigh vs trunk line), ``knee_ankle`` (knee angle and shank vs
    vertical at strike, with trunk lean)."""
    img, i, xy, thick = _snapshot_base(frame, data, frame_index, scale)
    p = side[0]
    q = _doubt(data, i, side)
    hip, knee, ank, sho = (_kp(xy, side, j) for j in ("hip", "knee", "ankle", "shoulder"))
    seg = float(np.linalg.norm(knee - hip)) if np.isfinite(knee - hip).all() else 80.0
    if kind == "contact_angle":
        ca = _leg_vs_vertical(hip, ank)
        draw_angle(img, hip, ank, _below(hip, seg * 2.0), f"{_fmt(ca, '{:.1f}')} deg{q}", scale,
                   color=COLOR["contact"], thickness=thick + 1)
        title, lines = "CONTACT ANGLE", [f"leg vs vertical at strike: {_fmt(ca, '{:.1f}', ' deg')}",
                                         f"session mean {_fmt(data.summary.get('contact_angle_deg'), '{:.1f}', ' deg')}"]
    elif kind == "push_angle":
        hv = _angle_at(data, f"{p}hip_angle", i)
        ext = -hv if hv is not None else None
        draw_angle(img, hip, knee, 2 * hip - sho, f"{_fmt(ext, '{:.0f}')} deg{q}", scale,
                   color=COLOR["angle"], thickness=thick + 1)
        title, lines = "PUSH ANGLE", [f"hip extension at toe-off: {_fmt(ext, '{:.0f}', ' deg')}",
                                      "(thigh behind the trunk line)"]
    else:
        kv, av_ = _angle_at(data, f"{p}kne_angle", i), _angle_at(data, f"{p}ank_angle", i)
        pv = _angle_at(data, "posture_angle", i)
        draw_angle(img, knee, hip, ank, f"knee {_fmt(kv, '{:.0f}')}{q}", scale, thickness=thick + 1)
        draw_angle(img, knee, ank, _below(knee, seg), f"shank {_fmt(av_, '{:+.0f}')}{q}", scale,
                   color=COLOR["contact"], thickness=thick)
        mid_hip = np.nanmean([xy[KP.LEFT_HIP], xy[KP.RIGHT_HIP]], axis=0)
        mid_sho = np.nanmean([xy[KP.LEFT_SHOULDER], xy[KP.RIGHT_SHOULDER]], axis=0)
        draw_angle(img, mid_hip, mid_sho, _above(mid_hip, seg), f"trunk {_fmt(pv, '{:+.0f}')}", scale,
                   color=COLOR["center"], thickness=thick)
        title, lines = "KNEE & ANKLE AT STRIKE", [f"knee flexion {_fmt(kv, '{:.0f}', ' deg')}",
                                                  f"shank vs vertical {_fmt(av_, '{:+.0f}', ' deg')} (proxy)",
                                                  f"trunk lean {_fmt(pv, '{:+.0f}', ' deg')}"]
    _, why = form_side_and_reason(data)
    _annotate_common(img, xy, side, scale, f"{title} ({side}: {why})", lines + [f"frame {frame_index}"]
                     + _low_note(data, i))
    return img


def _doubt(data: RenderData, i: int, side: str) -> str:
    """``?`` after an angle label whose knee or ankle point is low-confidence, else nothing."""
    low = data.low_confidence[min(i, data.n_frames - 1)]
    return "?" if low[KP[f"{side.upper()}_KNEE"]] or low[KP[f"{side.upper()}_ANKLE"]] else ""


def _low_note(data: RenderData, i: int) -> list[str]:
    """A caption line when the frame has hollow (low-confidence) points."""
    low = data.low_confidence[i]
    if not low[list(DOTS)].any():
        return []
    legs = [KP.LEFT_KNEE, KP.RIGHT_KNEE, KP.LEFT_ANKLE, KP.RIGHT_ANKLE]
    collapsed = bool(low[legs].all()) and data.conf is not None and bool(
        (np.nan_to_num(data.conf[i, legs]) >= LOW_CONF).all())
    return ["hollow points: low confidence" + (" (both legs detected on one)" if collapsed else "")]


def form_side(data: RenderData) -> str:
    """The side shown in form snapshots (see :func:`form_side_and_reason`)."""
    return form_side_and_reason(data)[0]


def form_side_and_reason(data: RenderData) -> tuple[str, str]:
    """The leg the form snapshots show, and why, for their caption.

    The near leg (``quality.near_leg``: the one the camera sees unoccluded, whose
    keypoints the engine trusts) when it has complete strides; otherwise the leg
    with the most trusted knee/ankle points.
    """
    has_phases = {side: bool((data.gait_doc.get(side) or {}).get("phases")) for side in SIDES}
    near = data.quality.get("near_leg")
    if near in SIDES and has_phases[near]:
        return near, "near leg"
    low = data.low_confidence
    best, score = None, -1.0
    for side in SIDES:
        if not has_phases[side]:
            continue
        idx = [KP[f"{side.upper()}_KNEE"], KP[f"{side.upper()}_ANKLE"]]
        s = float((np.isfinite(data.xy[:, idx, 0]) & ~low[:, idx]).mean())
        if s > score:
            best, score = side, s
    if best is None:
        return "left", "no complete stride on either leg"
    if near in SIDES:
        return best, f"the near ({near}) leg has no complete stride"
    return best, "the leg seen best; the near leg is not known"


def snapshot_plan(data: RenderData) -> dict[str, tuple[int, str, str, str]]:
    """``name -> (frame, side, kind, what)``; names ``gait/<side>_<phase>``, ``form/<image>``."""
    plan: dict[str, tuple[int, str, str, str]] = {}
    for side in SIDES:
        phases = (data.gait_doc.get(side) or {}).get("phases") or {}
        for phase in GAIT_PHASES:
            ph = phases.get(phase)
            if ph and ph.get("video_frame") is not None:
                plan[f"gait/{side}_{phase}"] = (int(ph["video_frame"]), side, "gait", phase)
    side, _ = form_side_and_reason(data)
    phases = (data.gait_doc.get(side) or {}).get("phases") or {}
    if phases:
        plan["form/contact_angle"] = (int(phases["strike"]["video_frame"]), side, "form", "contact_angle")
        plan["form/push_angle"] = (int(phases["takeoff"]["video_frame"]), side, "form", "push_angle")
        plan["form/knee_ankle"] = (int(phases["strike"]["video_frame"]), side, "form", "knee_ankle")
    return plan


def render_snapshots(frames: dict[int, np.ndarray], data: RenderData, plan: dict, max_side: int = 1280
                     ) -> dict[str, bytes]:
    """JPEG bytes per snapshot name from clean source frames keyed by index."""
    out = {}
    for name, (f, side, what, kind) in plan.items():
        frame = frames.get(f)
        if frame is None:
            continue
        H, W = frame.shape[:2]
        scale = min(1.0, max_side / max(H, W))
        if what == "gait":
            img = draw_phase_snapshot(frame, data, f, side, kind, scale)
        else:
            img = draw_form_snapshot(frame, data, f, side, kind, scale)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if ok:
            out[name] = buf.tobytes()
    return out


# ---------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------
CHART_JOINTS = (("knee", "kne"), ("hip", "hip"), ("ankle (shank proxy)", "ank"), ("trunk lean", None))
_MPL = {"left": "#2a7de1", "right": "#e4572e"}


def render_report_png(data: RenderData, title: str = "", dpi: int = 110) -> bytes:
    """The session chart report as PNG bytes.

    Panels: knee, hip, ankle-proxy and trunk angle over the normalised stride
    (mean +/- SD across strides, left vs right, from the gait-analysis
    document), contact and flight time per stride, cadence and speed over time.
    """
    os.environ.setdefault("MPLBACKEND", "Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 9.5), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    flat = list(axes.flat)
    x = np.linspace(0, 100, 101)
    for ax, (label, prefix) in zip(flat[:4], CHART_JOINTS):
        any_curve = False
        for side in SIDES:
            curves = (data.gait_doc.get(side) or {}).get("angles") or {}
            key = "posture_angle" if prefix is None else f"{side[0]}{prefix}_angle"
            c = curves.get(key)
            if not c or not c.get("current"):
                continue
            cur = np.array([np.nan if v is None else v for v in c["current"]], float)
            sd = np.array([np.nan if v is None else v for v in (c.get("std_dev") or [0] * len(cur))], float)
            xx = np.linspace(0, 100, len(cur))
            ax.plot(xx, cur, color=_MPL[side], lw=2, label=f"{side} (mean)")
            ax.fill_between(xx, cur - sd, cur + sd, color=_MPL[side], alpha=0.2, lw=0, label=f"{side} ±SD")
            to = ((data.gait_doc.get(side) or {}).get("phases") or {}).get("takeoff")
            if to and to.get("graph_phase") is not None:
                ax.axvline(to["graph_phase"], color=_MPL[side], ls=":", lw=1)
            any_curve = True
        ax.set_title(f"{label} angle over the stride")
        ax.set_xlabel("% of stride (0 = strike; dotted = toe-off)")
        ax.set_ylabel("deg")
        ax.set_xlim(0, 100)
        if any_curve:
            ax.legend(fontsize=8, loc="best")
        else:
            ax.text(0.5, 0.5, "not enough strides", ha="center", va="center", transform=ax.transAxes)
    del x
    # contact / flight per stride
    ax = flat[4]
    rows = sorted((r for r in data.strides if r.get("contact_time_s") is not None),
                  key=lambda r: r.get("ic_time_s") or 0)
    if rows:
        t = np.array([r.get("ic_time_s") or 0 for r in rows], float)
        ct = np.array([r["contact_time_s"] for r in rows], float) * 1000
        ft = np.array([np.nan if r.get("flight_time_s") is None else r["flight_time_s"] for r in rows], float) * 1000
        colors = [_MPL[r["side"]] for r in rows]
        width = max(0.05, 0.35 * float(np.median(np.diff(t))) if len(t) > 1 else 0.1)
        ax.bar(t, ct, width=width, color=colors, label="contact")
        ax.bar(t, np.nan_to_num(ft), width=width, bottom=ct, color=colors, alpha=0.35, hatch="//",
               label="flight")
        ax.set_xlabel("strike time (s)   (blue = left, red = right)")
        ax.set_ylabel("ms")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no complete strides", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("contact (solid) + flight (hatched) per stride")
    # cadence and speed over time
    ax = flat[5]
    rows = sorted((r for r in data.strides if r.get("ic_time_s") is not None), key=lambda r: r["ic_time_s"])
    if rows:
        t = np.array([r["ic_time_s"] for r in rows], float)
        cad = np.array([np.nan if r.get("cadence_spm") is None else r["cadence_spm"] for r in rows], float)
        spd = np.array([np.nan if r.get("speed_mps") is None else r["speed_mps"] for r in rows], float)
        ax.plot(t, cad, "o-", color="#333333", label="cadence")
        ax.set_ylabel("cadence (steps/min)")
        ax.set_xlabel("time (s)")
        ax2 = ax.twinx()
        ax2.plot(t, spd, "s--", color="#2a9d8f", label="speed")
        ax2.set_ylabel("speed (m/s)", color="#2a9d8f")
        lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax.legend(lines, ["cadence", "speed"], fontsize=8, loc="lower right")
    else:
        ax.text(0.5, 0.5, "no complete strides", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("cadence and speed per stride")
    s = data.summary
    head = title or "gaitlake session report"
    facts = []
    for key, fmt in (("cadence_spm", "cadence {:.0f} spm"), ("contact_time_s", "contact {:.3f} s"),
                     ("flight_time_s", "flight {:.3f} s"), ("speed_mps", "speed {:.2f} m/s"),
                     ("balance_pct", "balance L {:.1f} %"), ("contact_angle_deg", "contact angle {:.1f} deg")):
        v = s.get(key)
        if isinstance(v, (int, float)) and math.isfinite(v):
            facts.append(fmt.format(v))
    fig.suptitle(head + ("\n" + " · ".join(facts) if facts else ""), fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# ---------------------------------------------------------------------------
# The flow's render step
# ---------------------------------------------------------------------------
def artifact_prefix(session_id: str, pipeline_version: str) -> str:
    return f"artifacts/{session_id}/{pipeline_version}"


def artifact_keys(session_id: str, pipeline_version: str) -> dict[str, Any]:
    base = artifact_prefix(session_id, pipeline_version)
    return {
        "video": f"{base}/analyzed.mp4",
        "report": f"{base}/report.png",
        "gait": {side: {ph: f"{base}/gait/{side}_{ph}.jpg" for ph in GAIT_PHASES} for side in SIDES},
        "form": {k: f"{base}/form/{k}.jpg" for k in FORM_IMAGES},
    }


def render_session(store, session_id: str, pipeline_version: str, video_key: str, data: RenderData, *,
                   max_side: int = 1280, crf: int = 23, preset: str = "veryfast",
                   joints: Iterable[str] = DEFAULT_PANEL_JOINTS, title: str = "") -> dict[str, Any]:
    """Render every artifact of one session into the object store; return the images document.

    ``{"video": key, "report": key, "gait": {side: {phase: key}}, "form": {image: key},
    "video_info": {...}}``; phases/images that cannot be drawn (too few strides)
    are left out. Each object is written atomically.
    """
    keys = artifact_keys(session_id, pipeline_version)
    plan = snapshot_plan(data)
    clean: dict[int, np.ndarray] = {}
    wanted = {f for f, *_ in plan.values()}
    with store.local_copy(video_key) as src, tempfile.TemporaryDirectory(prefix="gaitlake-render-") as tmp:
        out = Path(tmp) / "analyzed.mp4"
        info = render_video(src, data, out, max_side=max_side, crf=crf, preset=preset, joints=joints,
                            snapshot_frames=wanted, on_snapshot=lambda i, f: clean.__setitem__(i, f.copy()))
        store.put_file(out, keys["video"])
    doc: dict[str, Any] = {"video": keys["video"], "video_info": info, "gait": {}, "form": {}}
    for name, jpeg in render_snapshots(clean, data, plan, max_side).items():
        group, leaf = name.split("/", 1)
        if group == "gait":
            side, phase = leaf.split("_", 1)
            key = keys["gait"][side][phase]
            doc["gait"].setdefault(side, {})[phase] = key
        else:
            key = keys["form"][leaf]
            doc["form"][leaf] = key
        store.write_bytes(key, jpeg)
    store.write_bytes(keys["report"], render_report_png(data, title or f"session {session_id}"))
    doc["report"] = keys["report"]
    return doc


# ---------------------------------------------------------------------------
# Lake glue: render a written (not yet served) run, then publish it with its artifact keys
# ---------------------------------------------------------------------------
def _run_tables(lake, session_id: str, pipeline_version: str) -> tuple[Any, dict[str, pa.Table]]:
    manifest = lake.manifest(session_id, pipeline_version)
    if manifest is None:
        raise RenderError(f"session {session_id} has no lake run {pipeline_version}")
    tables = {t: lake.read_table(session_id, t, manifest=manifest) for t in manifest.files}
    return manifest, tables


def render_lake_run(store, lake, session_id: str, pipeline_version: str, video_key: str | None = None,
                    **options: Any) -> dict[str, Any]:
    """Render the artifacts of one lake run (served or not) from its tables; return the images document."""
    _, tables = _run_tables(lake, session_id, pipeline_version)
    sessions = tables.get("sessions")
    row = sessions.slice(0, 1).to_pylist()[0] if sessions is not None and sessions.num_rows else {}
    video_key = video_key or row.get("video_key")
    if not video_key or not store.exists(video_key):
        raise RenderError(f"session {session_id}: the source video is not in the object store")
    data = RenderData.from_tables(tables["frames"], sessions, tables.get("strides"))
    return render_session(store, session_id, pipeline_version, video_key, data,
                          title=options.pop("title", None) or (row.get("title") or f"session {session_id}"),
                          **options)


def with_artifacts(sessions: pa.Table, images: dict[str, Any]) -> pa.Table:
    """The sessions row with ``analyzed_video_key`` and ``images_doc`` (JSON) set."""
    n = sessions.num_rows
    cols = {"analyzed_video_key": pa.array([images.get("video")] * n, pa.string()),
            "images_doc": pa.array([json.dumps(images, separators=(",", ":"))] * n, pa.string())}
    for name, column in cols.items():
        if name in sessions.column_names:
            sessions = sessions.set_column(sessions.column_names.index(name), name, column)
        else:
            sessions = sessions.append_column(name, column)
    return sessions


def publish_with_artifacts(lake, session_id: str, pipeline_version: str, images: dict[str, Any] | None):
    """Publish a written run; with ``images``, first rewrite its sessions row with the artifact
    keys (new file, new manifest, then the ``_current`` pointer last: readers never see a mix)."""
    manifest = lake.manifest(session_id, pipeline_version)
    if manifest is None:
        raise RenderError(f"session {session_id} has no lake run {pipeline_version}")
    if not images:
        lake.publish(session_id, pipeline_version)
        return manifest
    sessions = lake.read_table(session_id, "sessions", manifest=manifest)
    return lake.replace_table(manifest, "sessions", with_artifacts(sessions, images), publish=True)


def render_options(settings) -> dict[str, Any]:
    """Renderer options from a ``[render]`` settings section when one exists."""
    section = getattr(settings, "render", None)
    out: dict[str, Any] = {}
    for name in ("max_side", "crf", "preset"):
        value = getattr(section, name, None) if section is not None else None
        if value not in (None, ""):
            out[name] = value
    return out
