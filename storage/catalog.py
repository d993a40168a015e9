"""The catalog: who owns which session, and where each one stands.

SQLAlchemy 2 models on SQLite (default) or PostgreSQL (at scale), same code.
The schema is owned by the Alembic migrations in ``storage/migrations``
(``Catalog.migrate()``, run on first use when ``catalog.migrate`` is on);
switch with ``GAITLAKE_CATALOG__URL=postgresql+psycopg://user@host/db``.
Sessions move ``queued -> processing -> done | failed``; ``failed`` rows carry
the reason in one sentence. Numbers live in the lake, not here.

The sessions table is also the processing queue (visibility-timeout model, as
SQS/Celery): a processor *claims* a session with one conditional ``UPDATE``
(``status='queued'``, or ``processing`` with a lapsed lease), which both SQLite
and PostgreSQL execute atomically, so exactly one claimant wins; it renews the
lease while it works and finishes with an update conditional on still owning it
(a fenced write). :meth:`Catalog.recover_lapsed` sends sessions whose owner
stopped renewing back to the queue, or fails them after ``max_attempts``.
"""
from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import (JSON, BigInteger, DateTime, Float, ForeignKey, Integer, String, Text, create_engine, event,
                        func, Index, inspect, or_, select, update)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class SessionStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class User(Base):
    """A person whose sessions we analyse; admins and sub-admins manage users."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="user")  # admin | sub-admin | user
    admin_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    plan: Mapped[str | None] = mapped_column(String(32), nullable=True)
    height_cm: Mapped[float | None] = mapped_column(Float, nullable=True)
    weight_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)  # age, gender, shoe size, ...
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key: looked up by its public prefix, verified by its SHA-256 hash."""

    __tablename__ = "api_keys"
    prefix: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class RunningSession(Base):
    """One uploaded video and the state of its processing."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_status_created", "status", "created_at"),)  # the queue's scan
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    user_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    title: Mapped[str] = mapped_column(String(300), default="Running session")
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.QUEUED, index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    video_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    original_filename: Mapped[str | None] = mapped_column(String(500), nullable=True)
    content_sha256: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Runner profile and options given at upload.
    height_cm: Mapped[float | None] = mapped_column(Float, nullable=True)
    weight_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    incline_deg: Mapped[float] = mapped_column(Float, default=0.0)
    capture_fps: Mapped[float | None] = mapped_column(Float, nullable=True)
    joints: Mapped[str] = mapped_column(String(100), default="all")
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Which lake version the API serves (set when a run completes).
    pipeline_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # The processing claim (see the module docstring): who holds it, until when, how many tries.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ThreadStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Thread(Base):
    """A commentary thread on one block of one session's report (GenAI text, filled in later).

    ``kind`` is the operation that created it (``summary``, ``form``,
    ``recommendation``); ``block`` the report block it comments on
    (``running_mechanics``, ``contact_angle``, ``left_knee_angle``, ...).
    """

    __tablename__ = "threads"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), default="summary")
    block: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ThreadStatus.PENDING, index=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # e.g. measurement_system
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


@dataclass(frozen=True)
class Quota:
    """At most ``limit`` sessions for ``user_id`` created since ``since``."""

    user_id: str
    limit: int
    since: datetime


@dataclass(frozen=True)
class Claim:
    """A processing claim to insert a session under (:meth:`Catalog.create_session`): its owner
    (``flows.claims.new_owner_id``) and the lease's length in seconds."""

    owner: str
    lease_s: float


class QuotaExceeded(Exception):
    def __init__(self, count: int, limit: int):
        super().__init__(f"{count} sessions already exist; the limit is {limit}")
        self.count, self.limit = count, limit


