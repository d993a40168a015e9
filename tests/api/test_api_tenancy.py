"""Cross-tenant matrix: every operation, every caller, every owner. Zero leaks.

A session the caller does not manage must answer exactly like a session that
does not exist (same status, same body), and must not be changed.
"""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from api_support import fake_mp4
from storage.catalog import Thread

OPS = [
    ("get", "/running/sessions/{sid}/"),
    ("get", "/running/sessions/{sid}/summary/"),
    ("post", "/running/sessions/{sid}/summary/"),
    ("get", "/running/sessions/{sid}/export/"),
    ("post", "/running/sessions/{sid}/form-analysis/"),
    ("post", "/running/sessions/{sid}/form-recommendations/"),
    ("post", "/running/sessions/{sid}/gait-analysis/"),
    ("post", "/running/sessions/{sid}/recommendation/"),
]
CALLERS = ["alice", "sam", "ua", "us", "bob", "ub", "carol", "uc"]
OWNERS = ["alice", "sam", "ua", "us", "ub", "uc"]
MANAGES = {
    "alice": {"alice", "sam", "ua", "us"}, "sam": {"sam", "us"}, "ua": {"ua"}, "us": {"us"},
    "bob": {"bob", "ub"}, "ub": {"ub"}, "carol": {"carol", "uc"}, "uc": {"uc"},
}


@pytest.fixture
def populated(world):
    sessions = {owner: world.add_session(owner) for owner in OWNERS}
    return world, sessions


def _threads(world) -> int:
    with world.catalog.session() as db:
        return db.scalar(select(func.count()).select_from(Thread))


def test_matrix_every_operation(populated):
    world, sessions = populated
    leaks = []
    for caller, (method, template) in itertools.product(CALLERS, OPS):
        missing = getattr(world.client, method)(template.format(sid="0" * 32), headers=world.h(caller))
        for owner, sid in sessions.items():
            before = _threads(world)
            r = getattr(world.client, method)(template.format(sid=sid), headers=world.h(caller))
            allowed = owner in MANAGES[caller]
            if allowed:
                if r.status_code == 404 and r.json() == missing.json():
                    leaks.append(f"{caller} denied own-tenant {owner} on {method} {template}")
                continue
            if (r.status_code, r.json()) != (missing.status_code, missing.json()):
                leaks.append(f"{caller} -> {owner} {method} {template}: {r.status_code} {r.text[:80]} "
                             f"vs missing {missing.status_code} {missing.text[:80]}")
            if _threads(world) != before:
                leaks.append(f"{caller} created threads on {owner}'s session")
    assert not leaks, "\n".join(leaks)


def test_threads_are_private(populated):
    world, sessions = populated
    ids = world.client.post(f"/running/sessions/{sessions['ub']}/summary/", headers=world.h("bob")).json()
    tid = ids["final_summary"]
    missing = world.client.get("/running/threads/" + "0" * 32 + "/", headers=world.h("alice"))
    for caller in CALLERS:
        r = world.client.get(f"/running/threads/{tid}/", headers=world.h(caller))
        if caller in ("bob", "ub"):
            assert r.status_code == 200
        else:
            assert (r.status_code, r.json()) == (missing.status_code, missing.json()) == (404, {"error": "thread not found"})


def test_upload_for_another_tenant_is_indistinguishable_from_unknown_user(world):
    def post(caller, user_id):
        return world.client.post("/running/sessions/", data={"user_id": user_id},
                                 files={"video": ("v.mp4", fake_mp4(), "video/mp4")}, headers=world.h(caller))

    for caller in ("alice", "sam", "bob", "carol"):
        unknown = post(caller, "no-such-user")
        for owner in ("ua", "us", "ub", "uc", "bob", "alice"):
            r = post(caller, world.users[owner])
            if owner in MANAGES[caller]:
                assert r.status_code == 200, (caller, owner, r.text)
            else:
                assert (r.status_code, r.json()) == (unknown.status_code, unknown.json()) == (404, {"error": "user not found"})
            # E-mail addresses are not an oracle either.
            if owner not in MANAGES[caller]:
                assert post(caller, f"{owner}@example.org").json() == {"error": "user not found"}
    for caller in ("ua", "ub"):
        assert post(caller, "no-such-user").status_code == post(caller, world.users["uc"]).status_code == 403
    # Nothing was stored for refused uploads.
    owners = {world.catalog.get_session(k.split("/")[1]).user_id for k in world.store.list("videos")}
    assert owners <= {world.users[o] for o in ("ua", "us", "ub", "uc", "bob", "alice")}


def test_total_metrics_only_cover_the_callers_users(populated):
    world, _ = populated
    speeds = {}
    for caller in CALLERS:
        r = world.client.get("/running/sessions/metrics/total/", headers=world.h(caller))
        assert r.status_code == 200
        speeds[caller] = r.json()["avg_metrics"]["avg_speed"]
    # Everyone's sessions have the same numbers here; what matters is that each answer exists
    # only from visible sessions: a tenant without sessions gets 404.
    world2_caller = world.add_user("dave", role="admin", plan="pro")
    assert world2_caller
    assert world.client.get("/running/sessions/metrics/total/", headers=world.h("dave")).status_code == 404


def test_targeted_visibility_check_agrees_with_the_managed_set(world):
    """`manages` (O(1) lookups per request) decides exactly like the full managed-user set."""
    from api.auth import Principal
    from api.tenancy import managed_user_ids, manages
    from storage.catalog import User

    with world.catalog.session() as db:
        users = {name: db.get(User, uid) for name, uid in world.users.items()}
        for caller in users.values():
            principal = Principal(caller.id, caller.email, caller.role, "api-key")
            managed = managed_user_ids(db, principal)
            for owner in users.values():
                assert manages(db, principal, owner) == (owner.id in managed), (caller.name, owner.name)
