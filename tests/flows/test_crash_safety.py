"""Crash safety with real signals on real processes (issue 10).

Each test runs `gaitlake process` / `gaitlake worker` as a subprocess on a
3-second cut of the treadmill clip (imgsz 320, no rendering), sends a real
SIGKILL / SIGTERM / SIGINT at a known stage, and asserts the end state: one
``done`` session with exactly one copy of its rows, or a ``failed`` row with a
reason; no process of the killed command left running. Waits are on states
(catalog rows, output lines), with generous ceilings for a loaded machine.
Every process here pays a cold start (Prefect, Ray, the model), so the three
interruptions that a next worker must repair share one data dir and one
recovering worker.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from storage.catalog import Catalog, SessionStatus
from tests.video_support import reformat

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CLIP_FRAMES = 180
STATE_TIMEOUT_S = 420  # a cold start (Prefect, Ray, model) on a loaded 2-core machine


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory, treadmill_video_path) -> Path:
    """The first 3 s of the treadmill clip, downscaled to 540x960 (H.264)."""
    import av

    out = tmp_path_factory.mktemp("clip") / "short.mp4"
    with av.open(str(treadmill_video_path)) as src, av.open(str(out), "w") as dst:
        stream_in = src.streams.video[0]
        stream = dst.add_stream("libx264", rate=stream_in.average_rate)
        stream.width, stream.height, stream.pix_fmt = 540, 960, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        for i, frame in enumerate(src.decode(stream_in)):
            if i >= CLIP_FRAMES:
                break
            for packet in stream.encode(reformat(frame, width=540, height=960, format="yuv420p")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return out


@pytest.fixture(scope="module")
def treadmill_video_path() -> Path:
    shared = Path(os.environ.get("GAITLAKE_SHARED_DIR", REPO.parent / "shared"))
    TREADMILL = shared / "videos" / "treadmill-side-60fps.mp4"
    if not TREADMILL.exists():
        pytest.skip(f"{TREADMILL} is missing: the shared test videos live in ../shared/videos")
    return TREADMILL


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return dict(os.environ, GAITLAKE_DATA_DIR=str(tmp_path / "data"), GAITLAKE_POSE__IMGSZ="320",
                GAITLAKE_RENDER__ENABLED="false", PYTHONUNBUFFERED="1",
                GAITLAKE_PROCESSING__SHUTDOWN_GRACE_S="3")


def _catalog(env) -> Catalog:
    from configs import load_settings

    return Catalog.from_settings(load_settings(environ=env))


def _lake_rows(env, session_id: str) -> dict[str, int]:
    from configs import load_settings
    from storage.lake import Lake
    from storage.objectstore import ObjectStore

    lake = Lake(ObjectStore.from_settings(load_settings(environ=env)))
    return {t: lake.query(f"select count(*) as n from {t} where session_id = ?", [session_id]).column("n")[0].as_py()
            for t in ("sessions", "frames")}


def _start(args: list[str], env, log: Path, **kw) -> subprocess.Popen:
    handle = log.open("wb")
    return subprocess.Popen([sys.executable, "-m", "gaitlake.cli", *args], cwd=REPO, env=env, stdout=handle,
                            stderr=subprocess.STDOUT, start_new_session=True, **kw)


def _wait(predicate, timeout: float, what: str, process: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited ({process.returncode}) before {what}:\n"
                                 f"{log.read_text()[-3000:] if log else ''}")
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:] if log else ''}")


def _in_pose(log: Path):
    """The pose stage has started (tqdm's bar is printed once the actors are up)."""
    return lambda: "pose:" in log.read_text(errors="replace")


def _only_session(catalog: Catalog):
    rows = catalog.sessions_by_status()
    return rows[0] if len(rows) == 1 else None


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _reap(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Kill what is still alive of ``processes`` (test cleanup); return those that were alive."""
    alive = [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    return alive


def _left_running(processes: list[psutil.Process], timeout: float = 30.0) -> list[psutil.Process]:
    """Wait (on state) for ``processes`` to be gone; kill and return what is still running then."""
    def running():
        out = []
        for p in processes:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    out.append(p)
            except psutil.Error:
                pass
        return out

    deadline = time.monotonic() + timeout
    while running() and time.monotonic() < deadline:
        time.sleep(0.25)
    return _reap(running())


def _run_worker_until_done(env, tmp_path, session_ids: list[str]) -> float:
    """Start one worker; wait until every session is done; let it exit idle. Returns seconds to the last ``done``."""
    log = tmp_path / "worker.log"
    started = time.monotonic()
    worker = _start(["worker", "--idle-exit-s", "2"], env, log)
    catalog = _catalog(env)
    try:
        _wait(lambda: all(catalog.get_session(s).status == SessionStatus.DONE for s in session_ids),
              STATE_TIMEOUT_S, "the next worker to finish every session", worker, log)
        elapsed = time.monotonic() - started
        assert worker.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    assert not _left_running(_descendants(worker.pid))
    return elapsed


def _new_session(catalog: Catalog, known: set[str]):
    """The one session not in ``known`` (the one the command under test created)."""
    rows = [r for r in catalog.sessions_by_status() if r.id not in known]
    assert len(rows) == 1, [(r.id, r.status) for r in rows]
    return rows[0]


_KILLED_AFTER_PUBLISH = """
import os, signal, sys
from storage.catalog import Catalog, SessionStatus
original = Catalog.finish
def finish(self, session_id, owner, *, status, **kw):
    if status == SessionStatus.DONE:
        os.kill(os.getpid(), signal.SIGKILL)  # published, not yet marked done
    return original(self, session_id, owner, status=status, **kw)
Catalog.finish = finish
from gaitlake.cli import main
sys.exit(main(["process", sys.argv[1], "--force"]))  # the same clip again: a new session
"""


def test_interrupted_sessions_are_all_finished_by_the_next_worker(short_clip, env, tmp_path):
    """Three interruptions in one data dir, then one new worker finishes all three sessions.

    1. A worker stopped by SIGTERM during pose exits 0 within 10 s, leaves no child running and
       requeues its session without counting the attempt (a stop is not the session's fault).
    2. ``gaitlake process`` SIGKILLed during pose leaves its session claimed by a dead owner.
    3. ``gaitlake process`` SIGKILLed between publishing and ``done`` leaves it published, still claimed.

    The next worker (one cold start for the three, where separate tests paid three) requeues the dead
    owner's session at once (no lease wait), marks the published one ``done`` without processing it
    again, processes the other two, and the lake holds exactly one copy of each one's rows.
    """
    from configs import load_settings
    from flows.intake import create_session_from_path
    from storage.objectstore import ObjectStore

    catalog = _catalog(env)
    # 1. worker SIGTERM during pose -> requeued, attempt refunded
    settings = load_settings(environ=env)
    stopped = create_session_from_path(ObjectStore.from_settings(settings), Catalog.from_settings(settings),
                                       short_clip, title="queued clip").id
    log = tmp_path / "worker1.log"
    worker = _start(["worker"], env, log)
    try:
        _wait(_in_pose(log), STATE_TIMEOUT_S, "pose to start in the worker", worker, log)
        children = _descendants(worker.pid)
        sent = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        assert time.monotonic() - sent < 10
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    assert not _left_running(children)
    assert "requeued" in log.read_text()
    row = catalog.get_session(stopped)
    assert row.status == SessionStatus.QUEUED and row.attempts == 0, "a stop is not the session's fault"

    # 2. `gaitlake process` SIGKILLed during pose -> still claimed by the dead process
    log = tmp_path / "process-killed-in-pose.log"
    # --force: the clip's earlier session is queued, and a second one is what this step interrupts
    proc = _start(["process", str(short_clip), "--height-cm", "175", "--force"], env, log)
    try:
        _wait(_in_pose(log), STATE_TIMEOUT_S, "pose to start", proc, log)
        children = _descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    _reap(children)  # SIGKILL gives no chance to stop the ephemeral Prefect server: the test does
    in_pose = _new_session(catalog, {stopped})
    assert in_pose.status == SessionStatus.PROCESSING, "killed mid-pose: still claimed by the dead process"
    assert _lake_rows(env, in_pose.id) == {"sessions": 0, "frames": 0}
    in_pose = in_pose.id
    killed_at = time.monotonic()

    # 3. `gaitlake process` SIGKILLed right after publishing -> published, still claimed
    log = tmp_path / "process-killed-after-publish.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", _KILLED_AFTER_PUBLISH, str(short_clip)], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(_in_pose(log), STATE_TIMEOUT_S, "pose to start", proc, log)
        children = _descendants(proc.pid)
        assert proc.wait(timeout=STATE_TIMEOUT_S) == -signal.SIGKILL, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    _reap(children + _descendants(proc.pid))
    published = _new_session(catalog, {stopped, in_pose})
    assert published.status == SessionStatus.PROCESSING
    published = published.id
    assert _lake_rows(env, published) == {"sessions": 1, "frames": CLIP_FRAMES}, "published before the kill"

    # The next worker finishes all three.
    worker_s = _run_worker_until_done(env, tmp_path, [stopped, in_pose, published])
    recovered_s = time.monotonic() - killed_at
    rows = {s: catalog.get_session(s) for s in (stopped, in_pose, published)}
    assert rows[stopped].attempts == 1, "claimed once more, by the next worker"
    assert rows[in_pose].attempts == 2, "the killed claim counts, and the next worker's"
    assert rows[published].attempts == 1, "reconciled from the lake, not processed again"
    assert all(r.lease_owner is None for r in rows.values())
    for s in rows:
        assert _lake_rows(env, s) == {"sessions": 1, "frames": CLIP_FRAMES}, s   # exactly one copy
    print(f"SIGKILL mid-pose -> done by the next worker in {recovered_s:.1f} s; that worker took {worker_s:.1f} s "
          f"for the three sessions")


@pytest.mark.parametrize("signum, code, words", [(signal.SIGTERM, 143, "SIGTERM"),
                                                  (signal.SIGINT, 130, "Ctrl-C")])
def test_sigterm_and_ctrl_c_exit_promptly_fail_the_session_and_leave_nothing_running(
        short_clip, env, tmp_path, signum, code, words):
    log = tmp_path / "process.log"
    proc = _start(["process", str(short_clip)], env, log)
    catalog = _catalog(env)
    try:
        _wait(_in_pose(log), STATE_TIMEOUT_S, "pose to start", proc, log)
        children = _descendants(proc.pid)
        assert children, "Prefect and Ray run as child processes"
        sent = time.monotonic()
        # Ctrl-C reaches the whole foreground process group, children included, as in a terminal.
        os.killpg(proc.pid, signum) if signum == signal.SIGINT else os.kill(proc.pid, signum)
        assert proc.wait(timeout=30) == code
        exit_s = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    left = _left_running(children)
    assert not left, f"left running: {[p.pid for p in left]}"
    assert exit_s < 10, f"took {exit_s:.1f} s to exit"
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    last = [line for line in text.splitlines() if line.startswith("gaitlake:")][-1]  # a line of its own
    assert words in last and "failed" in last, last
    row = _only_session(catalog)
    assert row.status == SessionStatus.FAILED and "interrupted" in row.error
    assert _lake_rows(env, row.id) == {"sessions": 0, "frames": 0}
    print(f"{words}: exit in {exit_s:.1f} s")


def test_orchestration_that_cannot_start_fails_the_session_with_a_reason(short_clip, env, tmp_path):
    log = tmp_path / "process.log"
    unreachable = dict(env, PREFECT_API_URL="http://127.0.0.1:9/api")
    proc = _start(["process", str(short_clip)], unreachable, log)
    assert proc.wait(timeout=STATE_TIMEOUT_S) == 1, log.read_text()[-3000:]
    row = _only_session(_catalog(env))
    assert row.status == SessionStatus.FAILED and "Prefect" in row.error, row.error
    assert row.error.count("\n") == 0
    assert "Traceback" not in log.read_text(errors="replace")
