"""Fixtures of the analysis tests.

``treadmill_keypoints_dev`` loads keypoints that a developer generated with
YOLO from the shared treadmill video (``/tmp/gaitlake-dev/treadmill_keypoints.npz``
or ``$GAITLAKE_DEV_KEYPOINTS``); the ground-truth test itself uses the
project-wide ``treadmill_keypoints`` fixture (tests/conftest.py), which runs
the real pose stage.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

DEV_NPZ = Path(os.environ.get("GAITLAKE_DEV_KEYPOINTS", "/tmp/gaitlake-dev/treadmill_keypoints.npz"))


@pytest.fixture(scope="session")
def treadmill_keypoints_dev() -> tuple[np.ndarray, float]:
    if not DEV_NPZ.exists():
        pytest.skip(f"{DEV_NPZ} not found")
    d = np.load(DEV_NPZ)
    return d["keypoints"].astype(float), float(d["fps"])
