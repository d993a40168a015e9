"""`gaitlake serve` end to end on the embedded default, as a user runs it (issue 10).

One real server process (uvicorn + the warm queue worker it supervises) on a
private data dir and a free loopback port; users and keys made with the CLI;
uploads over HTTP. Waits are on session states with generous ceilings (a cold
worker start on a loaded 2-core machine), never on tuned wall clocks.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from api_support import assert_matches

from tasks.video import remux_first_seconds

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TREADMILL = Path(os.environ.get("GAITLAKE_SHARED_DIR", REPO.parent / "shared")) / "videos" / "treadmill-side-60fps.mp4"
SECONDS = 3.0
READY_TIMEOUT_S = 180
SESSION_TIMEOUT_S = 1200  # eight sessions one after another on a loaded machine, cold start included


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TreeMemory:
    """Peak RSS of a process and all its descendants, sampled on a thread."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.5):
            try:
                root = psutil.Process(self.pid)
                procs = [root] + root.children(recursive=True)
            except psutil.Error:
                continue
            total = 0
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.peak


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not TREADMILL.exists():
        pytest.skip(f"{TREADMILL} is missing: the shared test videos live in ../shared/videos")
    root = tmp_path_factory.mktemp("serve")
    port = _free_port()
    env = dict(os.environ, GAITLAKE_DATA_DIR=str(root / "data"), GAITLAKE_API__PORT=str(port),
               GAITLAKE_POSE__IMGSZ="320", GAITLAKE_RENDER__ENABLED="false", PYTHONUNBUFFERED="1")

    def cli(*argv: str) -> str:
        done = subprocess.run([sys.executable, "-m", "gaitlake.cli", *argv], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    cli("users", "add", "coach@example.org", "--role", "admin", "--plan", "pro", "--name", "Coach")
    runner = cli("users", "add", "runner@example.org", "--admin", "coach@example.org", "--name", "Runner",
                 "--height-cm", "178", "--weight-kg", "70").splitlines()[-1].strip()
    key = cli("keys", "create", "coach@example.org").splitlines()[-1].strip()
    log = root / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gaitlake.cli", "serve"], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the server did not answer /healthz"
        time.sleep(0.5)
    memory = TreeMemory(proc.pid)
    clip = remux_first_seconds(TREADMILL, root / "treadmill-first.mp4", SECONDS)
    yield {"base": base, "headers": {"Authorization": f"API-KEY {key}"}, "runner": runner, "clip": clip,
           "proc": proc, "memory": memory, "env": env, "log": log}
    memory.stop()
    descendants = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
    proc.send_signal(signal.SIGTERM)  # uvicorn stops, then the supervisor stops the worker
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    def running():
        alive = []
        for p in descendants:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.Error:
                pass
        return alive

    deadline = time.monotonic() + 30  # the worker's reaper stops Prefect and Ray right after it exits
    while running() and time.monotonic() < deadline:
        time.sleep(0.25)
    left = running()
    for p in left:
        p.kill()
    assert not left, f"gaitlake serve left processes running: {[p.pid for p in left]}"


def _upload(server, title: str) -> str:
    with server["clip"].open("rb") as handle:
        r = httpx.post(f"{server['base']}/running/sessions/", headers=server["headers"], timeout=120,
                       files={"video": (server["clip"].name, handle, "video/mp4")},
                       data={"user_id": server["runner"], "session_name": title, "incline_degree": "1",
                             "body_joint_angles": "all"})
    assert r.status_code == 200, r.text
    assert_matches(r.json(), "/running/sessions/", "post", 200)
    return r.json()["session_id"]


def _wait_all(server, ids: list[str], on_poll=None) -> dict[str, httpx.Response]:
    deadline = time.monotonic() + SESSION_TIMEOUT_S
    pending, done = set(ids), {}
    with httpx.Client(timeout=60) as client:
        while pending:
            for sid in sorted(pending):
                r = client.get(f"{server['base']}/running/sessions/{sid}/", headers=server["headers"])
                if r.status_code == 409:
                    assert r.json()["status"] in ("queued", "processing"), r.json()
                    continue
                done[sid] = r
                pending.discard(sid)
            if on_poll:
                on_poll()
            assert server["proc"].poll() is None, server["log"].read_text()[-3000:]
            assert time.monotonic() < deadline, f"{len(pending)} sessions not finished: {sorted(pending)}"
            time.sleep(1)
    return done


def test_upload_process_and_read_every_operation(server):
    sid = _upload(server, "E2E treadmill")
    details = _wait_all(server, [sid])[sid]
    assert details.status_code == 200, details.text
    body = details.json()
    headers, base = server["headers"], f"{server['base']}/running/sessions/{sid}"
    assert_matches(body, "/running/sessions/{session_id}/", "get")
    assert body["title"] == "E2E treadmill" and body["activity"] == "Running"
    assert httpx.get(body["video_url"], timeout=60).status_code == 200
    assert len(body["all_timestamps"]) > 100

    summary = httpx.get(f"{base}/summary/", headers=headers, timeout=60)
    assert summary.status_code == 200, summary.text
    assert_matches(summary.json(), "/running/sessions/{session_id}/summary/", "get")
    cadence = summary.json()["performance_metrics"]["cadence"]["avg"]
    assert cadence is None or 120 < cadence < 220
    export = httpx.get(f"{base}/export/", headers=headers, timeout=60)
    assert export.status_code == 200, export.text
    assert_matches(export.json(), "/running/sessions/{session_id}/export/", "get")
    assert "lknev" in export.json()["keypoints"]
    for path in ("form-analysis", "gait-analysis"):
        r = httpx.post(f"{base}/{path}/", headers=headers, timeout=60)
        assert r.status_code == 200, r.text
        assert_matches(r.json(), f"/running/sessions/{{session_id}}/{path}/", "post")
    for path in ("summary", "form-recommendations", "recommendation"):
        r = httpx.post(f"{base}/{path}/", headers=headers, timeout=60)
        assert r.status_code == 201, r.text
        assert_matches(r.json(), f"/running/sessions/{{session_id}}/{path}/", "post", 201)
    total = httpx.get(f"{server['base']}/running/sessions/metrics/total/", headers=headers, timeout=60)
    assert total.status_code == 200, total.text
    assert_matches(total.json(), "/running/sessions/metrics/total/", "get")


def test_eight_concurrent_uploads_all_finish_through_one_bounded_worker(server):
    from configs import load_settings
    from storage.catalog import Catalog, SessionStatus

    settings = load_settings(environ=server["env"])
    catalog = Catalog.from_settings(settings)
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: _upload(server, f"concurrent {i}"), range(8)))
    at_once = [0]

    def sample():
        running = sum(1 for r in catalog.sessions_by_status((SessionStatus.PROCESSING,)) if r.id in ids)
        at_once[0] = max(at_once[0], running)

    results = _wait_all(server, ids, on_poll=sample)
    assert all(r.status_code == 200 for r in results.values()), {s: r.text[:200] for s, r in results.items()}
    assert at_once[0] <= settings.processing.concurrency
    peak_gib = server["memory"].peak / (1 << 30)
    print(f"8 concurrent uploads: all done; at most {at_once[0]} pipeline(s) at once; "
          f"peak RSS of the serve process tree {peak_gib:.2f} GiB")
    assert peak_gib < 8, "one warm worker, not one pipeline per upload"
    worker_pids = {p.pid for p in psutil.Process(server["proc"].pid).children(recursive=True)
                   if p.cmdline()[-2:] == ["gaitlake.cli", "worker"]}
    assert len(worker_pids) == 1
