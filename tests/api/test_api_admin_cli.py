"""Issue 16 / 13.8: users list/show, keys list/revoke, the stored age, case-insensitive e-mails."""
from __future__ import annotations

import datetime as dt
import json

from api_support import fake_mp4, run_cli
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from configs import get_settings


def _out(capsys) -> str:
    return capsys.readouterr().out


def test_users_list_show_keys_list_revoke_and_age(env_data, capsys):
    assert run_cli("users", "add", "Coach@Example.org", "--role", "admin", "--plan", "pro", "--name", "Coach") == 0
    assert run_cli("users", "add", "Runner@Example.org", "--admin", "COACH@example.org", "--birth-date", "1990-06-15") == 0
    assert run_cli("users", "add", "old@example.org", "--admin", "coach@example.org", "--age", "61") == 0
    assert run_cli("users", "add", "RUNNER@example.org") == 1  # the same e-mail in another case is a duplicate
    assert run_cli("users", "add", "x@example.org", "--birth-date", "15/06/1990") == 2
    capsys.readouterr()
    assert run_cli("users", "list", "--json") == 0
    users = {u["email"]: u for u in json.loads(_out(capsys))}
    assert set(users) == {"coach@example.org", "runner@example.org", "old@example.org"}  # stored lowercase
    today = dt.date.today()
    assert users["runner@example.org"]["age"] == today.year - 1990 - ((today.month, today.day) < (6, 15))
    assert users["old@example.org"]["age"] == 61 and users["runner@example.org"]["admin"] == "coach@example.org"
    assert run_cli("users", "list") == 0
    table = _out(capsys).splitlines()
    assert table[0].split() == ["email", "role", "plan", "admin", "sessions", "id"] and len(table) == 4

    assert run_cli("keys", "create", "COACH@EXAMPLE.ORG") == 0
    key1 = _out(capsys).strip()
    assert run_cli("keys", "create", "coach@example.org") == 0
    key2 = _out(capsys).strip()
    assert run_cli("keys", "list", "--user", "Coach@example.org", "--json") == 0
    listed = json.loads(_out(capsys))
    assert [k["prefix"] for k in listed] == [key1.split("_")[1], key2.split("_")[1]]
    assert all(k["revoked_at"] is None and k["user"] == "coach@example.org" for k in listed)
    assert key1 not in json.dumps(listed)  # secrets are never shown again

    app = create_app(get_settings(), ApiSettings(launch_processing=False, auth_cache_ttl_s=0))
    client = TestClient(app)
    total = "/running/sessions/metrics/total/"
    assert client.get(total, headers={"Authorization": f"API-KEY {key1}"}).status_code == 404  # valid key, no sessions
    assert run_cli("keys", "revoke", key1.split("_")[1]) == 0
    assert "revoked" in _out(capsys)
    assert client.get(total, headers={"Authorization": f"API-KEY {key1}"}).status_code == 401
    assert client.get(total, headers={"Authorization": f"API-KEY {key2}"}).status_code == 404
    assert run_cli("keys", "revoke", "--user", "coach@example.org") == 0
    assert client.get(total, headers={"Authorization": f"API-KEY {key2}"}).status_code == 401
    assert run_cli("keys", "revoke", "nosuchprefix") == 1
    capsys.readouterr()

    assert run_cli("users", "show", "Runner@example.org") == 0
    shown = json.loads(_out(capsys))
    assert shown["email"] == "runner@example.org" and shown["profile"] == {"birth_date": "1990-06-15"} and shown["keys"] == []
    assert run_cli("users", "show", "nobody@example.org") == 1


def test_a_user_uploading_for_itself_with_its_email_in_another_case(world):
    world.add_user("Mixed", admin="alice")  # stored as mixed@example.org
    for ref in ("MIXED@example.org", "Mixed@Example.Org", "mixed@example.org"):
        r = world.client.post("/running/sessions/", data={"user_id": ref},
                              files={"video": ("run.mp4", fake_mp4(), "video/mp4")}, headers=world.h("Mixed"))
        assert r.status_code == 200, (ref, r.text)
    # An admin naming its user's e-mail in any case, too.
    r = world.client.post("/running/sessions/", data={"user_id": "UA@EXAMPLE.ORG"},
                          files={"video": ("run.mp4", fake_mp4(), "video/mp4")}, headers=world.h("alice"))
    assert r.status_code == 200, r.text
    assert world.catalog.get_session(r.json()["session_id"]).user_id == world.users["ua"]
