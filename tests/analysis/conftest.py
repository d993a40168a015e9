"""Fixtures of the analysis tests.

``tests/analysis/data/*.detections.npz`` are every person YOLO11n-pose found
in every frame of the two shared videos (``tasks.detect.Detections`` bytes,
produced once by the pipeline's own detector: ``python -m
tests.analysis.make_fixtures``). With them the runner selection and the gait
engine run on real pose output in CI without running the model; the ``slow``
ground-truth test still runs the real pose stage (``treadmill_keypoints`` in
tests/conftest.py). ``$GAITLAKE_DEV_KEYPOINTS`` may point at a developer's own
``{keypoints, fps}`` npz instead.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.analysis.commentary_fixtures import treadmill_docs, treadmill_facts  # noqa: F401  (fixtures)

DATA = Path(__file__).resolve().parent / "data"
TREADMILL_DETECTIONS = DATA / "treadmill-side-60fps.detections.npz"
WALKING_DETECTIONS = DATA / "walking-multiperson-30fps.detections.npz"
TREADMILL_FPS = 60.0
WALKING_FPS = 30.0


def load_detections(path: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-frame boxes ``(n_i, 5)`` and keypoints ``(n_i, 17, 3)`` of a stored detections file."""
    from tasks.detect import Detections

    return Detections.from_bytes(path.read_bytes()).per_frame()


@pytest.fixture(scope="session")
def treadmill_stored_detections() -> tuple[list[np.ndarray], list[np.ndarray]]:
    return load_detections(TREADMILL_DETECTIONS)


@pytest.fixture(scope="session")
def walking_stored_detections() -> tuple[list[np.ndarray], list[np.ndarray]]:
    return load_detections(WALKING_DETECTIONS)


@pytest.fixture(scope="session")
def treadmill_keypoints_dev(treadmill_stored_detections) -> tuple[np.ndarray, float]:
    """``(keypoints (T,17,3), fps)`` of the tracked runner on the stored treadmill detections."""
    env = os.environ.get("GAITLAKE_DEV_KEYPOINTS")
    if env:
        d = np.load(env)
        return d["keypoints"].astype(float), float(d["fps"])
    from analysis.tracking import select_runner

    track = select_runner(*treadmill_stored_detections)
    return track.keypoints.astype(float), TREADMILL_FPS
