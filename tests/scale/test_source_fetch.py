"""The source video is fetched from S3 once per processed session (probe, pose, render share one copy).

A real SeaweedFS store and real pose on the shared treadmill clip; every read of the object store's
filesystem is counted by a proxy around it, so a stage that downloads the source again shows up.
"""
from __future__ import annotations

from collections import Counter

import pytest

from storage.catalog import Catalog, SessionStatus
from storage.objectstore import ObjectStore

# fsspec calls that move an object's bytes to this process
READS = ("get_file", "get", "cat_file", "cat", "open", "_get_file", "_cat_file")


class CountingFS:
    """An fsspec filesystem proxy that counts the reads (:data:`READS`) of each path."""

    def __init__(self, fs):
        self._fs = fs
        self.reads: Counter = Counter()

    def __getattr__(self, name):
        attr = getattr(self._fs, name)
        if name not in READS:
            return attr

        def counted(path, *args, **kwargs):
            mode = args[0] if name == "open" and args else kwargs.get("mode", "rb")
            if "r" in str(mode):
                self.reads[str(path)] += 1
            return attr(path, *args, **kwargs)

        return counted


@pytest.fixture
def counted_s3(s3_settings, monkeypatch):
    """Every ObjectStore.from_settings in this process reads through one :class:`CountingFS`."""
    original = ObjectStore.from_settings.__func__
    holder: dict = {}

    def from_settings(cls, settings):
        store = original(cls, settings)
        holder.setdefault("fs", CountingFS(store.fs))
        store.fs = holder["fs"]
        return store

    monkeypatch.setattr(ObjectStore, "from_settings", classmethod(from_settings))
    return s3_settings, holder


@pytest.mark.slow
def test_a_session_on_s3_downloads_its_source_once(counted_s3, treadmill_video):
    from flows.intake import create_session_from_path
    from flows.process import process_session

    settings, holder = counted_s3
    store, catalog = ObjectStore.from_settings(settings), Catalog.from_settings(settings)
    assert not store.is_local
    row = create_session_from_path(store, catalog, treadmill_video, title="fetch once")
    holder["fs"].reads.clear()
    outcome = process_session(row.id, max_frames=60)
    assert outcome.rows["frames"] == 60
    assert outcome.artifacts and outcome.artifacts.get("video")     # the render read the source too
    assert catalog.get_session(row.id).status == SessionStatus.DONE
    assert holder["fs"].reads[store.path(row.video_key)] == 1, holder["fs"].reads


@pytest.mark.slow
def test_a_replayed_session_measuring_its_feet_reads_one_copy(counted_s3, treadmill_video, monkeypatch):
    """Replayed detections stored without foot points: the probe, the feet's second pass over the
    video and the render all read the source, from one download."""
    from configs import get_settings
    from flows.intake import create_session_from_path
    from flows.process import process_session
    from tasks.detect import detections_key
    from tasks.feet import feet_key
    from tests.analysis.conftest import TREADMILL_DETECTIONS

    _, holder = counted_s3
    monkeypatch.setenv("GAITLAKE_POSE__BACKEND", "replay")
    get_settings.cache_clear()
    settings = get_settings()
    store, catalog = ObjectStore.from_settings(settings), Catalog.from_settings(settings)
    row = create_session_from_path(store, catalog, treadmill_video, title="replayed")
    store.write_bytes(detections_key(row.id), TREADMILL_DETECTIONS.read_bytes())
    holder["fs"].reads.clear()
    outcome = process_session(row.id)
    assert outcome.rows["frames"] == 388 and outcome.artifacts.get("video")
    assert outcome.quality.added["footstrike_source"] == "measured"                # the second pass ran
    assert store.exists(feet_key(row.id))
    assert holder["fs"].reads[store.path(row.video_key)] == 1, holder["fs"].reads


@pytest.mark.slow
def test_reprocessing_a_session_on_s3_downloads_its_source_once(counted_s3, treadmill_video):
    """``reprocess`` on the pose path (``ultralytics``): its probe-less pose run, the feet's
    second pass and the render of the new version read one download of the source."""
    from flows.intake import create_session_from_path
    from flows.process import process_session
    from flows.reprocess import reprocess
    from storage.lake import Lake

    settings, holder = counted_s3
    store, catalog = ObjectStore.from_settings(settings), Catalog.from_settings(settings)
    row = create_session_from_path(store, catalog, treadmill_video, title="reprocess fetch once")
    process_session(row.id, max_frames=60)
    holder["fs"].reads.clear()
    out = reprocess(ids=[row.id], pipeline_version="v-fetch-once", older_only=False, switch=False)
    assert out["done"] == [row.id] and not out["failed"], out
    written = Lake(store).read_table(row.id, "sessions", manifest=Lake(store).manifest(row.id, "v-fetch-once"))
    assert written.column("analyzed_video_key")[0].as_py() is not None        # the render read the source too
    assert holder["fs"].reads[store.path(row.video_key)] == 1, holder["fs"].reads


def test_a_held_copy_downloads_once_for_every_reader_and_is_removed_at_close(counted_s3):
    from concurrent.futures import ThreadPoolExecutor

    settings, holder = counted_s3
    store = ObjectStore.from_settings(settings)
    payload = bytes(range(256)) * 4096
    store.write_bytes("videos/x/source.mp4", payload)
    holder["fs"].reads.clear()
    with store.held_copy("videos/x/source.mp4") as copy:
        assert not copy.fetched and holder["fs"].reads == Counter(), "nothing is fetched until asked"
        with ThreadPoolExecutor(4) as pool:
            paths = set(pool.map(lambda _: copy.path(), range(8)))
        [path] = paths
        assert path.read_bytes() == payload and path.suffix == ".mp4"
        assert holder["fs"].reads[store.path("videos/x/source.mp4")] == 1
    assert not path.exists() and not path.parent.exists(), "the download goes with the copy"
    with store.local_copy("videos/x/source.mp4") as again:            # the one-off form: its own download
        assert again.read_bytes() == payload
    assert holder["fs"].reads[store.path("videos/x/source.mp4")] == 2


def test_a_held_copy_of_a_local_store_is_the_file_itself(tmp_path):
    store = ObjectStore((tmp_path / "store").as_uri())
    store.write_bytes("videos/y/source.mov", b"frames")
    with store.held_copy("videos/y/source.mov") as copy:
        assert copy.path() == tmp_path / "store" / "videos" / "y" / "source.mov"
    assert (tmp_path / "store" / "videos" / "y" / "source.mov").read_bytes() == b"frames", "never removed"
