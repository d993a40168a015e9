"""The viewer's HTTP rules without a browser: authentication (headers, the signed cookie), tenancy,
states and downloads of a session whose artifacts were never rendered."""
from __future__ import annotations

import io
import time
from datetime import datetime, timezone

import jwt
import pyarrow.parquet as pq
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from viewer_support import app_and_world

from api.keys import revoke_keys
from api.viewer.cookies import COOKIE_NAME, CookieSigner
from storage.catalog import SessionStatus

DAY = datetime(2025, 4, 7, 8, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    data = tmp_path_factory.mktemp("viewer-http") / "data"
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = data.parent / "jwt.pem"
    pem.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    app, w = app_and_world(data, signing_secret="viewer-http-secret", jwt_public_keys=str(pem))
    w.add_user("coach", role="admin", plan="pro")
    w.add_user("runner", admin="coach")
    w.add_user("revoked", admin="coach")
    w.add_user("other", role="admin")
    w.sessions["plain"] = w.add_session("runner", "Not rendered", DAY, render=False)
    w.sessions["queued"] = w.add_session("runner", "Queued", DAY, status=SessionStatus.QUEUED)
    w.sessions["foreign"] = w.add_session("other", "Theirs", DAY, status=SessionStatus.QUEUED)
    w.client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    w.jwt_key = private
    return w


def sign_in(w, who: str) -> TestClient:
    client = w.client
    client.cookies.clear()
    r = client.post("/app/sign-in", data={"api_key": w.keys[who], "next": "/app/sessions"})
    assert r.status_code == 303 and r.headers["location"] == "/app/sessions"
    return client


def test_sign_in_cookie_is_signed_httponly_strict_and_holds_no_key(world):
    r = world.client.post("/app/sign-in", data={"api_key": world.keys["coach"]})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/app" in cookie and world.keys["coach"] not in cookie
    world.client.cookies.clear()


def test_pages_and_json_need_credentials(world):
    world.client.cookies.clear()
    r = world.client.get("/app/sessions")
    assert r.status_code == 303 and r.headers["location"] == "/app/?next=/app/sessions"
    assert world.client.get("/app/api/sessions").status_code == 401
    assert world.client.post("/app/sign-in", data={"api_key": "nope"}).status_code == 401
    # the API's own credentials work on the viewer's endpoints: both header forms
    for headers in ({"Authorization": f"API-KEY {world.keys['coach']}"}, {"API-KEY": world.keys["coach"]}):
        r = world.client.get("/app/api/sessions", headers=headers)
        assert r.status_code == 200 and len(r.json()["sessions"]) == 2
    assert world.client.get("/app/api/sessions", headers={"Authorization": "API-KEY glk_bad"}).status_code == 401


def test_a_bearer_token_sees_what_its_user_sees(world):
    world.client.cookies.clear()
    now = int(time.time())

    def bearer(sub):
        token = jwt.encode({"sub": sub, "iat": now, "exp": now + 600}, world.jwt_key, algorithm="RS256")
        return {"Authorization": f"Bearer {token}"}

    r = world.client.get("/app/api/sessions", headers=bearer(world.users["coach"]))
    assert r.status_code == 200 and {s["id"] for s in r.json()["sessions"]} == {world.sessions["plain"], world.sessions["queued"]}
    page = world.client.get(f"/app/sessions/{world.sessions['plain']}", headers=bearer(world.users["runner"]))
    assert page.status_code == 200 and 'data-page="session"' in page.text
    assert world.client.get(f"/app/sessions/{world.sessions['plain']}", headers=bearer(world.users["other"])).status_code == 404
    assert world.client.get("/app/api/sessions", headers=bearer("nobody")).status_code == 401


def test_a_tampered_or_expired_cookie_or_a_revoked_key_signs_out(world):
    client = sign_in(world, "revoked")
    assert client.get("/app/api/sessions").status_code == 200
    good = client.cookies[COOKIE_NAME]
    payload, mac = good.split(".")
    client.cookies.set(COOKIE_NAME, payload + "." + ("A" if mac[0] != "A" else "B") + mac[1:], path="/app")
    assert client.get("/app/api/sessions").status_code == 401
    signer = CookieSigner(b"viewer-http-secret", ttl_s=60)
    assert signer.claims(signer.issue("u", world.keys["revoked"], now=1000.0), now=1059.0) is not None
    assert signer.claims(signer.issue("u", world.keys["revoked"], now=1000.0), now=1061.0) is None
    assert CookieSigner(b"another-secret").claims(good) is None
    client.cookies.set(COOKIE_NAME, good, path="/app")
    revoke_keys(world.catalog, world.users["revoked"])
    assert client.get("/app/api/sessions").status_code == 401
    client.cookies.clear()


def test_someone_elses_session_answers_exactly_like_a_missing_one(world):
    client = sign_in(world, "coach")
    foreign, missing = world.sessions["foreign"], "f" * 32
    for path in ("/app/sessions/{}", "/app/api/sessions/{}", "/app/api/sessions/{}/downloads/frames.csv"):
        a, b = client.get(path.format(foreign)), client.get(path.format(missing))
        assert a.status_code == b.status_code == 404, path
        assert a.content.replace(foreign.encode(), b"X") == b.content.replace(missing.encode(), b"X"), path
    assert client.get("/app/sessions/..%2F..%2Fetc").status_code == 404
    assert world.sessions["foreign"] not in client.get("/app/api/sessions").text
    client.cookies.clear()


def test_open_redirects_are_refused(world):
    world.client.cookies.clear()
    r = world.client.post("/app/sign-in", data={"api_key": world.keys["coach"], "next": "//evil.example/app/"})
    assert r.headers["location"] == "/app/sessions"
    world.client.cookies.clear()


def test_states_pages_headers_and_unrendered_downloads(world):
    client = sign_in(world, "coach")
    queued = client.get(f"/app/api/sessions/{world.sessions['queued']}").json()
    assert queued["status"] == "queued" and "cards" not in queued and queued["refresh_s"] > 0
    r = client.get(f"/app/api/sessions/{world.sessions['queued']}/downloads/report.pdf")
    assert r.status_code == 409 and r.json()["status"] == "queued"
    page = client.get(f"/app/sessions/{world.sessions['plain']}")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    r = client.get(f"/app/api/sessions/{world.sessions['plain']}", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and int(r.headers["content-length"]) < len(r.content) / 3
    doc = r.json()
    assert doc["video"]["analysed"] is False and "/files/videos/" in doc["video"]["url"]   # the source clip
    assert all(p["image_url"] is None for side in doc["gait"].values() for p in side["phases"])
    # no rendered report: drawn from the lake on demand
    png = client.get(f"/app/api/sessions/{world.sessions['plain']}/downloads/report.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG\r\n\x1a\n")
    pdf = client.get(f"/app/api/sessions/{world.sessions['plain']}/downloads/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    strides = client.get(f"/app/api/sessions/{world.sessions['plain']}/downloads/strides.parquet")
    assert pq.read_table(io.BytesIO(strides.content)).num_rows >= 8
    assert client.get(f"/app/api/sessions/{world.sessions['plain']}/downloads/secrets.txt").status_code == 404
    assert client.get("/app/static/viewer.js").headers["content-type"].startswith(("text/javascript", "application/javascript"))
    client.cookies.clear()


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Referer": "http://evil.example/page.html"},
    {"Origin": "http://testserver.evil.example", "Referer": "http://testserver/app/"},
])
def test_a_foreign_page_cannot_sign_a_browser_in(world, headers):
    """Login CSRF (issue 25 item 22): a sign-in posted from another origin sets no cookie."""
    world.client.cookies.clear()
    r = world.client.post("/app/sign-in", data={"api_key": world.keys["coach"]}, headers=headers)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert world.client.post("/app/sign-out", headers=headers).status_code == 403


@pytest.mark.parametrize("headers", [{"Origin": "http://testserver"}, {"Referer": "http://testserver/app/?next=/app/sessions"}, {}])
def test_this_sites_form_signs_in(world, headers):
    world.client.cookies.clear()
    r = world.client.post("/app/sign-in", data={"api_key": world.keys["coach"]}, headers=headers)
    assert r.status_code == 303 and r.headers["set-cookie"].startswith(f"{COOKIE_NAME}=")
    world.client.cookies.clear()
