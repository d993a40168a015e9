"""The admin CLI (users add, keys create, serve wiring) and the app's OpenAPI document."""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from api_support import run_cli
from fastapi.testclient import TestClient

from api.app import create_app
from api.openapi import CORRECTIONS, SPEC_PATH, app_openapi, shared_spec
from api.settings import ApiSettings, load_api_settings
from configs import get_settings
from gaitlake import cli_api as cli

REPO = Path(__file__).resolve().parents[2]
SHARED_SPEC = REPO.parent / "shared" / "spec" / "running-openapi.json"


def test_users_add_and_keys_create_then_call_the_api(env_data, capsys):
    assert run_cli("users", "add", "Coach@Example.org", "--role", "admin", "--plan", "Pro", "--name", "Coach") == 0
    assert run_cli("users", "add", "helper@example.org", "--role", "sub-admin", "--admin", "coach@example.org") == 0
    assert run_cli("users", "add", "runner@example.org", "--admin", "helper@example.org", "--height-cm", "180", "--weight-kg", "72") == 0
    capsys.readouterr()
    assert run_cli("users", "add", "runner@example.org") == 1  # duplicate
    assert run_cli("users", "add", "x@example.org", "--role", "sub-admin") == 1  # a sub-admin needs an admin
    assert run_cli("users", "add", "y@example.org", "--admin", "runner@example.org") == 1  # a user cannot manage
    assert run_cli("keys", "create", "nobody@example.org") == 1
    capsys.readouterr()
    assert run_cli("keys", "create", "coach@example.org") == 0
    key = capsys.readouterr().out.strip()
    assert re.fullmatch(r"glk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}", key)
    app = create_app(get_settings(), ApiSettings(launch_processing=False))
    client = TestClient(app)
    # The key is stored only as a hash.
    from storage.catalog import ApiKey

    with app.state.catalog.session() as db:
        stored = db.query(ApiKey).one()
        assert key not in (stored.key_hash, stored.prefix) and stored.key_hash != key
    r = client.get("/running/sessions/metrics/total/", headers={"Authorization": f"API-KEY {key}"})
    assert r.status_code == 404 and r.json() == {"error": "no processed sessions found"}


def test_serve_parser_defaults():
    parser = argparse.ArgumentParser()
    cli.register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--port", "8123"])
    assert args.func is cli.serve and args.port == 8123 and args.host is None


def test_api_settings_from_env():
    s = load_api_settings(None, environ={"GAITLAKE_API__LINK_TTL_S": "60", "GAITLAKE_API__SESSION_LIMITS": '{"free": 1}'})
    assert s.link_ttl_s == 60 and s.session_limits == {"free": 1}
    with pytest.raises(ValueError):
        load_api_settings(None, environ={"GAITLAKE_API__NOPE": "1"})


def test_shipped_spec_is_the_shared_spec():
    if not SHARED_SPEC.exists():
        pytest.skip("../shared/spec is not available")
    assert json.loads(SPEC_PATH.read_text()) == json.loads(SHARED_SPEC.read_text())


def test_app_openapi_keeps_every_shared_operation(world):
    shared = shared_spec()
    served = world.client.get("/openapi.json").json()
    assert served == app_openapi()
    for path, ops in shared["paths"].items():
        for method, op in ops.items():
            mine = served["paths"][path][method]
            assert mine["operationId"] == op["operationId"]
            assert [(p["name"], p["in"]) for p in mine.get("parameters", [])] == [(p["name"], p["in"]) for p in op.get("parameters", [])]
            assert set(op["responses"]) <= set(mine["responses"])
    assert set(served["paths"]) - set(shared["paths"]) == {"/running/threads/{thread_id}/", "/files/{key}"}


def test_every_correction_is_documented():
    doc = (REPO / "docs" / "api.md").read_text()
    for correction in CORRECTIONS:
        assert correction.where in doc, correction.where


def test_routes_match_the_document(world):
    served = world.client.get("/openapi.json").json()
    def flat(routes):  # routers are included as branches (FastAPI >= 0.150); no prefixes are used
        for r in routes:
            yield from flat(r.original_router.routes) if hasattr(r, "original_router") else (r,)

    routes = {(r.path, m.lower()) for r in flat(world.client.app.routes) for m in getattr(r, "methods", ()) or ()}
    for path, ops in served["paths"].items():
        for method in ops:
            route_path = path.replace("{key}", "{key:path}")
            assert (route_path, method) in routes, (path, method)


def test_the_shipped_demo_session_is_what_the_engine_produces_now():
    """demo=true serves api/demo/demo_session.json: regenerate it when the engine changes."""
    from gaitlake import demo_session as generate

    assert generate.main(["--check"]) == 0, "run: python -m gaitlake.demo_session"
