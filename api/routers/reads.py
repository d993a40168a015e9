"""Report reads: details, summary, export, form-analysis, gait-analysis, total metrics.

Each answers from the encoded-document cache (:mod:`api.responses`): the key names the served
version and everything else the document shows, so a repeated read costs one catalog query
(:meth:`api.services.Services.load`) and no encoding; ``If-None-Match`` gets 304.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from api import reports
from api.errors import ApiError
from api.responses import respond
from api.services import Caller, Loaded, Services, ServicesDep
from api.tenancy import managed_user_ids
from storage.catalog import RunningSession, SessionStatus
from storage.lake import DamagedRun

log = logging.getLogger("gaitlake.api")
router = APIRouter()
SessionId = Annotated[str, Path()]
Demo = Annotated[bool, Query()]
PAID = 404  # reports refused without a paid plan answer 404 (the spec's choice)


class Links:
    """Browser-openable links for one response (one expiry for all, so documents stay cacheable)."""

    def __init__(self, svc: Services, request: Request):
        self.linker, self.base, self.expires = svc.linker, str(request.base_url), svc.linker.expiry()

    @property
    def key(self) -> tuple:
        return (self.base, self.expires)

    def url(self, key: str | None) -> str | None:
        return self.linker.url(key, self.base, self.expires)


def _object_key(record: reports.SessionRecord, name: str, fallback: str | None = None) -> str | None:
    value = record.row.get(name)
    return value if isinstance(value, str) and value else fallback


async def _document(request: Request, svc: Services, name: str, s: Loaded, build: Callable[[], dict[str, Any]],
                    extra: tuple = ()) -> Response:
    return respond(request, await svc.document((name, s.version_key, extra), build))


@router.get("/running/sessions/metrics/total/", operation_id="running_sessions_metrics_total_list")
def total_metrics(svc: ServicesDep, caller: Caller):
    with svc.catalog.session() as db:
        users = managed_user_ids(db, caller)
        rows = list(db.scalars(
            select(RunningSession)
            .where(RunningSession.user_id.in_(users), RunningSession.status == SessionStatus.DONE)
            .order_by(RunningSession.created_at)
        ))
    records, last = [], None
    for row in rows:
        try:
            record = svc.reader.record(row)
        except DamagedRun as exc:  # one damaged session must not break the tenant's totals
            log.warning("total metrics: skipping %s (repair: %s)", exc, exc.repair)
            continue
        if record is not None:
            records.append((row, record))
            last = (row, record)
    if last is None:
        raise ApiError(404, "no processed sessions found")
    row, record = last
    created = reports.as_utc(row.created_at)
    return {
        "avg_metrics": reports.average_metrics([r for _, r in records]),
        "last_session_metrics": reports.last_session_metrics(record, row.incline_deg),
        "last_session_created_at": {"date": reports.fmt_date(created), "time": reports.fmt_time(created)},
    }


@router.get("/running/sessions/{session_id}/", operation_id="running_sessions_read")
async def session_details(request: Request, svc: ServicesDep, caller: Caller, session_id: SessionId, demo: Demo = False):
    s = await svc.aload(caller, session_id, demo)
    links = Links(svc, request)

    def build():
        urls = {"video_url": links.url(_object_key(s.record, "video_key", s.meta.video_key)),
                "analyzed_video_url": links.url(_object_key(s.record, "analyzed_video_key"))}
        return reports.session_details(s.meta, s.owner, s.record, urls, s.texts("summary").get("final_summary"))

    return await _document(request, svc, "details", s, build, links.key)


@router.get("/running/sessions/{session_id}/summary/", operation_id="running_sessions_summary_list")
async def session_summary(request: Request, svc: ServicesDep, caller: Caller, session_id: SessionId, demo: Demo = False):
    s = await svc.aload(caller, session_id, demo, plan_status=PAID)
    return await _document(request, svc, "summary", s, lambda: reports.summary(s.meta, s.owner, s.record, s.texts("summary")))


@router.get("/running/sessions/{session_id}/export/", operation_id="running_sessions_export_list")
async def session_export(request: Request, svc: ServicesDep, caller: Caller, session_id: SessionId, demo: Demo = False):
    s = await svc.aload(caller, session_id, demo)
    return await _document(request, svc, "export", s, lambda: reports.export(s.meta, s.record, *svc.reader.export_series(s.record)))


async def _linked_report(request: Request, svc: Services, caller, session_id: str, demo: bool, name: str,
                   make: Callable[[Loaded, Links], dict[str, Any]]) -> Response:
    """A paid report whose document carries image links."""
    s = await svc.aload(caller, session_id, demo, plan_status=PAID)
    links = Links(svc, request)
    return await _document(request, svc, name, s, lambda: make(s, links), links.key)


def _form_document(s: Loaded, links: Links) -> dict[str, Any]:
    images = s.record.doc("images_doc").get("form") or {}
    urls = {k: links.url(images.get(k)) for k in reports.FORM_IMAGES if images.get(k)}
    return reports.form_analysis(s.meta, s.owner, s.record, urls, s.texts("form"))


def _gait_document(s: Loaded, links: Links) -> dict[str, Any]:
    images = s.record.doc("images_doc").get("gait") or {}
    urls = {side: {phase: links.url(key) for phase, key in (images.get(side) or {}).items()} for side in ("left", "right")}
    return reports.gait_analysis(s.meta, s.owner, s.record, urls, s.texts("recommendation"))


@router.post("/running/sessions/{session_id}/form-analysis/", operation_id="running_sessions_form-analysis_create")
async def form_analysis(request: Request, svc: ServicesDep, caller: Caller, session_id: SessionId, demo: Demo = False):
    return await _linked_report(request, svc, caller, session_id, demo, "form", _form_document)


@router.post("/running/sessions/{session_id}/gait-analysis/", operation_id="running_sessions_gait-analysis_create")
async def gait_analysis(request: Request, svc: ServicesDep, caller: Caller, session_id: SessionId, demo: Demo = False):
    return await _linked_report(request, svc, caller, session_id, demo, "gait", _gait_document)
