"""Served documents (issue 14 point 1): ETag + Cache-Control, 304 on If-None-Match, gzip equal to
plain JSON, cached documents that still change when what they show changes; /docs offline."""
from __future__ import annotations

import gzip
import json
import re

import pytest
from api_support import assert_matches

from storage.catalog import User

READS = (("get", "/running/sessions/{sid}/", "/running/sessions/{session_id}/"),
         ("get", "/running/sessions/{sid}/summary/", "/running/sessions/{session_id}/summary/"),
         ("get", "/running/sessions/{sid}/export/", "/running/sessions/{session_id}/export/"),
         ("post", "/running/sessions/{sid}/form-analysis/", "/running/sessions/{session_id}/form-analysis/"),
         ("post", "/running/sessions/{sid}/gait-analysis/", "/running/sessions/{session_id}/gait-analysis/"))


@pytest.mark.parametrize("method,template,spec_path", READS)
def test_etag_cache_control_and_gzip(world, method, template, spec_path):
    sid = world.add_session("ua")
    path = template.format(sid=sid)
    call = getattr(world.client, method)
    plain = call(path, headers={**world.h("alice"), "Accept-Encoding": "identity"})
    assert plain.status_code == 200, plain.text
    assert "content-encoding" not in plain.headers
    assert_matches(plain.json(), spec_path, method)
    etag = plain.headers["etag"]
    assert re.fullmatch(r'W/"[0-9a-f]{24}"', etag)
    assert plain.headers["cache-control"] == "private, no-cache"
    # The same document again: same bytes, same ETag (encoded once, answered from bytes).
    again = call(path, headers={**world.h("alice"), "Accept-Encoding": "identity"})
    assert again.content == plain.content and again.headers["etag"] == etag
    # gzip when accepted and large enough; decoded it is exactly the plain JSON.
    raw = world.client.build_request(method.upper(), path, headers={**world.h("alice"), "Accept-Encoding": "gzip"})
    zipped = world.client.send(raw, stream=True)
    body = b"".join(zipped.iter_raw())
    if len(plain.content) >= 4096:
        assert zipped.headers["content-encoding"] == "gzip"
        assert gzip.decompress(body) == plain.content
        assert len(body) < len(plain.content)
    else:
        assert "content-encoding" not in zipped.headers and body == plain.content
    assert zipped.headers["etag"] == etag and "Accept-Encoding" in zipped.headers["vary"]
    # Revalidation: 304 without a body on GET; a POST (a report operation) always answers the document.
    revalidated = call(path, headers={**world.h("alice"), "If-None-Match": etag})
    if method == "get":
        assert revalidated.status_code == 304 and revalidated.content == b"" and revalidated.headers["etag"] == etag
    else:
        assert revalidated.status_code == 200 and revalidated.content == plain.content
    stale = call(path, headers={**world.h("alice"), "If-None-Match": 'W/"0000"'})
    assert stale.status_code == 200 and stale.content == plain.content


def test_cached_documents_follow_saved_threads_and_profile_changes(world):
    sid = world.add_session("ua")
    path = f"/running/sessions/{sid}/summary/"
    first = world.client.get(path, headers=world.h("alice"))
    assert first.json()["summary_text"] == {} and first.json()["user_information"]["age"] == "34"
    # Saving commentary changes the document (and its ETag) at once.
    assert world.client.post(path, headers=world.h("alice")).status_code == 201
    second = world.client.get(path, headers={**world.h("alice"), "If-None-Match": first.headers["etag"]})
    assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]
    assert set(second.json()["summary_text"]) >= {"performance_metrics", "final_summary"}
    details = world.client.get(f"/running/sessions/{sid}/", headers=world.h("alice")).json()
    assert details["summary"] == second.json()["summary_text"]["final_summary"]
    # A birth date on the user's record replaces the stored age.
    with world.catalog.session() as db:
        user = db.get(User, world.users["ua"])
        user.profile = {**user.profile, "birth_date": "2000-01-01"}
    third = world.client.get(path, headers=world.h("alice")).json()
    import datetime as dt

    today = dt.datetime.now(dt.timezone.utc).date()
    assert third["user_information"]["age"] == str(today.year - 2000)
    form = world.client.post(f"/running/sessions/{sid}/form-analysis/", headers=world.h("alice")).json()
    assert form["user_info"]["age"] == today.year - 2000


def test_documents_are_the_same_json_as_before_caching(world):
    """orjson bytes decode to what the documents hold: NaN/inf become null, nothing else changes."""
    from api.responses import encode

    value = {"a": [1.5, float("nan"), float("inf"), None], "b": {"c": "é", "d": 3}}
    assert json.loads(encode(value)) == {"a": [1.5, None, None, None], "b": {"c": "é", "d": 3}}
    import numpy as np

    assert json.loads(encode({"x": np.array([1.0, 2.5])})) == {"x": [1.0, 2.5]}


