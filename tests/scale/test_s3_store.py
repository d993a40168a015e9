"""The object store and the lake on a real S3 server (SeaweedFS), switched by configuration only."""
from __future__ import annotations

import pyarrow as pa
import pytest

from storage.lake import Lake
from storage.objectstore import ObjectStore


@pytest.fixture
def store(s3_settings) -> ObjectStore:
    store = ObjectStore.from_settings(s3_settings)
    assert not store.is_local and store.url.startswith("s3://")
    return store


def test_settings_switch_the_store_to_s3(s3_settings, seaweed):
    assert s3_settings.storage_url.startswith(f"s3://{seaweed.bucket}/")
    assert s3_settings.storage_options() == {"endpoint_url": seaweed.endpoint}


def test_atomic_writes_round_trip_and_list(store):
    store.write_bytes("a/b/c.bin", b"hello")
    assert store.read_bytes("a/b/c.bin") == b"hello"
    assert store.exists("a/b/c.bin")
    assert store.list("a") == ["a/b/c.bin"]
    with store.local_copy("a/b/c.bin") as path:
        assert path.read_bytes() == b"hello"
    store.move("a/b/c.bin", "a/d.bin")
    assert store.list("a") == ["a/d.bin"]


def test_failed_atomic_write_leaves_no_object(store):
    with pytest.raises(RuntimeError):
        with store.atomic_writer("x/partial.bin") as handle:
            handle.write(b"half of it")
            raise RuntimeError("crash mid-write")
    assert not store.exists("x/partial.bin")
    assert store.list("x") == []


def _session(lake, sid, version, n_frames, cadence, publish=True, date="2026-01-02"):
    return lake.write_session(sid, version, "cfg", {
        "sessions": pa.table({"cadence_spm": [cadence]}),
        "frames": pa.table({"frame_index": pa.array(range(n_frames), pa.int32()), "t": [i / 60 for i in range(n_frames)]}),
        "strides": pa.table({"stride_index": [0, 1], "side": ["left", "right"]}),
    }, date=date, publish=publish)


def test_duckdb_reads_the_s3_lake_through_fsspec(store):
    lake = Lake(store)
    _session(lake, "s1", "v1", 5, 170.0)
    _session(lake, "s2", "v1", 3, 180.0)
    con = lake.connect()
    assert con.execute("select count(*) from frames").fetchone()[0] == 8
    assert con.execute("select avg(cadence_spm) from sessions").fetchone()[0] == pytest.approx(175.0)
    # A new version is invisible until published, then replaces the old one.
    _session(lake, "s1", "v2", 2, 171.0, publish=False)
    assert lake.query("select count(*) n from frames").column("n")[0].as_py() == 8
    lake.publish("s1", "v2")
    rows = lake.query("select session_id, pipeline_version, count(*) n from frames group by all order by 1").to_pylist()
    assert rows == [{"session_id": "s1", "pipeline_version": "v2", "n": 2},
                    {"session_id": "s2", "pipeline_version": "v1", "n": 3}]
    assert lake.read_table("s2", "frames").num_rows == 3
    df = lake.query("select * from sessions order by session_id").to_pandas()
    assert list(df["cadence_spm"]) == [171.0, 180.0]


def test_presigned_links_use_the_public_endpoint(s3_settings, seaweed, monkeypatch, tmp_path):
    """storage.public_endpoint_url: links name the address browsers reach, and download byte-identical."""
    import httpx

    from configs import load_settings

    data = bytes(range(256)) * 64
    internal = ObjectStore.from_settings(s3_settings)
    internal.write_bytes("videos/s1/source.mp4", data)
    url = internal.presigned_url("videos/s1/source.mp4", 60)
    assert url.startswith(seaweed.endpoint + "/")            # no public endpoint: the one we talk to
    public = seaweed.endpoint.replace("127.0.0.1", "localhost")
    monkeypatch.setenv("GAITLAKE_STORAGE__PUBLIC_ENDPOINT_URL", public)
    store = ObjectStore.from_settings(load_settings())
    link = store.presigned_url("videos/s1/source.mp4", 60)
    assert link.startswith(public + "/") and "127.0.0.1" not in link
    for u in (url, link):
        response = httpx.get(u, timeout=10)
        assert response.status_code == 200 and response.content == data
    assert httpx.get(link.replace("videos/s1", "videos/s2"), timeout=10).status_code in (403, 404)
    with pytest.raises(Exception, match="only for S3"):
        ObjectStore((tmp_path / "local").as_uri()).presigned_url("k", 1)
