"""Exported pose backends for the CPU: the YOLO weights run by OpenVINO or ONNX Runtime.

The packaged PyTorch weights are exported once per data directory (or
``pose.export_dir``) with Ultralytics' own exporter, offline, to
``<cache>/<model>-<sha12>-<imgsz>-<format>/`` (the key changes with the weights'
content, the image size or the format, so a changed model re-exports). The
export runs in a temporary directory next to the cache and is renamed into place
(atomic), under an exclusive file lock, so two actors or processes starting at
once export once and never see a half-written model.

Inference mirrors Ultralytics' ``predict`` on the same frames: the same
letterbox (rectangular, stride 32), the same NMS, the same scaling back to the
input frames; only the network runs elsewhere (OpenVINO compiled for fp32 with
one static shape per input size, or ONNX Runtime). :class:`ExportedPose` has the
backend interface of :class:`tasks.pose.UltralyticsPose` (``info``/``infer``).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("openvino", "onnx")
# Python modules each format needs at export and run time (declared in pyproject.toml).
FORMAT_MODULES = {"openvino": ("openvino",), "onnx": ("onnx", "onnxruntime")}
MANIFEST = "export.json"
# Exports made by this process (tests assert a second build reuses the cache).
export_count = 0


class ExportError(RuntimeError):
    pass


def _sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_key(weights: str | Path, imgsz: int, fmt: str) -> str:
    """``<model>-<sha12>-<imgsz>-<format>``: the cache folder name of one export."""
    return f"{Path(weights).stem}-{_sha256(weights)[:12]}-{imgsz}-{fmt}"


def _check_modules(fmt: str) -> None:
    import importlib

    for name in FORMAT_MODULES[fmt]:
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise ExportError(f"{fmt} export needs the {name} package ({exc})") from exc


def _export(weights: Path, imgsz: int, fmt: str, into: Path) -> str:
    """Ultralytics' exporter on a copy of ``weights`` in ``into``; the model file's name there."""
    from ultralytics import YOLO
    from ultralytics.utils import checks

    checks.AUTOINSTALL = False        # a missing requirement must fail here, never pip-install
    local = into / weights.name
    shutil.copyfile(weights, local)   # the exporter writes next to the weights
    kwargs = {"simplify": False} if fmt == "onnx" else {}   # onnxslim is not a dependency
    out = Path(YOLO(str(local), task="pose").export(format=fmt, imgsz=imgsz, dynamic=True, half=False,
                                                     batch=1, device="cpu", verbose=False, **kwargs))
    if fmt == "openvino":
        xml = next(out.glob("*.xml"))
        for f in out.iterdir():
            f.replace(into / f.name)
        out.rmdir()
        name = xml.name
    else:
        name = out.name
    local.unlink()
    return name


def ensure_export(weights: str | Path, imgsz: int, fmt: str, cache_dir: str | Path) -> Path:
    """The exported model file for ``weights`` at ``imgsz`` in ``fmt``, exporting it once.

    Raises :class:`ExportError` when the export is impossible (package missing,
    exporter failure); callers fall back to PyTorch.
    """
    global export_count
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format {fmt!r}")
    weights = Path(weights)
    if not weights.is_file():
        raise ExportError(f"weights {weights} are not a local file")
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / export_key(weights, imgsz, fmt)

    def existing() -> Path | None:
        manifest = final / MANIFEST
        if manifest.is_file():
            model = final / json.loads(manifest.read_text())["model"]
            if model.is_file():
                return model
        return None

    if (found := existing()) is not None:
        return found
    _check_modules(fmt)
    with open(cache / f".{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)            # another process may be exporting the same model
        if (found := existing()) is not None:
            return found
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=cache))
        try:
            name = _export(weights, imgsz, fmt, tmp)
            from importlib.metadata import version

            (tmp / MANIFEST).write_text(json.dumps({
                "model": name, "weights": weights.name, "sha256": _sha256(weights), "imgsz": imgsz,
                "format": fmt, "ultralytics": version("ultralytics"),
                "runtime": {m: version(m) for m in FORMAT_MODULES[fmt]}}))
            if final.exists():                       # a stale, incomplete export (no manifest)
                shutil.rmtree(final)
            os.rename(tmp, final)                    # atomic: readers see all or nothing
            export_count += 1
            log.info("exported %s to %s", weights.name, final)
        except Exception as exc:
            raise ExportError(f"{fmt} export of {weights.name} failed: {exc}") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if (found := existing()) is None:
        raise ExportError(f"{fmt} export of {weights.name} left no model in {final}")
    return found


def default_threads() -> int:
    """``OMP_NUM_THREADS`` when set (Ray sets it to an actor's CPU share), else the CPUs this process may use."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class _OpenVINORunner:
    """fp32 OpenVINO on the CPU, compiled once per input shape (a few recent shapes kept)."""

    def __init__(self, model: Path, threads: int, precision: str = "auto", max_shapes: int = 8):
        import openvino as ov

        self.core = ov.Core()
        self.model_path = model
        # No pinning: OpenVINO would pin every process's threads to the same first cores,
        # so two actors on two cores would share one.
        self.config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads,
                       "ENABLE_CPU_PINNING": False}
        if precision != "auto":    # auto: OpenVINO's choice (bf16 where the CPU has AMX/AVX512-BF16)
            self.config["INFERENCE_PRECISION_HINT"] = precision
        self.precision = precision
        self.max_shapes = max_shapes
        self._compiled: OrderedDict = OrderedDict()
        self.version = ov.get_version()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        compiled = self._compiled.get(x.shape)
        if compiled is None:
            model = self.core.read_model(str(self.model_path))
            model.reshape(list(x.shape))          # static shapes run faster than the dynamic model
            compiled = self.core.compile_model(model, "CPU", self.config)
            hint = compiled.get_property("INFERENCE_PRECISION_HINT")
            self.precision = hint.to_string() if hasattr(hint, "to_string") else str(hint)
            self._compiled[x.shape] = compiled
            if len(self._compiled) > self.max_shapes:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(x.shape)
        return compiled(x)[0]


