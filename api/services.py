"""What every route needs, built once per app: :class:`Services`, handed to routes by ``Depends(services)``.

:meth:`Services.load` is the one place that turns (caller, session id, demo flag, plan rule) into a
:class:`Loaded` session: the demo, or a visible, processed, paid-for-if-required session read with
one catalog query (:func:`api.tenancy.session_view`) and its served lake record (cached per
version). Statuses that are not ``done`` answer 409 here and nowhere else.
"""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from collections.abc import Hashable
from typing import Annotated, Any, Callable

import pyarrow as pa
from cachetools import LRUCache, TTLCache
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from api import reports
from api.auth import Authenticator, Principal
from api.demo import load_demo
from api.errors import ApiError
from api.links import Linker
from api.responses import DocumentCache, Encoded
from api.settings import ApiSettings
from api.tenancy import SessionView, check_session_id, require_paid_plan, session_view
from configs import Settings
from storage.catalog import Catalog, SessionStatus
from storage.lake import Lake
from storage.objectstore import ObjectStore

# Thread kinds whose saved texts a document shows (see reports.latest_thread_texts).
THREAD_KINDS = ("summary", "form", "recommendation")


@dataclass
class Loaded:
    """A session ready for a report: catalog facts, owner, lake record, saved texts (by thread kind)."""

    meta: reports.SessionMeta
    owner: reports.Owner
    record: reports.SessionRecord
    texts: Callable[[str], dict[str, str]]
    demo: dict[str, Any] | None = None  # the demo file's content when demo=true
    version_key: tuple = ()  # what, besides the route, the document depends on (cache key part)
    row: Any = None


@dataclass
class Services:
    settings: Settings
    api_settings: ApiSettings
    catalog: Catalog
    store: ObjectStore
    lake: Lake
    reader: reports.LakeReader
    linker: Linker
    authenticate: Authenticator
    launcher: Callable[[str], str] | None
    max_upload: int
    documents: DocumentCache = field(init=False)
    _texts: LRUCache = field(init=False, repr=False)
    _views: TTLCache | None = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # cache_size records; documents bounded by bytes (256 KB per record slot: 64 MB by default).
        self.documents = DocumentCache(max(1 << 20, self.api_settings.cache_size << 18))
        self._texts = LRUCache(max(16, self.api_settings.cache_size * 4))
        ttl = self.api_settings.view_cache_ttl_s
        self._views = TTLCache(max(16, self.api_settings.cache_size * 4), ttl) if ttl > 0 else None

    @property
    def inline_catalog(self) -> bool:
        """SQLite (a local file, sub-millisecond queries): reads query it on the event loop, saving a
        thread hop per request; other catalogs (PostgreSQL) are queried from the thread pool."""
        return self.catalog.engine.dialect.name == "sqlite"

    # -- sessions ---------------------------------------------------------------------
    def load(self, caller: Principal, session_id: str, demo: bool = False, plan_status: int | None = None) -> Loaded:
        """The session as a report needs it, or the ApiError the caller gets (400/404/409/503)."""
        if demo:
            return demo_session()
        view = self.view(caller, session_id, plan_status)
        return self.loaded(view, self.reader.record(view.session))

    async def aload(self, caller: Principal, session_id: str, demo: bool = False, plan_status: int | None = None) -> Loaded:
        """:meth:`load` for async routes: the catalog query inline on SQLite, the lake read (a cache
        miss: Parquet and JSON parsing) in the thread pool."""
        if demo:
            return demo_session()
        if self.inline_catalog:
            view = self.view(caller, session_id, plan_status)
        else:
            view = await run_in_threadpool(self.view, caller, session_id, plan_status)
        record = self.reader.cached(view.session)
        if record is None:
            record = await run_in_threadpool(self.reader.record, view.session)
        return self.loaded(view, record)

    def view(self, caller: Principal, session_id: str, plan_status: int | None = None) -> SessionView:
        """The visible, processed (409 otherwise), paid-for-if-``plan_status`` session: one catalog query."""
        check_session_id(session_id)
        view = self._session_view(caller, session_id)
        if plan_status is not None:
            require_paid_plan(view.plan, plan_status)
        require_done(view)
        return view

    def _session_view(self, caller: Principal, session_id: str) -> SessionView:
        """:func:`api.tenancy.session_view`, kept for ``api.view_cache_ttl_s`` per caller and session:
        under load the catalog query was half of a cached read's server time. A refusal (404) is never
        kept; what another process changes (a profile, a reprocessed version) shows within the TTL, and
        this process's own writes (saved threads) drop the session's views at once (:meth:`forget_session`)."""
        if self._views is None:
            return session_view(self.catalog, caller, session_id)
        key = (caller.user_id, caller.role, session_id)
        with self._lock:
            view = self._views.get(key)
        if view is None:
            view = session_view(self.catalog, caller, session_id)
            with self._lock:
                self._views[key] = view
        return view

    def forget_session(self, session_id: str) -> None:
        """Drop the kept views of ``session_id`` (after this process changed what they show)."""
        if self._views is None:
            return
        with self._lock:
            for key in [k for k in self._views.keys() if k[2] == session_id]:
                self._views.pop(key, None)

    def loaded(self, view: SessionView, record: reports.SessionRecord | None) -> Loaded:
        if record is None:
            raise ApiError(404, "session results are not available")
        owner = view.owner_facts()
        return Loaded(reports.SessionMeta.from_catalog(view.session), owner, record,
                      functools.partial(self._saved_texts, view), None,
                      (view.session.id, record.pipeline_version, view.session.joints, owner.fingerprint(), view.threads),
                      view.session)

    async def document(self, key: Hashable, build: Callable[[], Any]) -> Encoded:
        """The encoded document for ``key``; built (and encoded) in the thread pool on a miss."""
        hit = self.documents.peek(key)
        return hit if hit is not None else await run_in_threadpool(self.documents.get, key, build)

    def _saved_texts(self, view: SessionView, kind: str) -> dict[str, str]:
        """Saved texts of one thread kind; read again only when the session's threads changed."""
        key = (view.session.id, kind, view.threads)
        with self._lock:
            texts = self._texts.get(key)
        if texts is None:
            with self.catalog.session() as db:
                texts = reports.latest_thread_texts(db, view.session.id, kind)
            with self._lock:
                self._texts[key] = texts
        return texts


