"""``gaitlake worker``: the long-lived processor of the session queue.

Embedded default (no Prefect server): a warm :class:`flows.queue.QueueWorker`
claims queued sessions from the catalog and processes them in this process
(Prefect's ephemeral API, local Ray and the pose actors start once).
``gaitlake serve`` starts one and supervises it (:class:`WorkerSupervisor`).

With a Prefect server (``prefect.api_url`` / ``PREFECT_API_URL``) it also
serves the four deployments (Prefect ``serve``); the API triggers a
``process-session`` run per upload, and the queue loop only takes sessions
nobody claimed within ``processing.lease_s`` (a lost trigger). The same
deployments are declared in ``deploy/prefect.yaml`` for work pools.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from configs import Settings, get_settings
from flows.runtime import prepare_environment

DEPLOYMENTS = ("process-session", "ingest-inbox", "reprocess", "compact-lake")


def build_deployments(settings: Settings) -> list:
    """``RunnerDeployment`` objects (name, schedule, parameters) for ``prefect.serve``."""
    prepare_environment(settings)
    from flows.compact import compact_lake
    from flows.ingest import ingest_inbox
    from flows.process import process_session
    from flows.reprocess import reprocess

    return [
        process_session.to_deployment(name="process-session", tags=["gaitlake"],
                                      description="Process one queued session (the API triggers it)."),
        ingest_inbox.to_deployment(name="ingest-inbox", interval=settings.ingest.interval_s, tags=["gaitlake"],
                                   description="Queue videos dropped under the inbox prefix."),
        reprocess.to_deployment(name="reprocess", tags=["gaitlake"],
                                description="Reprocess selected sessions under a new pipeline_version."),
        compact_lake.to_deployment(name="compact-lake", cron="30 3 * * *", tags=["gaitlake"],
                                   description="Merge small Parquet files per lake partition."),
    ]


def serve(settings: Settings | None = None, limit: int | None = None) -> None:
    settings = settings or get_settings()
    deployments = build_deployments(settings)
    from prefect import serve as prefect_serve

    prefect_serve(*deployments, limit=limit)


def run_worker(settings: Settings, limit: int | None = None, max_sessions: int | None = None,
               idle_exit_s: float | None = None) -> int:
    """``gaitlake worker``: the queue loop (and, with a Prefect server, the served deployments)."""
    prepare_environment(settings)
    from flows.queue import QueueWorker, install_shutdown

    scale = bool(settings.prefect.api_url or os.environ.get("PREFECT_API_URL"))
    worker = QueueWorker(settings, older_than_s=settings.processing.dispatch_grace_s if scale else 0.0)

    def on_signal(name: str) -> str:
        worker.stopping.set()
        returned = worker.give_back()
        held = f"; requeued {', '.join(returned)}" if returned else "; no session was in progress"
        return f"gaitlake worker: stopped by {name}{held}"

    handlers = install_shutdown(on_signal, settings.processing.shutdown_grace_s, exit_code=lambda signum: 0)
    print(f"gaitlake worker: data dir {settings.data_path}; processing the queue "
          f"({settings.processing.concurrency} at a time, lease {settings.processing.lease_s:g} s)",
          file=sys.stderr, flush=True)
    if not scale:
        return worker.run(max_sessions=max_sessions, idle_exit_s=idle_exit_s, handlers=handlers)
    loop = threading.Thread(target=worker.run, name="gaitlake-queue", daemon=True)
    loop.start()
    # Unbounded, a schedule that fires faster than its runs finish on a loaded machine piles up
    # flow-run processes (each imports the pipeline): cap them next to the queue's own concurrency.
    serve(settings, limit=limit or settings.processing.concurrency + 2)
    worker.stopping.set()
    return 0


class WorkerSupervisor:
    """Runs one ``gaitlake worker`` child for ``gaitlake serve`` and restarts it if it dies.

    The child has its own process group; :meth:`stop` asks it to stop (SIGTERM:
    it requeues what it holds), then kills the group after the grace period.
    """

    def __init__(self, settings: Settings, log_path: Path | None = None):
        self.settings = settings
        self.log_path = log_path or settings.data_path / "logs" / "worker.log"
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _spawn(self) -> subprocess.Popen:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, GAITLAKE_DATA_DIR=str(self.settings.data_path))
        with self.log_path.open("ab") as log:
            return subprocess.Popen([sys.executable, "-m", "gaitlake.cli", "worker"], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True)

    def start(self) -> "WorkerSupervisor":
        self.process = self._spawn()
        self._thread = threading.Thread(target=self._watch, name="gaitlake-worker-supervisor", daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        backoff, started = 1.0, time.monotonic()
        while not self._stop.is_set():
            process = self.process
            if process is not None and process.poll() is not None and not self._stop.is_set():
                if time.monotonic() - started > 60:
                    backoff = 1.0  # it had been running fine: not a crash loop
                print(f"gaitlake serve: the worker exited ({process.returncode}); restarting in {backoff:g} s",
                      file=sys.stderr, flush=True)
                if self._stop.wait(backoff):
                    return
                backoff = min(30.0, backoff * 2)
                self.process, started = self._spawn(), time.monotonic()
                self.restarts += 1
            self._stop.wait(0.5)

    def stop(self) -> None:
        import signal

        self._stop.set()
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=self.settings.processing.shutdown_grace_s + 5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=5)
