"""Claims on sessions: who owns one, the lease heartbeat, and the one-sentence failure reason.

Used by the ``process-session`` flow (:mod:`flows.process`) and by the queue worker
(:mod:`flows.queue`), so the flow does not import the worker that runs it. The
catalog's sessions table is the queue (:mod:`storage.catalog`); whoever processes a
session first claims it, and a :class:`Heartbeat` thread renews every claim this
process holds every ``processing.lease_s / 3`` seconds.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from storage.catalog import Catalog, SessionStatus

log = logging.getLogger("gaitlake.queue")


class LeaseLost(RuntimeError):
    """This process no longer owns the session (its lease lapsed and another processor took it)."""


# -- who owns a claim ----------------------------------------------------------------
_HOST = socket.gethostname()


def new_owner_id(role: str) -> str:
    """``host:pid:role:nonce`` -- enough to tell, on this host, whether the owner still runs."""
    return f"{_HOST}:{os.getpid()}:{role}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    """``True`` only when ``owner`` ran on this host and its process is gone (never guesses for other hosts)."""
    parts = owner.split(":")
    if len(parts) < 2 or parts[0] != _HOST:
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    import psutil

    try:
        process = psutil.Process(pid)
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class Heartbeat:
    """Renews the leases this process holds; marks a claim lost when renewal fails."""

    def __init__(self, catalog: Catalog, lease_s: float):
        self.catalog, self.lease_s = catalog, lease_s
        self._held: dict[str, str] = {}  # session_id -> owner
        self._lost: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gaitlake-lease-heartbeat", daemon=True)
        self._thread.start()

    def hold(self, session_id: str, owner: str) -> None:
        with self._lock:
            self._held[session_id] = owner
            self._lost.discard(session_id)

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._held.pop(session_id, None)

    def held(self) -> dict[str, str]:
        with self._lock:
            return dict(self._held)

    def check(self, session_id: str) -> None:
        """Raise :class:`LeaseLost` unless this process still owns ``session_id`` (renews it too)."""
        owner = self.held().get(session_id)
        if owner is None or session_id in self._lost or not self.catalog.renew(session_id, owner, self.lease_s):
            raise LeaseLost(f"session {session_id}: the processing claim was lost (lease lapsed)")

    def _run(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            for session_id, owner in self.held().items():
                try:
                    if not self.catalog.renew(session_id, owner, self.lease_s):
                        with self._lock:
                            self._lost.add(session_id)
                        self._say_lost(session_id)
                except Exception:  # noqa: BLE001 - a catalog hiccup; the next beat retries
                    log.warning("session %s: lease renewal failed; retrying", session_id, exc_info=True)

    def _say_lost(self, session_id: str) -> None:
        """Warn about a renewal that failed, unless the session has simply ended: the processor
        finishes its row (done/failed) a moment before it drops the claim, and a beat in between
        finds no processing row to renew (on a loaded machine a user saw "lease lost" after a
        successful run)."""
        row = self.catalog.get_session(session_id)
        if row is not None and row.status in (SessionStatus.DONE, SessionStatus.FAILED):
            log.debug("session %s ended (%s) before its claim was dropped", session_id, row.status)
        elif row is not None and row.lease_owner:
            log.warning("session %s: lease lost to another processor", session_id)
        else:
            log.warning("session %s: lease lapsed before it was renewed (the session was requeued)", session_id)

    def stop(self) -> None:
        self._stop.set()


_HEARTBEATS: dict[str, Heartbeat] = {}
_HEARTBEATS_LOCK = threading.Lock()


def heartbeat(catalog: Catalog, lease_s: float) -> Heartbeat:
    """The process-wide heartbeat for ``catalog`` (one thread, however many claims)."""
    with _HEARTBEATS_LOCK:
        beat = _HEARTBEATS.get(catalog.url)
        if beat is None:
            beat = _HEARTBEATS[catalog.url] = Heartbeat(catalog, lease_s)
        return beat


def describe_failure(exc: BaseException) -> str:
    """One sentence for the catalog: what stopped processing."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    module = exc.__class__.__module__ or ""
    # Where it was raised (the innermost frame): our code runs inside Prefect's engine, so any
    # traceback passes through Prefect; only one that ends there is the orchestration's.
    tb, innermost = exc.__traceback__, ""
    while tb is not None:
        innermost, tb = tb.tb_frame.f_code.co_filename, tb.tb_next
    raised_in_prefect = any(f"/{name}/" in innermost for name in ("prefect", "httpx", "httpcore"))
    if module.startswith(("prefect", "httpx", "httpcore")) or "prefect" in text.lower() or raised_in_prefect:
        return f"the orchestration (Prefect) could not run the flow: {exc.__class__.__name__}: {text[:300]}"
    return f"internal error: {exc.__class__.__name__}: {text[:300]}"
