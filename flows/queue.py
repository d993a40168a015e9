"""Durable processing: claims with renewable leases, the warm queue worker, clean shutdown.

The catalog's sessions table is the queue (see :mod:`storage.catalog`). Whoever
processes a session first *claims* it; a heartbeat thread (:mod:`flows.claims`, shared
with the flow) renews every claim this process holds every ``processing.lease_s / 3``
seconds. When the
process dies its claims lapse and :func:`recover` (run by every worker at start
and every ``processing.reconcile_interval_s``) puts them back in the queue, or
fails them after ``processing.max_attempts``. A processor on this machine whose
PID is gone is known dead at once; elsewhere, when its lease expires.

:class:`QueueWorker` is ``gaitlake worker``'s loop on the embedded default: it
starts Prefect, Ray and the pose actors once (the first session pays for them)
and then claims queued sessions, at most ``processing.concurrency`` at a time.

:func:`install_shutdown` turns Ctrl-C and SIGTERM into a bounded exit: claims
given back (worker) or failed (one-shot), one line printed, exit within seconds,
child processes (the ephemeral Prefect server, the local Ray) stopped right after.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from configs import Settings
from flows.claims import Heartbeat, LeaseLost, describe_failure, heartbeat, new_owner_id, owner_is_dead
from storage.catalog import Catalog, Claim, RunningSession, SessionStatus, lease_lapsed, utcnow

if TYPE_CHECKING:  # annotations only: the queue's commands need neither fsspec nor Prefect to start
    from flows.process import SessionOutcome
    from storage.objectstore import ObjectStore

log = logging.getLogger("gaitlake.queue")

__all__ = ["ClaimedSession", "Heartbeat", "LeaseLost", "QueueWorker", "create_claimed_session", "describe_failure",
           "heartbeat", "install_shutdown", "new_owner_id", "owner_is_dead", "recover", "run_claimed", "run_one_shot"]


# -- recovery -------------------------------------------------------------------------
def recover(settings: Settings, catalog: Catalog | None = None) -> dict[str, str]:
    """Requeue or fail sessions nobody holds any more; mark ``done`` those whose results were published.

    A lapsed ``processing`` session whose lake already serves the configured
    pipeline_version was published right before its processor died: it is
    ``done``, not reprocessed. Returns ``{session_id: new status}``.
    """
    from storage.lake import Lake
    from storage.objectstore import ObjectStore

    catalog = catalog or Catalog.from_settings(settings)
    lake = Lake(ObjectStore.from_settings(settings))
    outcome: dict[str, str] = {}
    now = utcnow()
    for row in catalog.processing_sessions():
        if lease_lapsed(row, now, owner_is_dead) and lake.serves_intact(row.id, settings.pipeline_version):
            if catalog.finish(row.id, row.lease_owner, status=SessionStatus.DONE,
                              pipeline_version=settings.pipeline_version):
                outcome[row.id] = str(SessionStatus.DONE)
    outcome.update(catalog.recover_lapsed(settings.processing.max_attempts, owner_is_dead))
    for session_id, status in outcome.items():
        log.warning("session %s: recovered from a stopped processor -> %s", session_id, status)
    return outcome


# -- creating a session already claimed -----------------------------------------------
@dataclass(frozen=True)
class ClaimedSession:
    """A session this process created and holds the claim on: its catalog row and the claim's owner."""

    row: RunningSession
    owner: str


def create_claimed_session(settings: Settings, store: ObjectStore, catalog: Catalog, path: Path,
                           role: str = "process", **fields: Any) -> ClaimedSession:
    """A local video as a new session already claimed by this process (``gaitlake process``).

    The video is stored and the row inserted ``processing`` under a fresh owner and a lease of
    ``processing.lease_s`` (:class:`storage.catalog.Claim`), so no worker can take it between the
    insert and :func:`run_one_shot`; ``fields`` are the session's (title, profile, options).
    Raises ``flows.intake.IntakeError``.
    """
    from flows.intake import create_session_from_path

    claim = Claim(new_owner_id(role), settings.processing.lease_s)
    return ClaimedSession(create_session_from_path(store, catalog, path, claim=claim, **fields), claim.owner)


