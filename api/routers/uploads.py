"""Uploads: ``POST /running/sessions/`` (and the curl example's ``/running/management/sessions/``).

``create_session`` moved here unchanged from ``api/app.py`` (its closure names are bound from
:class:`api.services.Services` on its first line).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api import reports
from api.errors import ApiError
from api.services import Caller, ServicesDep
from api.sniff import HEAD_BYTES, describe_non_video, sniff_video
from api.tenancy import check_session_limit, resolve_upload_owner, session_limit_error
from flows import options
from storage.catalog import QuotaExceeded

log = logging.getLogger("gaitlake.api")
router = APIRouter()


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



async def create_session(request: Request, svc: ServicesDep, caller: Caller):
    catalog, store, api_settings, launcher, max_upload = svc.catalog, svc.store, svc.api_settings, svc.launcher, svc.max_upload
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



router.add_api_route("/running/sessions/", create_session, methods=["POST"], operation_id="running_sessions_create")
router.add_api_route("/running/management/sessions/", create_session, methods=["POST"], include_in_schema=False)
