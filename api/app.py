"""FastAPI app for the running-sessions API (``../shared/spec/running-openapi.json``).

``create_app(settings)`` wires the catalog (who, what, status), the lake
(numbers) and the object store (videos, images). See docs/api.md.
"""

import gc
import logging

from fastapi import FastAPI

from api import reports
from api.auth import Authenticator
from api.errors import ApiError, error_response, install_error_handlers
from api.links import Linker
from api.openapi import app_openapi
from api.routers import reads, system, threads, uploads
from api.routers.uploads import _parse_float, parse_joints  # noqa: F401  (re-exported: tests, CLI checks)
from api.server import BodyTimeoutMiddleware, with_header
from api.services import Services
from api.settings import ApiSettings, load_api_settings
from api.viewer import install_viewer
from configs import Settings, get_settings
from storage.catalog import Catalog
from storage.lake import Lake
from storage.objectstore import ObjectStore

log = logging.getLogger("gaitlake.api")

UPLOAD_PATHS = ("/running/sessions/", "/running/management/sessions/")
FORM_SLACK_BYTES = 1 << 20  # multipart overhead and text fields on top of the video


class UploadLimitMiddleware:
    """413 (JSON) as soon as an upload's body passes the limit, chunked or not, before it is stored.
    The connection is closed after it (``Connection: close``, :class:`api.server.BodyTimeoutMiddleware`
    for an answer given before the body's end): the server reads no more of the body."""

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
            if total > self.max_body:   # read past the limit once: nothing more is read
                raise ApiError(413, message)
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


class NoSniffMiddleware:
    """``X-Content-Type-Options: nosniff`` on every response (JSON, downloads, signed files, the
    Swagger page, errors): a browser never runs a body as another type than the one declared."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_nosniff(msg):
            await send(with_header(msg, b"x-content-type-options", b"nosniff") if msg["type"] == "http.response.start" else msg)

        await self.app(scope, receive, send_nosniff)


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

    app = FastAPI(title="gaitlake running-sessions API", docs_url=None, redoc_url=None)
    app.state.services = Services(settings, api_settings, catalog, store, lake, reader, linker, authenticate, launcher, max_upload)
    app.state.settings, app.state.api_settings, app.state.catalog, app.state.lake = settings, api_settings, catalog, lake
    install_error_handlers(app)
    app.add_middleware(UploadLimitMiddleware, max_body=max_upload + FORM_SLACK_BYTES)
    app.add_middleware(BodyTimeoutMiddleware, timeout_s=api_settings.body_timeout_s)  # slow bodies first
    app.add_middleware(NoSniffMiddleware)  # outermost: on every answer, the middlewares' own included

    document = app_openapi()
    app.openapi = lambda: document  # type: ignore[method-assign]
    for router in (uploads.router, reads.router, threads.router, system.router):
        app.include_router(router)
    system.install_docs(app)
    install_viewer(app, catalog=catalog, reader=reader, linker=linker, authenticate=authenticate)  # /app/ (docs/viewer.md)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory: ``uvicorn --factory api.app:app_from_env``; the process made ready to serve.

    pyarrow imports pandas on its first Parquet read (its pandas-metadata check, about 0.3 s), so
    pandas is imported here, at start, not on the first reader's latency (and every reader queued
    behind it). What start-up built then lives as long as the process and is moved out of the
    garbage collector's sight (``gc.freeze``): a full collection scans only what requests made
    (it paused every reader for 130-175 ms at the p99 with pandas loaded; benchmarks/README.md).
    Not in :func:`create_app`, which tests call many times and whose apps must stay collectable."""
    try:
        import pandas  # noqa: F401
    except ImportError:  # pyarrow reads without it
        pass
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