def require_done(view: SessionView) -> None:
    """409 unless the session is processed (the one place that says so)."""
    row = view.session
    if row.status == SessionStatus.DONE:
        return
    if row.status == SessionStatus.FAILED:
        raise ApiError(409, f"session processing failed: {row.error or 'unknown reason'}", status="failed")
    raise ApiError(409, "session is still processing", status=str(row.status))


@functools.lru_cache(maxsize=1)
def demo_session() -> Loaded:
    demo = load_demo()
    if demo is None:
        raise ApiError(404, "the demo session is not installed (python -m gaitlake.demo_session)")
    s, o = demo["session"], demo["owner"]
    meta = reports.SessionMeta(s["id"], s["title"], reports.as_utc(s["created_at"]), reports.as_utc(s.get("finished_at")),
                               s.get("joints", "all"), float(s.get("incline_deg", 0.0)), s.get("height_cm"), s.get("weight_kg"), None)
    owner = reports.Owner(o["id"], o["email"], o.get("name", ""), o.get("height_cm"), o.get("weight_kg"), dict(o.get("profile") or {}),
                          o.get("admin_name"), o.get("session_count"), reports.as_utc(o.get("last_session")))
    strides = pa.Table.from_pylist(list(demo.get("strides") or []))
    record = reports.record_from_row(s["id"], s.get("pipeline_version", "demo"), demo["row"],
                                     read_table=lambda name: strides if name == "strides" else None)
    # the demo is no lake run: it holds its documents as the engine's result built them (gaitlake.demo_session)
    record.docs.update({name: demo["row"][name] for name in ("summary_doc", "details_doc", "form_doc")})
    record.docs["export_doc"] = dict(demo.get("export") or {})
    texts = {"summary": dict(demo.get("summary_text") or {}), "form": dict(demo.get("form_comments") or {}),
             "recommendation": dict(demo.get("report_comments") or {})}
    return Loaded(meta, owner, record, lambda kind: texts.get(kind, {}), demo, ("demo",))


async def services(request: Request) -> Services:  # async: no thread hop for a lookup
    return request.app.state.services


async def principal(request: Request) -> Principal:
    """The caller, from ``Authorization`` (``API-KEY <key>`` / ``Bearer <JWT>``) or ``API-KEY: <key>``.

    Headers are read here rather than declared as parameters: the served OpenAPI document is the
    shared spec's (api/openapi.py), and FastAPI's per-parameter resolution is a measurable share of
    a cached read. Verified keys are cached (auth_cache_ttl_s): a hit is a dict lookup, so this runs
    on the event loop.
    """
    headers = request.headers
    return request.app.state.services.authenticate(headers.get("authorization"), headers.get("api-key"))


ServicesDep = Annotated[Services, Depends(services)]
Caller = Annotated[Principal, Depends(principal)]
