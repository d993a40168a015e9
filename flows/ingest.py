"""The ``ingest-inbox`` flow: videos dropped under ``inbox/`` become queued sessions.

Drop a video and a JSON sidecar next to it (``run.mp4`` + ``run.mp4.json``, or
``run.json``) under ``<storage>/<ingest.prefix>/``::

    {"user_id": "u123", "title": "Tuesday tempo",
     "profile": {"height_cm": 175, "weight_kg": 70, "incline_deg": 1,
                 "capture_fps": null, "joints": "all"}}

Each run (the deployment runs every ``ingest.interval_s`` seconds):

* a video with a valid sidecar is streamed to ``videos/<session>/source<ext>``
  with its SHA-256, recorded as a ``queued`` session of that user, and (with
  ``ingest.process``) processing is launched; both files then move to
  ``inbox/_processed/<session>/``;
* the same content (SHA-256) already ingested for the same user is not made
  a session again unless ``force``: the files move to ``_processed/<that session>/``;
* a malformed sidecar (not JSON, wrong types, unknown user, out-of-range
  values) moves the video and the sidecar to ``inbox/_quarantine/<stamp>-<name>/``
  with ``reason.json`` saying why. Nothing is ever deleted;
* a video without a sidecar (maybe still uploading) waits for the next run.

Crash-safe: a session is created before the inbox files move, and a rerun
recognises the content hash, so a crash in between neither loses nor doubles.
"""
from __future__ import annotations

import hashlib
import json
import posixpath
from datetime import datetime, timezone
from typing import Any

from prefect import flow, get_run_logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from flows.intake import VIDEO_SUFFIXES, IntakeError, create_session_from_stream
from flows.options import OptionError, parse_joints, parse_number
from flows.runtime import flow_settings
from storage.catalog import Catalog, SessionStatus, User
from storage.objectstore import ObjectStore

QUARANTINE = "_quarantine"
PROCESSED = "_processed"
MAX_SIDECAR_BYTES = 64 * 1024


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    height_cm: float | None = None
    weight_kg: float | None = None
    incline_deg: float = 0.0
    capture_fps: float | None = None
    joints: str = "all"

    @field_validator("height_cm", "weight_kg", "incline_deg", "capture_fps", mode="before")
    @classmethod
    def _in_range(cls, value: Any, info: ValidationInfo) -> float | None:
        """The same ranges and messages as the CLI and the API upload (``flows.options.RANGES``)."""
        try:
            number = parse_number(value, info.field_name, info.field_name)
        except OptionError as exc:
            raise ValueError(str(exc)) from None
        return 0.0 if number is None and info.field_name == "incline_deg" else number

    @field_validator("joints")
    @classmethod
    def _joints(cls, value: str) -> str:
        try:
            return parse_joints(value, label="joints")
        except OptionError as exc:
            raise ValueError(str(exc)) from None


class Sidecar(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1, max_length=64)
    title: str | None = Field(None, max_length=300)
    profile: Profile = Profile()


class SidecarError(ValueError):
    pass


