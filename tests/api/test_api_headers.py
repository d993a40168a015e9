"""Security headers (issue 25 item 22): ``X-Content-Type-Options: nosniff`` on every answer (JSON,
errors, downloads, signed files, the Swagger page) and a Content-Security-Policy with
``frame-ancestors 'none'`` on ``/docs``."""
from __future__ import annotations

from urllib.parse import urlsplit

import jsonschema
import pytest

from api.tenancy import SESSION_ID_RE


def test_nosniff_on_json_errors_downloads_files_and_docs(world):
    sid = world.add_session("ua")
    details = world.client.get(f"/running/sessions/{sid}/", headers=world.h("alice"))
    assert details.status_code == 200
    video = urlsplit(details.json()["video_url"])
    answers = {
        "json": details,
        "error json": world.client.get("/running/sessions/nosuch/", headers=world.h("alice")),
        "401": world.client.get(f"/running/sessions/{sid}/"),
        "413": world.client.post("/running/sessions/", content=b"x", headers={
            **world.h("alice"), "Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(50 << 20)}),
        "download": world.client.get(f"/app/api/sessions/{sid}/downloads/frames.csv", headers=world.h("alice")),
        "signed file": world.client.get(f"{video.path}?{video.query}"),
        "docs": world.client.get("/docs"),
        "openapi": world.client.get("/openapi.json"),
        "docs asset": world.client.get("/docs/static/swagger-ui.css"),
    }
    for name, r in answers.items():
        assert r.headers.get("x-content-type-options") == "nosniff", (name, r.status_code, dict(r.headers))
    assert answers["download"].status_code == 200 and answers["signed file"].status_code == 200


def test_docs_has_a_csp_that_forbids_framing_and_foreign_scripts(world):
    r = world.client.get("/docs")
    assert r.status_code == 200
    csp = {d.split()[0]: d.split()[1:] for d in r.headers["content-security-policy"].split("; ")}
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert csp["script-src"][0] == "'self'" and all(s.startswith("'sha256-") for s in csp["script-src"][1:])
    assert "'unsafe-inline'" not in csp["script-src"] and r.headers["x-frame-options"] == "DENY"


def test_405_allow_lists_every_method_served_on_the_path(world):
    """``/summary/`` serves GET (the report) and POST (its threads): a 405 there says both
    (issue 25 item 22: it said ``Allow: GET``), and every method it names is served."""
    sid = world.add_session("ua")
    for path, served in ((f"/running/sessions/{sid}/summary/", {"GET", "POST"}),
                         (f"/running/sessions/{sid}/export/", {"GET"}),
                         (f"/running/sessions/{sid}/gait-analysis/", {"POST"})):
        r = world.client.request("DELETE", path, headers=world.h("alice"))
        assert r.status_code == 405 and r.json() == {"error": "method not allowed"}
        assert set(r.headers["allow"].split(", ")) == served, (path, r.headers["allow"])
        for method in served:
            assert world.client.request(method, path, headers=world.h("alice")).status_code != 405, (path, method)


@pytest.mark.parametrize("session_id", ["abc", "A_b-9", "a" * 64, "a" * 65, "a.b", "a%20b", "%C3%A4", "a;b", "%00"])
def test_the_served_schema_states_the_id_rule_the_server_enforces(world, session_id):
    """Issue 25 item 22: every id path parameter of /openapi.json carries the pattern, and the
    schema's verdict on an id is the server's (400 exactly for the ids the pattern refuses)."""
    from urllib.parse import unquote

    served = world.client.get("/openapi.json").json()
    params = [p for ops in served["paths"].values() for op in ops.values() for p in op.get("parameters", [])
              if p["in"] == "path" and p["name"] in ("session_id", "thread_id")]
    assert len(params) == 9
    schema = params[0]["schema"]
    assert all(p["schema"] == schema for p in params) and schema["pattern"] == SESSION_ID_RE.pattern
    schema_ok = jsonschema.Draft202012Validator(schema).is_valid(unquote(session_id))
    r = world.client.get(f"/running/sessions/{session_id}/", headers=world.h("alice"))
    assert (r.status_code != 400) == schema_ok, (session_id, r.status_code, r.text)
