"""The catalog: who owns which session, and where each one stands.

SQLAlchemy 2 models on SQLite (default) or PostgreSQL (at scale), same code.
The schema is owned by the Alembic migrations in ``storage/migrations``
(``Catalog.migrate()``, run on first use when ``catalog.migrate`` is on);
switch with ``GAITLAKE_CATALOG__URL=postgresql+psycopg://user@host/db``.
Sessions move ``queued -> processing -> done | failed``; ``failed`` rows carry
the reason in one sentence. Numbers live in the lake, not here.
"""
from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, String, Text, create_engine, event, inspect, select
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
            if getattr(settings.catalog, "migrate", True):
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
        (tables present, no ``alembic_version``) is stamped at the first
        revision, then upgraded.
        """
        with _MIGRATED_LOCK:
            if (self.url, revision) in _MIGRATED:
                return
            from alembic import command

            config = alembic_config(self.url)
            with self.engine.connect() as connection:
                names = set(inspect(connection).get_table_names())
                connection.commit()
                config.attributes["connection"] = connection
                if "sessions" in names and "alembic_version" not in names:
                    command.stamp(config, FIRST_REVISION)
                command.upgrade(config, revision)
                connection.commit()
            _MIGRATED.add((self.url, revision))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as db:
            yield db

    # -- sessions ----------------------------------------------------------
    def create_session(self, **fields: Any) -> RunningSession:
        with self.session() as db:
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

    def find_by_hash(self, content_sha256: str, user_id: str | None = None) -> list[RunningSession]:
        with self.session() as db:
            query = select(RunningSession).where(RunningSession.content_sha256 == content_sha256)
            if user_id is not None:
                query = query.where(RunningSession.user_id == user_id)
            return list(db.scalars(query.order_by(RunningSession.created_at)))


FIRST_REVISION = "0001"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATED: set[tuple[str, str]] = set()
_MIGRATED_LOCK = threading.RLock()
_CATALOGS: dict[str, "Catalog"] = {}


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
