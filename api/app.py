"""FastAPI app for the running-sessions API (``../shared/spec/running-openapi.json``).

``create_app(settings)`` wires the catalog (who, what, status), the lake
(numbers) and the object store (videos, images). See docs/api.md.
"""

import functools
import logging
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import BackgroundTasks, Depends, FastAPI, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from api import reports, thread_text
from api.auth import Authenticator, Principal
from api.demo import load_demo
from api.errors import ApiError, error_response, install_error_handlers
from api.links import Linker
from api.openapi import app_openapi
from api.settings import ApiSettings, load_api_settings
from api.sniff import HEAD_BYTES, describe_non_video, sniff_video
from api.tenancy import (
    check_session_id,
    check_session_limit,
    session_limit_error,
    managed_user_ids,
    require_manager,
    require_paid_plan,
    resolve_upload_owner,
    visible_session,
)
from configs import Settings, get_settings
from flows import options
from storage.catalog import Catalog, QuotaExceeded, RunningSession, SessionStatus, Thread, ThreadStatus, User
from storage.lake import DamagedRun, Lake
from storage.objectstore import ObjectStore

log = logging.getLogger("gaitlake.api")

SUMMARY_THREAD_BLOCKS = ("performance_metrics", "running_mechanics", "balance_and_posture", "distance_and_duration", "final_summary")
FORM_THREAD_BLOCKS = ("contact_angle", "push_angle", "knee_ankle", "general_form_recommendation")
GAIT_THREAD_BLOCKS = tuple(f"{side}_{joint}_angle" for side in ("left", "right") for joint in ("posture", "hip", "knee", "ankle"))
UPLOAD_PATHS = ("/running/sessions/", "/running/management/sessions/")
FORM_SLACK_BYTES = 1 << 20  # multipart overhead and text fields on top of the video


class UploadLimitMiddleware:
    """413 (JSON) as soon as an upload's body passes the limit, chunked or not, before it is stored."""

    def __init__(self, app, max_body: int):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in UPLOAD_PATHS:
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        try:
            declared = int(headers.get(b"content-length", b"-1"))
        except ValueError:
            declared = -1
        message = f"the upload exceeds the {self.max_body // (1 << 20)} MB limit"
        if declared > self.max_body:
            return await error_response(413, message, headers={"Connection": "close"})(scope, receive, send)
        total = 0
        started = False

        async def limited_receive():
            nonlocal total
            msg = await receive()
            if msg["type"] == "http.request":
                total += len(msg.get("body", b""))
                if total > self.max_body:
                    raise ApiError(413, message)  # answered by the ApiError handler
            return msg

        async def tracking_send(msg):
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except ApiError as exc:
            if started or exc.status != 413:
                raise
            if not started:
                await error_response(413, message, headers={"Connection": "close"})(scope, receive, send)


def _parse_float(form, name: str, field: str) -> float | None:
    """A numeric form field under the shared option rules (flows/options.py); 400 when refused."""
    try:
        return options.parse_number(form.get(name), field, label=name)
    except options.OptionError as exc:
        raise ApiError(400, str(exc)) from None


def parse_joints(raw: Any) -> str:
    try:
        return options.parse_joints(raw, label="body_joint_angles")
    except options.OptionError as exc:
        raise ApiError(400, str(exc)) from None


