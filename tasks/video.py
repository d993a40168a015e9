"""Video probing and chunked decoding.

Probing demuxes with PyAV (no decode) to count packets and read fps, codec,
rotation, every frame's presentation timestamp and a capture rate the container
declares for slow motion, then decodes the first frame to prove the stream is usable. The
container's reported frame count is recorded but never trusted: the number of
frames that actually decode is what the lake stores. Decoding uses OpenCV,
which applies the rotation metadata, in fixed-size chunks so memory stays flat.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from analysis.timebase import declared_capture_fps, frame_timing


class VideoError(ValueError):
    """The file is not a usable video; the message says why in one sentence."""


@dataclass(frozen=True)
class VideoInfo:
    fps: float                 # average frame rate, exact fraction as float (29.97 stays 29.97)
    width: int                 # displayed width after rotation, px
    height: int                # displayed height after rotation, px
    rotation_deg: int          # rotation metadata applied when decoding
    codec: str
    reported_frames: int       # what the container claims (0 if unknown); not trusted
    packet_frames: int         # video packets found by demuxing the whole file
    duration_s: float | None
    # Presentation timestamps (s from the first frame, presentation order), kept only when the
    # frame rate varies (analysis.timebase.frame_timing): a constant-rate file's are its index / fps.
    frame_times_s: list[float] | None = None
    timestamp_fps: float | None = None        # frames/s of real playback time from the timestamps
    variable_frame_rate: bool = False
    declared_capture_fps: float | None = None  # slow motion: the rate the container says it was filmed at

    def to_dict(self) -> dict:
        return asdict(self)


def _rotation_of(stream) -> int:
    try:
        matrix = stream.side_data.get("DISPLAYMATRIX") if hasattr(stream, "side_data") else None
        if matrix is not None:
            return int(round(float(matrix))) % 360
    except Exception:  # side-data access differs across PyAV versions; rotation is best-effort
        pass
    return 0


def stream_rate(stream, name: str) -> Fraction:
    """A PyAV video stream's average frame rate as an exact fraction (29.97 stays 30000/1001)."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or float(rate) <= 0:
        raise VideoError(f"{name} has no usable frame rate")
    return Fraction(rate)


def probe_video(path: str | Path, max_side_px: int = 4096, max_pixel_frames: int = 20_000_000_000) -> VideoInfo:
    """Read a video's facts and prove it decodes. Raises :class:`VideoError`."""
    import av  # imported here: decoding (OpenCV) works without PyAV

    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path} does not exist")
    if path.stat().st_size == 0:
        raise VideoError(f"{path.name} is empty (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoError(f"{path.name} is not a readable video file ({exc.__class__.__name__})") from None
    with container:
        if not container.streams.video:
            raise VideoError(f"{path.name} contains no video stream")
        stream = container.streams.video[0]
        fps = float(stream_rate(stream, path.name))
        codec = stream.codec_context.name
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise VideoError(f"{path.name} has no frame size")
        if max(width, height) > max_side_px:
            raise VideoError(f"{path.name} is {width}x{height}; frames larger than {max_side_px} px are refused")
        reported = int(stream.frames or 0)
        duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
        metadata = {**dict(container.metadata or {}), **dict(stream.metadata or {})}
        packets, pts = 0, []
        try:
            for packet in container.demux(stream):
                if packet.size > 0:
                    packets += 1
                    pts.append(packet.pts)
        except av.error.FFmpegError as exc:
            raise VideoError(f"{path.name} is corrupt: demuxing failed ({exc.__class__.__name__})") from None
        time_base = stream.time_base
    if packets == 0:
        raise VideoError(f"{path.name} contains no video frames")
    if width * height * packets > max_pixel_frames:
        raise VideoError(f"{path.name} is too large to analyse ({width}x{height} x {packets} frames)")
    rotation = _rotation_of(stream)
    capture = cv2.VideoCapture(str(path))
    try:
        ok, frame = capture.read()
        cv_rotation = int(capture.get(cv2.CAP_PROP_ORIENTATION_META) or 0)
    finally:
        capture.release()
    if not ok or frame is None:
        raise VideoError(f"{path.name} has a video stream but its first frame does not decode")
    rotation = cv_rotation or rotation
    times = presentation_times_s(pts, time_base)
    timing = frame_timing(times) if times is not None else None
    return VideoInfo(
        fps=fps,
        width=int(frame.shape[1]),
        height=int(frame.shape[0]),
        rotation_deg=rotation,
        codec=codec,
        reported_frames=reported,
        packet_frames=packets,
        duration_s=duration,
        frame_times_s=[round(float(t), 6) for t in times] if timing is not None and timing.variable else None,
        timestamp_fps=timing.mean_fps if timing is not None else None,
        variable_frame_rate=bool(timing is not None and timing.variable),
        declared_capture_fps=declared_capture_fps(metadata, fps),
    )


def presentation_times_s(pts: list, time_base) -> np.ndarray | None:
    """Seconds from the first frame of each frame, in presentation order, from the video
    packets' ``pts`` (in ``time_base``); None when a packet has none or two share one
    (then the timestamps cannot time frames and the nominal rate is used)."""
    if len(pts) < 2 or time_base is None or any(p is None for p in pts):
        return None
    ordered = np.sort(np.asarray(pts, dtype=np.int64))
    if (np.diff(ordered) <= 0).any():
        return None
    return (ordered - ordered[0]).astype(np.float64) * float(time_base)


def iter_frame_chunks(
    path: str | Path, chunk_frames: int, max_frames: int | None = None, transform=None
) -> Iterator[list]:
    """Yield lists of up to ``chunk_frames`` BGR frames in decode order, rotation applied.

    ``transform(frame)`` is applied as each frame decodes (e.g. the downscale to the
    model's size), so a chunk never holds more than one full-resolution frame.
    """
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(f"{Path(path).name} cannot be opened for decoding")
    decoded = 0
    chunk: list[np.ndarray] = []
    try:
        while max_frames is None or decoded < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            chunk.append(frame if transform is None else transform(frame))
            del frame
            decoded += 1
            if len(chunk) == chunk_frames:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    finally:
        capture.release()


def resize_long_side(frame: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    """Downscale ``frame`` so its longer side is ``long_side`` px; return it and the scale used.

    The pose model letterboxes to ``imgsz`` anyway; doing it before frames cross
    process boundaries cuts the bytes shipped to the actors ~9x at 1080p.
    """
    height, width = frame.shape[:2]
    scale = long_side / max(height, width)
    if scale >= 1.0:
        return frame, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR), scale


def prefetch(iterable, depth: int = 2):
    """Iterate ``iterable`` on a background thread, up to ``depth`` items ahead.

    OpenCV and PyAV release the GIL while decoding, so decoding overlaps the
    consumer's work. Exceptions are re-raised in the consumer; stopping early
    (``close()``/garbage collection) stops the thread at its next item.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    done = object()
    stop = threading.Event()

    def work():
        try:
            for item in iterable:
                while not stop.is_set():
                    try:
                        q.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((True, done))
        except BaseException as exc:  # handed to the consumer
            q.put((False, exc))

    thread = threading.Thread(target=work, name="decode-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is done:
                return
            yield item
    finally:
        stop.set()


def remux_first_seconds(src: str | Path, dst: str | Path, seconds: float) -> Path:
    """Copy (no re-encoding) the video packets of the first ``seconds`` of ``src`` into ``dst`` (MP4)."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for packet in inp.demux(vin):
            if packet.dts is None:
                continue
            if float(packet.dts * vin.time_base) >= seconds:
                break
            packet.stream = vout
            out.mux(packet)
    return Path(dst)