class _OnnxRunner:
    def __init__(self, model: Path, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.version = ort.__version__
        self.precision = "f32"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: x})[0]


class ExportedPose:
    """YOLO pose exported to ``fmt`` ("openvino" or "onnx"), run on the CPU.

    ``threads`` defaults to :func:`default_threads` (in a Ray actor: its CPU
    share). ``precision`` (OpenVINO): ``auto`` lets OpenVINO choose (bf16 on
    CPUs with AMX or AVX512-BF16, else f32), or ``f32``/``bf16``; ``info()``
    reports the precision in effect once a shape is compiled.
    """

    def __init__(self, weights: str, fmt: str, cache_dir: str | Path, imgsz: int = 640,
                 det_conf: float = 0.25, iou: float = 0.7, threads: int | None = None,
                 precision: str = "f32"):
        self.fmt = fmt
        self.weights = weights
        self.imgsz = imgsz
        self.det_conf = det_conf
        self.iou = iou
        self.threads = threads or default_threads()
        self.model_file = ensure_export(weights, imgsz, fmt, cache_dir)
        meta = self._metadata()
        self.stride = int(meta.get("stride", 32) or 32)
        self.kpt_shape = tuple(meta.get("kpt_shape") or (17, 3))
        self.nc = len(meta.get("names") or {0: "person"})
        self.run = (_OpenVINORunner(self.model_file, self.threads, precision) if fmt == "openvino"
                    else _OnnxRunner(self.model_file, self.threads))

    def _metadata(self) -> dict:
        if self.fmt == "openvino":
            from ultralytics.utils import YAML

            path = self.model_file.parent / "metadata.yaml"
            return YAML.load(path) if path.is_file() else {}
        import ast

        import onnx

        props = {p.key: p.value for p in onnx.load(str(self.model_file), load_external_data=False).metadata_props}
        out = {}
        for key in ("stride", "kpt_shape", "names"):
            if key in props:
                out[key] = ast.literal_eval(props[key])
        return out

    def info(self) -> dict:
        return {"backend": self.fmt, "weights": Path(self.weights).name, "model": self.model_file.name,
                "device": "cpu", "imgsz": self.imgsz, "threads": self.threads, "precision": self.run.precision,
                "runtime": self.run.version}

    def raw(self, frames: list[np.ndarray]) -> list[tuple]:
        """``(boxes (n,5), keypoints (n,17,3))`` or ``(None, None)`` per frame, in the frames' pixels."""
        import torch
        from ultralytics.data.augment import LetterBox
        from ultralytics.utils import nms, ops

        groups: dict[tuple, list[int]] = {}
        for i, f in enumerate(frames):
            groups.setdefault(f.shape, []).append(i)
        out: list[tuple] = [(None, None)] * len(frames)
        letterbox = LetterBox((self.imgsz, self.imgsz), auto=True, stride=self.stride)
        for idx in groups.values():
            boxed = np.stack([letterbox(image=frames[i]) for i in idx])
            x = np.ascontiguousarray(boxed[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
            preds = torch.from_numpy(self.run(x))
            dets = nms.non_max_suppression(preds, self.det_conf, self.iou, max_det=300, nc=self.nc)
            for i, d in zip(idx, dets):
                if d is None or len(d) == 0:
                    continue
                shape = frames[i].shape
                boxes = ops.scale_boxes(x.shape[2:], d[:, :4].clone(), shape).numpy()
                kp = ops.scale_coords(x.shape[2:], d[:, 6:].reshape(len(d), *self.kpt_shape).clone(), shape).numpy()
                if kp.shape[-1] == 2:
                    kp = np.concatenate([kp, np.ones(kp.shape[:2] + (1,), kp.dtype)], axis=-1)
                out[i] = (np.concatenate([boxes, d[:, 4:5].numpy()], axis=1), kp)
        return out

    def infer(self, frames: list[np.ndarray], scale=1.0, offsets: np.ndarray | None = None):
        """Detections in source pixels, as :meth:`tasks.pose.UltralyticsPose.infer`."""
        from tasks.detections import to_source_pixels

        if not frames:
            return []
        return to_source_pixels(self.raw(frames), len(frames), scale, offsets)
