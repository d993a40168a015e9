"""Signed file links, the health check and the Swagger page (``/docs``) with its assets served here.

The Swagger UI files (``swagger-ui-bundle.js``, ``swagger-ui.css``, favicon) come from the
installed ``fastapi-offline`` package and are served under :data:`DOCS_STATIC`, so ``/docs``
works without any CDN (offline, air-gapped).
"""
from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.services import ServicesDep

router = APIRouter()
DOCS_STATIC = "/docs/static"


@router.get("/files/{key:path}", operation_id="files_read")
def signed_file(svc: ServicesDep, key: str, expires: str | None = None, sig: str | None = None):
    return svc.linker.serve_signed(key, expires, sig)


@router.get("/healthz", include_in_schema=False)
async def healthz():  # async: a health check needs no thread-pool slot (probes keep working when it is full)
    return {"status": "ok"}


def swagger_assets() -> Path:
    """The folder of the Swagger UI files shipped by the ``fastapi-offline`` package."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).with_name("static")


def docs_csp(html: str) -> str:
    """The Content-Security-Policy of the Swagger page: scripts from this server plus its one inline
    start-up script by hash (nothing injected runs), no framing (clickjacking), no plugins."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
                      for body in re.findall(r"<script>(.*?)</script>", html, re.S))
    return (f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def install_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI over ``/openapi.json``, every asset from this server, under :func:`docs_csp`."""
    app.mount(DOCS_STATIC, StaticFiles(directory=swagger_assets()), name="docs-static")
    html = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_STATIC}/favicon.png",
    ).body.decode()
    headers = {"Content-Security-Policy": docs_csp(html), "X-Frame-Options": "DENY"}

    @app.get("/docs", include_in_schema=False)
    def swagger_page() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)
