"""Video probing and chunked decoding.

Probing demuxes with PyAV (no decode) to count packets and read fps, codec,
rotation, every frame's presentation timestamp and a capture rate the container
declares for slow motion, then decodes the first frame to prove the stream is usable. The
container's reported frame count is recorded but never trusted: the number of
frames that actually decode is what the lake stores. Decoding uses OpenCV,
which applies the rotation metadata, in fixed-size chunks so memory stays flat.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from analysis.timebase import declared_capture_fps, frame_timing


class VideoError(ValueError):
    """The file is not a usable video; the message says why in one sentence."""


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` reads of a video file (units in the comments), passed between the
    flow's tasks; :attr:`frame_limit` is the one fact of the run rather than the file."""

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
    frame_times_s: list[float] | None = field(default=None, repr=False)   # thousands of numbers: not for logs
    timestamp_fps: float | None = None        # frames/s of real playback time from the timestamps
    variable_frame_rate: bool = False
    declared_capture_fps: float | None = None  # slow motion: the rate the container says it was filmed at
    frame_limit: int | None = None  # this run decodes at most these frames (``--max-frames``); None: all

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, facts: Mapping[str, Any]) -> "VideoInfo":
        """The facts of :meth:`to_dict` (a stored ``probe.json``); keys it does not know are left out,
        and facts an older or partial record lacks (codec, duration) are empty."""
        known = {f.name for f in fields(cls)}
        return cls(**{"codec": "", "duration_s": None, **{k: v for k, v in facts.items() if k in known}})

    @classmethod
    def coerce(cls, info: "VideoInfo | Mapping[str, Any]") -> "VideoInfo":
        """``info`` itself, or the facts of a stored record (:meth:`from_dict`)."""
        return info if isinstance(info, VideoInfo) else cls.from_dict(info)

    def limited(self, max_frames: int | None) -> "VideoInfo":
        """These facts for a run that decodes at most ``max_frames`` frames (None or 0: all)."""
        return replace(self, frame_limit=max_frames or None)

    @property
    def declared_frames(self) -> int:
        """Frames the file declares: the container's count or its packets, whichever is larger.

        A truncated MP4 keeps its full sample table but loses packets, so the container's count
        is the one that tells.
        """
        return max(int(self.reported_frames or 0), int(self.packet_frames or 0))

    @property
    def expected_frames(self) -> int:
        """Frames this run should decode: :attr:`declared_frames`, capped by :attr:`frame_limit`."""
        return min(self.declared_frames, self.frame_limit) if self.frame_limit else self.declared_frames


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
    path: str | Path, chunk_frames: int, max_frames: int | None = None, transform=None, on_frame=None
) -> Iterator[list]:
    """Yield lists of up to ``chunk_frames`` BGR frames in decode order, rotation applied.

    ``transform(frame)`` is applied as each frame decodes (e.g. the downscale to the
    model's size), so a chunk never holds more than one full-resolution frame.
    ``on_frame(frame)`` sees every full-resolution frame first (e.g. :class:`FrameSignals`).
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
            if on_frame is not None:
                on_frame(frame)
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


def iter_selected_frames(path: str | Path, frames: Iterable[int], max_frames: int | None = None
                         ) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, BGR frame)`` of the given decode-order ``frames`` only, rotation applied, in order.

    Every frame up to the last one wanted is decoded (H.264 needs its references), but only
    the wanted ones are converted to BGR arrays (``grab`` then ``retrieve``): a pass that reads
    a tenth of the frames does not pay the colour conversion of the other nine.
    """
    wanted = sorted({int(f) for f in frames if f >= 0 and (max_frames is None or f < max_frames)})
    if not wanted:
        return
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(f"{Path(path).name} cannot be opened for decoding")
    try:
        index, next_wanted = 0, iter(wanted)
        target = next(next_wanted)
        while capture.grab():
            if index == target:
                ok, frame = capture.retrieve()
                if ok:
                    yield index, frame
                target = next(next_wanted, None)
                if target is None:
                    return
            index += 1
    finally:
        capture.release()


