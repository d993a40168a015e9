"""Hostile input: oversized and chunked uploads, wrong content, traversal, SQL-ish ids, malformed multipart, bad JWTs."""
from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from api_support import fake_mp4
from storage.catalog import RunningSession

ISSUER = "https://securetoken.google.com/gaitlake-test"
AUDIENCE = "gaitlake-test"


def _multipart(fields: dict[str, str], file_bytes: bytes, boundary: str = "XyZzY") -> bytes:
    out = b""
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    out += (f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n'
            f"Content-Type: video/mp4\r\n\r\n").encode() + file_bytes + f"\r\n--{boundary}--\r\n".encode()
    return out


def _no_uploads_left(world) -> None:
    assert world.store.list("videos") == []
    with world.catalog.session() as db:
        assert db.query(RunningSession).count() == 0


def test_chunked_oversized_upload_is_cut_off(world):
    body = _multipart({"user_id": world.users["ua"]}, fake_mp4(3 << 20))

    def chunks():
        for i in range(0, len(body), 64 * 1024):
            yield body[i:i + 64 * 1024]

    r = world.client.post("/running/sessions/", content=chunks(),
                          headers={**world.h("alice"), "Content-Type": "multipart/form-data; boundary=XyZzY"})
    assert r.status_code == 413 and "limit" in r.json()["error"]
    _no_uploads_left(world)


def test_declared_oversized_upload_is_refused_before_reading(world):
    r = world.client.post("/running/sessions/", content=b"x" * 10,
                          headers={**world.h("alice"), "Content-Type": "multipart/form-data; boundary=XyZzY",
                                   "Content-Length": str(50 << 20)})
    assert r.status_code == 413


@pytest.mark.parametrize("content,needle", [
    (b"just some text pretending to be a video\n" * 10, "text"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "PNG"),
    (b"%PDF-1.7\n" + b"\x00" * 100, "PDF"),
    (bytes(range(256)) * 4, "not a recognised video"),
])
def test_non_video_content_is_refused_with_a_reason(world, content, needle):
    r = world.client.post("/running/sessions/", data={"user_id": world.users["ua"]},
                          files={"video": ("run.mp4", content, "video/mp4")}, headers=world.h("alice"))
    assert r.status_code == 400 and needle in r.json()["error"]
    _no_uploads_left(world)


def test_empty_file_is_refused(world):
    r = world.client.post("/running/sessions/", data={"user_id": world.users["ua"]},
                          files={"video": ("run.mp4", b"", "video/mp4")}, headers=world.h("alice"))
    assert r.status_code == 400
    _no_uploads_left(world)


@pytest.mark.parametrize("head", [
    b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ",
    b"RIFF\x00\x00\x00\x00AVI LIST",
    b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm",
])
def test_other_containers_are_accepted(world, head):
    r = world.client.post("/running/sessions/", data={"user_id": world.users["ua"]},
                          files={"video": ("clip.bin", head + b"\x00" * 256, "application/octet-stream")}, headers=world.h("alice"))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("body,ctype", [
    (b'{"user_id": "x"}', "application/json"),
    (b"user_id=x&video=y", "application/x-www-form-urlencoded"),
    (b"--XyZzY\r\nContent-Disposition: form-data; name=\"video\"; filename=\"v.mp4\"\r\n\r\n\x00\x00", "multipart/form-data; boundary=XyZzY"),
    (b"garbage without boundaries", "multipart/form-data; boundary=XyZzY"),
    (b"--a\r\n\r\n--a--", "multipart/form-data"),
])
def test_malformed_or_wrong_bodies_are_400(world, body, ctype):
    r = world.client.post("/running/sessions/", content=body, headers={**world.h("alice"), "Content-Type": ctype})
    assert r.status_code == 400, r.text
    assert "error" in r.json()
    _no_uploads_left(world)


def test_too_many_files_is_400(world):
    files = [("video", ("a.mp4", fake_mp4(), "video/mp4")), ("video", ("b.mp4", fake_mp4(), "video/mp4"))]
    r = world.client.post("/running/sessions/", data={"user_id": world.users["ua"]}, files=files, headers=world.h("alice"))
    assert r.status_code == 400


@pytest.mark.parametrize("sid", [
    "1' OR '1'='1", "1; DROP TABLE sessions; --", "x\" OR \"\"=\"", "%27%20OR%201=1", "a" * 65, "*", "%00",
    "..%2F..%2Fetc%2Fpasswd", "../../etc/passwd", "%2e%2e", "sessions/../../x",
])
def test_sql_ish_and_traversal_session_ids(world, sid):
    world.add_session("ua")
    for method, template in (("get", "/running/sessions/{}/"), ("post", "/running/sessions/{}/gait-analysis/"),
                             ("get", "/running/sessions/{}/export/"), ("get", "/running/threads/{}/")):
        r = getattr(world.client, method)(template.format(sid), headers=world.h("alice"))
        assert r.status_code in (400, 404), (sid, r.status_code, r.text)
        assert set(r.json()) == {"error"}
    with world.catalog.session() as db:
        assert db.query(RunningSession).count() == 1