def parse_sidecar(data: bytes) -> Sidecar:
    """The sidecar, or :class:`SidecarError` with a one-sentence reason."""
    if len(data) > MAX_SIDECAR_BYTES:
        raise SidecarError(f"the sidecar is larger than {MAX_SIDECAR_BYTES // 1024} KB")
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SidecarError(f"the sidecar is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise SidecarError("the sidecar must be a JSON object")
    if "user" in raw and "user_id" not in raw:  # accept {"user": ...} as well
        raw["user_id"] = raw.pop("user")
    try:
        return Sidecar.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "sidecar"
        raise SidecarError(f"invalid sidecar field {where!r}: {first['msg']}") from None


def _pairs(store: ObjectStore, prefix: str) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(video, sidecar) pairs, videos still waiting for a sidecar, and unknown files."""
    keys = [k for k in store.list(prefix)
            if not k[len(prefix) + 1:].startswith((QUARANTINE + "/", PROCESSED + "/"))
            and not posixpath.basename(k).startswith(".")]
    present = set(keys)
    pairs, waiting, unknown = [], [], []
    for key in keys:
        suffix = posixpath.splitext(key)[1].lower()
        if suffix in VIDEO_SUFFIXES:
            candidates = (key + ".json", posixpath.splitext(key)[0] + ".json")
            sidecar = next((c for c in candidates if c in present), None)
            (pairs.append((key, sidecar)) if sidecar else waiting.append(key))
        elif suffix != ".json":
            unknown.append(key)
    return pairs, waiting, unknown


def _move_all(store: ObjectStore, keys: list[str], folder: str) -> None:
    for key in keys:
        store.move(key, f"{folder}/{posixpath.basename(key)}")


def quarantine(store: ObjectStore, prefix: str, keys: list[str], reason: str) -> str:
    """Move ``keys`` under ``<prefix>/_quarantine/<stamp>-<name>/`` with ``reason.json``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    folder = f"{prefix}/{QUARANTINE}/{stamp}-{posixpath.basename(keys[0])}"
    store.write_bytes(f"{folder}/reason.json", json.dumps(
        {"reason": reason, "files": [posixpath.basename(k) for k in keys],
         "quarantined_at": datetime.now(timezone.utc).isoformat()}, indent=1).encode())
    _move_all(store, keys, folder)
    return folder


def _sha256(store: ObjectStore, key: str) -> str:
    digest = hashlib.sha256()
    with store.open(key) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ingest_once(settings, force: bool = False, process: bool | None = None, log=print) -> dict[str, Any]:
    """One pass over the inbox (the flow's body, also usable without Prefect)."""
    store, catalog = ObjectStore.from_settings(settings), Catalog.from_settings(settings)
    prefix = settings.ingest.prefix.strip("/")
    process = settings.ingest.process if process is None else process
    pairs, waiting, unknown = _pairs(store, prefix)
    report: dict[str, Any] = {"created": [], "duplicates": {}, "quarantined": {}, "waiting": waiting,
                              "launched": {}}
    for key in unknown:
        report["quarantined"][key] = quarantine(store, prefix, [key], "not a video (" + ", ".join(
            sorted(VIDEO_SUFFIXES)) + ") or a .json sidecar")
    for video, sidecar_key in pairs[: settings.ingest.max_files]:
        files = [video, sidecar_key]
        try:
            sidecar = parse_sidecar(store.read_bytes(sidecar_key))
            with catalog.session() as db:
                if db.get(User, sidecar.user_id) is None:
                    raise SidecarError(f"unknown user {sidecar.user_id!r}")
        except SidecarError as exc:
            report["quarantined"][video] = quarantine(store, prefix, files, str(exc))
            log(f"quarantined {video}: {exc}")
            continue
        digest = _sha256(store, video)
        existing = [r for r in catalog.find_by_hash(digest, sidecar.user_id) if r.status != SessionStatus.FAILED]
        if existing and not force:
            target = existing[-1]
            _move_all(store, files, f"{prefix}/{PROCESSED}/{target.id}")
            report["duplicates"][video] = target.id
            log(f"{video}: same content as session {target.id}; not ingested again")
            if process and target.status == SessionStatus.QUEUED and not target.flow_run_id:
                report["launched"][target.id] = _launch(catalog, target.id, settings)
            continue
        profile = sidecar.profile
        try:
            with store.open(video) as stream:
                row = create_session_from_stream(
                    store, catalog, stream, posixpath.basename(video),
                    max_bytes=settings.storage.max_upload_mb << 20,
                    user_id=sidecar.user_id, title=sidecar.title or posixpath.splitext(posixpath.basename(video))[0],
                    height_cm=profile.height_cm, weight_kg=profile.weight_kg, incline_deg=profile.incline_deg,
                    capture_fps=profile.capture_fps, joints=profile.joints,
                    options={"source": "inbox", "inbox_key": video},
                )
        except IntakeError as exc:
            report["quarantined"][video] = quarantine(store, prefix, files, str(exc))
            log(f"quarantined {video}: {exc}")
            continue
        _move_all(store, files, f"{prefix}/{PROCESSED}/{row.id}")
        report["created"].append(row.id)
        log(f"{video}: session {row.id} queued for user {sidecar.user_id}")
        if process:
            report["launched"][row.id] = _launch(catalog, row.id, settings)
    return report


def _launch(catalog: Catalog, session_id: str, settings) -> str:
    """Dispatch a new session (a deployment run at scale); embedded, the queue worker takes it."""
    from flows.launch import launch_processing

    try:
        handle = launch_processing(session_id, settings)
        if handle:
            catalog.update_session(session_id, flow_run_id=str(handle)[:64])
        return handle or "queued"
    except Exception as exc:  # the session stays queued: a worker's queue loop takes it
        return f"queued (dispatch failed: {exc})"


@flow(name="ingest-inbox", log_prints=True)
def ingest_inbox(force: bool = False, process: bool | None = None) -> dict[str, Any]:
    """Turn inbox videos with valid sidecars into queued sessions; quarantine the rest."""
    settings = flow_settings()  # this flow's entry point: the environment applied here, not on import
    logger = get_run_logger()
    report = ingest_once(settings, force=force, process=process, log=logger.info)
    logger.info("ingest-inbox: %d created, %d duplicates, %d quarantined, %d waiting for a sidecar",
                len(report["created"]), len(report["duplicates"]), len(report["quarantined"]),
                len(report["waiting"]))
    return report