def test_swagger_page_is_served_offline(world):
    page = world.client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", page.text)
    assert urls, page.text
    for url in urls:
        assert not re.match(r"^(https?:)?//", url), f"/docs references {url}: not same-origin"
        r = world.client.get(url)
        assert r.status_code == 200, url
    assert any(u.endswith("swagger-ui-bundle.js") for u in urls) and any(u.endswith(".css") for u in urls)
    assert world.client.get("/openapi.json").json()["openapi"].startswith("3.")


@pytest.mark.parametrize("method,template,spec_path", READS)
def test_a_warm_read_costs_one_catalog_query(world, method, template, spec_path):
    """One catalog round trip per request once the key and the document are cached."""
    from sqlalchemy import event

    sid = world.add_session("ua")
    world.client.post(f"/running/sessions/{sid}/summary/", headers=world.h("alice"))  # saved texts exist
    call = getattr(world.client, method)
    path = template.format(sid=sid)
    assert call(path, headers=world.h("alice")).status_code == 200  # warms the auth, record and document caches
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = world.catalog.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert call(path, headers=world.h("alice")).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # The API-key check is cached for auth_cache_ttl_s (5 s); on a slow machine it may have lapsed.
    reads = [sql for sql in statements if "api_keys" not in sql and "FROM users \nWHERE users.id = ?" not in sql]
    assert len(reads) == 1, statements


def test_views_are_reused_for_the_ttl_and_dropped_by_this_process_s_writes(settings, world):
    """api.view_cache_ttl_s: a repeated read within the TTL makes no catalog query; a catalog change
    by another process shows once the TTL has passed; threads saved here show at once."""
    from cachetools import TTLCache
    from sqlalchemy import event

    from api.app import create_app
    from api.settings import ApiSettings
    from fastapi.testclient import TestClient

    app = create_app(settings, ApiSettings(launch_processing=False, signing_secret="test-secret", view_cache_ttl_s=30))
    svc = app.state.services
    now = [0.0]
    svc._views = TTLCache(64, 30, timer=lambda: now[0])   # a clock the test moves
    client = TestClient(app, raise_server_exceptions=False)
    sid = world.add_session("ua")
    path = f"/running/sessions/{sid}/summary/"
    first = client.get(path, headers=world.h("alice"))
    assert first.status_code == 200 and first.json()["user_information"]["age"] == "34"

    statements: list[str] = []
    engine = world.catalog.engine
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert client.get(path, headers=world.h("alice")).status_code == 200
    assert [sql for sql in statements if "api_keys" not in sql and "FROM users \nWHERE users.id = ?" not in sql] == []

    with world.catalog.session() as db:   # another process edits the runner's profile
        user = db.get(User, world.users["ua"])
        user.profile = {**user.profile, "birth_date": "1990-01-01"}
    assert client.get(path, headers=world.h("alice")).json()["user_information"]["age"] == "34"   # within the TTL
    now[0] += 31
    import datetime as dt

    age = str(dt.datetime.now(dt.timezone.utc).date().year - 1990)   # born on 1 January
    assert client.get(path, headers=world.h("alice")).json()["user_information"]["age"] == age

    assert client.post(path, headers=world.h("alice")).status_code == 201   # saved here: shown at once
    assert set(client.get(path, headers=world.h("alice")).json()["summary_text"]) >= {"final_summary"}
    # another caller's view is its own: bob (another tenant) still gets 404, never alice's view
    assert client.get(path, headers=world.h("bob")).status_code == 404


def test_concurrent_first_reads_read_the_lake_once_and_build_once(world, monkeypatch):
    """Many clients meeting a session nobody has read yet (a new server, a newly processed session):
    one lake read and one document build, the other readers wait for it and get the same bytes."""
    import threading
    import time

    from api import reports

    sid = world.add_session("ua")
    services = world.client.app.state.services
    reads: list[str] = []
    read_table = services.reader.lake.read_table

    def slow_read(session_id, name, **kw):   # widens the window in which the readers overlap
        reads.append(name)
        time.sleep(0.2)
        return read_table(session_id, name, **kw)

    monkeypatch.setattr(services.reader.lake, "read_table", slow_read)
    builds: list[str] = []
    summary = reports.summary

    def counted_summary(*args, **kw):
        builds.append("summary")
        time.sleep(0.1)
        return summary(*args, **kw)

    monkeypatch.setattr(reports, "summary", counted_summary)
    start = threading.Barrier(8)
    bodies: list[bytes] = []

    def reader():
        start.wait()
        r = world.client.get(f"/running/sessions/{sid}/summary/", headers=world.h("alice"))
        assert r.status_code == 200, r.text
        bodies.append(r.content)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(bodies) == 8 and len(set(bodies)) == 1
    assert reads.count("sessions") == 1, reads
    assert builds == ["summary"]
