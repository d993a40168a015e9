"""Turning an uploaded or local video into a queued catalog session.

Used by the CLI (`gaitlake process`), the API upload and the inbox ingestion:
the bytes are streamed into the object store at ``videos/<session>/source<ext>``
while their SHA-256 is computed, and a ``queued`` row is recorded.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO, Any

from storage.catalog import Catalog, RunningSession, SessionStatus, new_id
from storage.objectstore import ObjectStore

CHUNK_BYTES = 1 << 20
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm"}


class IntakeError(ValueError):
    """The upload cannot become a session; the message says why in one sentence."""


class UploadTooLarge(IntakeError):
    pass


def video_key(session_id: str, filename: str | None) -> str:
    suffix = Path(filename or "").suffix.lower()
    return f"videos/{session_id}/source{suffix if suffix in VIDEO_SUFFIXES else '.mp4'}"


def create_session_from_stream(
    store: ObjectStore,
    catalog: Catalog,
    stream: IO[bytes],
    filename: str | None,
    max_bytes: int | None = None,
    quota=None,
    **fields: Any,
) -> RunningSession:
    """Stream ``stream`` into the store and record a queued session.

    Raises ``IntakeError`` for an empty upload and ``UploadTooLarge`` past
    ``max_bytes``; in both cases nothing is left in the store or the catalog.
    ``quota`` (a :class:`storage.catalog.Quota`) is checked in the inserting
    transaction (:class:`storage.catalog.QuotaExceeded`). ``claim`` (a
    :class:`storage.catalog.Claim`) inserts it already claimed (:func:`flows.queue.create_claimed_session`).
    """
    session_id = fields.pop("id", None) or new_id()
    key = video_key(session_id, filename)
    digest = hashlib.sha256()
    size = 0
    with store.atomic_writer(key) as out:
        while chunk := stream.read(CHUNK_BYTES):
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise UploadTooLarge(f"the upload exceeds the {max_bytes // (1 << 20)} MB limit")
            digest.update(chunk)
            out.write(chunk)
        if size == 0:
            raise IntakeError("the uploaded file is empty (0 bytes)")
    fields.setdefault("status", SessionStatus.QUEUED)
    try:
        return catalog.create_session(
            id=session_id,
            video_key=key,
            original_filename=filename,
            content_sha256=digest.hexdigest(),
            size_bytes=size,
            quota=quota,
            **fields,
        )
    except BaseException:
        store.delete(key)  # refused (plan limit) or failed: no video without a session
        raise


def create_session_from_path(store: ObjectStore, catalog: Catalog, path: Path, **fields: Any) -> RunningSession:
    """Like :func:`create_session_from_stream` for a local file, with readable errors."""
    if not path.exists():
        raise IntakeError(f"{path} does not exist")
    if not path.is_file():
        raise IntakeError(f"{path} is not a file")
    with path.open("rb") as handle:
        return create_session_from_stream(store, catalog, handle, path.name, **fields)
