"""Browser-openable URLs for objects in the store.

* Local storage (``file://``): ``<base>/files/<key>?expires=<unix>&sig=<hmac>``,
  an HMAC-SHA256 over ``key`` and ``expires`` with the API's signing secret,
  served by :func:`serve_signed` (range requests work, so videos seek).
* S3: a presigned GET URL from s3fs, valid for the same lifetime.
"""
from __future__ import annotations

import hashlib
import hmac
import mimetypes
import time
from pathlib import Path
from urllib.parse import quote

from fastapi.responses import FileResponse

from api.errors import ApiError
from storage.objectstore import ObjectStore, ObjectStoreError

FILES_PREFIX = "/files/"


class Linker:
    def __init__(self, store: ObjectStore, secret: bytes, ttl_s: int, public_base_url: str = ""):
        self.store = store
        self.secret = secret
        self.ttl_s = ttl_s
        self.public_base_url = public_base_url.rstrip("/")

    def _sig(self, key: str, expires: int) -> str:
        return hmac.new(self.secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def expiry(self) -> int:
        """When links made now expire: rounded up to the minute, so repeated reads return identical
        (cacheable) links and documents; part of a document's cache key."""
        return (int(time.time()) + self.ttl_s + 59) // 60 * 60

    def url(self, key: str | None, base_url: str, expires: int | None = None) -> str | None:
        """A URL for ``key`` valid for ``ttl_s`` seconds, or None when there is no object key."""
        if not key:
            return None
        if not self.store.is_local:
            return self.store.presigned_url(key, self.ttl_s)  # storage.public_endpoint_url
        expires = self.expiry() if expires is None else expires
        base = self.public_base_url or base_url.rstrip("/")
        return f"{base}{FILES_PREFIX}{quote(key)}?expires={expires}&sig={self._sig(key, expires)}"

    def serve_signed(self, key: str, expires: str | None, sig: str | None) -> FileResponse:
        if not self.store.is_local:
            raise ApiError(404, "not found")
        try:
            expires_at = int(expires or "")
        except ValueError:
            raise ApiError(403, "invalid or missing link signature") from None
        if not sig or not hmac.compare_digest(self._sig(key, expires_at).encode(), sig.encode("utf-8", "replace")):
            raise ApiError(403, "invalid or missing link signature")
        if expires_at < time.time():
            raise ApiError(403, "this link has expired")
        try:
            path = Path(self.store.path(key))
        except ObjectStoreError:
            raise ApiError(404, "not found") from None
        if not path.is_file():
            raise ApiError(404, "not found")
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=300"})
