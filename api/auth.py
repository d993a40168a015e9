"""Who is calling: ``Authorization: API-KEY <key>``, ``API-KEY: <key>`` or ``Authorization: Bearer <JWT>``.

Bearer tokens are Firebase-style RS256 JWTs verified against configured public
keys (PEM public keys or certificates, a JWKS file, or Firebase's
``{kid: certificate}`` JSON). The token's ``sub`` (or ``user_id``/``uid``)
names a catalog user id; failing that, a verified ``email`` claim names one
(``email_verified`` must be the JSON value ``true``).
Anything else is 401.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cachetools import TTLCache
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import func, select

from api.errors import ApiError
from api.keys import hash_key, verify_key
from storage.catalog import Catalog, User


@dataclass(frozen=True)
class Principal:
    user_id: str
    email: str
    role: str  # admin | sub-admin | user
    via: str  # api-key | jwt


def _load_pem(data: bytes):
    if b"BEGIN CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return load_pem_public_key(data)


class JwtKeys:
    """Public keys for Bearer tokens, by ``kid`` (``None`` for keys without one)."""

    def __init__(self, source: str):
        self.keys: list[tuple[str | None, Any]] = []
        if not source:
            return
        path = Path(source).expanduser()
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for file in files:
            data = file.read_bytes()
            if data.lstrip().startswith(b"{"):
                doc = json.loads(data)
                if "keys" in doc:
                    for jwk in doc["keys"]:
                        self.keys.append((jwk.get("kid"), jwt.PyJWK(jwk).key))
                else:  # Firebase: {kid: "-----BEGIN CERTIFICATE-----..."}
                    for kid, pem in doc.items():
                        self.keys.append((kid, _load_pem(pem.encode())))
            else:
                self.keys.append((None, _load_pem(data)))

    def candidates(self, kid: str | None) -> list[Any]:
        if kid is not None:
            exact = [key for k, key in self.keys if k == kid]
            if exact:
                return exact
        return [key for k, key in self.keys if k is None or kid is None]


def decode_bearer(token: str, keys: JwtKeys, *, algorithms: list[str], issuer: str, audience: str, leeway: int) -> dict[str, Any]:
    if not keys.keys:
        raise ApiError(401, "bearer tokens are not accepted by this server (no public keys configured)")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise ApiError(401, "malformed bearer token") from None
    if header.get("alg") not in algorithms:
        raise ApiError(401, "bearer token uses a refused algorithm")
    options = {"require": ["exp", "iat", "sub"], "verify_aud": bool(audience), "verify_iss": bool(issuer)}
    last: Exception | None = None
    for key in keys.candidates(header.get("kid")):
        try:
            return jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=audience or None,
                issuer=issuer or None,
                leeway=leeway,
                options=options,
            )
        except jwt.InvalidSignatureError as exc:
            last = exc
            continue
        except jwt.ExpiredSignatureError:
            raise ApiError(401, "bearer token has expired") from None
        except jwt.PyJWTError as exc:
            raise ApiError(401, f"invalid bearer token: {exc}") from None
    raise ApiError(401, "invalid bearer token: signature verification failed") from last


class Authenticator:
    #: Most verified keys kept (least recently used go first when full).
    CACHE_MAX = 10_000

    def __init__(self, catalog: Catalog, api_settings):
        self.catalog = catalog
        self.settings = api_settings
        self.jwt_keys = JwtKeys(api_settings.jwt_public_keys)
        # sha256(key) -> principal for auth_cache_ttl_s: a verified key skips the catalog for a few
        # seconds; a revoked key or changed role takes effect within that time.
        ttl = api_settings.auth_cache_ttl_s
        self._cache: TTLCache | None = TTLCache(self.CACHE_MAX, ttl, timer=lambda: time.monotonic()) if ttl > 0 else None
        self._lock = threading.Lock()

    def _verified_key(self, key: str) -> Principal:
        digest = hash_key(key)
        if self._cache is not None:
            with self._lock:
                hit = self._cache.get(digest)
            if hit is not None:
                return hit
        user = verify_key(self.catalog, key)
        if user is None:
            raise ApiError(401, "invalid API key")
        principal = Principal(user.id, user.email, user.role, "api-key")
        if self._cache is not None:
            with self._lock:
                self._cache[digest] = principal
        return principal

    def __call__(self, authorization: str | None, api_key_header: str | None) -> Principal:
        key: str | None = None
        bearer: str | None = None
        if authorization:
            scheme, _, value = authorization.strip().partition(" ")
            value = value.strip()
            if scheme.lower() in ("api-key", "apikey", "api_key") and value:
                key = value
            elif scheme.lower() == "bearer" and value:
                bearer = value
            else:
                raise ApiError(401, "unsupported Authorization scheme: use 'API-KEY <key>' or 'Bearer <token>'")
        elif api_key_header:
            key = api_key_header.strip()
        if key is not None:
            return self._verified_key(key)
        if bearer is not None:
            s = self.settings
            claims = decode_bearer(
                bearer, self.jwt_keys, algorithms=s.jwt_algorithms, issuer=s.jwt_issuer, audience=s.jwt_audience, leeway=s.jwt_leeway_s
            )
            user = self._user_for_claims(claims)
            if user is None:
                raise ApiError(401, "the bearer token's subject is not a known user")
            return Principal(user.id, user.email, user.role, "jwt")
        raise ApiError(401, "missing credentials: send 'Authorization: API-KEY <key>' or 'Authorization: Bearer <token>'")

    def _user_for_claims(self, claims: dict[str, Any]) -> User | None:
        with self.catalog.session() as db:
            for claim in ("user_id", "uid", "sub"):
                value = claims.get(claim)
                if isinstance(value, str) and value:
                    user = db.get(User, value)
                    if user is not None:
                        return user
            email = claims.get("email")
            # Only a JSON true verifies: a missing claim, false, "false", "true" or 1 do not (an
            # unverified address could be anyone's, and would sign in as its catalog user).
            if isinstance(email, str) and email and claims.get("email_verified") is True:
                return db.scalars(select(User).where(func.lower(User.email) == email.lower())).first()
        return None
