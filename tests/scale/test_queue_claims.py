"""The catalog as a processing queue, on SQLite and a real PostgreSQL, under real concurrency.

Claims, leases, fenced finishes and recovery (storage/catalog.py, flows/queue.py);
the plan-limit check in the inserting transaction; two processes migrating a
fresh catalog at once. Concurrency is real: separate OS processes for the races.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from storage.catalog import Catalog, Quota, QuotaExceeded, SessionStatus, User, utcnow


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'catalog.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))
    cat = Catalog(url)
    cat.migrate()
    yield cat
    cat.engine.dispose()


def _claim_worker(url: str, session_ids: list[str], owner: str, start_at: float, out) -> None:
    catalog = Catalog(url)
    while time.time() < start_at:
        time.sleep(0.001)
    won = [sid for sid in session_ids if catalog.claim(sid, owner, 60)]
    out.put((owner, won))
    catalog.engine.dispose()


def _claim_next_worker(url: str, owner: str, start_at: float, out) -> None:
    catalog = Catalog(url)
    while time.time() < start_at:
        time.sleep(0.001)
    won = []
    while (sid := catalog.claim_next(owner, 60)) is not None:
        won.append(sid)
    out.put((owner, won))
    catalog.engine.dispose()


def _race(target, args_per_process):
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, out)) for args in args_per_process]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results


def test_one_claimant_wins_each_session_across_processes(catalog):
    ids = [catalog.create_session(title=f"s{i}").id for i in range(6)]
    start = time.time() + 3.0  # all processes imported and connected before the gun
    results = _race(_claim_worker, [(catalog.url, ids, f"owner-{k}", start) for k in range(4)])
    winners = [sid for won in results.values() for sid in won]
    assert sorted(winners) == sorted(ids), "every session claimed exactly once"
    for sid in ids:
        row = catalog.get_session(sid)
        assert row.status == SessionStatus.PROCESSING and row.attempts == 1
        assert sid in results[row.lease_owner]


def test_claim_next_hands_out_each_queued_session_once(catalog):
    ids = {catalog.create_session(title=f"q{i}").id for i in range(12)}
    start = time.time() + 3.0
    results = _race(_claim_next_worker, [(catalog.url, f"w{k}", start) for k in range(3)])
    taken = [sid for won in results.values() for sid in won]
    # (the PostgreSQL database is shared with other tests: their queued rows may be handed out too)
    assert len(taken) == len(set(taken)), "no session handed out twice"
    assert ids <= set(taken)


def test_the_dispatch_grace_holds_back_only_sessions_never_claimed(catalog):
    """At scale the worker leaves a fresh session to its deployment run for older_than_s, but one
    given back (a lapsed lease, a stopped worker, a retried failure) has no run coming: taken at once."""
    fresh = catalog.create_session(title="fresh").id
    given_back = catalog.create_session(title="given back").id
    assert catalog.claim(given_back, "dead-worker", lease_s=60)
    assert catalog.release(given_back, "dead-worker", "the worker stopped", max_attempts=3) == SessionStatus.QUEUED
    stopped = catalog.create_session(title="stopped worker").id
    assert catalog.claim(stopped, "stopped-worker", lease_s=60)
    assert catalog.finish(stopped, "stopped-worker", status=SessionStatus.QUEUED, error="requeued: the worker was stopped",
                          refund_attempt=True)
    taken = []
    while (sid := catalog.claim_next("safety-net", 60, older_than_s=300)) is not None:
        taken.append(sid)
    # (the PostgreSQL database is shared with other tests: their given-back rows may be handed out too)
    assert given_back in taken and stopped in taken
    assert fresh not in taken and catalog.get_session(fresh).status == SessionStatus.QUEUED


def test_a_lapsed_lease_is_requeued_then_failed_after_max_attempts(catalog):
    sid = catalog.create_session(title="lapse").id
    assert catalog.claim(sid, "a", lease_s=0.05)
    assert not catalog.claim(sid, "b", lease_s=60), "a live lease is not claimable"
    time.sleep(0.1)
    assert catalog.recover_lapsed(max_attempts=2) == {sid: "queued"}
    row = catalog.get_session(sid)
    assert row.status == SessionStatus.QUEUED and row.attempts == 1 and row.lease_owner is None
    assert catalog.claim(sid, "b", lease_s=0.05)
    time.sleep(0.1)
    assert catalog.recover_lapsed(max_attempts=2) == {sid: "failed"}
    row = catalog.get_session(sid)
    assert row.status == SessionStatus.FAILED and row.attempts == 2
    assert "stopped before finishing" in row.error and "2 attempts" in row.error


def test_the_queue_creates_a_session_already_claimed_for_the_cli(catalog, tmp_path, monkeypatch):
    """``gaitlake process``'s session is inserted claimed (processing, attempt 1, leased to a fresh
    owner of this process): no claimant takes it meanwhile, its owner finishes it, and its lease
    lapses like any claim's."""
    from configs import load_settings
    from flows.queue import create_claimed_session, owner_is_dead
    from storage.objectstore import ObjectStore

    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path / "data"),
                                                    "processing": {"lease_s": 0.3}})
    store = ObjectStore((tmp_path / "store").as_uri())
    video = tmp_path / "run.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    before = utcnow()
    claimed = create_claimed_session(settings, store, catalog, video, title="cli run", height_cm=180.0)
    row = catalog.get_session(claimed.row.id)
    assert (row.status, row.lease_owner, row.attempts, row.title) == (
        SessionStatus.PROCESSING, claimed.owner, 1, "cli run")
    assert claimed.owner.split(":")[1] == str(os.getpid()) and ":process:" in claimed.owner
    assert not owner_is_dead(claimed.owner)
    expires = row.lease_expires_at if row.lease_expires_at.tzinfo else row.lease_expires_at.replace(
        tzinfo=before.tzinfo)
    assert before + timedelta(seconds=0.3) <= expires <= utcnow() + timedelta(seconds=0.3)
    assert store.read_bytes(row.video_key) == video.read_bytes()
    assert not catalog.claim(row.id, "another", lease_s=60), "a live claim is not claimable"
    assert catalog.claim_next("another", lease_s=60) != row.id
    assert catalog.renew(row.id, claimed.owner, 60) and catalog.finish(row.id, claimed.owner,
                                                                         status=SessionStatus.DONE)
    lapsing = create_claimed_session(settings, store, catalog, video, title="lapsing")
    time.sleep(0.4)
    assert catalog.claim(lapsing.row.id, "another", lease_s=60), "a lapsed claim is taken over"


