"""Fixtures for the API tests: an app on a private data dir, a small tenant world, done sessions in the lake."""
from __future__ import annotations

import pytest
from api_support import World
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from configs import load_settings
from storage.lake import Lake
from storage.objectstore import ObjectStore


@pytest.fixture
def env_data(tmp_path, monkeypatch):
    """GAITLAKE_DATA_DIR -> a private dir, for code that reads the process settings (the CLI)."""
    from configs import get_settings

    monkeypatch.setenv("GAITLAKE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def settings(tmp_path):
    return load_settings(environ={}, overrides={"data_dir": str(tmp_path), "storage": {"max_upload_mb": 1}})


@pytest.fixture
def world(settings):
    launched: list[str] = []
    # The world writes the catalog directly, as another process would: reads see it at once only
    # without the view cache (its own tests are in test_api_caching.py).
    app = create_app(settings, ApiSettings(launch_processing=False, signing_secret="test-secret", view_cache_ttl_s=0),
                     launcher=lambda sid: launched.append(sid) or "test")
    client = TestClient(app, raise_server_exceptions=False)
    store = ObjectStore.from_settings(settings)
    w = World(client=client, catalog=app.state.catalog, store=store, lake=Lake(store), launched=launched)
    # Tenant A: admin with a Pro plan, a sub-admin, a user of each.
    w.add_user("alice", role="admin", plan="pro")
    w.add_user("sam", role="sub-admin", admin="alice")
    w.add_user("ua", admin="alice")
    w.add_user("us", admin="sam")
    # Tenant B: admin with a Standard plan and a user.
    w.add_user("bob", role="admin", plan="standard")
    w.add_user("ub", admin="bob")
    # Tenant C: admin without a plan, and a user.
    w.add_user("carol", role="admin")
    w.add_user("uc", admin="carol")
    return w