# -- running one claimed session ------------------------------------------------------
def run_claimed(settings: Settings, session_id: str, owner: str, *, max_frames: int | None = None,
                force: bool = False, requeue_errors: bool = True) -> SessionOutcome:
    """Run the process-session flow for a session this process has claimed.

    The flow finishes the claim itself (``done`` / ``failed``). If the flow never
    got to (the orchestration did not start, an internal error), the claim is
    finished here: requeued while attempts remain (``requeue_errors``), else failed
    with one sentence. Never leaves the row ``processing`` without an owner.
    """
    catalog = Catalog.from_settings(settings)
    beat = heartbeat(catalog, settings.processing.lease_s)
    beat.hold(session_id, owner)
    started = time.perf_counter()
    try:
        from flows.process import EXPECTED_FAILURES, process_session

        outcome = process_session(session_id, max_frames=max_frames, force=force, claimed_by=owner)
        record_outcome(settings, session_id=session_id, status="done", owner=owner,
                       wall_s=round(time.perf_counter() - started, 3), timings=outcome.timings)
        return outcome
    except LeaseLost:
        raise
    except EXPECTED_FAILURES:
        catalog.finish(session_id, owner, status=SessionStatus.FAILED, error=_fallback_reason(catalog, session_id))
        raise
    except BaseException as exc:
        reason = describe_failure(exc)
        if requeue_errors and not isinstance(exc, KeyboardInterrupt):
            catalog.release(session_id, owner, reason, settings.processing.max_attempts)
        else:
            catalog.finish(session_id, owner, status=SessionStatus.FAILED, error=reason)
        raise
    finally:
        beat.drop(session_id)


def record_outcome(settings: Settings, **fields: Any) -> None:
    """One JSON line per processed session in ``<data_dir>/logs/sessions.jsonl``: owner, wall time and
    stage timings, for operators and ``python -m benchmarks worker``."""
    fields["at"] = time.time()
    path = settings.data_path / "logs" / "sessions.jsonl"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(json.dumps(fields, default=str) + "\n")
    except OSError:
        log.warning("could not append to %s", path)


def _fallback_reason(catalog: Catalog, session_id: str) -> str:
    row = catalog.get_session(session_id)
    return (row.error if row is not None and row.error else "processing failed")


# -- the warm worker ------------------------------------------------------------------
class QueueWorker:
    """Claims queued sessions and processes them in this (warm) process.

    ``older_than_s`` > 0 makes it a safety net only (at scale the API triggers a
    deployment run per upload; the worker takes what nobody claimed in time).
    """

    def __init__(self, settings: Settings, older_than_s: float = 0.0, log_stream=None):
        self.settings = settings
        self.catalog = Catalog.from_settings(settings)
        self.owner = new_owner_id("worker")
        self.older_than_s = older_than_s
        self.concurrency = settings.processing.concurrency
        self.stopping = threading.Event()
        self.running: dict[str, Future] = {}
        self.executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="gaitlake-session")
        from flows.process import keep_pose_pool_warm

        keep_pose_pool_warm(True)  # the point of a long-lived worker: the model stays loaded
        self.log_stream = log_stream or sys.stderr

    def _process(self, session_id: str, claimed_at: float) -> None:
        try:
            run_claimed(self.settings, session_id, self.owner)
            print(f"gaitlake worker: session {session_id}: done in {time.time() - claimed_at:.1f} s",
                  file=self.log_stream, flush=True)
        except LeaseLost as exc:
            print(f"gaitlake worker: {exc}", file=self.log_stream, flush=True)
        except BaseException as exc:  # noqa: BLE001 - recorded on the row by run_claimed
            row = self.catalog.get_session(session_id)
            status = row.status if row else "?"
            print(f"gaitlake worker: session {session_id}: {status}: {row.error if row else exc}",
                  file=self.log_stream, flush=True)
            record_outcome(self.settings, session_id=session_id, status=str(status), owner=self.owner,
                           wall_s=round(time.time() - claimed_at, 3), error=row.error if row else str(exc))

    def _claim(self) -> str | None:
        if self.older_than_s <= 0:
            return self.catalog.claim_next(self.owner, self.settings.processing.lease_s)
        return self.catalog.claim_next(self.owner, self.settings.processing.lease_s,
                                       older_than_s=self.older_than_s)

    def run(self, max_sessions: int | None = None, idle_exit_s: float | None = None,
            handlers: "ShutdownHandlers | None" = None) -> int:
        """Loop until stopped (or ``max_sessions`` processed / idle for ``idle_exit_s``); returns sessions taken."""
        processing = self.settings.processing
        recover(self.settings, self.catalog)
        last_recover = time.monotonic()
        taken, idle_since = 0, time.monotonic()
        while not self.stopping.is_set():
            for sid, future in list(self.running.items()):
                if future.done():
                    del self.running[sid]
            if time.monotonic() - last_recover >= processing.reconcile_interval_s:
                recover(self.settings, self.catalog)
                last_recover = time.monotonic()
            claimed = None
            if len(self.running) < self.concurrency and (max_sessions is None or taken < max_sessions):
                claimed = self._claim()
            if claimed is not None:
                heartbeat(self.catalog, processing.lease_s).hold(claimed, self.owner)
                self.running[claimed] = self.executor.submit(self._process, claimed, time.time())
                taken += 1
                idle_since = time.monotonic()
                print(f"gaitlake worker: session {claimed}: processing ({len(self.running)} running)",
                      file=self.log_stream, flush=True)
                continue
            if not self.running:
                if max_sessions is not None and taken >= max_sessions:
                    break
                if idle_exit_s is not None and time.monotonic() - idle_since >= idle_exit_s:
                    break
            else:
                idle_since = time.monotonic()
            self.stopping.wait(processing.poll_interval_s)
            if handlers is not None:
                handlers.reassert()
        self.executor.shutdown(wait=not self.stopping.is_set())
        return taken

    def give_back(self) -> list[str]:
        """Requeue every claim this worker holds (shutdown): the sessions were not at fault."""
        returned = []
        for session_id, owner in heartbeat(self.catalog, self.settings.processing.lease_s).held().items():
            if owner == self.owner and self.catalog.finish(session_id, owner, status=SessionStatus.QUEUED,
                                                           error="requeued: the worker was stopped",
                                                           refund_attempt=True):
                returned.append(session_id)
        return returned


