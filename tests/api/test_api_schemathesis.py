"""Property-based: schemathesis drives every operation of the app's own OpenAPI document.

Checks: no 5xx, responses conform to the documented schemas, and status codes
are documented. Runs against an app with real users and a processed session so
generated requests also hit the success paths.
"""
from __future__ import annotations

import tempfile

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance  # noqa: E402

from api.app import create_app  # noqa: E402
from api.settings import ApiSettings  # noqa: E402
from configs import load_settings  # noqa: E402

_DATA = tempfile.mkdtemp(prefix="gaitlake-schemathesis-")
_SETTINGS = load_settings(environ={}, overrides={"data_dir": _DATA, "storage": {"max_upload_mb": 1}})
APP = create_app(_SETTINGS, ApiSettings(launch_processing=False, signing_secret="st-secret"), launcher=lambda sid: "test")
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def auth_headers():
    from fastapi.testclient import TestClient

    from api_support import World

    from storage.lake import Lake
    from storage.objectstore import ObjectStore

    store = ObjectStore.from_settings(_SETTINGS)
    world = World(client=TestClient(APP), catalog=APP.state.catalog, store=store, lake=Lake(store))
    world.add_user("admin", role="admin", plan="pro")
    world.add_user("runner", admin="admin")
    world.add_session("runner")
    return world.h("admin")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, auth_headers):
    response = case.call(headers=auth_headers)
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance, status_code_conformance])
