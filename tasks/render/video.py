"""The analysed video: the source decoded chunk by chunk, the overlay drawn on every frame,
encoded H.264.

Streamed (decode a chunk -> draw -> encode), so memory stays flat whatever the length.
Output is H.264 (libx264 from PyAV's bundled FFmpeg), yuv420p, MP4 with ``+faststart``
so browsers play it while it downloads, with exactly the source's frame count and its
exact average frame rate (a :class:`fractions.Fraction`, so 29.97 fps stays 30000/1001).
"""
from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.video.reformatter import VideoReformatter
import cv2
import numpy as np

from analysis.keypoints import KP
from analysis.vocabulary import JOINTS, POSTURE_KEY, SIDES, angle_key
from tasks.render.data import RenderData, RenderError, doubt_mark
from tasks.render.draw import COLOR, draw_foot, draw_skeleton, fmt_value, pixel, put_text
from tasks.video import VideoError, iter_frame_chunks, stream_rate

EVENT_LABEL = {"IC": "STRIKE", "MS": "MID-STANCE", "TO": "TOE-OFF"}
#: The joints the live panel shows when the session selected all of them.
DEFAULT_PANEL_JOINTS = ("knee", "hip", "ankle")
#: Panel labels: what each joint's number is, in the conventions of analysis.angles.
PANEL_LABEL = {"knee": "Knee flex", "hip": "Hip flex", "ankle": "Shank*", "elbow": "Elbow flex",
               "shoulder": "Shoulder"}
#: Cap height of the panel's digits as a share of the frame's shorter side: 2.8 % of a
#: 720 px wide portrait frame is 20 px, ~11 px where a 1440x900 page shows that video
#: (it was 13 px in the frame, ~7 px on that page). Hershey simplex digits are ~22 px
#: tall at scale 1.
TEXT_CAP_SHARE = 0.028
_HERSHEY_CAP_PX = 22.0


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


