"""Every error the API answers is JSON ``{"error": "..."}`` (plus optional context keys)."""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from storage.lake import DamagedRun

log = logging.getLogger("gaitlake.api")


class ApiError(Exception):
    """Raised anywhere in a handler; answered as ``{"error": message, **extra}`` with ``status``."""

    def __init__(self, status_code: int, message: str, /, **extra: Any):
        super().__init__(message)
        self.status = status_code
        self.message = message
        self.extra = extra


def damaged_message(exc: DamagedRun) -> str:
    return (f"the stored results of session {exc.session_id} are damaged ({exc.what}); "
            f"an operator can rebuild them with `{exc.repair}`")


def error_response(status_code: int, message: str, /, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status_code, headers=headers)


_DEFAULT_MESSAGES = {
    400: "bad request",
    401: "missing or invalid credentials",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    413: "the upload is too large",
}


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "invalid request: " + "; ".join(parts) if parts else "invalid request"


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on the request's path. Starlette's 405 names only the first
    route whose path matched (``Allow: GET`` on ``/summary/``, whose POST another route serves)."""
    routes = request.app.router.routes
    return [method for method in HTTP_METHODS
            if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'API-KEY, Bearer realm="gaitlake"'} if exc.status == 401 else None
        return error_response(exc.status, exc.message, headers=headers, **exc.extra)

    @app.exception_handler(DamagedRun)
    async def _damaged(_request: Request, exc: DamagedRun) -> JSONResponse:
        log.error("damaged lake results: %s (repair: %s)", exc, exc.repair)
        return error_response(503, damaged_message(exc), status="damaged")

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail else _DEFAULT_MESSAGES.get(exc.status_code, "error")
        if exc.status_code == 404 and detail == "Not Found":
            detail = "not found"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            detail = "method not allowed"
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(_request))}
        return error_response(exc.status_code, detail, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal server error")
