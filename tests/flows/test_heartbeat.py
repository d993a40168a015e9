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


def _wait_until(done, what: str, timeout_s: float = 60.0) -> None:
    """Until ``done()`` holds (a state, not a sleep): the heartbeat marks a claim lost, then logs."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, what
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
        _wait_until(lambda: row.id in beat._lost and queue_log, "the heartbeat never renewed and logged")
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
        _wait_until(lambda: row.id in beat._lost and queue_log, "the heartbeat never renewed and logged")
        assert any("lease lost to another processor" in r.getMessage() and r.levelno == logging.WARNING
                   for r in queue_log)
    finally:
        beat.stop()
