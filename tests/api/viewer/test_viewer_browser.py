"""The coach's page in a real browser (headless Debian Chromium through Playwright) against uvicorn."""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from viewer_support import TRUTH, sign_in

from api.viewer.exports import parse_mot, parse_trc
from storage.catalog import SessionStatus

pytestmark = pytest.mark.slow

CONTENT_TYPES = {
    "frames.csv": "text/csv", "strides.csv": "text/csv", "frames.parquet": "application/vnd.apache.parquet",
    "strides.parquet": "application/vnd.apache.parquet", "keypoints.trc": "text/plain", "angles.mot": "text/plain",
    "report.png": "image/png", "report.pdf": "application/pdf",
}


DOC_IMAGES = Path(__file__).resolve().parents[3] / "docs" / "img"


def doc_image(shot: Path, name: str, height: int, width: int) -> None:
    """With GAITLAKE_WRITE_DOC_IMAGES=1, the top ``height`` px of a screenshot, scaled to ``width``,
    becomes docs/img/<name> (what docs/viewer.md shows)."""
    if os.environ.get("GAITLAKE_WRITE_DOC_IMAGES") != "1":
        return
    img = cv2.imread(str(shot))[:height]
    img = cv2.resize(img, (width, round(img.shape[0] * width / img.shape[1])), interpolation=cv2.INTER_AREA)
    DOC_IMAGES.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(DOC_IMAGES / name), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def open_session(watched, server, key: str = "main", video: bool = True):
    page = watched.page
    page.goto(f"{server.url}/app/sessions/{server.world.sessions[key]}")
    try:
        page.wait_for_selector("#cards .metric")
    except Exception as exc:
        raise AssertionError(f"the session page did not render: {watched.problems}") from exc
    if video:
        page.wait_for_function("() => document.getElementById('video').readyState >= 2")
    return page


def test_sign_in_with_a_key_sets_a_strict_httponly_cookie_and_lists_sessions(viewer_server, browser_page, artifacts):
    w = browser_page()
    page = w.page
    page.goto(f"{viewer_server.url}/app/sessions")
    assert page.url.startswith(f"{viewer_server.url}/app/?next=")      # not signed in: the sign-in form
    page.fill("#api_key", "glk_notarealkey0_" + "x" * 43)
    page.click("button[type=submit]")
    assert "not valid" in page.text_content("[role=alert]")
    assert any("HTTP 401" in p and p.endswith("/app/sign-in") for p in w.problems)   # the refused key
    w.problems.clear()
    sign_in(w, viewer_server)
    cookie = next(c for c in w.context.cookies() if c["name"] == "gaitlake_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/app"
    assert viewer_server.world.keys["coach"] not in cookie["value"]
    page.wait_for_selector("table.list tbody tr")
    rows = page.locator("table.list tbody tr")
    titles = [rows.nth(i).locator("td").nth(1).inner_text() for i in range(rows.count())]
    # newest first; the other tenant's session is not listed
    assert titles == ["Dark clip", "Just uploaded", "Treadmill 3 m/s", "Tempo", "Easy run"]
    main = rows.nth(2).locator("td")
    assert main.nth(0).inner_text() == "done" and main.nth(2).inner_text() == "Runner"
    assert re.fullmatch(r"1(69|70) spm", main.nth(4).inner_text())
    assert re.fullmatch(r"2\d\d ms", main.nth(5).inner_text())
    page.screenshot(path=str(artifacts / "sessions-desktop.png"), full_page=True)
    doc_image(artifacts / "sessions-desktop.png", "viewer-sessions.png", 400, 900)
    assert not w.problems, w.problems


def test_session_page_loads_clean_and_the_video_plays(viewer_server, browser_page, artifacts):
    w = browser_page(1280, 900)
    sign_in(w, viewer_server)
    page = open_session(w, viewer_server)
    assert page.title().startswith("Treadmill 3 m/s")
    # the analysed overlay (H.264 MP4) decodes in Debian's chromium
    assert page.evaluate("document.getElementById('video').videoWidth") == 640
    page.click("#play")
    page.wait_for_function("() => document.getElementById('video').currentTime > 0.5", timeout=15000)
    page.click("#play")  # pause
    assert page.evaluate("document.getElementById('video').paused")
    # frame step moves exactly one frame (30 fps)
    page.evaluate("document.getElementById('video').currentTime = 1.0")
    page.wait_for_function("() => Math.abs(document.getElementById('video').currentTime - 1.0) < 1e-3")
    page.click("#next")
    page.wait_for_function("() => /frame 31 /.test(document.getElementById('readout').textContent)")
    page.click("#prev")
    page.click("#prev")
    page.wait_for_function("() => /frame 29 /.test(document.getElementById('readout').textContent)")
    page.select_option("#rate", "0.5")
    assert page.evaluate("document.getElementById('video').playbackRate") == 0.5
    # every part of the page is there
    for sel in ("#angle-chart", "#metric-chart", "svg.strip rect.contact.left", "svg.strip rect.contact.right",
                ".gait .side.left .phase img", ".gait .side.right .phase img", ".curves svg path.band",
                "#commentary details[data-kind=summary] .comment", "#commentary details[data-kind=form] .comment",
                "#commentary details[data-kind=recommendation] .comment", ".history .trends svg circle.dot.current",
                ".downloads a[data-name='report.pdf']"):
        assert page.locator(sel).count() >= 1, sel
    assert page.locator(".gait .phase img").count() == 10
    page.wait_for_function("() => Array.from(document.querySelectorAll('.gait .phase img')).every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator(".history .trends svg").count() == 3
    assert page.locator(".history .trends svg circle").count() == 9   # 3 sessions x 3 trends
    # quality notes are pointed at from the cards they qualify (full text: test_viewer_numbers.py)
    ref = page.locator("[data-key=footstrike] .note-ref").first.get_attribute("href")
    assert "proxies" in page.inner_text(ref)
    assert page.locator("[data-key=cadence_spm] .note-ref").count() == 0
    page.evaluate("document.getElementById('video').currentTime = 1.0")
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "session-desktop.png"), full_page=True)
    doc_image(artifacts / "session-desktop.png", "viewer-desktop.png", 1250, 900)
    assert not w.problems, w.problems


