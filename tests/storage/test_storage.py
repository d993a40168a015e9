import io

import pyarrow as pa
import pytest

from flows.intake import IntakeError, UploadTooLarge, create_session_from_path, create_session_from_stream
from storage.catalog import Catalog, SessionStatus
from storage.lake import Lake
from storage.objectstore import ObjectStore, ObjectStoreError


@pytest.fixture
def store(tmp_path):
    return ObjectStore((tmp_path / "store").as_uri())


@pytest.fixture
def catalog(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.create_all()
    return catalog


def test_atomic_writer_leaves_nothing_when_the_block_fails(store):
    with pytest.raises(RuntimeError):
        with store.atomic_writer("a/b.bin") as handle:
            handle.write(b"half")
            raise RuntimeError("boom")
    assert not store.exists("a/b.bin")
    assert store.list("a") == []


def test_write_and_read_round_trip(store):
    store.write_bytes("x/y.txt", b"hello")
    assert store.read_bytes("x/y.txt") == b"hello"
    assert store.list("x") == ["x/y.txt"]


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/./b", ""])
def test_hostile_keys_are_refused(store, key):
    with pytest.raises(ObjectStoreError):
        store.path(key)


def test_intake_streams_hashes_and_queues(store, catalog):
    row = create_session_from_stream(store, catalog, io.BytesIO(b"\x00" * 5000), "clip.MOV", user_id="u1")
    assert row.status == SessionStatus.QUEUED
    assert row.video_key == f"videos/{row.id}/source.mov"
    assert row.size_bytes == 5000
    assert row.content_sha256 == __import__("hashlib").sha256(b"\x00" * 5000).hexdigest()
    assert store.read_bytes(row.video_key) == b"\x00" * 5000


def test_intake_refuses_empty_and_oversized_leaving_nothing(store, catalog):
    with pytest.raises(IntakeError, match="empty"):
        create_session_from_stream(store, catalog, io.BytesIO(b""), "a.mp4")
    with pytest.raises(UploadTooLarge):
        create_session_from_stream(store, catalog, io.BytesIO(b"x" * 3_000_000), "a.mp4", max_bytes=2_000_000)
    assert store.list("videos") == []
    with catalog.session() as db:
        assert db.query(__import__("storage.catalog", fromlist=["RunningSession"]).RunningSession).count() == 0


def test_intake_missing_path(store, catalog, tmp_path):
    with pytest.raises(IntakeError, match="does not exist"):
        create_session_from_path(store, catalog, tmp_path / "nope.mp4")


def test_lake_publishes_whole_sessions_and_switches_versions(store):
    lake = Lake(store)
    lake.write_session("s1", "v1", "h", {"frames": pa.table({"t": [0.0, 1.0]}), "sessions": pa.table({"c": [1.0]})})
    lake.write_session("s2", "v1", "h", {"frames": pa.table({"t": [0.0]}), "sessions": pa.table({"c": [2.0]})})
    assert lake.query("select count(*) as n from frames").column("n")[0].as_py() == 3
    # A newer version of s1 replaces the served one; the old files stay but are not read.
    lake.write_session("s1", "v2", "h", {"frames": pa.table({"t": [0.0]}), "sessions": pa.table({"c": [3.0]})})
    result = lake.query("select session_id, pipeline_version, c from sessions order by session_id").to_pylist()
    assert result == [{"session_id": "s1", "pipeline_version": "v2", "c": 3.0},
                      {"session_id": "s2", "pipeline_version": "v1", "c": 2.0}]
    # Files without a manifest (a crashed run) are invisible.
    store.write_bytes("lake/frames/date=2026-01-01/s3.v1.parquet", b"garbage")
    assert lake.query("select count(*) as n from frames").column("n")[0].as_py() == 2


def test_empty_lake_views_exist(store):
    assert Lake(store).query("select count(*) as n from sessions").column("n")[0].as_py() == 0


def test_catalog_failure_reason(catalog):
    row = catalog.create_session(title="t")
    catalog.mark_failed(row.id, "the video has no frames")
    stored = catalog.get_session(row.id)
    assert stored.status == SessionStatus.FAILED and stored.error == "the video has no frames"


def test_a_crash_before_the_manifest_leaves_the_lake_unchanged(store, monkeypatch):
    lake = Lake(store)
    lake.write_session("s1", "v1", "h", {"frames": pa.table({"t": [0.0]}), "sessions": pa.table({"c": [1.0]})})
    real_write = store.write_bytes

    def crash_on_manifest(key, data):
        if "_manifests" in key:
            raise KeyboardInterrupt
        real_write(key, data)

    monkeypatch.setattr(store, "write_bytes", crash_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        lake.write_session("s1", "v2", "h", {"frames": pa.table({"t": [5.0, 6.0]}), "sessions": pa.table({"c": [9.0]})})
        
    assert lake.query("select pipeline_version, t from frames").to_pylist() == [{"pipeline_version": "v1", "t": 0.0}]


def test_the_served_index_is_used_for_unchanged_runs_and_bypassed_for_newer_ones(store, monkeypatch):
    import os
    import time

    lake = Lake(store)
    for sid in ("a", "b", "c"):
        lake.write_session(sid, "v1", "h", {"sessions": pa.table({"c": [1.0]})})
    before = {m.session_id: m.pipeline_version for m in lake.current_manifests()}
    # Age the pointers, then snapshot them.
    old = time.time() - 3600
    for sid in ("a", "b", "c"):
        os.utime(store.path(f"lake/_current/{sid}.json"), (old, old))
    assert lake.write_index() == 3

    reads = []
    real_manifest = Lake.current_manifest
    monkeypatch.setattr(Lake, "current_manifest", lambda self, sid: reads.append(sid) or real_manifest(self, sid))
    assert {m.session_id: m.pipeline_version for m in lake.current_manifests()} == before
    assert reads == []  # all three came from the index

    # A newer version of b and a new session d are written after the snapshot: read directly.
    lake.write_session("b", "v2", "h", {"sessions": pa.table({"c": [2.0]})})
    lake.write_session("d", "v1", "h", {"sessions": pa.table({"c": [4.0]})})
    served = {m.session_id: m.pipeline_version for m in lake.current_manifests()}
    assert served == {"a": "v1", "b": "v2", "c": "v1", "d": "v1"}
    assert sorted(reads) == ["b", "d"]
    assert lake.query("select sum(c) as s from sessions").column("s")[0].as_py() == 8.0

    # A removed pointer drops the run even though the index still lists it.
    store.delete("lake/_current/c.json")
    assert "c" not in {m.session_id for m in lake.current_manifests()}


def test_replace_table_rewrites_one_table_of_a_run_and_leaves_the_others(store):
    lake = Lake(store)
    written = lake.write_session("s1", "v1", "h", {"frames": pa.table({"t": [0.0, 1.0]}),
                                                   "sessions": pa.table({"c": [1.0]})}, publish=False)
    frames_before = store.read_bytes(written.files["frames"])
    fresh = lake.replace_table(written, "sessions", pa.table({"c": [2.0], "extra": ["x"]}), publish=True)
    assert store.read_bytes(fresh.files["frames"]) == frames_before
    assert fresh.files == written.files and fresh.rows == {"frames": 2, "sessions": 1}
    assert lake.query("select c, extra, pipeline_version from sessions").to_pylist() == [
        {"c": 2.0, "extra": "x", "pipeline_version": "v1"}]
    assert lake.query("select count(*) as n from frames").column("n")[0].as_py() == 2
