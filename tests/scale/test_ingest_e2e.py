"""ingest-inbox on S3 + PostgreSQL (good, malformed and duplicate sidecars), and the whole
scale-out path end to end on a short real clip: inbox -> process-session (real YOLO) -> S3 lake -> DuckDB."""
from __future__ import annotations

import json

import pytest

from storage.catalog import Catalog, SessionStatus, User
from storage.lake import Lake
from storage.objectstore import ObjectStore


@pytest.fixture
def env(scale_settings):
    store, catalog = ObjectStore.from_settings(scale_settings), Catalog.from_settings(scale_settings)
    with catalog.session() as db:
        for uid in ("runner-1", "runner-2"):
            if db.get(User, uid) is None:
                db.add(User(id=uid, email=f"{uid}@example.com"))
    return scale_settings, store, catalog


def test_inbox_good_malformed_duplicate_and_waiting(env):
    from flows.ingest import ingest_once

    settings, store, catalog = env
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
    store.write_bytes("inbox/good.mp4", video)
    store.write_bytes("inbox/good.mp4.json", json.dumps(
        {"user_id": "runner-1", "title": "tempo", "profile": {"height_cm": 175, "weight_kg": 70}}).encode())
    store.write_bytes("inbox/broken.mov", b"x" * 100)
    store.write_bytes("inbox/broken.json", b"{not json")
    store.write_bytes("inbox/stranger.mp4", b"y" * 100)
    store.write_bytes("inbox/stranger.mp4.json", json.dumps({"user_id": "nobody"}).encode())
    store.write_bytes("inbox/badjoints.mp4", b"z" * 100)
    store.write_bytes("inbox/badjoints.mp4.json", json.dumps({"user": "runner-2", "profile": {"joints": "toe"}}).encode())
    store.write_bytes("inbox/uploading.mp4", b"w" * 100)   # no sidecar yet
    store.write_bytes("inbox/notes.txt", b"hello")

    report = ingest_once(settings, process=False)
    assert len(report["created"]) == 1 and report["waiting"] == ["inbox/uploading.mp4"]
    row = catalog.get_session(report["created"][0])
    assert (row.status, row.user_id, row.title, row.height_cm) == (SessionStatus.QUEUED, "runner-1", "tempo", 175.0)
    assert store.read_bytes(row.video_key) == video
    assert store.exists(f"inbox/_processed/{row.id}/good.mp4")
    reasons = {}
    for key in store.list("inbox/_quarantine"):
        if key.endswith("reason.json"):
            doc = json.loads(store.read_bytes(key))
            reasons[doc["files"][0]] = doc["reason"]
    assert "not valid JSON" in reasons["broken.mov"]
    assert "unknown user 'nobody'" in reasons["stranger.mp4"]
    assert "joints" in reasons["badjoints.mp4"]
    assert "not a video" in reasons["notes.txt"]
    # Quarantined, never lost: every byte is still there.
    assert any(k.endswith("/broken.json") for k in store.list("inbox/_quarantine"))

    # The same content again: no second session unless forced.
    store.write_bytes("inbox/again.mp4", video)
    store.write_bytes("inbox/again.mp4.json", json.dumps({"user_id": "runner-1"}).encode())
    report = ingest_once(settings, process=False)
    assert report["created"] == [] and report["duplicates"] == {"inbox/again.mp4": row.id}
    store.write_bytes("inbox/again.mp4", video)
    store.write_bytes("inbox/again.mp4.json", json.dumps({"user_id": "runner-1"}).encode())
    assert len(ingest_once(settings, force=True, process=False)["created"]) == 1


@pytest.mark.slow
def test_s3_and_postgresql_end_to_end_on_a_short_clip(env, treadmill_video):
    from flows.ingest import ingest_inbox
    from flows.process import process_session

    settings, store, catalog = env
    with open(treadmill_video, "rb") as handle:
        store.write_bytes("inbox/clip.mp4", handle.read())
    store.write_bytes("inbox/clip.mp4.json", json.dumps(
        {"user_id": "runner-2", "profile": {"height_cm": 175, "weight_kg": 70}}).encode())
    report = ingest_inbox(process=False)
    [sid] = report["created"]
    outcome = process_session(sid, max_frames=90)
    assert outcome.rows["frames"] == 90
    row = catalog.get_session(sid)
    assert catalog.engine.dialect.name == "postgresql"
    assert row.status == SessionStatus.DONE and row.pipeline_version == settings.pipeline_version
    lake = Lake(store)
    assert lake.store.url.startswith("s3://")
    con = lake.connect()   # DuckDB over the S3 lake through the registered fsspec filesystem
    assert con.execute("select count(*), count(distinct session_id) from frames").fetchone() == (90, 1)
    assert con.execute("select user_id from sessions").fetchone()[0] == "runner-2"
    # Stored detections make the session replayable; a second trigger is a no-op.
    assert store.exists(f"work/{sid}/detections.npz") and store.exists(f"work/{sid}/probe.json")
    assert process_session(sid).skipped