def test_clicking_a_chart_seeks_the_video_and_the_cursor_follows(viewer_server, browser_page):
    w = browser_page(1280, 900)
    sign_in(w, viewer_server)
    page = open_session(w, viewer_server)
    t = page.evaluate("fetch('/app/api/sessions/' + document.body.dataset.sessionId).then(r => r.json()).then(d => d.series.time_s)")
    t0, t1 = t[0], t[-1]
    for chart, fraction in (("#angle-chart", 0.75), ("#metric-chart", 0.30), ("svg.strip", 0.5)):
        box = page.locator(chart).bounding_box()
        page.locator(chart).click(position={"x": fraction * box["width"], "y": box["height"] / 2})
        width = float(page.locator(chart).get_attribute("viewBox").split()[2])   # the plot spans x 52..width-12
        expected = t0 + (fraction * width - 52) / (width - 64) * (t1 - t0)
        page.wait_for_function(f"() => Math.abs(document.getElementById('video').currentTime - {expected}) < 0.05")
        page.wait_for_timeout(100)
        x = float(page.locator("#angle-chart line.cursor").get_attribute("x1"))
        assert abs(t0 + (x - 52) / (width - 64) * (t1 - t0) - page.evaluate("document.getElementById('video').currentTime")) < 0.02
    # a phase snapshot seeks to its frame
    page.locator(".gait .side.right figure.phase").nth(2).click()
    frame = page.evaluate("fetch('/app/api/sessions/' + document.body.dataset.sessionId).then(r => r.json())"
                          ".then(d => d.gait.right.phases[2].frame)")
    page.wait_for_function(f"() => /frame {frame} /.test(document.getElementById('readout').textContent)")
    assert not w.problems, w.problems


def _chart_scale(page, chart: str) -> tuple[float, float]:
    """(value per SVG unit, value at y = 0) of a time chart, from its first and last y tick."""
    ticks = page.evaluate(f"""Array.from(document.querySelectorAll('{chart} text.tick[text-anchor=end]'))
        .map(t => [parseFloat(t.getAttribute('y')) - 4, parseFloat(t.textContent)])""")
    (ya, va), (yb, vb) = ticks[0], ticks[-1]
    slope = (vb - va) / (yb - ya)
    return slope, va - slope * ya