class FrameSignals:
    """Cheap per-frame image evidence of cuts and camera motion, measured while decoding.

    Each frame is reduced to a grey thumbnail of :attr:`thumb_px` on its long side
    (phase correlation on 64 px tiles follows a pan of 8 px per frame at 640 px within a
    few percent, smaller tiles under-read it; a 384 px thumbnail gives a portrait
    close-up of a runner a 6 x 3 grid, enough tiles beside the runner for the background). Kept per frame, not the thumbnails (a 10-minute clip
    stays a few MB):

    * ``frame_change``: how much the picture changed from the previous frame, 0..1: the
      larger of half the L1 distance between the normalised 32-bin grey histograms and
      ``(1 - r) / 2`` of the thumbnails' correlation coefficient ``r`` (two indoor shots
      can share a histogram but not a picture). Within a shot 0.005-0.05, a hard cut
      0.15-0.9. NaN for the first frame.
    * ``tile_shift``: ``(rows, cols, 2)`` image shift (source px, x then y) of each tile
      of a ``rows x cols`` grid (tiles of about ``tile_px`` thumbnail px) since the previous
      frame, by phase correlation
      (``cv2.phaseCorrelate`` with a Hann window): the background's tiles give the
      camera's motion once the runner's tiles are left out (``analysis.camera``).
    * ``tile_response``: the phase-correlation peak of each tile (0..1; low: no texture,
      or the content changed too much to match).
    """

    def __init__(self, thumb_px: int = 384, tile_px: int = 64):
        self.thumb_px, self.tile_px = thumb_px, tile_px
        self.rows = self.cols = 0                             # set by the first frame: tiles of ~tile_px
        self.frame_size: tuple[int, int] | None = None     # (width, height) of the source
        self._prev: np.ndarray | None = None
        self._prev_hist: np.ndarray | None = None
        self._window: np.ndarray | None = None
        self._change: list[float] = []
        self._shift: list[np.ndarray] = []
        self._response: list[np.ndarray] = []

    def __call__(self, frame: np.ndarray) -> None:
        self.update(frame)

    def update(self, frame: np.ndarray) -> None:
        """Measure one decoded BGR (or grey) frame against the previous one."""
        h, w = frame.shape[:2]
        scale = self.thumb_px / max(h, w)
        if self.frame_size is None:
            self.frame_size = (w, h)
            self.rows = max(2, round(h * scale / self.tile_px))
            self.cols = max(2, round(w * scale / self.tile_px))
        size = (max(self.cols * 8, round(w * scale)), max(self.rows * 8, round(h * scale)))
        grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        thumb = cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        hist = cv2.calcHist([thumb], [0], None, [32], [0, 256]).ravel()
        hist /= max(float(hist.sum()), 1.0)
        shift = np.full((self.rows, self.cols, 2), np.nan, np.float32)
        response = np.zeros((self.rows, self.cols), np.float32)
        if self._prev is None or self._prev.shape != thumb.shape:
            self._change.append(float("nan"))
        else:
            if float(self._prev.std()) < 1e-3 or float(thumb.std()) < 1e-3:
                r = 1.0                                     # a flat frame (black, a fade): the histogram tells
            else:
                r = float(np.corrcoef(self._prev.ravel(), thumb.ravel())[0, 1])
            self._change.append(max(0.5 * float(np.abs(hist - self._prev_hist).sum()), 0.5 * (1.0 - r)))
            th, tw = thumb.shape[0] // self.rows, thumb.shape[1] // self.cols
            if self._window is None or self._window.shape != (th, tw):
                self._window = cv2.createHanningWindow((tw, th), cv2.CV_32F)
            for r in range(self.rows):
                for c in range(self.cols):
                    a = self._prev[r * th:(r + 1) * th, c * tw:(c + 1) * tw]
                    b = thumb[r * th:(r + 1) * th, c * tw:(c + 1) * tw]
                    (dx, dy), peak = cv2.phaseCorrelate(a, b, self._window)
                    shift[r, c] = (dx / scale, dy / scale)
                    response[r, c] = peak
        self._shift.append(shift)
        self._response.append(response)
        self._prev, self._prev_hist = thumb, hist

    def arrays(self) -> dict[str, np.ndarray]:
        """``frame_change`` (T,), ``tile_shift`` (T, rows, cols, 2), ``tile_response``
        (T, rows, cols) and ``frame_size`` (2,) (width, height)."""
        n = len(self._change)
        return {"frame_change": np.asarray(self._change, np.float32),
                "tile_shift": np.asarray(self._shift, np.float32).reshape(n, self.rows, self.cols, 2),
                "tile_response": np.asarray(self._response, np.float32).reshape(n, self.rows, self.cols),
                "frame_size": np.asarray(self.frame_size or (0, 0), np.int32)}

    def to_bytes(self) -> bytes:
        import io

        buffer = io.BytesIO()
        np.savez_compressed(buffer, **self.arrays())
        return buffer.getvalue()


