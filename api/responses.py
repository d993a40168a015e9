"""Served documents as bytes: encoded once, revalidated by ETag, gzipped once when large.

A document is a function of what its cache key names (session, served
version, joint filter, owner facts, saved thread texts, link expiry bucket),
so it is encoded once per key with orjson (numpy arrays serialised, NaN and
infinities as ``null``) and answered from bytes. Each encoded document
carries a weak ETag (a hash of its bytes) and, when larger than
:data:`GZIP_MIN_BYTES`, its gzip once compressed. Responses say
``Cache-Control: private, no-cache``: a client may keep them but revalidates
with ``If-None-Match`` and gets ``304 Not Modified`` while nothing changed
(links in a document expire, so it is never served from a cache unasked).
"""
from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import orjson
from cachetools import LRUCache, cached
from fastapi import Request
from fastapi.responses import Response

GZIP_MIN_BYTES = 4096
GZIP_LEVEL = 6
CACHE_CONTROL = "private, no-cache"
JSON = "application/json"


def encode(value: Any) -> bytes:
    """JSON bytes: orjson with numpy support; NaN/Infinity become null (JSON has no such numbers)."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


@dataclass
class Encoded:
    """One served document's bytes, its ETag and (lazily, once) its gzip."""

    body: bytes
    etag: str
    _gzip: bytes | None = field(default=None, repr=False)

    @classmethod
    def of(cls, value: Any) -> "Encoded":
        body = encode(value)
        return cls(body, 'W/"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')

    def gzipped(self) -> bytes:
        if self._gzip is None:
            self._gzip = gzip.compress(self.body, compresslevel=GZIP_LEVEL, mtime=0)
        return self._gzip


def accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.strip()
            return not (q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False


def not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in header.split(","))


def respond(request: Request, doc: Encoded, status_code: int = 200) -> Response:
    """The document's bytes (gzipped when large and accepted), or 304 when the client's copy is current."""
    headers = {"ETag": doc.etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding, Authorization, API-KEY"}
    if status_code == 200 and request.method in ("GET", "HEAD") and not_modified(request, doc.etag):
        return Response(status_code=304, headers=headers)
    body = doc.body
    if len(body) >= GZIP_MIN_BYTES and accepts_gzip(request):
        body = doc.gzipped()
        headers["Content-Encoding"] = "gzip"
    return Response(body, status_code=status_code, media_type=JSON, headers=headers)


class DocumentCache:
    """Encoded documents by key (LRU bounded in bytes, thread-safe); ``build`` runs only on a miss,
    once per key: concurrent readers of a key being built wait for that build (no herd of identical
    builds when a new server or a new version meets many clients at once)."""

    def __init__(self, max_bytes: int):
        # A document's weight: its bytes plus room for its gzip (typically well under a quarter).
        self._data: LRUCache = LRUCache(max(1, max_bytes), getsizeof=lambda doc: len(doc.body) * 5 // 4 + 1)
        self._lock = threading.Condition()
        # A document larger than the whole cache is answered, not kept (cachetools drops it).
        self._build_once = cached(self._data, key=lambda key, build: key, condition=self._lock)(
            lambda key, build: Encoded.of(build()))

    def peek(self, key: Hashable) -> Encoded | None:
        with self._lock:
            return self._data.get(key)

    def get(self, key: Hashable, build: Callable[[], Any]) -> Encoded:
        return self._build_once(key, build)
