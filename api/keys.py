"""API keys: ``glk_<prefix>_<secret>``; stored as SHA-256, looked up by prefix, compared in constant time."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import select

from storage.catalog import ApiKey, Catalog, User, utcnow

KEY_RE = re.compile(r"^glk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(catalog: Catalog, user_id: str) -> str:
    """Create a key for ``user_id`` and return it; only its hash is stored (shown once)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    prefix = "".join(secrets.choice(alphabet) for _ in range(12))
    key = f"glk_{prefix}_{secrets.token_urlsafe(32)}"  # 256 bits of entropy
    with catalog.session() as db:
        db.add(ApiKey(prefix=prefix, key_hash=hash_key(key), user_id=user_id))
    return key


def verify_key(catalog: Catalog, key: str) -> User | None:
    """The user owning ``key``, or None (unknown, malformed or revoked)."""
    match = KEY_RE.match(key or "")
    if not match:
        return None
    with catalog.session() as db:
        row = db.get(ApiKey, match.group(1))
        # Compare even when no row exists so timing does not reveal which prefixes exist.
        expected = row.key_hash if row is not None else "0" * 64
        ok = hmac.compare_digest(expected, hash_key(key))
        if row is None or not ok or row.revoked_at is not None:
            return None
        return db.get(User, row.user_id)


def revoke_keys(catalog: Catalog, user_id: str) -> int:
    with catalog.session() as db:
        rows = list(db.scalars(select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))))
        for row in rows:
            row.revoked_at = utcnow()
        return len(rows)
