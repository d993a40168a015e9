"""The object store: one fsspec filesystem under a root URL.

``file://`` by default, ``s3://bucket/prefix`` through s3fs at scale. Keys are
``/``-separated paths relative to the root (``videos/<session>/source.mp4``).
Writes are atomic: a failed ``fs.open(path, "wb")`` leaves a partial object
behind, so data goes to a temporary key first and is moved into place only
when complete (on S3 a single PUT is atomic; locally we fsync + ``os.replace``).

Transient errors (connection resets, throttling, 5xx: any ``OSError`` that is
not "not found"/"permission"/"exists") are retried with exponential backoff
(tenacity; ``storage.retry_attempts`` / ``storage.retry_backoff_s``). Only
configuration switches between the local store and S3::

    GAITLAKE_STORAGE__URL=s3://bucket/prefix
    GAITLAKE_STORAGE__ENDPOINT_URL=http://127.0.0.1:8333   # any S3 API (SeaweedFS, MinIO)
    AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...         # credentials: environment only
"""
from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.core import url_to_fs
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

# Errors that retrying cannot fix.
PERMANENT_ERRORS = (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError,
                    NotADirectoryError, ValueError, TypeError, KeyError)


def is_transient(exc: BaseException) -> bool:
    """Whether an object-store error is worth retrying (network, throttling, 5xx)."""
    if isinstance(exc, PERMANENT_ERRORS):
        return False
    if isinstance(exc, (OSError, ConnectionError, TimeoutError)):
        return True
    name = type(exc).__name__
    return name in ("ClientError", "EndpointConnectionError", "ReadTimeoutError", "ConnectTimeoutError",
                    "ResponseStreamingError", "ServerDisconnectedError", "ClientOSError")


class ObjectStoreError(RuntimeError):
    """An object-store operation failed; the message names the key."""


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ObjectStoreError(f"invalid object key {key!r}")
    return key


