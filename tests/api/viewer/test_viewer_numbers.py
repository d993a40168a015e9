"""The session page's numbers and notes in a real browser (issue 25, items 3 and 11): contact
and flight carry their frame-time resolution; every quality note is on the page once, in full
(not clipped, not only in a hover tooltip, which phones lack), and the cards it qualifies point to it."""
from __future__ import annotations

import re

import pytest
from viewer_support import FPS, VERSION, sign_in

pytestmark = pytest.mark.slow


def _open(viewer_server, browser_page, width: int, height: int):
    w = browser_page(width, height)
    sign_in(w, viewer_server)
    page = w.page
    page.goto(f"{viewer_server.url}/app/sessions/{viewer_server.world.sessions['main']}")
    page.wait_for_selector("#cards .metric")
    return w, page


def test_contact_and_flight_state_their_frame_time_resolution(viewer_server, browser_page):
    w, page = _open(viewer_server, browser_page, 1280, 900)
    frame_ms = 1000.0 / float(FPS)
    for key in ("contact_time_s", "flight_time_s"):
        card = page.locator(f"[data-key={key}]")
        text = card.locator(".resolution").inner_text()
        m = re.fullmatch(r"±(\d+) ms \(1 frame at ([\d.]+) fps\)(?:, ±(\d+) %)?", text)
        assert m, text
        assert int(m.group(1)) == round(frame_ms) and float(m.group(2)) == pytest.approx(float(FPS))
        value_ms = float(re.search(r"([\d.]+) (m?s)", card.locator(".value").inner_text()).group(1))
        value_ms *= 1000.0 if "ms" not in card.locator(".value").inner_text() else 1.0
        rel = frame_ms / value_ms
        assert (m.group(3) is not None) == (rel > 0.10), (text, rel)      # said where it is large
        if m.group(3):
            assert int(m.group(3)) == round(100 * rel)
    assert page.locator("[data-key=cadence_spm] .resolution").count() == 0
    assert not w.problems, w.problems


@pytest.mark.parametrize("width,height", [(1280, 900), (390, 844)])     # desktop, phone
def test_every_quality_note_is_shown_once_in_full(viewer_server, browser_page, width, height):
    w, page = _open(viewer_server, browser_page, width, height)
    notes = page.evaluate("""async () => {
        const id = location.pathname.split('/').pop();
        const r = await fetch('/app/api/sessions/' + id);
        return (await r.json()).notes.map(n => n.text); }""")
    assert len(notes) >= 2
    body = page.inner_text("body")
    for text in notes:
        assert body.count(text) == 1, text                      # once, and whole
        node = page.locator(".notes li", has_text=text)
        assert node.count() == 1
        # in full on screen: nothing clipped by overflow or a line clamp
        clipped = node.evaluate("el => el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1")
        assert not clipped, text
    assert page.locator("[title]").filter(has_text="⚠").count() == 0   # no hover-only text
    # each card that a note qualifies points to it, and the link lands on the full text
    refs = page.locator("#cards .note-ref")
    assert refs.count() >= 2
    for i in range(refs.count()):
        target = refs.nth(i).get_attribute("href")
        assert page.locator(target).count() == 1
    assert not w.problems, w.problems


def test_the_video_panel_text_is_readable_on_a_laptop_screen(viewer_server, browser_page):
    """At 1440x900 the panel's digits are at least 10 px tall on screen (about 7 before), and
    the contact timeline is drawn once, under the video (none burned into the frames)."""
    from tasks.render.data import RenderData
    from tasks.render.video import Overlay
    from tests.tasks.render.test_overlay_hud import cap_height_px

    w, page = _open(viewer_server, browser_page, 1440, 900)
    page.wait_for_function("() => document.getElementById('video').readyState >= 2")
    shown = page.evaluate("""() => { const v = document.getElementById('video'); const r = v.getBoundingClientRect();
        return {w: v.videoWidth, h: v.videoHeight, ch: r.height, cw: r.width}; }""")
    # the displayed picture: the element's box, letterboxed to the video's aspect
    ratio = min(shown["cw"] / shown["w"], shown["ch"] / shown["h"])
    world = viewer_server.world
    sid = world.sessions["main"]
    m = world.lake.manifest(sid, VERSION)
    data = RenderData.from_tables(world.lake.read_table(sid, "frames", manifest=m),
                                  world.lake.read_table(sid, "sessions", manifest=m))
    size = (shown["w"], shown["h"])
    cap = cap_height_px(Overlay(data, size, 1.0, 30.0), size, data, frame=40)
    assert cap * ratio >= 10.0, (cap, ratio)
    assert page.locator("svg.strip").count() == 1
    assert not w.problems, w.problems


def test_the_far_legs_angles_are_drawn_dashed_and_gaps_explained(viewer_server, browser_page):
    """The synthetic session has no near leg; the session document is given one on its way
    to the page (as a real side view has), and the far leg's angle line turns dashed."""
    import json

    w = browser_page(1280, 900)
    sign_in(w, viewer_server)
    page = w.page
    sid = viewer_server.world.sessions["main"]

    def near_left(route):
        response = route.fetch()
        doc = response.json()
        assert "near_leg" in doc
        doc["near_leg"] = "left"
        route.fulfill(response=response, body=json.dumps(doc))

    page.route(f"**/app/api/sessions/{sid}", near_left)
    page.goto(f"{viewer_server.url}/app/sessions/{sid}")
    page.wait_for_selector("#angle-chart path.line")
    dashes = page.evaluate("""() => Array.from(document.querySelectorAll('#angle-chart path.line'))
        .map(p => [p.getAttribute('stroke'), p.getAttribute('stroke-dasharray')])""")
    assert ["#e8590c", "6 4"] in dashes and ["#2a6fdb", None] in dashes        # right far: dashed
    note = page.inner_text("#angle-note")
    assert "Dashed: the right leg, farther from the camera" in note and "Gaps" in note
    assert "right (far)" in page.inner_text(".charts .legend")
    assert not w.problems, w.problems