def test_finish_is_fenced_to_the_current_owner(catalog):
    sid = catalog.create_session(title="fence").id
    assert catalog.claim(sid, "old", lease_s=0.05)
    time.sleep(0.1)
    assert catalog.claim(sid, "new", lease_s=60), "a lapsed lease is claimable"
    assert not catalog.renew(sid, "old", 60)
    assert not catalog.finish(sid, "old", status=SessionStatus.FAILED, error="late")
    assert catalog.finish(sid, "new", status=SessionStatus.DONE, pipeline_version="v1")
    row = catalog.get_session(sid)
    assert row.status == SessionStatus.DONE and row.error is None and row.attempts == 2


def test_a_dead_owner_on_this_host_is_recovered_at_once(catalog):
    from flows.queue import new_owner_id, owner_is_dead

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = new_owner_id("worker").split(":")
    dead[1] = str(child.pid)
    dead_owner = ":".join(dead)
    live_owner = new_owner_id("worker")
    assert owner_is_dead(dead_owner) and not owner_is_dead(live_owner)
    assert not owner_is_dead("some-other-host:1:worker:x"), "never guesses for another machine"
    a = catalog.create_session(title="dead").id
    b = catalog.create_session(title="live").id
    assert catalog.claim(a, dead_owner, lease_s=3600) and catalog.claim(b, live_owner, lease_s=3600)
    assert catalog.recover_lapsed(3, owner_is_dead) == {a: "queued"}
    assert catalog.get_session(b).status == SessionStatus.PROCESSING


def test_recovery_marks_a_published_session_done(tmp_path, monkeypatch):
    """Killed right after the served pointer was written: the lake serves it, so it is done, not redone."""
    import pyarrow as pa

    from configs import get_settings
    from flows.queue import recover
    from storage.lake import Lake
    from storage.objectstore import ObjectStore

    monkeypatch.setenv("GAITLAKE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    settings = get_settings()
    catalog = Catalog.from_settings(settings)
    lake = Lake(ObjectStore.from_settings(settings))
    published = catalog.create_session(title="published").id
    unpublished = catalog.create_session(title="unpublished").id
    for sid in (published, unpublished):
        assert catalog.claim(sid, "gone-host:1:worker:x", lease_s=0.01)
    lake.write_session(published, settings.pipeline_version, "h", {"sessions": pa.table({"x": [1]})},
                       date="2026-12-01", publish=True)
    time.sleep(0.05)
    assert recover(settings, catalog) == {published: "done", unpublished: "queued"}
    assert catalog.get_session(published).pipeline_version == settings.pipeline_version
    get_settings.cache_clear()


def test_plan_limit_holds_under_concurrent_inserts(catalog):
    """20 uploads of one free-plan user at once (threads, one DB connection each): 3 are accepted."""
    import threading

    user_id = f"free-user-{os.getpid()}-{time.monotonic_ns()}"
    with catalog.session() as db:
        db.add(User(id=user_id, email=f"{user_id}@example.com"))
    quota = Quota(user_id, 3, utcnow() - timedelta(days=30))
    gun = threading.Barrier(20)
    accepted: list[bool] = []

    def upload():
        gun.wait()
        try:
            catalog.create_session(quota=quota, user_id=user_id, title="race")
            accepted.append(True)
        except QuotaExceeded:
            accepted.append(False)

    threads = [threading.Thread(target=upload) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(accepted) == 20 and sum(accepted) == 3
    assert sum(1 for r in catalog.sessions_by_status() if r.user_id == user_id) == 3


def _migrate_fresh(url: str, start_at: float, out) -> None:
    while time.time() < start_at:
        time.sleep(0.001)
    try:
        catalog = Catalog(url)
        catalog.migrate()
        catalog.create_session(title="hello")
        out.put((os.getpid(), "ok"))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        out.put((os.getpid(), repr(exc)))


def test_processes_initialising_a_fresh_data_dir_all_succeed(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh' / 'catalog.db'}"
    start = time.time() + 3.0
    results = _race(_migrate_fresh, [(url, start) for _ in range(4)])
    assert set(results.values()) == {"ok"}, results
    assert len(Catalog(url).sessions_by_status()) == 4