def test_signed_links_refuse_tampering_expiry_and_traversal(world):
    sid = world.add_session("ua")
    link = world.client.get(f"/running/sessions/{sid}/", headers=world.h("ua")).json()["video_url"]
    assert world.client.get(link).status_code == 200
    path, _, query = link.partition("?")
    assert world.client.get(path).status_code == 403
    assert world.client.get(link.replace("sig=", "sig=0")).status_code == 403
    other = world.add_session("ub")
    assert world.client.get(link.replace(sid, other)).status_code == 403  # a signature is bound to its key
    # Expired link: a signature made for the past.
    linker_secret = b"test-secret"
    import hashlib
    import hmac

    key = f"videos/{sid}/source.mp4"
    past = int(time.time()) - 10
    sig = hmac.new(linker_secret, f"{key}\n{past}".encode(), hashlib.sha256).hexdigest()
    r = world.client.get(f"/files/{key}?expires={past}&sig={sig}")
    assert r.status_code == 403 and "expired" in r.json()["error"]
    # Even a validly signed traversal key is refused.
    evil = "videos/../../../../etc/passwd"
    future = int(time.time()) + 100
    sig = hmac.new(linker_secret, f"{evil}\n{future}".encode(), hashlib.sha256).hexdigest()
    r = world.client.get(f"/files/{evil}?expires={future}&sig={sig}")
    assert r.status_code in (403, 404) and b"root:" not in r.content


# -- JWTs ------------------------------------------------------------------------
@pytest.fixture
def jwt_world(world, settings, tmp_path):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "jwt.pem").write_bytes(pem)
    app = create_app(settings, ApiSettings(launch_processing=False, signing_secret="test-secret",
                                           jwt_public_keys=str(tmp_path / "jwt.pem"), jwt_issuer=ISSUER, jwt_audience=AUDIENCE))
    world.client = TestClient(app, raise_server_exceptions=False)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return world, private, other, pem


def _token(key, **overrides):
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, "sub": "nobody", **overrides}
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256")


def test_valid_jwt_by_subject_and_by_email(jwt_world):
    world, private, _, _ = jwt_world
    sid = world.add_session("ua")
    for claims in ({"sub": world.users["ua"]}, {"sub": "firebase-uid-123", "email": "ua@example.org", "email_verified": True}):
        r = world.client.get(f"/running/sessions/{sid}/", headers={"Authorization": f"Bearer {_token(private, **claims)}"})
        assert r.status_code == 200, r.text
    # Bearer tokens see exactly what the user's API key sees.
    r = world.client.get(f"/running/sessions/{sid}/", headers={"Authorization": f"Bearer {_token(private, sub=world.users['ub'])}"})
    assert r.status_code == 404


def test_bad_jwts_are_401(jwt_world):
    world, private, other, pem = jwt_world
    sid = world.add_session("ua")
    uid = world.users["ua"]
    now = int(time.time())
    bad = {
        "wrong key": _token(other, sub=uid),
        "expired": _token(private, sub=uid, iat=now - 7200, exp=now - 3600),
        "wrong issuer": _token(private, sub=uid, iss="https://evil.example"),
        "wrong audience": _token(private, sub=uid, aud="someone-else"),
        "no exp": _token(private, sub=uid, exp=None),
        "unknown subject": _token(private, sub="ghost"),
        "unverified email": _token(private, sub="x", email="ua@example.org", email_verified=False),
        # issue 25 item 22: only a JSON true verifies an e-mail
        "email without email_verified": _token(private, sub="x", email="ua@example.org"),
        "email_verified the string false": _token(private, sub="x", email="ua@example.org", email_verified="false"),
        "email_verified the string true": _token(private, sub="x", email="ua@example.org", email_verified="true"),
        "email_verified 1": _token(private, sub="x", email="ua@example.org", email_verified=1),
        "alg none": jwt.encode({"sub": uid, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60}, None, algorithm="none"),
        "HS256 with the public key as secret": _hs256_confusion(
            {"sub": uid, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60}, pem),
        "garbage": "not.a.jwt",
        "empty": "",
        "tampered payload": _tamper(_token(private, sub=world.users["ub"]), _token(private, sub=uid)),
    }
    for name, token in bad.items():
        r = world.client.get(f"/running/sessions/{sid}/", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, (name, r.text)
        assert set(r.json()) == {"error"}


def _hs256_confusion(claims: dict, secret: bytes) -> str:
    """The classic algorithm-confusion token: HS256 signed with the RSA public key as HMAC secret."""
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    return signing_input + "." + b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def _tamper(token_a: str, token_b: str) -> str:
    """Header and signature of A with the payload of B."""
    a, b = token_a.split("."), token_b.split(".")
    return ".".join([a[0], b[1], a[2]])


def test_bearer_without_configured_keys_is_401(world):
    r = world.client.get("/running/sessions/metrics/total/", headers={"Authorization": "Bearer a.b.c"})
    assert r.status_code == 401 and "no public keys" in r.json()["error"]



def test_a_revoked_key_is_refused_once_the_auth_cache_expires(world, monkeypatch):
    import api.auth
    from api.keys import revoke_keys

    sid = world.add_session("ua")
    url = f"/running/sessions/{sid}/summary/"
    assert world.client.get(url, headers=world.h("alice")).status_code == 200
    revoke_keys(world.catalog, world.users["alice"])
    ttl = world.client.app.state.api_settings.auth_cache_ttl_s
    later = api.auth.time.monotonic() + ttl + 1
    monkeypatch.setattr(api.auth.time, "monotonic", lambda: later)
    assert world.client.get(url, headers=world.h("alice")).status_code == 401