class ObjectStore:
    """Keys under one root URL, on any fsspec filesystem."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None,
                 retry_attempts: int = 5, retry_backoff_s: float = 0.2, public_endpoint_url: str = ""):
        self.url = url.rstrip("/")
        # The S3 endpoint browsers reach (presigned links); empty -> the one we talk to.
        self.public_endpoint_url = public_endpoint_url.rstrip("/")
        self._public_client = None
        self.storage_options = dict(storage_options or {})
        options = dict(self.storage_options)
        if self.url.startswith(("s3://", "s3a://")):
            # Other processes write too: never answer exists/list from a stale cache.
            options.setdefault("use_listings_cache", False)
        self.fs, root = url_to_fs(self.url, **options)
        self.root = root.rstrip("/")
        self.is_local = self.fs.protocol in ("file", "local") or "file" in (self.fs.protocol or ())
        self.retry_attempts = max(1, int(retry_attempts))
        self.retry_backoff_s = float(retry_backoff_s)
        if self.is_local:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_settings(cls, settings) -> "ObjectStore":
        return cls(settings.storage_url, settings.storage_options(),
                   retry_attempts=settings.storage.retry_attempts,
                   retry_backoff_s=settings.storage.retry_backoff_s,
                   public_endpoint_url=settings.storage.public_endpoint_url)

    # -- retries -----------------------------------------------------------
    def _retrying(self) -> Retrying:
        return Retrying(
            stop=stop_after_attempt(self.retry_attempts),
            wait=wait_exponential(multiplier=self.retry_backoff_s, min=self.retry_backoff_s, max=10),
            retry=retry_if_exception(is_transient),
            reraise=True,
        )

    def _call(self, fn, *args, **kwargs):
        """``fn(*args)`` with transient errors retried (backoff); the last error is re-raised."""
        return self._retrying()(fn, *args, **kwargs)

    # -- paths -------------------------------------------------------------
    def path(self, key: str) -> str:
        """Filesystem path (without protocol) of ``key``."""
        return posixpath.join(self.root, _check_key(key))

    def uri(self, key: str) -> str:
        """Full URL of ``key`` (``file:///...`` or ``s3://...``)."""
        return self.fs.unstrip_protocol(self.path(key))

    def presigned_url(self, key: str, expires_s: int) -> str:
        """A presigned GET URL for ``key`` (S3 only), valid ``expires_s`` seconds.

        Signed for ``public_endpoint_url`` when set (``storage.public_endpoint_url``:
        the address browsers reach, e.g. ``http://localhost:8333`` when this
        process talks to ``http://seaweedfs:8333`` inside compose), else for
        the endpoint this store talks to. Presigning is local: no request is made.
        """
        if self.is_local:
            raise ObjectStoreError("presigned URLs exist only for S3 stores (local files use signed API links)")
        if not self.public_endpoint_url:
            return self.fs.url(self.path(key), expires=expires_s)
        if self._public_client is None:
            import botocore.session
            from botocore.config import Config

            region = (self.storage_options.get("client_kwargs") or {}).get("region_name") or "us-east-1"
            self._public_client = botocore.session.get_session().create_client(
                "s3", endpoint_url=self.public_endpoint_url, region_name=region,
                config=Config(s3={"addressing_style": "path"}))
        bucket, _, name = self.path(key).partition("/")
        return self._public_client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": name}, ExpiresIn=int(expires_s))

    # -- reads -------------------------------------------------------------
    def exists(self, key: str) -> bool:
        return self._call(self.fs.exists, self.path(key))

    def read_bytes(self, key: str) -> bytes:
        return self._call(self.fs.cat_file, self.path(key))

    def info(self, key: str) -> dict[str, Any]:
        """Size (``size``) and, where the filesystem knows it, modification time of ``key``."""
        return self._call(self.fs.info, self.path(key))

    def open(self, key: str, mode: str = "rb") -> IO[bytes]:
        if "w" in mode:
            raise ObjectStoreError("use write_bytes/put_file/atomic_writer for writes")
        return self._call(self.fs.open, self.path(key), mode)

    def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` (recursive), relative to the root, sorted."""
        base = self.path(prefix.rstrip("/"))
        try:
            found = self._call(self.fs.find, base)
        except FileNotFoundError:
            return []
        root = self.root + "/"
        return sorted(p[len(root):] if p.startswith(root) else p for p in found)

    def list_modified(self, prefix: str) -> dict[str, float | None]:
        """Keys under ``prefix`` with their modification time (unix seconds; None if unknown)."""
        base = self.path(prefix.rstrip("/"))
        try:
            found = self._call(self.fs.find, base, detail=True)
        except FileNotFoundError:
            return {}
        root = self.root + "/"
        return {(p[len(root):] if p.startswith(root) else p): modified_time(info) for p, info in found.items()}

    @contextmanager
    def local_copy(self, key: str, held: "HeldCopy | None" = None) -> Iterator[Path]:
        """A local file path for ``key`` (the file itself when local, else a temp download).

        ``held``: a run's :class:`HeldCopy` of the same object, read (and left open for the
        run's other stages) instead of fetching another copy."""
        if held is not None:
            yield held.path()
            return
        with self.held_copy(key) as copy:
            yield copy.path()

    def held_copy(self, key: str) -> "HeldCopy":
        """One local copy of ``key`` fetched on first use and kept until closed (:class:`HeldCopy`)."""
        return HeldCopy(self, key)

    def _download(self, key: str, dest: Path) -> None:
        self._call(self.fs.get_file, self.path(key), str(dest))

    # -- atomic writes -----------------------------------------------------
    def _tmp_key_path(self, key: str) -> str:
        directory, name = posixpath.split(self.path(key))
        return posixpath.join(directory, f".tmp-{uuid.uuid4().hex}-{name}")

    def _publish(self, tmp_path: str, key: str) -> None:
        final = self.path(key)
        if self.is_local:
            os.replace(tmp_path, final)
        else:
            self._call(self.fs.mv, tmp_path, final)

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write ``data`` to ``key`` atomically."""
        with self.atomic_writer(key) as handle:
            handle.write(data)

    @contextmanager
    def atomic_writer(self, key: str) -> Iterator[IO[bytes]]:
        """A binary file handle whose content appears at ``key`` only if the block succeeds."""
        final = self.path(key)
        if not self.is_local:
            # S3 objects appear only when their upload completes: spool to a
            # local file, then upload it (multipart, streamed) on success.
            with tempfile.TemporaryDirectory(prefix="gaitlake-") as tmpdir:
                spool = os.path.join(tmpdir, "spool")
                with open(spool, "wb") as handle:
                    yield handle
                self._call(self.fs.put_file, spool, final)
            return
        self.fs.makedirs(posixpath.dirname(final), exist_ok=True)
        tmp = self._tmp_key_path(key)
        try:
            with open(tmp, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def put_file(self, local_path: str | os.PathLike, key: str) -> None:
        """Copy a local file to ``key`` atomically (streamed, never whole in memory)."""
        with open(local_path, "rb") as src, self.atomic_writer(key) as dst:
            shutil.copyfileobj(src, dst, length=8 << 20)

    def delete(self, key_or_prefix: str, recursive: bool = False) -> None:
        path = self.path(key_or_prefix)
        if self._call(self.fs.exists, path):
            self._call(self.fs.rm, path, recursive=recursive)

    def move(self, src_key: str, dst_key: str) -> None:
        """Move one object (copy + delete on S3; rename locally)."""
        src, dst = self.path(src_key), self.path(dst_key)
        if self.is_local:
            Path(dst).parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
        else:
            self._call(self.fs.copy, src, dst)
            self._call(self.fs.rm, src)


class HeldCopy:
    """A local copy of one object, shared by everything that reads it until :meth:`close`.

    Downloaded on the first :meth:`path` (never, if nobody asks: a replayed session whose
    stages need no video), once however many stages or threads ask; a local store's file is
    used where it lies. A session's source video is held like this for the whole run, so
    probe, pose, the feet's second pass and the render read one download.
    """

    def __init__(self, store: ObjectStore, key: str):
        self.store, self.key = store, _check_key(key)
        self._lock = threading.Lock()
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._path: Path | None = None

    def path(self) -> Path:
        """The local file (downloaded now if it is not yet)."""
        with self._lock:
            if self._path is None:
                if self.store.is_local:
                    self._path = Path(self.store.path(self.key))
                else:
                    tmp = tempfile.TemporaryDirectory(prefix="gaitlake-")
                    dest = Path(tmp.name) / f"object{Path(self.key).suffix}"
                    try:
                        self.store._download(self.key, dest)
                    except BaseException:
                        tmp.cleanup()
                        raise
                    self._tmp, self._path = tmp, dest
            return self._path

    @property
    def fetched(self) -> bool:
        """Whether the object has been copied here (or located, on a local store)."""
        return self._path is not None

    def close(self) -> None:
        """Remove the downloaded copy (a local store's file stays)."""
        with self._lock:
            if self._tmp is not None:
                self._tmp.cleanup()
            self._tmp = self._path = None

    def __enter__(self) -> "HeldCopy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_store(settings) -> ObjectStore:
    return ObjectStore.from_settings(settings)


__all__ = ["HeldCopy", "ObjectStore", "ObjectStoreError", "open_store", "fsspec"]


def modified_time(info: dict[str, Any]) -> float | None:
    """Unix modification time from an fsspec info dict (local ``mtime``, S3 ``LastModified``)."""
    value = info.get("mtime", info.get("LastModified"))
    if value is None:
        return None
    return value.timestamp() if hasattr(value, "timestamp") else float(value)
