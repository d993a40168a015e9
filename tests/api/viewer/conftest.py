"""Fixtures of the viewer tests: the API under uvicorn on 127.0.0.1 with processed sessions, and a
headless Debian Chromium driven by Playwright (never a downloaded browser)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from viewer_support import Server, build_world

from api.app import create_app
from api.settings import ApiSettings
from configs import load_settings
from storage.objectstore import ObjectStore

CHROMIUM = os.environ.get("GAITLAKE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("GAITLAKE_TEST_ARTIFACTS") or Path(__file__).with_name("artifacts"))


@pytest.fixture(scope="session")
def viewer_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("viewer") / "data"
    settings = load_settings(environ={}, overrides={"data_dir": str(data)})
    app = create_app(settings, ApiSettings(launch_processing=False, signing_secret="viewer-test-secret"))
    world = build_world(data, app.state.catalog, ObjectStore.from_settings(settings))
    server = Server(app, world)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium through Playwright (closed after each module, so nothing of Playwright's event loop
    outlives the browser tests); skipped (with the reason) only outside CI."""
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = "playwright is not installed (pip install -e '.[test]')"
    if why is None and not Path(CHROMIUM).exists():
        why = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {why}")
        pytest.skip(why)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class Watched:
    """A page that records console errors, page errors, failed requests and HTTP errors."""

    def __init__(self, context):
        self.context = context
        self.page = context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", self._request_failed)
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def _request_failed(self, request) -> None:
        # Chromium cancels its own favicon fetch (net::ERR_ABORTED) when a navigation
        # commits before it finishes (sign-in redirects do): that is the browser's
        # housekeeping, not the page failing. A missing favicon still shows as HTTP 404.
        if request.url.endswith("/favicon.svg") and request.failure == "net::ERR_ABORTED":
            return
        self.problems.append(f"failed: {request.url} {request.failure}")


@pytest.fixture
def browser_page(chromium):
    def make(width: int = 1280, height: int = 900, **kw) -> Watched:
        context = chromium.new_context(viewport={"width": width, "height": height}, **kw)
        contexts.append(context)
        return Watched(context)

    contexts: list = []
    yield make
    for context in contexts:
        context.close()