# -- Ctrl-C and SIGTERM -----------------------------------------------------------------
# The end of the reaper and the guardian scripts below: terminate `procs`, kill what lingers after `grace`.
_STOP_PROCS = """
for p in procs:
    try:
        p.terminate()
    except psutil.Error:
        pass
_, alive = psutil.wait_procs(procs, timeout=grace)
for p in alive:
    try:
        p.kill()
    except psutil.Error:
        pass
"""
_REAPER = """
import sys, time, psutil
parent, grace = int(sys.argv[1]), float(sys.argv[2])
procs = []
for spec in sys.argv[3:]:
    pid, created = spec.split("@")
    try:
        p = psutil.Process(int(pid))
        if abs(p.create_time() - float(created)) < 0.01:  # the same process, not a reused pid
            procs.append(p)
    except psutil.Error:
        pass
while psutil.pid_exists(parent) and psutil.Process(parent).status() != psutil.STATUS_ZOMBIE:
    time.sleep(0.05)
"""+_STOP_PROCS


_GUARDIAN = """
import os, sys, time, psutil
parent, grace = psutil.Process(int(sys.argv[1])), float(sys.argv[2])
known = {}
while True:
    try:
        if parent.status() == psutil.STATUS_ZOMBIE:
            break
        for child in parent.children(recursive=True):
            if child.pid != os.getpid():
                known.setdefault(child.pid, child)
    except psutil.NoSuchProcess:
        break
    time.sleep(0.2)
procs = [p for p in known.values() if p.is_running()]  # is_running: the same process, not a reused pid
"""+_STOP_PROCS


