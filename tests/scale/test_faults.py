"""Faults: flaky object storage (retried with backoff, or failing the session cleanly), a killed Ray
actor, Prefect task retries: no duplicate and no partial lake rows in any case."""
from __future__ import annotations

import pytest

from storage.catalog import Catalog, SessionStatus
from storage.lake import Lake
from storage.objectstore import ObjectStore
from tests.scale.seed import OLD_VERSION, seed


class FlakyFS:
    """An fsspec filesystem proxy whose chosen methods fail (``OSError``) the first ``n`` times
    they touch a path containing ``match``."""

    def __init__(self, fs, methods=("put_file", "cat_file"), n=2, match=""):
        self._fs, self._methods, self.remaining, self._match = fs, set(methods), n, match
        self.failures = 0

    def __getattr__(self, name):
        attr = getattr(self._fs, name)
        if name not in self._methods:
            return attr

        def flaky(*args, **kwargs):
            path = str(args[-1] if name == "put_file" else args[0])
            if self.remaining > 0 and self._match in path:
                self.remaining -= 1
                self.failures += 1
                raise OSError(f"injected S3 error ({name} {path}): 503 SlowDown")
            return attr(*args, **kwargs)

        return flaky


@pytest.fixture
def replay_settings(s3_settings, monkeypatch):
    """Replay backend on the real S3 server (writes go through fsspec's put_file there)."""
    from configs import get_settings

    monkeypatch.setenv("GAITLAKE_POSE__BACKEND", "replay")
    monkeypatch.setenv("GAITLAKE_STORAGE__RETRY_BACKOFF_S", "0.01")
    monkeypatch.setenv("GAITLAKE_STORAGE__RETRY_ATTEMPTS", "3")
    get_settings.cache_clear()
    return get_settings()


def _flaky_stores(monkeypatch, **kwargs) -> FlakyFS:
    """Every ObjectStore.from_settings in this process shares one flaky filesystem."""
    original = ObjectStore.from_settings.__func__
    holder = {}

    def from_settings(cls, settings):
        store = original(cls, settings)
        if "fs" not in holder:
            holder["fs"] = FlakyFS(store.fs, **kwargs)
        store.fs = holder["fs"]
        return store

    monkeypatch.setattr(ObjectStore, "from_settings", classmethod(from_settings))
    return holder


def test_transient_errors_are_retried_with_backoff(tmp_path):
    store = ObjectStore((tmp_path / "s").as_uri(), retry_attempts=4, retry_backoff_s=0.01)
    store.fs = FlakyFS(store.fs, methods=("cat_file", "find", "exists"), n=3)
    (tmp_path / "s" / "k").write_bytes(b"v")
    assert store.read_bytes("k") == b"v"
    assert store.fs.failures == 3
    store.fs.remaining = 4
    with pytest.raises(OSError, match="injected"):
        store.read_bytes("k")
    with pytest.raises(FileNotFoundError):  # permanent: not retried
        ObjectStore((tmp_path / "s").as_uri(), retry_attempts=4).read_bytes("missing")


def test_storage_failing_for_good_marks_the_session_failed_without_rows(replay_settings, monkeypatch):
    from flows import process

    [sid] = seed(replay_settings, 1)
    holder = _flaky_stores(monkeypatch, methods=("put_file",), n=10_000, match="/lake/")
    monkeypatch.setattr(process, "analyse_task", process.analyse_task.with_options(retries=1, retry_delay_seconds=0))
    monkeypatch.setenv("GAITLAKE_PIPELINE__VERSION", "p-faulty")
    # A storage failure is not the input's fault: the claim goes back to the queue while attempts
    # remain (flows/queue.py); with one attempt allowed it is failed at once, with the reason.
    monkeypatch.setenv("GAITLAKE_PROCESSING__MAX_ATTEMPTS", "1")
    from configs import get_settings

    get_settings.cache_clear()
    with pytest.raises(Exception, match="injected"):
        process.process_session(sid, force=True)
    assert holder["fs"].failures >= 2 * 3  # tenacity attempts x Prefect tries
    row = Catalog.from_settings(replay_settings).get_session(sid)
    assert row.status == SessionStatus.FAILED and "injected S3 error" in row.error
    lake = Lake(ObjectStore(replay_settings.storage_url, replay_settings.storage_options()))
    assert lake.served_version(sid) == OLD_VERSION
    assert lake.manifest(sid, "p-faulty") is None
    assert lake.query("select count(*) n from frames where pipeline_version = 'p-faulty'").column("n")[0].as_py() == 0


def test_prefect_retry_after_a_half_written_run_adds_no_rows(replay_settings, monkeypatch):
    from configs import get_settings
    from flows import process

    [sid] = seed(replay_settings, 1)
    # Table files are written, then the manifest write fails past tenacity's 3 attempts: the task fails
    # half-written, Prefect retries it, and the retry overwrites the same keys.
    holder = _flaky_stores(monkeypatch, methods=("put_file",), n=3, match="/_manifests/")
    monkeypatch.setattr(process, "analyse_task", process.analyse_task.with_options(retries=2, retry_delay_seconds=0))
    monkeypatch.setenv("GAITLAKE_PIPELINE__VERSION", "p-retry")
    get_settings.cache_clear()
    outcome = process.process_session(sid, force=True)
    assert holder["fs"].failures == 3
    assert outcome.rows["frames"] == 240
    lake = Lake(ObjectStore(replay_settings.storage_url, replay_settings.storage_options()))
    con = lake.connect()
    assert con.execute("select count(*), count(distinct frame_index) from frames").fetchone() == (240, 240)
    assert con.execute("select distinct pipeline_version from sessions").fetchall() == [("p-retry",)]
    assert Catalog.from_settings(replay_settings).get_session(sid).status == SessionStatus.DONE
    # The flow is idempotent: the same session at the same version is not processed again.
    assert process.process_session(sid).skipped


def test_a_killed_ray_actor_is_replaced_and_the_session_completes_once(replay_settings):
    import ray

    from flows.reprocess import reprocess_one
    from tasks.detect import detections_key, load_detections
    from tasks.pose import PosePool

    [sid] = seed(replay_settings, 1)
    store = ObjectStore.from_settings(replay_settings)
    stored = load_detections(store, detections_key(sid))
    pool = PosePool(replay_settings)
    original_map = pool.map
    killed = []

    def map_and_kill(batches):
        for i, result in enumerate(original_map(batches)):
            if i == 2 and not killed:
                ray.kill(pool.actors[0], no_restart=False)  # the actor dies mid-run; Ray restarts it
                killed.append(True)
            yield result

    pool.map = map_and_kill
    try:
        assert reprocess_one(sid, "p-kill", pool) == "done"
    finally:
        pool.close()
    assert killed
    lake = Lake(store)
    manifest = lake.manifest(sid, "p-kill")
    assert manifest.rows["frames"] == stored.n_frames
    lake.publish(sid, "p-kill")
    con = lake.connect()
    assert con.execute("select count(*), count(distinct frame_index) from frames").fetchone() == (240, 240)
