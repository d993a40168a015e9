"""The lease heartbeat (flows.claims.Heartbeat) on a real catalog: a renewal that fails because the
session just ended is not reported as a lost lease (a user saw "lease lost to another processor"
after a successful ``gaitlake process`` on a loaded machine: the row is finished a moment before
the claim is dropped); one taken over by another processor still is."""
from __future__ import annotations

import logging
import time

import pytest

from flows.claims import Heartbeat
from storage.catalog import Catalog, SessionStatus

LEASE_S = 0.3   # a beat every 0.1 s


def _wait_lost(beat: Heartbeat, session_id: str, timeout_s: float = 60.0) -> None:
    """Until the heartbeat has tried and failed to renew ``session_id`` (a state, not a sleep)."""
    deadline = time.monotonic() + timeout_s
    while session_id not in beat._lost:
        assert time.monotonic() < deadline, "the heartbeat never tried to renew"
        time.sleep(0.02)


def _wait_logged(records: list, timeout_s: float = 60.0) -> None:
    """Until the heartbeat has logged about the failed renewal (it logs just after marking it lost)."""
    deadline = time.monotonic() + timeout_s
    while not records:
        assert time.monotonic() < deadline, "the heartbeat logged nothing"
        time.sleep(0.02)


@pytest.fixture
def catalog(settings):
    return Catalog.from_settings(settings)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def queue_log():
    """What the heartbeat logs (``gaitlake.queue``), read from a handler on that logger itself: an
    in-process ``gaitlake`` command earlier in the suite reconfigures the root's handlers."""
    logger, handler = logging.getLogger("gaitlake.queue"), _Records()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.mark.parametrize("end", [SessionStatus.DONE, SessionStatus.FAILED])
def test_a_session_that_ended_before_its_claim_was_dropped_is_not_a_lost_lease(catalog, queue_log, end):
    row = catalog.create_session(title="run", status=SessionStatus.QUEUED)
    assert catalog.claim(row.id, "me", LEASE_S)
    beat = Heartbeat(catalog, LEASE_S)
    try:
        beat.hold(row.id, "me")
        assert catalog.finish(row.id, "me", status=end, error=None if end == SessionStatus.DONE else "x")
        _wait_lost(beat, row.id)
        _wait_logged(queue_log)
        assert not [r.getMessage() for r in queue_log if r.levelno >= logging.WARNING]
        assert any("ended" in r.getMessage() for r in queue_log)
    finally:
        beat.stop()


def test_a_lease_taken_over_by_another_processor_is_reported(catalog, queue_log):
    row = catalog.create_session(title="run", status=SessionStatus.QUEUED)
    assert catalog.claim(row.id, "me", LEASE_S)
    beat = Heartbeat(catalog, LEASE_S)
    try:
        catalog.update_session(row.id, lease_owner="someone-else")      # its lease lapsed and was taken
        beat.hold(row.id, "me")
        _wait_lost(beat, row.id)
        _wait_logged(queue_log)
        assert any("lease lost to another processor" in r.getMessage() and r.levelno == logging.WARNING
                   for r in queue_log)
    finally:
        beat.stop()