def test_cards_and_the_metric_chart_show_the_normal_ranges(viewer_server, browser_page):
    """Issue 22, item 6: a card whose metric has a published range (analysis.catalogue) says it,
    where the session sits and the source; one without says nothing; the metric chart shades the
    range as a band behind the line (cadence 170 and contact 0.25 s at 3 m/s: inside theirs)."""
    from analysis.catalogue import by_name

    w = browser_page()
    sign_in(w, viewer_server)
    page = open_session(w, viewer_server)
    cadence, contact = by_name("cadence_spm").reference, by_name("contact_time_s").reference
    assert page.inner_text("[data-key=cadence_spm] .reference") == "normal 160\u2013180 spm \u00b7 within"
    assert page.inner_text("[data-key=cadence_spm] .ref-source") == cadence.source
    assert page.get_attribute("[data-key=cadence_spm] .reference", "title") == cadence.conditions
    assert page.inner_text("[data-key=contact_time_s] .reference") == "normal 200\u2013300 ms \u00b7 within"
    for key in ("flight_time_s", "stride_time_s", "speed_mps", "power_w", "balance_pct", "footstrike"):
        assert page.locator(f"[data-key={key}] .reference").count() == 0, key
        assert page.locator(f"[data-key={key}] .ref-source").count() == 0, key
    cards = page.evaluate("fetch('/app/api/sessions/' + document.body.dataset.sessionId).then(r => r.json()).then(d => d.cards)")
    osc = next(c for c in cards if c["key"] == "com_oscillation_m")
    ref = by_name("com_oscillation_m").reference
    where = "below" if osc["value"] < ref.low else "above" if osc["value"] > ref.high else "within"
    assert page.inner_text("[data-key=com_oscillation_m] .reference") == f"normal 5.0\u201310.0 cm \u00b7 {where}"
    page.click("#units")                                          # the range follows the unit system
    assert page.inner_text("[data-key=com_oscillation_m] .reference") == (
        f"normal {ref.low * 39.3701:.1f}\u2013{ref.high * 39.3701:.1f} in \u00b7 {where}")
    page.click("#units")
    # the metric chart: each series over its band (cadence 160-180 steps/min, contact 200-300 ms)
    for key, reference, scale in (("cadence", cadence, 1), ("contact_time", contact, 1000)):
        page.select_option("#metric-select", key)
        band = page.locator("#metric-chart rect.ref-band")
        assert band.count() == 1, key
        top, height = float(band.get_attribute("y")), float(band.get_attribute("height"))
        slope, offset = _chart_scale(page, "#metric-chart")
        # tick labels are whole units (steps/min, ms): the scale read from them is good to ~1 unit
        assert offset + slope * (top + height) == pytest.approx(reference.low * scale, abs=1.0), key
        assert offset + slope * top == pytest.approx(reference.high * scale, abs=1.0), key
        ys = [float(y) for y in re.findall(r"[ML][\d.]+ ([\d.]+)", page.get_attribute("#metric-chart path.line", "d"))]
        assert len(ys) > 20 and all(top <= y <= top + height for y in ys), key
        assert page.inner_text("#metric-reference").startswith(f"shaded: normal {reference.low * scale:g}\u2013"
                                                              f"{reference.high * scale:g}")
    page.select_option("#metric-select", "flight_time")
    assert page.locator("#metric-chart rect.ref-band").count() == 0 and page.inner_text("#metric-reference") == ""
    assert not w.problems, w.problems


def test_units_toggle_changes_the_cards(viewer_server, browser_page):
    w = browser_page()
    sign_in(w, viewer_server)
    page = open_session(w, viewer_server)
    speed = page.inner_text("[data-key=speed_mps] .value")
    length = page.inner_text("[data-key=stride_length_m] .value")
    m = re.fullmatch(r"([\d.]+) m/s", speed)
    assert m and abs(float(m.group(1)) - TRUTH["speed_mps"]) < 0.15
    page.click("#units")
    mph = re.fullmatch(r"([\d.]+) mph", page.inner_text("[data-key=speed_mps] .value"))
    assert mph and abs(float(mph.group(1)) - float(m.group(1)) * 2.236936) < 0.01
    ft = re.fullmatch(r"([\d.]+) ft", page.inner_text("[data-key=stride_length_m] .value"))
    assert ft and abs(float(ft.group(1)) - float(length.split()[0]) * 3.28084) < 0.01
    assert re.fullmatch(r"\d+:\d\d /mi", page.inner_text("[data-key=pace_min_per_km] .value"))
    page.click("#units")
    assert page.inner_text("[data-key=speed_mps] .value") == speed
    assert not w.problems, w.problems


def test_phone_width_stacks_the_page(viewer_server, browser_page, artifacts):
    w = browser_page(390, 844, device_scale_factor=1, is_mobile=True, has_touch=True)
    sign_in(w, viewer_server)
    page = open_session(w, viewer_server)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390   # nothing wider than the phone
    video, cards = page.locator("#video").bounding_box(), page.locator("#cards").bounding_box()
    assert video["width"] > 300 and cards["y"] > video["y"] + video["height"]   # one column
    page.screenshot(path=str(artifacts / "session-phone.png"), full_page=True)
    doc_image(artifacts / "session-phone.png", "viewer-phone.png", 1900, 390)
    assert not w.problems, w.problems


