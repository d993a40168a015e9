"""Damaged lake results (issue 10 point 7): a session whose files are missing or corrupt answers a JSON
503 naming the damage and the repair command; every other session, the tenant's totals and
``gaitlake query`` over healthy rows keep working; ``gaitlake lake check`` names what is damaged."""
from __future__ import annotations

import json

import pytest
from api_support import assert_matches, run_cli

from storage.lake import Lake
from storage.lakecheck import check_lake

READS = (("get", "/running/sessions/{sid}/"), ("get", "/running/sessions/{sid}/summary/"),
         ("get", "/running/sessions/{sid}/export/"), ("post", "/running/sessions/{sid}/form-analysis/"),
         ("post", "/running/sessions/{sid}/gait-analysis/"))


def _key(world, sid: str, table: str) -> str:
    return world.lake.current_manifest(sid).files[table]


@pytest.fixture
def damaged(world):
    """Four done sessions of one tenant: frames deleted, sessions file truncated, frames garbled,
    manifest garbled; two healthy ones."""
    sids = {name: world.add_session("ua", seed=i) for i, name in enumerate(
        ("no_frames", "truncated", "garbled_frames", "bad_manifest", "healthy", "healthy2"))}
    store = world.store
    store.delete(_key(world, sids["no_frames"], "frames"))
    key = _key(world, sids["truncated"], "sessions")
    store.write_bytes(key, store.read_bytes(key)[:200])
    key = _key(world, sids["garbled_frames"], "frames")
    store.write_bytes(key, b"PAR1" + b"\x13garbage" * 64)
    version = world.lake.served_version(sids["bad_manifest"])
    store.write_bytes(f"lake/_manifests/{sids['bad_manifest']}/{version}.json", b'{"session_id": "x", "files": [')
    return world, sids


DAMAGED = ("no_frames", "truncated", "garbled_frames", "bad_manifest")


def test_damaged_sessions_answer_503_and_the_others_200(damaged):
    world, sids = damaged
    for name in DAMAGED:
        sid = sids[name]
        for method, template in READS:
            r = getattr(world.client, method)(template.format(sid=sid), headers=world.h("alice"))
            assert r.status_code == 503, (name, template, r.status_code, r.text)
            body = r.json()
            assert body["status"] == "damaged"
            assert f"session {sid}" in body["error"] and f"gaitlake reprocess {sid} --force" in body["error"]
            assert "lake/" not in body["error"]  # no storage paths to clients
    for name in ("healthy", "healthy2"):
        for method, template in READS:
            r = getattr(world.client, method)(template.format(sid=sids[name]), headers=world.h("alice"))
            assert r.status_code == 200, (name, template, r.text)
    # Which damage is named: the frames file missing, the manifest garbled.
    r = world.client.get(f"/running/sessions/{sids['no_frames']}/", headers=world.h("alice"))
    assert "frames file is missing" in r.json()["error"]
    r = world.client.get(f"/running/sessions/{sids['bad_manifest']}/", headers=world.h("alice"))
    assert "manifest is garbled" in r.json()["error"]


def test_totals_skip_damaged_sessions(damaged):
    world, sids = damaged
    r = world.client.get("/running/sessions/metrics/total/", headers=world.h("alice"))
    assert r.status_code == 200, r.text
    assert_matches(r.json(), "/running/sessions/metrics/total/", "get")
    # Healthy seeds 4 and 5: stride speed averages 3.015 + seed.
    assert r.json()["avg_metrics"]["avg_speed"] == pytest.approx((7.015 + 8.015) / 2)


