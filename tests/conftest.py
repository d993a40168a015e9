"""Shared fixtures: an isolated data directory per test, real videos from ../shared, real pose."""
from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GAITLAKE_SHARED_DIR", REPO.parent / "shared"))
VIDEOS = SHARED / "videos"
TREADMILL = VIDEOS / "treadmill-side-60fps.mp4"
WALKING = VIDEOS / "walking-multiperson-30fps.mp4"

# Prefect and Ultralytics read their homes at import: give the whole test run its own,
# before anything imports them. Explicitly set variables are respected.
# Once per process: `from tests.conftest import X` imports this file a second time (as
# tests.conftest), which must reuse the home, not nest a new one inside TMPDIR (Ray's paths).
_HOME_ENV = "PYTEST_GAITLAKE_SESSION_HOME"
if os.environ.get(_HOME_ENV) and Path(os.environ[_HOME_ENV]).is_dir():
    _SESSION_HOME = Path(os.environ[_HOME_ENV])
else:
    _SESSION_HOME = Path(tempfile.mkdtemp(prefix="gaitlake-tests-"))
    os.environ[_HOME_ENV] = str(_SESSION_HOME)
# Everything a test run puts in the system temp directory goes under the session home
# instead, and the home is removed when the run ends (KEEP_GAITLAKE_TEST_TMP=1 keeps it):
# pytest's tmp_path, tempfile.mkdtemp (gaitlake-schemathesis-*, gaitlake-weed-*), and,
# through TMPDIR, child processes: SeaweedFS's sockets and weed.*.log files, Ray's
# session directory, Prefect's server. The name stays short: Ray's socket paths must fit
# in 107 bytes.
_SESSION_TMP = _SESSION_HOME / "t"
_SESSION_TMP.mkdir(exist_ok=True)
tempfile.tempdir = str(_SESSION_TMP)
os.environ["TMPDIR"] = str(_SESSION_TMP)
# No test writes to the user's real data directory (the embedded default): tests that
# need one use the `settings` fixture or set GAITLAKE_DATA_DIR themselves.
os.environ.setdefault("GAITLAKE_DATA_DIR", str(_SESSION_HOME / "data"))
os.environ.setdefault("PREFECT_HOME", str(_SESSION_HOME / "prefect"))
os.environ.setdefault("PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "true")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("YOLO_CONFIG_DIR", str(_SESSION_HOME / "ultralytics"))
# Exported pose models (pose.backend openvino/auto on the CPU): exported once per run, not per test.
os.environ.setdefault("GAITLAKE_POSE__EXPORT_DIR", str(_SESSION_HOME / "exports"))
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
# Two actors keep CI's two cores busy. Half a logical CPU each lets the shared
# session pool and a flow's own pool be scheduled side by side on a 2-CPU Ray.
os.environ.setdefault("GAITLAKE_RAY__NUM_ACTORS", "2")
os.environ.setdefault("GAITLAKE_RAY__NUM_CPUS_PER_ACTOR", "0.5")
# The test run is an entry point like the CLI and the worker: it applies the rest of what they
# apply before Prefect starts (the ephemeral server's start-up timeout among it); importing a
# flow module applies nothing.
from configs import get_settings  # noqa: E402
from flows.runtime import prepare_environment  # noqa: E402

prepare_environment(get_settings())
get_settings.cache_clear()


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is missing: the shared test videos live in ../shared/videos")
    return path


@pytest.fixture
def treadmill_video() -> Path:
    return _require(TREADMILL)


@pytest.fixture
def walking_video() -> Path:
    return _require(WALKING)


@pytest.fixture(scope="session")
def ground_truth() -> dict:
    return json.loads(_require(VIDEOS / "ground-truth.json").read_text())


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings pointing at a fresh data directory (store, catalog) under tmp_path."""
    from configs import get_settings

    monkeypatch.setenv("GAITLAKE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def pose_settings_session(tmp_path_factory):
    from configs import load_settings

    return load_settings(overrides={"data_dir": str(tmp_path_factory.mktemp("pose-data"))})


@pytest.fixture(scope="session")
def pose_pool(pose_settings_session):
    """One Ray actor pool with real YOLO11n-pose weights, shared by the whole run."""
    from tasks.pose import PosePool

    pool = PosePool(pose_settings_session)
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def treadmill_detections(pose_pool):
    """Every detection in every frame of the shared treadmill video (real pose, once per run)."""
    from tasks.detect import detect_video

    return detect_video(pose_pool, str(_require(TREADMILL)), chunk_frames=64)


@pytest.fixture(scope="session")
def treadmill_keypoints(treadmill_detections):
    """``(keypoints (T,17,3), fps)`` of the tracked runner on the full treadmill video."""
    from analysis.tracking import select_runner
    from tasks.video import probe_video

    boxes, keypoints = treadmill_detections.per_frame()
    track = select_runner(boxes, keypoints)
    return track.keypoints.astype(float), probe_video(TREADMILL).fps


def pytest_sessionfinish(session, exitstatus):
    try:
        import ray

        if ray.is_initialized():
            ray.shutdown()
    except ImportError:
        pass


@atexit.register  # registered first, so it runs last: after Prefect's and Ray's own exit hooks
def _remove_session_home() -> None:
    if os.environ.get("KEEP_GAITLAKE_TEST_TMP") != "1":
        shutil.rmtree(_SESSION_HOME, ignore_errors=True)