def test_another_tenants_session_is_the_not_found_page(viewer_server, browser_page):
    w = browser_page()
    sign_in(w, viewer_server)
    foreign = w.page.goto(f"{viewer_server.url}/app/sessions/{viewer_server.world.sessions['foreign']}")
    foreign_html = w.page.content()
    missing = w.page.goto(f"{viewer_server.url}/app/sessions/doesnotexist0000")
    assert foreign.status == missing.status == 404
    assert "Session not found" in w.page.inner_text("h1")
    assert foreign_html.replace(viewer_server.world.sessions["foreign"], "X") == w.page.content().replace("doesnotexist0000", "X")
    api = w.page.request.get(f"{viewer_server.url}/app/api/sessions/{viewer_server.world.sessions['foreign']}")
    assert api.status == 404 and api.json() == {"error": "session not found"}
    # the other tenant sees its own
    other = browser_page()
    sign_in(other, viewer_server, "other")
    open_session(other, viewer_server, "foreign", video=False)   # not rendered: its source clip (MPEG-4 part 2)
    other.page.wait_for_selector("#video-note")                    # ... which Chromium cannot play: the page says so
    assert other.page.locator("#no-trend").count() == 1 and other.page.locator(".trends").count() == 0   # one session: no trend
    assert not other.problems, other.problems


def test_processing_refreshes_itself_and_failed_shows_the_reason(viewer_server, browser_page):
    world = viewer_server.world
    w = browser_page()
    sign_in(w, viewer_server)
    w.page.goto(f"{viewer_server.url}/app/sessions/{world.sessions['failed']}")
    assert w.page.inner_text("#reason") == "no person was found in the video"
    from datetime import datetime, timezone

    sid = world.add_session("runner", "Uploading now", datetime(2025, 4, 1, tzinfo=timezone.utc), status=SessionStatus.PROCESSING)
    w.page.goto(f"{viewer_server.url}/app/sessions/{sid}")
    w.page.wait_for_selector(".badge.processing")
    world.catalog.mark_failed(sid, "only 3 frames of the video decode")
    w.page.wait_for_selector("#reason", timeout=10000)          # no reload: the page polled
    assert w.page.inner_text("#reason") == "only 3 frames of the video decode"
    assert not w.problems, w.problems


def test_every_download_is_served_with_its_type_and_parses(viewer_server, browser_page):
    w = browser_page()
    sign_in(w, viewer_server)
    page = open_session(w, viewer_server)
    links = {a.get_attribute("data-name"): a.get_attribute("href") for a in page.locator(".downloads a").all()}
    assert set(links) == set(CONTENT_TYPES)
    world = viewer_server.world
    lake = world.lake
    sid = world.sessions["main"]
    frames = lake.read_table(sid, "frames")
    strides = lake.read_table(sid, "strides")
    bodies = {}
    for name, href in links.items():
        r = page.request.get(viewer_server.url + href)            # the browser's cookie, nothing else
        assert r.status == 200, (name, r.status)
        assert r.headers["content-type"].split(";")[0] == CONTENT_TYPES[name]
        assert f'filename="gaitlake-{sid}-{name}"' in r.headers["content-disposition"]
        bodies[name] = r.body()
    assert pacsv.read_csv(io.BytesIO(bodies["frames.csv"])).num_rows == frames.num_rows
    assert pq.read_table(io.BytesIO(bodies["frames.parquet"])).equals(frames)
    assert pacsv.read_csv(io.BytesIO(bodies["strides.csv"])).column("cadence_spm").to_pylist() == pytest.approx(
        strides.column("cadence_spm").to_pylist())
    assert pq.read_table(io.BytesIO(bodies["strides.parquet"])).num_rows == strides.num_rows >= 8
    trc = parse_trc(bodies["keypoints.trc"].decode())
    assert trc["header"]["Units"] == "m" and trc["header"]["NumFrames"] == frames.num_rows == 120
    assert trc["header"]["DataRate"] == pytest.approx(30.0)
    knee = trc["xyz"][:, trc["markers"].index("LKnee")]
    assert knee[:, 0] == pytest.approx(np.asarray(frames.column("left_knee_x_m").to_pylist(), float), abs=1e-6)
    mot = parse_mot(bodies["angles.mot"].decode())
    assert mot["header"]["inDegrees"] == "yes" and mot["columns"][0] == "time"
    assert sorted(mot["columns"][1:]) == sorted(c for c in frames.column_names if re.fullmatch(r"([lr](sho|elb|hip|kne|ank)|posture)_angle", c))
    assert len(mot["columns"]) == 12
    col = mot["columns"].index("rkne_angle")
    assert mot["data"][:, col] == pytest.approx(np.asarray(frames.column("rkne_angle").to_pylist(), float), abs=1e-3, nan_ok=True)
    png = cv2.imdecode(np.frombuffer(bodies["report.png"], np.uint8), cv2.IMREAD_COLOR)
    assert png is not None and png.shape[0] > 400
    assert bodies["report.png"] == world.store.read_bytes(f"artifacts/{sid}/vtest/report.png")
    pdf = bodies["report.pdf"]
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 4       # metrics, chart report, curves, commentary pages
    # without the cookie: 401, nothing served
    anonymous = browser_page()
    assert anonymous.page.request.get(viewer_server.url + links["frames.csv"]).status == 401
