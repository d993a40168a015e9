"""The viewer's sign-in cookie: ``<payload>.<hmac>``, signed with the API's signing secret.

The payload names the user and the *prefix* of the API key used to sign in
(never the key), and an expiry. Each request re-checks that this key still
exists, belongs to that user and is not revoked, so revoking a key signs its
browser sessions out too.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from api.auth import Principal
from api.keys import KEY_RE
from storage.catalog import ApiKey, Catalog, User

COOKIE_NAME = "gaitlake_session"
COOKIE_PATH = "/app"
DEFAULT_TTL_S = 12 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CookieSigner:
    def __init__(self, secret: bytes, ttl_s: int = DEFAULT_TTL_S):
        # a key of its own, derived from the API's secret (signed file links use the secret itself)
        self.key = hmac.new(secret, b"gaitlake viewer session cookie v1", hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())

    def issue(self, user_id: str, api_key: str, now: float | None = None) -> str:
        match = KEY_RE.match(api_key)
        if match is None:
            raise ValueError("not an API key")
        exp = int((now or time.time()) + self.ttl_s)
        payload = _b64(json.dumps({"u": user_id, "k": match.group(1), "exp": exp}, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload)}"

    def claims(self, value: str | None, now: float | None = None) -> dict | None:
        """The cookie's claims if it is ours, untampered and unexpired; else None."""
        if not value or value.count(".") != 1:
            return None
        payload, mac = value.split(".")
        if not hmac.compare_digest(self._mac(payload).encode(), mac.encode("utf-8", "replace")):
            return None
        try:
            claims = json.loads(_unb64(payload))
        except ValueError:
            return None
        if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int) or claims["exp"] < (now or time.time()):
            return None
        return claims

    def principal(self, catalog: Catalog, value: str | None) -> Principal | None:
        claims = self.claims(value)
        if claims is None:
            return None
        with catalog.session() as db:
            key = db.get(ApiKey, str(claims.get("k")))
            if key is None or key.revoked_at is not None or key.user_id != claims.get("u"):
                return None
            user = db.get(User, key.user_id)
            if user is None:
                return None
            return Principal(user.id, user.email, user.role, "cookie")
