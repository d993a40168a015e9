"""`gaitlake serve`'s worker supervisor: a killed worker is restarted; stop leaves nothing running."""
from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

pytestmark = pytest.mark.slow


def _wait(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def test_a_killed_worker_is_restarted_and_stop_reaps_it(tmp_path):
    from configs import load_settings
    from flows.worker import WorkerSupervisor

    settings = load_settings(overrides={"data_dir": str(tmp_path / "data")})
    supervisor = WorkerSupervisor(settings).start()
    try:
        log = supervisor.log_path
        assert _wait(lambda: log.exists() and "processing the queue" in log.read_text()), "worker never started"
        first = supervisor.process.pid
        os.kill(first, signal.SIGKILL)
        assert _wait(lambda: supervisor.process.pid != first), "the supervisor did not restart the worker"
        assert supervisor.restarts == 1
        second = supervisor.process
        assert _wait(lambda: log.read_text().count("processing the queue") >= 2)
    finally:
        supervisor.stop()
    assert second.returncode == 0, "stopped by SIGTERM: a clean exit"
    assert not psutil.pid_exists(second.pid) or psutil.Process(second.pid).status() == psutil.STATUS_ZOMBIE
