"""Bulk reprocessing with the replay backend: ≥100 sessions, a killed run resumed, no duplicate rows."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.catalog import Catalog
from storage.lake import Lake
from storage.objectstore import ObjectStore
from tests.scale.seed import OLD_VERSION, seed

REPO = Path(__file__).resolve().parents[2]
N_SESSIONS = 100
NEW = "p-new"


@pytest.fixture
def replay_settings(settings, monkeypatch):
    from configs import get_settings

    monkeypatch.setenv("GAITLAKE_POSE__BACKEND", "replay")
    get_settings.cache_clear()
    return get_settings()


def _new_manifests(store: ObjectStore) -> int:
    return sum(1 for k in store.list("lake/_manifests") if k.endswith(f"/{NEW}.json"))


def test_reprocess_100_sessions_killed_half_way_then_resumed(replay_settings, tmp_path):
    from flows.reprocess import reprocess

    ids = seed(replay_settings, N_SESSIONS)
    store = ObjectStore.from_settings(replay_settings)
    lake, catalog = Lake(store), Catalog.from_settings(replay_settings)

    # 1. A real run in another process, killed (SIGKILL) once some sessions are written.
    env = dict(os.environ, GAITLAKE_DATA_DIR=str(replay_settings.data_path), GAITLAKE_POSE__BACKEND="replay",
               PYTHONPATH=str(REPO), PREFECT_HOME=str(tmp_path / "prefect-killed"),
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120")
    log = open(tmp_path / "killed-run.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gaitlake.cli", "reprocess", "--older", "--pipeline-version",
                             NEW, "--concurrency", "2"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    while _new_manifests(store) < 10:
        assert proc.poll() is None, (tmp_path / "killed-run.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the reprocess run wrote nothing in 240 s"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    log.close()
    written = _new_manifests(store)
    assert 10 <= written < N_SESSIONS
    # Nothing switched: every session is still served (lake and catalog) at the old version.
    assert {lake.served_version(s) for s in ids} == {OLD_VERSION}
    assert {catalog.get_session(s).pipeline_version for s in ids} == {OLD_VERSION}
    assert lake.query("select count(*) n from frames where pipeline_version = ?", [NEW]).column("n")[0].as_py() == 0

    # 2. Start again: the finished ones are resumed (not recomputed), the rest done, then all switched.
    started = time.monotonic()
    outcome = reprocess(older_only=True, pipeline_version=NEW, concurrency=4)
    elapsed = time.monotonic() - started
    print(f"\nreprocess of {N_SESSIONS} sessions (replay, 4 threads, 2 actors): {elapsed:.1f} s, "
          f"{60 * N_SESSIONS / elapsed:.0f} sessions/min; resumed {len(outcome['resumed'])}")
    assert outcome["failed"] == {}
    assert len(outcome["resumed"]) >= written - 2  # a killed in-flight write may lack only its manifest
    assert len(outcome["done"]) + len(outcome["resumed"]) == N_SESSIONS
    assert outcome["switched"] == N_SESSIONS
    assert {catalog.get_session(s).pipeline_version for s in ids} == {NEW}

    con = lake.connect()
    assert con.execute("select count(*), count(distinct session_id) from sessions").fetchone() == (N_SESSIONS, N_SESSIONS)
    assert con.execute("select distinct pipeline_version from frames").fetchall() == [(NEW,)]
    dupes = con.execute("select session_id, frame_index from frames group by all having count(*) > 1").fetchall()
    assert dupes == []
    assert con.execute("select count(*) from frames").fetchone()[0] == N_SESSIONS * 240
    assert con.execute("select min(cadence_spm) > 140 and max(cadence_spm) < 200 from sessions").fetchone()[0]
    assert con.execute("select count(*) from strides").fetchone()[0] > N_SESSIONS * 5

    # 3. Once more: nothing left to do.
    again = reprocess(older_only=True, pipeline_version=NEW)
    assert again["selected"] == 0


def test_selection_by_ids_dates_user_and_version(replay_settings):
    from flows.reprocess import select_sessions

    ids = seed(replay_settings, 30, per_day=10)   # 2026-03-01 .. 03
    catalog = Catalog.from_settings(replay_settings)
    assert select_sessions(catalog, NEW) == ids
    assert select_sessions(catalog, OLD_VERSION) == []
    assert select_sessions(catalog, NEW, ids=ids[3:5]) == ids[3:5]
    assert select_sessions(catalog, NEW, since="2026-03-02", until="2026-03-02") == ids[10:20]
    assert select_sessions(catalog, NEW, user_id="u-b") == ids[1::2]
    assert select_sessions(catalog, OLD_VERSION, older_only=False, since="2026-03-03") == ids[20:]


def _as_layout_1(store: ObjectStore, session_id: str, version: str) -> None:
    """Rewrite a run's manifest as code before lake layout 2 wrote it: no ``layout`` stamp."""
    import json

    from storage.lake_layout import manifest_key

    raw = json.loads(store.read_bytes(manifest_key(session_id, version)))
    del raw["layout"]
    store.write_bytes(manifest_key(session_id, version), json.dumps(raw).encode())


def test_sessions_in_the_older_layout_are_refused_then_brought_to_the_new_version(replay_settings):
    """The PIPELINE_VERSION bump: runs in lake layout 1 are refused by the API's reader (no branch
    on their columns) and flagged by ``lake check``; ``reprocess --older`` (the configured version)
    rewrites them in the declared schemas, with the per-metric statistics, and serves them."""
    from api.lake_records import LakeReader
    from configs import PIPELINE_VERSION
    from flows.reprocess import reprocess
    from storage.lake_layout import LAYOUT, OutdatedRun
    from storage.lakecheck import check_lake
    from tasks.lake_schema import SCHEMAS

    assert replay_settings.pipeline_version == PIPELINE_VERSION
    ids = seed(replay_settings, 3)
    store = ObjectStore.from_settings(replay_settings)
    lake, catalog = Lake(store), Catalog.from_settings(replay_settings)
    for sid in ids:
        _as_layout_1(store, sid, OLD_VERSION)
    reader = LakeReader(lake)
    with pytest.raises(OutdatedRun, match="layout 1") as refused:
        reader.record(catalog.get_session(ids[0]))
    assert "gaitlake reprocess --older" in refused.value.repair
    before = check_lake(lake, SCHEMAS)
    assert sorted(d.session_id for d in before.outdated) == ids and not before.ok

    outcome = reprocess(older_only=True)
    assert outcome["pipeline_version"] == PIPELINE_VERSION and outcome["failed"] == {}
    assert sorted(outcome["done"]) == ids and outcome["switched"] == 3
    after = check_lake(lake, SCHEMAS)
    assert after.ok and after.sessions == 3, after.as_dict()
    for sid in ids:
        session = catalog.get_session(sid)
        assert session.pipeline_version == PIPELINE_VERSION
        assert lake.current_manifest(sid).layout == LAYOUT
        record = reader.record(session)
        cadence = record.doc("summary_doc")["performance_metrics"]["cadence"]
        values = record.row["cadence_spm_values"]
        assert 150 < cadence["avg"] < 190 and len(values) >= 5      # synthetic runners at 155-185 spm
        assert (cadence["min"], cadence["max"], cadence["values"]) == (min(values), max(values), values)
    assert reprocess(older_only=True)["selected"] == 0