def load_frame_signals(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of :meth:`FrameSignals.to_bytes`."""
    import io

    with np.load(io.BytesIO(data)) as npz:
        return {k: npz[k] for k in npz.files}


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


#: Frames decoded from the start of a file by :func:`verify_decodes` (the tail decodes its last GOP).
HEAD_DECODE_FRAMES = 5


def decoded_share_problem(decoded: int, expected: int, min_share: float) -> str | None:
    """Why a file of which ``decoded`` of ``expected`` frames are usable is refused, or None.

    The one rule for a truncated or damaged file: before processing (packets present,
    :func:`verify_decodes`) and after decoding (frames decoded, the detect task).
    """
    share = decoded / max(1, expected)
    if share >= min_share:
        return None
    return (f"only {decoded} of the {expected} frames the file declares decode ({share:.0%}); "
            f"the file is truncated or damaged")


def verify_decodes(path: str | Path, info: VideoInfo, min_share: float = 0.5,
                   max_frames: int | None = None) -> None:
    """Prove, in about a second, that the file decodes from its start to its end. Raises :class:`VideoError`.

    :func:`probe_video` reads the header and counts packets; a file cut short (a copy
    interrupted, an upload stopped) or damaged near its end passes that. Here the
    frames present are held against those the container declares (the rule of
    :func:`decoded_share_problem`), and the first :data:`HEAD_DECODE_FRAMES` frames and
    the whole last group of pictures (from the last keyframe to the end) are decoded with
    PyAV: a decoder error or a tail without a frame refuses the file.
    """
    import av

    path = Path(path)
    expected = info.limited(max_frames).expected_frames
    present = min(info.packet_frames, expected)
    problem = decoded_share_problem(present, expected, min_share)
    if problem:
        raise VideoError(f"{path.name} is cut short: {problem}")
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            head = 0
            for frame in container.decode(stream):
                head += 1
                if head >= HEAD_DECODE_FRAMES:
                    break
            if head == 0:
                raise VideoError(f"{path.name} has a video stream but no frame of it decodes")
            if max_frames and max_frames <= HEAD_DECODE_FRAMES:
                return
            last_key = None
            for packet in container.demux(stream):
                if packet.size > 0 and packet.is_keyframe and packet.pts is not None:
                    last_key = packet.pts
            if last_key is None:  # every keyframe was among the first frames: the head was the tail
                return
            container.seek(last_key, stream=stream, backward=True)
            tail = sum(1 for _ in container.decode(stream))
    except av.error.FFmpegError as exc:
        raise VideoError(f"{path.name} is damaged: its frames do not decode ({exc.__class__.__name__})") from None
    if tail == 0:
        raise VideoError(f"{path.name} is damaged: the frames near its end do not decode")