class Overlay:
    """Per-frame drawing of the analysed video: skeleton, contact, events, live panel.

    The contact timeline is not burned in: the page draws it under the video, seekable,
    so the frame stays the runner's (it was drawn twice)."""

    def __init__(self, data: RenderData, size: tuple[int, int], scale: float, fps: float,
                 joints: Iterable[str] = DEFAULT_PANEL_JOINTS):
        self.d, (self.w, self.h), self.scale, self.fps = data, size, scale, fps
        # text size: scale 1 of the panel is 0.75 * unit (put_text sizes are multiples of it)
        self.unit = max(0.6, TEXT_CAP_SHARE * min(self.w, self.h) / _HERSHEY_CAP_PX / 0.75)
        self.thick = max(2, int(round(self.h / 400)))
        self.joints = [j for j in joints if j in JOINTS][:3] or list(DEFAULT_PANEL_JOINTS)
        self.hold = max(1, int(round(0.25 * fps)))    # frames an event label stays up
        self.by_frame: dict[int, list[tuple[str, str]]] = {}
        for f, side, kind in data.events:
            self.by_frame.setdefault(f, []).append((side, kind))

    def draw(self, img: np.ndarray, i: int) -> np.ndarray:
        d = self.d
        if i < d.n_frames:
            xy = d.xy[i]
            contact = {s: bool(d.contact[s][i]) for s in SIDES}
            draw_skeleton(img, xy, self.scale, contact, self.thick, d.low_confidence[i])
            if d.feet is not None:   # heel, toe and the sole line: the contact foot green, the other its side's colour
                for side in SIDES:
                    draw_foot(img, d.feet[side][i], self.scale, COLOR["contact" if contact[side] else side],
                              self.thick + (1 if contact[side] else 0))
            # events: a ring at the ankle on the event frame, a label for ~0.25 s
            labels = []
            for f in range(max(0, i - self.hold + 1), i + 1):
                for side, kind in self.by_frame.get(f, ()):
                    labels.append((side, kind))
                    if f == i:
                        ank = pixel(xy[KP.LEFT_ANKLE if side == "left" else KP.RIGHT_ANKLE], self.scale)
                        if ank:
                            cv2.circle(img, ank, 9 * self.thick, COLOR["event"], self.thick, cv2.LINE_AA)
            self._panel(img, i, labels)
        return img

    def _panel(self, img: np.ndarray, i: int, labels: list[tuple[str, str]]) -> None:
        d, u = self.d, self.unit
        cad = d.series.get("cadence", [np.nan])[i] if i < len(d.series.get("cadence", [])) else np.nan
        ct = d.series.get("contact_time", [np.nan])[i] if i < len(d.series.get("contact_time", [])) else np.nan
        lines = [f"Cadence {fmt_value(cad, '{:.0f}', ' spm')}",
                 f"Contact {fmt_value(ct * 1000 if np.isfinite(ct) else None, '{:.0f}', ' ms')}"]
        for j in self.joints:
            lv = d.angles.get(angle_key("left", j), np.full(d.n_frames, np.nan))[i]
            rv = d.angles.get(angle_key("right", j), np.full(d.n_frames, np.nan))[i]
            lq, rq = (doubt_mark(d, i, side) if j in ("knee", "ankle", "hip") and np.isfinite(v) else ""
                      for side, v in zip(SIDES, (lv, rv)))
            fmt = "{:+.0f}" if j != "knee" and j != "elbow" else "{:.0f}"     # signed angles carry a sign
            lines.append(f"{PANEL_LABEL[j]} L {fmt_value(lv, fmt)}{lq} R {fmt_value(rv, fmt)}{rq}")
        post = d.angles.get(POSTURE_KEY, np.full(d.n_frames, np.nan))[i]
        lines.append(f"Trunk lean {fmt_value(post, '{:+.0f}')} (+fwd)")
        if "ankle" in self.joints:
            lines.append("*ankle proxy: shank")
        self.panel_lines = lines
        lh = int(32 * u)
        width = max(cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, 0.75 * u, 1)[0][0] for line in lines)
        pw, ph = width + int(16 * u), lh * len(lines) + int(14 * u)
        x0, y0 = int(10 * u), int(10 * u)
        roi = img[y0:y0 + ph, x0:x0 + pw]
        roi[:] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken: 40 % brightness
        for k, line in enumerate(lines):
            put_text(img, line, (x0 + int(8 * u), y0 + lh * (k + 1)), 0.75 * u, bg=False)
        y = y0 + ph + lh
        seen = set()
        for side, kind in labels:
            if (side, kind) in seen:
                continue
            seen.add((side, kind))
            put_text(img, f"{side.upper()} {EVENT_LABEL[kind]}", (x0, y), 0.9 * u, COLOR[side], 2)
            y += int(lh * 1.1)
        # contact state, top right
        state = " + ".join(s.upper() for s in SIDES if d.contact[s][i]) or "FLIGHT"
        put_text(img, state, (self.w - int(200 * u), int(40 * u)), 0.9 * u,
              COLOR["contact"] if state != "FLIGHT" else COLOR["event"], 2)


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
    # Our own converter, freed when this returns. ``VideoFrame.reformat`` would cache one in a
    # thread-local for the thread's life; a process forked later from another thread with a
    # ``preexec_fn`` (Ray starting its GCS, raylet...) frees that converter in the child, where
    # swscale waits forever on its slice threads' condition variable (the child never execs).
    to_yuv = VideoReformatter()
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
                    overlay = Overlay(data, (w, h), scale, float(rate), joints)
                if n in wanted and on_snapshot is not None:
                    on_snapshot(n, frame)
                img = frame if scale == 1.0 else cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
                img = np.ascontiguousarray(img)
                overlay.draw(img, n)
                vf = to_yuv.reformat(av.VideoFrame.from_ndarray(img, format="bgr24"), format="yuv420p")
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