def create_app(settings: Settings | None = None, api_settings: ApiSettings | None = None, launcher=None) -> FastAPI:
    settings = settings or get_settings()
    api_settings = api_settings or load_api_settings(settings)
    catalog = Catalog.from_settings(settings)
    store = ObjectStore.from_settings(settings)
    lake = Lake(store)
    reader = reports.LakeReader(lake, api_settings.cache_size)
    linker = Linker(store, api_settings.resolved_signing_secret(settings.data_path), api_settings.link_ttl_s, api_settings.public_base_url)
    authenticate = Authenticator(catalog, api_settings)
    max_upload = settings.storage.max_upload_mb << 20
    if launcher is None and api_settings.launch_processing:
        from flows.launch import launch_processing

        def launcher(session_id: str) -> str:
            return launch_processing(session_id, settings)

    app = FastAPI(title="gaitlake running-sessions API", docs_url="/docs", redoc_url=None)
    app.state.settings, app.state.api_settings, app.state.catalog, app.state.lake = settings, api_settings, catalog, lake
    install_error_handlers(app)
    app.add_middleware(UploadLimitMiddleware, max_body=max_upload + FORM_SLACK_BYTES)

    document = app_openapi()
    app.openapi = lambda: document  # type: ignore[method-assign]

    def principal(
        authorization: Annotated[str | None, Header()] = None,
        api_key: Annotated[str | None, Header(alias="API-KEY")] = None,
    ) -> Principal:
        return authenticate(authorization, api_key)

    Caller = Annotated[Principal, Depends(principal)]
    SessionId = Annotated[str, Path()]
    Demo = Annotated[bool, Query()]

    # -- helpers ---------------------------------------------------------------
    @functools.lru_cache(maxsize=1)
    def demo_parts() -> tuple[reports.SessionMeta, reports.Owner, reports.SessionRecord, dict[str, Any]]:
        demo = load_demo()
        if demo is None:
            raise ApiError(404, "the demo session is not installed (python -m api.demo.generate)")
        s = demo["session"]
        meta = reports.SessionMeta(s["id"], s["title"], reports.as_utc(s["created_at"]), reports.as_utc(s.get("finished_at")),
                                   s.get("joints", "all"), float(s.get("incline_deg", 0.0)), s.get("height_cm"), s.get("weight_kg"), None)
        o = demo["owner"]
        owner = reports.Owner(o["id"], o["email"], o.get("name", ""), o.get("height_cm"), o.get("weight_kg"), dict(o.get("profile") or {}),
                              o.get("admin_name"), o.get("session_count"), reports.as_utc(o.get("last_session")))
        record = reports.record_from_row(s["id"], s.get("pipeline_version", "demo"), demo["row"])
        return meta, owner, record, demo

    def load_done(caller: Principal, session_id: str, plan_status: int | None = None):
        row, user = visible_session(catalog, caller, session_id)
        if plan_status is not None:
            require_paid_plan(catalog, user, plan_status)
        if row.status != SessionStatus.DONE:
            if row.status == SessionStatus.FAILED:
                raise ApiError(409, f"session processing failed: {row.error or 'unknown reason'}", status="failed")
            raise ApiError(409, "session is still processing", status=str(row.status))
        record = reader.record(row)
        if record is None:
            raise ApiError(404, "session results are not available")
        with catalog.session() as db:
            owner = reports.Owner.from_catalog(db, db.get(User, user.id))
        return reports.SessionMeta.from_catalog(row), owner, record

    def respond(doc: dict, record=None, prefix: str = "", heavy: tuple[str, ...] = ()) -> Response:
        """JSON without FastAPI's generic encoder (slow on per-frame series); big parts cached per record."""
        return Response(reports.render(doc, record, prefix, heavy), media_type="application/json")

    SERIES_KEYS = ("metrics", "angles", "all_timestamps", "keypoints", "contact")

    def base_url(request: Request) -> str:
        return str(request.base_url)

    def object_key(record: reports.SessionRecord, name: str, fallback: str | None = None) -> str | None:
        value = record.row.get(name)
        return value if isinstance(value, str) and value else fallback

    # -- operations ------------------------------------------------------------------
    async def create_session(request: Request, caller: Caller):
        try:
            form = await request.form(max_files=1, max_fields=16, max_part_size=64 * 1024)
        except ApiError:
            raise
        except Exception as exc:  # malformed multipart / wrong content type
            detail = getattr(exc, "detail", None) or str(exc) or "could not parse the form"
            raise ApiError(400, f"invalid multipart/form-data body: {detail}") from None
        try:
            user_ref = form.get("user_id")
            if not isinstance(user_ref, str) or not user_ref.strip():
                raise ApiError(400, "user_id is required")
            video = form.get("video")
            if not isinstance(video, UploadFile):
                raise ApiError(400, "video is required (a file part named 'video')")
            head = await video.read(HEAD_BYTES)
            await video.seek(0)
            if sniff_video(head) is None:
                raise ApiError(400, describe_non_video(head, video.content_type))
            joints = parse_joints(form.get("body_joint_angles"))
            incline = _parse_float(form, "incline_degree", "incline_deg")
            capture_fps = _parse_float(form, "capture_fps", "capture_fps")
            height_cm = _parse_float(form, "height_cm", "height_cm")
            weight_kg = _parse_float(form, "weight_kg", "weight_kg")
            name = form.get("session_name")
            title = name.strip()[:300] if isinstance(name, str) and name.strip() else None
            owner = await run_in_threadpool(resolve_upload_owner, catalog, caller, user_ref)
            quota = await run_in_threadpool(check_session_limit, catalog, owner, api_settings.session_limits,
                                            api_settings.session_limit_window_days)
            now = datetime.now(timezone.utc)
            title = title or f"Running session {reports.fmt_date(now)} {reports.fmt_time(now)}"
            from flows.intake import IntakeError, UploadTooLarge, create_session_from_stream

            try:
                row = await run_in_threadpool(
                    create_session_from_stream, store, catalog, video.file, video.filename, max_bytes=max_upload,
                    user_id=owner.id, title=title, incline_deg=incline or 0.0, joints=joints, capture_fps=capture_fps,
                    height_cm=height_cm or owner.height_cm, weight_kg=weight_kg or owner.weight_kg,
                    options={"created_by": caller.user_id, "container": sniff_video(head)}, quota=quota,
                )
            except QuotaExceeded:  # another upload took the last slot meanwhile (checked in the insert)
                raise session_limit_error(catalog, owner, quota, api_settings.session_limit_window_days) from None
            except UploadTooLarge as exc:
                raise ApiError(413, str(exc)) from None
            except IntakeError as exc:
                raise ApiError(400, str(exc)) from None
        finally:
            await form.close()
        if launcher is not None:
            try:
                handle = await run_in_threadpool(launcher, row.id)
                if handle:
                    await run_in_threadpool(catalog.update_session, row.id, flow_run_id=str(handle)[:64])
            except Exception:  # the session stays queued: a worker's queue loop takes it (flows/launch.py)
                log.exception("could not dispatch %s; it stays queued for the workers", row.id)
        return {"session_id": row.id, "title": row.title}

    app.add_api_route("/running/sessions/", create_session, methods=["POST"], operation_id="running_sessions_create")
    app.add_api_route("/running/management/sessions/", create_session, methods=["POST"], include_in_schema=False)

    @app.get("/running/sessions/metrics/total/", operation_id="running_sessions_metrics_total_list")
    def total_metrics(caller: Caller):
        with catalog.session() as db:
            users = managed_user_ids(db, caller)
            rows = list(db.scalars(
                select(RunningSession)
                .where(RunningSession.user_id.in_(users), RunningSession.status == SessionStatus.DONE)
                .order_by(RunningSession.created_at)
            ))
        records, last = [], None
        for row in rows:
            try:
                record = reader.record(row)
            except DamagedRun as exc:  # one damaged session must not break the tenant's totals
                log.warning("total metrics: skipping %s (repair: %s)", exc, exc.repair)
                continue
            if record is not None:
                records.append(record)
                last = row
        if last is None:
            raise ApiError(404, "no processed sessions found")
        avg = reports.average_metrics(records)
        record = reader.record(last)
        created = reports.as_utc(last.created_at)
        return {
            "avg_metrics": avg,
            "last_session_metrics": reports.last_session_metrics(record, last.incline_deg) if record else {},
            "last_session_created_at": {"date": reports.fmt_date(created), "time": reports.fmt_time(created)},
        }

    @app.get("/running/sessions/{session_id}/", operation_id="running_sessions_read")
    def session_details(request: Request, caller: Caller, session_id: SessionId, demo: Demo = False):
        check_session_id(session_id)
        if demo:
            meta, owner, record, _ = demo_parts()
            return respond(reports.session_details(meta, owner, record, {}, None), record, "details:demo", SERIES_KEYS)
        meta, owner, record = load_done(caller, session_id)
        base = base_url(request)
        urls = {
            "video_url": linker.url(object_key(record, "video_key", meta.video_key), base),
            "analyzed_video_url": linker.url(object_key(record, "analyzed_video_key"), base),
        }
        with catalog.session() as db:
            texts = reports.latest_thread_texts(db, session_id, "summary")
        doc = reports.session_details(meta, owner, record, urls, texts.get("final_summary"))
        return respond(doc, record, f"details:{meta.joints}", SERIES_KEYS)

    @app.get("/running/sessions/{session_id}/summary/", operation_id="running_sessions_summary_list")
    def session_summary(caller: Caller, session_id: SessionId, demo: Demo = False):
        check_session_id(session_id)
        if demo:
            meta, owner, record, data = demo_parts()
            return respond(reports.summary(meta, owner, record, dict(data.get("summary_text") or {})))
        meta, owner, record = load_done(caller, session_id, plan_status=404)
        with catalog.session() as db:
            texts = reports.latest_thread_texts(db, session_id, "summary")
        return respond(reports.summary(meta, owner, record, texts))

    @app.get("/running/sessions/{session_id}/export/", operation_id="running_sessions_export_list")
    def session_export(caller: Caller, session_id: SessionId, demo: Demo = False):
        check_session_id(session_id)
        if demo:
            meta, _owner, record, data = demo_parts()
            export = data.get("export") or {}
            doc = reports.export(meta, record, export.get("keypoints") or {}, export.get("contact") or [])
            return respond(doc, record, "export:demo", SERIES_KEYS)
        meta, _owner, record = load_done(caller, session_id)
        keypoints, contact = reader.export_series(record)
        return respond(reports.export(meta, record, keypoints, contact), record, f"export:{meta.joints}", SERIES_KEYS)

    @app.post("/running/sessions/{session_id}/form-analysis/", operation_id="running_sessions_form-analysis_create")
    def form_analysis(request: Request, caller: Caller, session_id: SessionId, demo: Demo = False):
        check_session_id(session_id)
        if demo:
            meta, owner, record, data = demo_parts()
            return respond(reports.form_analysis(meta, owner, record, {}, dict(data.get("form_comments") or {})))
        meta, owner, record = load_done(caller, session_id, plan_status=404)
        images = (record.doc("images_doc").get("form") or {})
        urls = {k: linker.url(images.get(k), base_url(request)) for k in reports.FORM_IMAGES if images.get(k)}
        with catalog.session() as db:
            comments = reports.latest_thread_texts(db, session_id, "form")
        return respond(reports.form_analysis(meta, owner, record, urls, comments))

    @app.post("/running/sessions/{session_id}/gait-analysis/", operation_id="running_sessions_gait-analysis_create")
    def gait_analysis(request: Request, caller: Caller, session_id: SessionId, demo: Demo = False):
        check_session_id(session_id)
        if demo:
            meta, owner, record, data = demo_parts()
            return respond(reports.gait_analysis(meta, owner, record, {}, dict(data.get("report_comments") or {})))
        meta, owner, record = load_done(caller, session_id, plan_status=404)
        images = record.doc("images_doc").get("gait") or {}
        base = base_url(request)
        urls = {side: {phase: linker.url(key, base) for phase, key in (images.get(side) or {}).items()} for side in ("left", "right")}
        with catalog.session() as db:
            comments = reports.latest_thread_texts(db, session_id, "recommendation")
        return respond(reports.gait_analysis(meta, owner, record, urls, comments))

    def create_threads(caller: Principal, session_id: str, kind: str, blocks: tuple[str, ...], plan_status: int, options: dict,
                       background: BackgroundTasks | None = None) -> JSONResponse:
        check_session_id(session_id)
        require_manager(caller)
        row, user = visible_session(catalog, caller, session_id)
        require_paid_plan(catalog, user, plan_status)
        if row.status != SessionStatus.DONE:
            status = str(row.status)
            raise ApiError(409, "session is still processing" if status != "failed" else f"session processing failed: {row.error}", status=status)
        mapping = {}
        with catalog.session() as db:
            for block in blocks:
                thread = Thread(session_id=session_id, kind=kind, block=block, status=ThreadStatus.PENDING,
                                options=options, created_by=caller.user_id)
                db.add(thread)
                db.flush()
                mapping[block] = thread.id
        # Commentary: rule engine now (done before the 201), or the LLM engine in the background.
        thread_text.fill_threads(catalog, settings, kind, mapping, reader.record(row), row, options, background)
        return JSONResponse(mapping, status_code=201)

    @app.post("/running/sessions/{session_id}/summary/", operation_id="running_sessions_summary_create", status_code=201)
    def summary_threads(caller: Caller, session_id: SessionId, background: BackgroundTasks,
                        measurement_system: Annotated[Literal["metric", "imperial"], Query()] = "metric"):
        return create_threads(caller, session_id, "summary", SUMMARY_THREAD_BLOCKS, 404, {"measurement_system": measurement_system},
                              background)

    @app.post("/running/sessions/{session_id}/form-recommendations/", operation_id="running_sessions_form-recommendations_create", status_code=201)
    def form_threads(caller: Caller, session_id: SessionId, background: BackgroundTasks):
        return create_threads(caller, session_id, "form", FORM_THREAD_BLOCKS, 403, {}, background)

    @app.post("/running/sessions/{session_id}/recommendation/", operation_id="running_sessions_recommendation_create", status_code=201)
    def gait_threads(caller: Caller, session_id: SessionId, background: BackgroundTasks):
        return create_threads(caller, session_id, "recommendation", GAIT_THREAD_BLOCKS, 404, {}, background)

    @app.get("/running/threads/{thread_id}/", operation_id="running_threads_read")
    def read_thread(caller: Caller, thread_id: Annotated[str, Path()]):
        if not reports.re.match(r"^[A-Za-z0-9_-]{1,64}$", thread_id):
            raise ApiError(400, "invalid thread_id")
        with catalog.session() as db:
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

    @app.get("/files/{key:path}", operation_id="files_read")
    def signed_file(key: str, expires: str | None = None, sig: str | None = None):
        return linker.serve_signed(key, expires, sig)

    @app.get("/healthz", include_in_schema=False)
    def healthz():
        return {"status": "ok"}

    return app


def app_from_env() -> FastAPI:
    """uvicorn factory: ``uvicorn --factory api.app:app_from_env``."""
    return create_app()
