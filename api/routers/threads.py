"""Commentary threads: the three POSTs that create them (201 ``{block: thread_id}``) and GET one thread."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Path, Query
from fastapi.responses import JSONResponse

from api import documents, reports, thread_text
from api.errors import ApiError
from api.services import Caller, Services, ServicesDep
from api.tenancy import SESSION_ID_RE, check_session_id, managed_user_ids, require_manager
from storage.catalog import RunningSession, Thread, ThreadStatus

#: The spec's thread blocks of each kind (api.documents.THREAD_TOPICS names the commentary that writes them).
SUMMARY_THREAD_BLOCKS = tuple(documents.THREAD_TOPICS["summary"])
FORM_THREAD_BLOCKS = tuple(documents.THREAD_TOPICS["form"])
GAIT_THREAD_BLOCKS = tuple(documents.THREAD_TOPICS["recommendation"])

router = APIRouter()
SessionId = Annotated[str, Path()]


def create_threads(svc: Services, caller, session_id: str, kind: str, blocks: tuple[str, ...], plan_status: int,
                   options: dict, background: BackgroundTasks | None = None) -> JSONResponse:
    check_session_id(session_id)
    require_manager(caller)
    s = svc.load(caller, session_id, plan_status=plan_status)
    mapping = {}
    with svc.catalog.session() as db:
        for block in blocks:
            thread = Thread(session_id=session_id, kind=kind, block=block, status=ThreadStatus.PENDING,
                            options=options, created_by=caller.user_id)
            db.add(thread)
            db.flush()
            mapping[block] = thread.id
    # Commentary: rule engine now (done before the 201), or the LLM engine in the background.
    thread_text.fill_threads(svc.catalog, svc.settings, kind, mapping, s.record, s.row, options, background)
    svc.forget_session(session_id)  # the saved texts are in the documents from now on
    return JSONResponse(mapping, status_code=201)


@router.post("/running/sessions/{session_id}/summary/", operation_id="running_sessions_summary_create", status_code=201)
def summary_threads(svc: ServicesDep, caller: Caller, session_id: SessionId, background: BackgroundTasks,
                    measurement_system: Annotated[Literal["metric", "imperial"], Query()] = "metric"):
    return create_threads(svc, caller, session_id, "summary", SUMMARY_THREAD_BLOCKS, 404,
                          {"measurement_system": measurement_system}, background)


@router.post("/running/sessions/{session_id}/form-recommendations/", operation_id="running_sessions_form-recommendations_create",
             status_code=201)
def form_threads(svc: ServicesDep, caller: Caller, session_id: SessionId, background: BackgroundTasks):
    return create_threads(svc, caller, session_id, "form", FORM_THREAD_BLOCKS, 403, {}, background)


@router.post("/running/sessions/{session_id}/recommendation/", operation_id="running_sessions_recommendation_create", status_code=201)
def gait_threads(svc: ServicesDep, caller: Caller, session_id: SessionId, background: BackgroundTasks):
    return create_threads(svc, caller, session_id, "recommendation", GAIT_THREAD_BLOCKS, 404, {}, background)


@router.get("/running/threads/{thread_id}/", operation_id="running_threads_read")
def read_thread(svc: ServicesDep, caller: Caller, thread_id: Annotated[str, Path()]):
    if not SESSION_ID_RE.match(thread_id):
        raise ApiError(400, "invalid thread_id")
    with svc.catalog.session() as db:
        thread = db.get(Thread, thread_id)
        session = db.get(RunningSession, thread.session_id) if thread else None
        if thread is None or session is None or session.user_id not in managed_user_ids(db, caller):
            raise ApiError(404, "thread not found")
        return {
            "id": thread.id, "session_id": thread.session_id, "kind": thread.kind, "block": thread.block,
            "status": str(thread.status), "text": thread.text,
            "engine": (thread.options or {}).get("engine"), "fallback_reason": thread.error,
            "created_at": reports.as_utc(thread.created_at).isoformat(),
        }