def test_query_over_healthy_rows_warns_and_leaves_damaged_files_out(damaged):
    world, sids = damaged
    warnings: list[str] = []
    lake = Lake(world.store)
    got = lake.query("SELECT session_id FROM sessions ORDER BY 1", warn=warnings.append)
    healthy = {sids[n] for n in ("no_frames", "garbled_frames", "healthy", "healthy2")}
    assert set(got.column("session_id").to_pylist()) == healthy  # their sessions rows are intact
    assert any(sids["truncated"] in w for w in warnings)
    frames = lake.query("SELECT DISTINCT session_id FROM frames", warn=warnings.append)
    assert set(frames.column("session_id").to_pylist()) == {sids[n] for n in ("truncated", "healthy", "healthy2")}
    assert any(sids["garbled_frames"] in w and "gaitlake reprocess" in w for w in warnings)
    # An SQL error that is not about a file is still an error.
    with pytest.raises(Exception, match="nosuchcolumn"):
        lake.query("SELECT nosuchcolumn FROM sessions")


def test_lake_check_names_every_damaged_session(damaged, env_data, capsys):
    world, sids = damaged
    report = check_lake(world.lake)
    assert report.sessions == 6 and not report.ok
    assert {d.session_id for d in report.damaged} == {sids[n] for n in DAMAGED}
    assert run_cli("lake", "check", "--json") == 1  # the same data dir, through the command
    out = json.loads(capsys.readouterr().out)
    assert {d["session_id"] for d in out["damaged"]} == {sids[n] for n in DAMAGED}
    assert all(d["repair"] == f"gaitlake reprocess {d['session_id']} --force" for d in out["damaged"])
    # Repaired (here: the damaged runs no longer served), the check passes with exit 0.
    for name in DAMAGED:
        world.store.delete(f"lake/_current/{sids[name]}.json")
    assert run_cli("lake", "check") == 0
    assert "checked 2 served sessions" in capsys.readouterr().out


def test_viewer_list_shows_each_damaged_session_as_one_row(damaged):
    """Issue 25 item 16: the page's session list answers 200 with one ``damaged`` row per damaged
    session (what is damaged, the repair) and the healthy ones as they are."""
    world, sids = damaged
    r = world.client.get("/app/api/sessions", headers=world.h("alice"))
    assert r.status_code == 200, r.text
    rows = {item["id"]: item for item in r.json()["sessions"]}
    assert set(rows) == set(sids.values())
    for name in DAMAGED:
        row = rows[sids[name]]
        assert row["status"] == "damaged", (name, row)
        assert f"gaitlake reprocess {sids[name]} --force" in row["error"] and "lake/" not in row["error"]
        assert row["cadence_spm"] is None
    for name in ("healthy", "healthy2"):
        assert rows[sids[name]]["status"] == "done" and rows[sids[name]]["cadence_spm"] is not None


def test_viewer_session_pages_of_a_runner_with_a_damaged_session(damaged):
    """The damaged session's own document says it is damaged (200, no 503); the runner's other
    sessions keep their pages, their history listing the damaged one without numbers."""
    world, sids = damaged
    for name in DAMAGED:
        r = world.client.get(f"/app/api/sessions/{sids[name]}", headers=world.h("alice"))
        assert r.status_code == 200, (name, r.status_code, r.text)
        doc = r.json()
        assert doc["status"] == "damaged" and f"gaitlake reprocess {sids[name]} --force" in doc["error"]
        page = world.client.get(f"/app/sessions/{sids[name]}", headers=world.h("alice"))
        assert page.status_code == 200
    for name in ("healthy", "healthy2"):
        r = world.client.get(f"/app/api/sessions/{sids[name]}", headers=world.h("alice"))
        assert r.status_code == 200, (name, r.text)
        doc = r.json()
        assert doc["status"] == "done" and doc["cards"]
        history = {h["id"]: h for h in doc["history"]}
        assert sids["truncated"] in history and history[sids["truncated"]]["cadence_spm"] is None
    # A download of a damaged session is that session's 503, naming the repair.
    r = world.client.get(f"/app/api/sessions/{sids['truncated']}/downloads/frames.csv", headers=world.h("alice"))
    assert r.status_code == 503 and "gaitlake reprocess" in r.json()["error"]