class Catalog:
    """Engine + session factory, and the few state transitions the pipeline needs."""

    def __init__(self, url: str):
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if url.startswith("sqlite"):
            # A local file: no dropped connections to ping for, and a pool as large as the
            # API's thread pool (40) so readers never queue for, or reopen, a connection.
            self.engine: Engine = create_engine(url, future=True, pool_size=40, max_overflow=10)
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(url, future=True, pool_pre_ping=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings) -> "Catalog":
        """The process-wide catalog for ``settings.catalog_url`` (one engine and pool per URL)."""
        url = settings.catalog_url
        with _MIGRATED_LOCK:
            catalog = _CATALOGS.get(url)
        if catalog is None:
            catalog = cls(url)
            if settings.catalog.migrate:
                catalog.migrate()
            else:
                catalog.create_all()
            with _MIGRATED_LOCK:
                catalog = _CATALOGS.setdefault(url, catalog)
        return catalog

    def create_all(self) -> None:
        """Create missing tables straight from the models (tests; prefer :meth:`migrate`)."""
        Base.metadata.create_all(self.engine)

    def migrate(self, revision: str = "head") -> None:
        """Run the Alembic migrations up to ``revision`` (once per URL and process).

        A database created by :meth:`create_all` before migrations existed
        (tables present, no version table) is stamped at the first
        revision, then upgraded.
        """
        with _MIGRATED_LOCK, _migration_file_lock(self.url):
            if (self.url, revision) in _MIGRATED:
                return
            from alembic import command

            from storage.migrations import LEGACY_VERSION_TABLE, VERSION_TABLE

            config = alembic_config(self.url)
            with self.engine.connect() as connection:
                names = set(inspect(connection).get_table_names())
                connection.commit()
                config.attributes["connection"] = connection
                if "sessions" in names and not names & {VERSION_TABLE, LEGACY_VERSION_TABLE}:  # env.py adopts legacy
                    command.stamp(config, FIRST_REVISION)
                command.upgrade(config, revision)
                connection.commit()
            _MIGRATED.add((self.url, revision))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as db:
            yield db

    # -- sessions ----------------------------------------------------------
    def create_session(self, quota: "Quota | None" = None, claim: "Claim | None" = None,
                       **fields: Any) -> RunningSession:
        """Insert a session; with ``quota``, only if its user is under the limit.

        The limit is checked and the row inserted in one transaction that first
        writes the user's row, which serialises concurrent uploads of one user on
        both SQLite (the write lock) and PostgreSQL (the row lock). With ``claim`` the
        session is inserted already claimed by ``claim.owner`` (``processing``, its first
        attempt, a lease of ``claim.lease_s``), as :meth:`claim` would leave it.
        """
        if claim is not None:
            fields.update(status=SessionStatus.PROCESSING, lease_owner=claim.owner, attempts=1,
                          lease_expires_at=utcnow() + timedelta(seconds=claim.lease_s))
        with self.session() as db:
            if quota is not None:
                db.execute(update(User).where(User.id == quota.user_id).values(name=User.name)
                           .execution_options(synchronize_session=False))
                count = db.scalar(select(func.count()).select_from(RunningSession).where(
                    RunningSession.user_id == quota.user_id, RunningSession.created_at >= quota.since))
                if count >= quota.limit:
                    raise QuotaExceeded(count, quota.limit)
            row = RunningSession(**fields)
            db.add(row)
        return row

    def get_session(self, session_id: str) -> RunningSession | None:
        with self.session() as db:
            return db.get(RunningSession, session_id)

    def update_session(self, session_id: str, **fields: Any) -> RunningSession:
        with self.session() as db:
            row = db.get(RunningSession, session_id)
            if row is None:
                raise KeyError(f"no session {session_id!r} in the catalog")
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
        return row

    def mark_failed(self, session_id: str, reason: str) -> None:
        self.update_session(session_id, status=SessionStatus.FAILED, error=reason, finished_at=utcnow())

    # -- the processing queue -------------------------------------------------
    def claim(self, session_id: str, owner: str, lease_s: float, *, allow_done: bool = False) -> bool:
        """Claim one session for processing; ``True`` if this caller now owns it.

        Claimable: ``queued``, ``processing`` with a lapsed (or no) lease, and
        ``done``/``failed`` when ``allow_done`` (an explicit re-run). The check
        and the write are one ``UPDATE``, so two claimants never both win.
        """
        now = utcnow()
        claimable = [RunningSession.status == SessionStatus.QUEUED,
                     (RunningSession.status == SessionStatus.PROCESSING)
                     & or_(RunningSession.lease_expires_at.is_(None), RunningSession.lease_expires_at < now)]
        if allow_done:
            claimable.append(RunningSession.status.in_((SessionStatus.DONE, SessionStatus.FAILED)))
        statement = (
            update(RunningSession)
            .where(RunningSession.id == session_id, or_(*claimable))
            .values(status=SessionStatus.PROCESSING, lease_owner=owner, error=None, updated_at=now,
                    lease_expires_at=now + timedelta(seconds=lease_s), attempts=RunningSession.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        with self.session() as db:
            return db.execute(statement).rowcount == 1

    def claim_next(self, owner: str, lease_s: float, older_than_s: float = 0.0) -> str | None:
        """Claim the oldest queued session; its id, or ``None`` when the queue is empty.

        ``older_than_s`` leaves younger sessions to the claimant they were dispatched
        to (a deployment run at scale). Only sessions never claimed wait for it: one that
        was given back (a lapsed lease recovered, a failure retried, a stopped worker, an
        operator's requeue: each leaves its reason in ``error``) has no run coming for it.

        PostgreSQL skips rows another claimant has locked (``FOR UPDATE SKIP
        LOCKED``); on SQLite the conditional update in :meth:`claim` decides.
        """
        for _ in range(20):
            query = (select(RunningSession.id).where(RunningSession.status == SessionStatus.QUEUED)
                     .order_by(RunningSession.created_at).limit(1))
            if older_than_s > 0:
                never_claimed = (RunningSession.attempts == 0) & RunningSession.error.is_(None)
                query = query.where(~never_claimed | (RunningSession.updated_at < utcnow() - timedelta(seconds=older_than_s)))
            with self.session() as db:
                if db.bind.dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                candidate = db.scalar(query)
            if candidate is None:
                return None
            if self.claim(candidate, owner, lease_s):
                return candidate
        return None

    def renew(self, session_id: str, owner: str, lease_s: float) -> bool:
        """Extend ``owner``'s lease; ``False`` when the claim was lost (lapsed and taken over)."""
        now = utcnow()
        statement = (
            update(RunningSession)
            .where(RunningSession.id == session_id, RunningSession.lease_owner == owner,
                   RunningSession.status == SessionStatus.PROCESSING)
            .values(lease_expires_at=now + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        )
        with self.session() as db:
            return db.execute(statement).rowcount == 1

    def finish(self, session_id: str, owner: str | None, *, status: SessionStatus, error: str | None = None,
               pipeline_version: str | None = None, refund_attempt: bool = False) -> bool:
        """End a claim: ``done``, ``failed`` (with ``error``) or back to ``queued``.

        Fenced: only the current owner can end it (``owner=None``: a row nobody
        holds), so a processor whose lease lapsed cannot overwrite its successor's outcome.
        """
        now = utcnow()
        values: dict[str, Any] = dict(status=status, error=error, lease_owner=None, lease_expires_at=None,
                                      updated_at=now)
        if status != SessionStatus.QUEUED:
            values["finished_at"] = now
        if pipeline_version is not None:
            values["pipeline_version"] = pipeline_version
        if refund_attempt:  # stopped by an operator, not the session's fault
            values["attempts"] = RunningSession.attempts - 1
        condition = [RunningSession.id == session_id,
                     RunningSession.lease_owner == owner if owner else RunningSession.lease_owner.is_(None)]
        statement = update(RunningSession).where(*condition).values(**values).execution_options(
            synchronize_session=False)
        with self.session() as db:
            return db.execute(statement).rowcount == 1

    def release(self, session_id: str, owner: str | None, reason: str, max_attempts: int) -> SessionStatus | None:
        """Give a claim back after a failure that was not the input's fault.

        Requeued while attempts remain, else ``failed`` with ``reason``; returns the
        new status (``None`` if ``owner`` no longer held it).
        """
        row = self.get_session(session_id)
        if row is None:
            return None
        if row.attempts >= max_attempts:
            reason = f"{reason} (gave up after {row.attempts} attempts)"
            return SessionStatus.FAILED if self.finish(session_id, owner, status=SessionStatus.FAILED,
                                                       error=reason) else None
        return SessionStatus.QUEUED if self.finish(session_id, owner, status=SessionStatus.QUEUED,
                                                   error=reason) else None

    def processing_sessions(self) -> list[RunningSession]:
        with self.session() as db:
            return list(db.scalars(select(RunningSession).where(RunningSession.status == SessionStatus.PROCESSING)))

    def sessions_by_status(self, statuses: tuple[str, ...] | None = None, limit: int = 1000) -> list[RunningSession]:
        with self.session() as db:
            query = select(RunningSession).order_by(RunningSession.created_at.desc()).limit(limit)
            if statuses:
                query = query.where(RunningSession.status.in_(statuses))
            return list(db.scalars(query))

    def recover_lapsed(self, max_attempts: int, owner_is_dead=None) -> dict[str, str]:
        """Requeue (or fail, after ``max_attempts``) sessions whose claim nobody holds any more.

        A claim is lapsed when its lease expired, or when ``owner_is_dead(owner)``
        says its process is gone (a dead process on this machine is known at once).
        Returns ``{session_id: new status}``.
        """
        now = utcnow()
        outcome: dict[str, str] = {}
        for row in self.processing_sessions():
            if not lease_lapsed(row, now, owner_is_dead):
                continue
            why = (f"the processor ({row.lease_owner or 'unknown'}) stopped before finishing"
                   if row.lease_owner else "processing had no owner")
            status = self.release(row.id, row.lease_owner, why, max_attempts)
            if status is not None:
                outcome[row.id] = str(status)
        return outcome

    def find_user(self, ref: str) -> User | None:
        """The user named by ``ref``: an id, or an e-mail address in any case."""
        with self.session() as db:
            return user_by_ref(db, ref)

    def earlier_upload(self, content_sha256: str, user_id: str | None) -> RunningSession | None:
        """The oldest session of ``user_id`` (None: sessions without an owner) holding the same video
        (same SHA-256) that did not fail: processing that video again would make a duplicate."""
        with self.session() as db:
            owner = RunningSession.user_id.is_(None) if user_id is None else RunningSession.user_id == user_id
            return db.scalars(select(RunningSession).where(
                RunningSession.content_sha256 == content_sha256, owner,
                RunningSession.status != SessionStatus.FAILED).order_by(RunningSession.created_at)).first()

    def find_by_hash(self, content_sha256: str, user_id: str | None = None) -> list[RunningSession]:
        with self.session() as db:
            query = select(RunningSession).where(RunningSession.content_sha256 == content_sha256)
            if user_id is not None:
                query = query.where(RunningSession.user_id == user_id)
            return list(db.scalars(query.order_by(RunningSession.created_at)))


def user_by_ref(db: Session, ref: str) -> User | None:
    """The user named by ``ref`` (an id, or an e-mail address compared case-insensitively), in ``db``."""
    ref = ref.strip()
    return db.get(User, ref) or db.scalars(select(User).where(func.lower(User.email) == ref.lower())).first()


FIRST_REVISION = "0001"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATED: set[tuple[str, str]] = set()
_MIGRATED_LOCK = threading.RLock()
_CATALOGS: dict[str, "Catalog"] = {}


def lease_lapsed(row: RunningSession, now: datetime, owner_is_dead=None) -> bool:
    """Nobody holds this ``processing`` row any more: its lease expired (or never existed), or
    ``owner_is_dead(owner)`` says its processor is gone."""
    expires = row.lease_expires_at
    if expires is not None and expires.tzinfo is None:  # SQLite hands back naive UTC
        expires = expires.replace(tzinfo=timezone.utc)
    if expires is None or expires < now:
        return True
    return bool(owner_is_dead is not None and row.lease_owner and owner_is_dead(row.lease_owner))


@contextmanager
def _migration_file_lock(url: str) -> Iterator[None]:
    """One migrating process at a time for a SQLite file (two fresh starts on one data dir).

    PostgreSQL is serialised by the advisory lock in ``migrations/env.py``.
    """
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        yield
        return
    import fcntl

    lock_path = Path(url.removeprefix("sqlite:///") + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def alembic_config(url: str):
    """An Alembic ``Config`` for the catalog at ``url`` (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while the pipeline writes; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def generate_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
