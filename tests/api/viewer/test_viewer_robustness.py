"""The page in Chromium when one session's lake files are damaged (issue 25 item 16) and for a
tenant without a paid plan (item 20): a server of its own, so the shared world stays as it is."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from viewer_support import VERSION, Server, app_and_world, sign_in

from api.tenancy import PLAN_REQUIRED
from tasks.render import render_lake_run

pytestmark = pytest.mark.slow
MATHTEXT_TITLE = r"Treadmill run $\foo$"


@pytest.fixture(scope="module")
def robust_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("viewer-robust") / "data"
    app, w = app_and_world(data, signing_secret="viewer-robust-secret")
    store = w.store
    w.add_user("coach", role="admin", plan="pro")
    w.add_user("runner", admin="coach")
    w.add_user("freecoach", role="admin")          # no plan: the free tier
    w.add_user("freerunner", admin="freecoach")
    day = datetime(2025, 4, 7, 8, 30, tzinfo=timezone.utc)
    w.sessions["healthy"] = w.add_session("runner", "Healthy run", day, render=False)
    w.sessions["corrupt"] = w.add_session("runner", "Corrupt parquet", day + timedelta(hours=1), render=False)
    w.sessions["garbled"] = w.add_session("runner", "Garbled manifest", day + timedelta(hours=2), render=False)
    w.sessions["free"] = w.add_session("freerunner", "Free plan run", day, render=False)
    w.sessions["mathtext"] = w.add_session("runner", MATHTEXT_TITLE, day + timedelta(hours=3), render=False)
    # A source that stopped decoding: the renderer draws what it can and the session says what it could not.
    sid = w.sessions["mathtext"]
    broken = f"videos/{sid}/broken.mp4"
    store.write_bytes(broken, b"\x00\x00\x00\x18ftypmp42" + b"\x13not a video" * 200)
    w.lake.attach_artifacts(sid, VERSION, render_lake_run(store, w.lake, sid, VERSION, broken, preset="ultrafast"),
                            publish=True)
    # Real damage in the real lake: the sessions file overwritten with bytes that are not Parquet,
    # the other run's manifest cut in the middle of its JSON.
    key = w.lake.current_manifest(w.sessions["corrupt"]).files["sessions"]
    store.write_bytes(key, b"PAR1" + b"\x00garbage" * 50 + b"PAR1")
    sid = w.sessions["garbled"]
    manifest_key = f"lake/_manifests/{sid}/{w.lake.served_version(sid)}.json"
    store.write_bytes(manifest_key, store.read_bytes(manifest_key)[:40])
    server = Server(app, w)
    server.start()
    yield server
    server.stop()


def test_a_damaged_session_is_one_damaged_row_and_its_own_damaged_page(robust_server, browser_page):
    w = browser_page()
    sign_in(w, robust_server)
    page = w.page
    world = robust_server.world
    badges = {k: page.locator(f"table.list tbody tr:has(a[href='/app/sessions/{world.sessions[k]}']) .badge").inner_text()
              for k in ("healthy", "corrupt", "garbled")}
    assert badges == {"healthy": "done", "corrupt": "damaged", "garbled": "damaged"}, badges
    for key in ("corrupt", "garbled"):
        page.goto(f"{robust_server.url}/app/sessions/{world.sessions[key]}")
        page.wait_for_selector("#reason")
        assert page.locator(".state .badge").inner_text() == "damaged"
        reason = page.locator("#reason").inner_text()
        assert f"gaitlake reprocess {world.sessions[key]} --force" in reason and "lake/" not in reason
    # The runner's healthy session still renders in full, its history naming the damaged ones.
    page.goto(f"{robust_server.url}/app/sessions/{world.sessions['healthy']}")
    page.wait_for_selector("#cards .metric")
    history = page.locator(".hist").inner_text()
    assert "Corrupt parquet" in history and "Garbled manifest" in history
    assert not [p for p in w.problems if "HTTP" in p or "page error" in p], w.problems


def test_a_free_plan_page_shows_no_paid_report(robust_server, browser_page):
    w = browser_page()
    sign_in(w, robust_server, "freecoach")
    page = w.page
    page.goto(f"{robust_server.url}/app/sessions/{robust_server.world.sessions['free']}")
    page.wait_for_selector("#plan-required")
    assert page.locator("#plan-required").inner_text().endswith(PLAN_REQUIRED)
    assert page.locator("#cards .metric").count() == 0
    assert page.locator(".card.gait").count() == 0 and page.locator("#commentary").count() == 0
    links = page.locator(".downloads a").evaluate_all("els => els.map(e => e.dataset.name)")
    assert "frames.csv" in links and "report.pdf" not in links and "report.png" not in links
    assert page.locator("#angle-chart").count() == 1     # the per-frame series the API's details give a free plan
    assert not [p for p in w.problems if "HTTP" in p or "page error" in p], w.problems


def test_a_mathtext_session_name_renders_and_a_failed_artifact_is_a_note(robust_server, browser_page):
    """Issue 25 item 19: report.png and report.pdf of a session named ``Treadmill run $\\foo$`` answer
    200 (500 before); the overlay that could not be rendered is a note on the page."""
    import httpx

    world = robust_server.world
    sid = world.sessions["mathtext"]
    headers = {"Authorization": f"API-KEY {world.keys['coach']}"}
    for name, magic in (("report.png", b"\x89PNG"), ("report.pdf", b"%PDF-")):
        r = httpx.get(f"{robust_server.url}/app/api/sessions/{sid}/downloads/{name}", headers=headers, timeout=60)
        assert r.status_code == 200 and r.content.startswith(magic), (name, r.status_code, r.text[:200])
    w = browser_page()
    sign_in(w, robust_server)
    page = w.page
    page.goto(f"{robust_server.url}/app/sessions/{sid}")
    page.wait_for_selector("#cards .metric")
    assert page.locator("h1").first.inner_text() == MATHTEXT_TITLE
    assert "The analysed video could not be rendered (InvalidDataError" in page.locator("#main").inner_text()


def test_a_foreign_page_cannot_sign_the_browser_in_as_the_attacker(robust_server, browser_page):
    """Login CSRF (issue 25 item 22): a page on another origin auto-posts the attacker's key to the
    sign-in form; the victim's browser gets no session cookie (it did before)."""
    import http.server
    import threading

    attack = (f'<!doctype html><form id="f" method="post" action="{robust_server.url}/app/sign-in">'
              f'<input name="api_key" value="{robust_server.world.keys["freecoach"]}"><input name="next" value="/app/sessions">'
              '</form><script>document.getElementById("f").submit()</script>').encode()

    class Foreign(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(attack)

        def log_message(self, *args):
            pass

    foreign = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Foreign)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    try:
        w = browser_page()
        with w.page.expect_response(lambda r: r.url.endswith("/app/sign-in")) as posted:
            w.page.goto(f"http://127.0.0.1:{foreign.server_address[1]}/attack.html")
        assert posted.value.status == 403
        assert not [c for c in w.context.cookies() if c["name"] == "gaitlake_session"]
        w.page.goto(f"{robust_server.url}/app/sessions")
        assert "/app/?next=" in w.page.url          # still signed out
    finally:
        foreign.shutdown()
        foreign.server_close()


def test_swagger_page_renders_under_its_csp(robust_server, browser_page):
    """``/docs`` keeps working under its Content-Security-Policy (issue 25 item 22): the operations
    render and the browser reports no CSP violation."""
    w = browser_page()
    response = w.page.goto(f"{robust_server.url}/docs")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    w.page.wait_for_selector(".opblock")
    assert w.page.locator(".opblock").count() >= 10
    assert not w.problems, w.problems