def guard_children(grace_s: float) -> int:
    """Have every process this one starts from now on (the ephemeral Prefect server, local Ray)
    stopped when this process dies, however it dies: SIGKILL included, which no handler sees.

    A small guardian in its own session notes this process's descendants every 0.2 s and,
    once this process is gone, terminates them (SIGKILL after ``grace_s``). Ray's own
    processes already share their driver's fate; Prefect's server subprocess does not, and
    was left running (200-240 MB each) by every killed worker or ``gaitlake process``.
    Returns the guardian's pid.
    """
    import subprocess

    guardian = subprocess.Popen([sys.executable, "-c", _GUARDIAN, str(os.getpid()), str(grace_s)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, close_fds=True)
    return guardian.pid


def stop_children_after_exit(grace_s: float) -> int:
    """Have every descendant (ephemeral Prefect server, local Ray) stopped once this process is gone.

    Not before: when Ray's raylet dies under a live driver, Ray's core worker ends
    the process at once (exit 1) -- before the caller's own exit and message. A
    small detached reaper waits for this PID to exit, then terminates what it was
    given (checked by start time, never a reused PID) and kills what lingers.
    """
    import subprocess

    import psutil

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0
    specs = []
    for child in children:
        try:
            specs.append(f"{child.pid}@{child.create_time()}")
        except psutil.Error:
            pass
    if specs:
        subprocess.Popen([sys.executable, "-c", _REAPER, str(os.getpid()), str(grace_s), *specs],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True)
    return len(specs)


SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


def install_shutdown(on_signal: Callable[[str], str], grace_s: float, exit_code: Callable[[int], int] | None = None):
    """On SIGINT/SIGTERM: ``on_signal(name)`` settles the catalog and returns the line to print;
    children are stopped and the process exits at once (no unwinding through Prefect or Ray,
    whose servers got the same Ctrl-C and may already be gone).

    The settling runs on its own thread with a deadline, so a catalog that cannot
    be reached does not hold the exit: the leases then lapse and the next worker
    start recovers the sessions.
    """
    fired = threading.Event()

    def handler(signum, _frame):
        if fired.is_set():
            os._exit(128 + signum)  # a second signal: leave now
        fired.set()
        name = SIGNAL_NAMES.get(signum, f"signal {signum}")
        message: list[str] = []

        def settle():
            try:
                message.append(on_signal(name))
            except Exception as exc:  # noqa: BLE001 - report, then exit anyway
                message.append(f"gaitlake: stopped by {name}; the catalog could not be updated ({exc}); "
                               "the session will be recovered when its lease lapses")

        settler = threading.Thread(target=settle, daemon=True)
        settler.start()
        settler.join(timeout=max(2.0, grace_s))
        # A progress bar may hold the cursor mid-line: end it, so the sentence is a line of its own.
        print("\n" + (message[0] if message else f"gaitlake: stopped by {name}"), file=sys.stderr, flush=True)
        stop_children_after_exit(grace_s)
        os._exit(exit_code(signum) if exit_code else 128 + signum)

    if threading.current_thread() is not threading.main_thread():
        return ShutdownHandlers({}, handler)  # signals reach the main thread only; nothing to install
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    return ShutdownHandlers(previous, handler)


class ShutdownHandlers:
    """What :func:`install_shutdown` installed: ``reassert()`` it, ``restore()`` what was there before."""

    def __init__(self, previous: dict, handler):
        self.previous, self.handler = previous, handler

    def reassert(self) -> None:
        """Take SIGTERM/SIGINT back: Ray's core worker installs its own (aborting) SIGTERM handler
        when it starts, below Python's view of the handlers, so set ours again (main thread)."""
        for sig in self.previous:
            signal.signal(sig, self.handler)

    def restore(self) -> None:
        for sig, old in self.previous.items():
            signal.signal(sig, old)


_SESSION_THREAD: list[ThreadPoolExecutor] = []


def _session_thread() -> ThreadPoolExecutor:
    """One long-lived thread for one-shot sessions in this process.

    A local Ray is bound to the thread that started it (Linux's parent-death
    signal follows the thread): started on a thread that ends, it dies with it
    and the next session in the same process (a library caller, the tests) loses
    its GCS. Started here, and off the main thread, Ray also leaves SIGTERM to us.
    """
    if not _SESSION_THREAD:
        _SESSION_THREAD.append(ThreadPoolExecutor(1, thread_name_prefix="gaitlake-process"))
    return _SESSION_THREAD[0]


def run_one_shot(settings: Settings, session_id: str, owner: str, **kwargs: Any) -> SessionOutcome:
    """``gaitlake process``: run one claimed session to its end in this process.

    The work runs on a thread so the main thread stays free for Ctrl-C/SIGTERM,
    which fail the session (or mark it done, if its results were already
    published), stop Prefect and Ray, and exit at once. Any failure leaves the
    row ``failed`` with one sentence; the exception is re-raised.
    """
    catalog = Catalog.from_settings(settings)

    def on_signal(name: str) -> str:
        from storage.lake import Lake
        from storage.objectstore import ObjectStore

        lake = Lake(ObjectStore.from_settings(settings))
        if lake.serves_intact(session_id, settings.pipeline_version) and catalog.finish(
                session_id, owner, status=SessionStatus.DONE, pipeline_version=settings.pipeline_version):
            return f"gaitlake: stopped by {name} after session {session_id} was published; it is done"
        catalog.finish(session_id, owner, status=SessionStatus.FAILED,
                       error=f"processing was interrupted ({name}); nothing was published")
        return (f"gaitlake: session {session_id} interrupted by {name}: marked failed, nothing was published "
                f"(run it again with: gaitlake reprocess {session_id} --include-failed)")

    handlers = install_shutdown(on_signal, settings.processing.shutdown_grace_s)
    result: dict[str, Any] = {}

    def work():
        try:
            result["outcome"] = run_claimed(settings, session_id, owner, requeue_errors=False, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            result["error"] = exc

    future = _session_thread().submit(work)
    try:
        while not future.done():
            try:
                future.result(timeout=0.2)
            except TimeoutError:
                pass
            handlers.reassert()
    finally:
        handlers.restore()  # library callers (tests) get their own handlers back
    if "error" in result:
        raise result["error"]
    return result["outcome"]
