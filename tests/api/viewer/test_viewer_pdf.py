"""The PDF report a coach hands to a runner (issue 25, items 3 and 14): A4 portrait pages,
charts as vectors (no raster image anywhere), sentences in the quality column, the notes
right under the table (no blank block), the near/far leg named on the chart pages, and
contact and flight with their frame-time resolution. Rendered with poppler (pdftoppm,
pdftotext), as a reader's viewer would."""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timezone

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from viewer_support import FPS, app_and_world


A4_PT = (595, 842)
needs_poppler = pytest.mark.skipif(not (shutil.which("pdftoppm") and shutil.which("pdftotext")),
                                   reason="poppler-utils (pdftoppm, pdftotext) is not installed")


@pytest.fixture(scope="module")
def pdf(tmp_path_factory):
    data = tmp_path_factory.mktemp("viewer-pdf") / "data"
    app, w = app_and_world(data, signing_secret="viewer-pdf-secret")
    w.add_user("coach", role="admin", plan="pro")
    sid = w.add_session("coach", "Treadmill 3 m/s", datetime(2025, 4, 7, 8, 30, tzinfo=timezone.utc), render=False)
    client = TestClient(app, raise_server_exceptions=False)
    r = client.get(f"/app/api/sessions/{sid}/downloads/report.pdf",
                   headers={"Authorization": f"API-KEY {w.keys['coach']}"})
    assert r.status_code == 200, r.text
    doc = client.get(f"/app/api/sessions/{sid}", headers={"Authorization": f"API-KEY {w.keys['coach']}"}).json()
    path = data.parent / "report.pdf"
    path.write_bytes(r.content)
    no_hip = w.add_session("coach", "No hip", datetime(2025, 4, 8, 8, 30, tzinfo=timezone.utc), render=False,
                           joints="elbow,knee,ankle")
    r = client.get(f"/app/api/sessions/{no_hip}/downloads/report.pdf",
                   headers={"Authorization": f"API-KEY {w.keys['coach']}"})
    assert r.status_code == 200, r.text
    (data.parent / "no-hip.pdf").write_bytes(r.content)
    return path, doc


def _page_text(path, page: int) -> str:
    return subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(path), "-"],
                          capture_output=True, text=True, check=True).stdout


def test_every_page_is_a4_portrait_and_no_chart_is_a_raster(pdf):
    path, _ = pdf
    raw = path.read_bytes()
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", raw)
    assert len(boxes) >= 4                                            # metrics, charts, curves, commentary
    assert all((round(float(w)), round(float(h))) == A4_PT for w, h in boxes)
    assert not re.search(rb"/Subtype\s*/Image", raw)                  # vectors only


@needs_poppler
def test_the_quality_column_speaks_in_sentences_and_names_its_note(pdf):
    path, doc = pdf
    text = _page_text(path, 1)
    assert "Keep in mind" in text
    for code in ("near far", "near_far", "few strides", "slow motion\n"):
        assert code not in text
    assert re.search(r"From the shin angle; the pose has no foot points\. \(note \d\)", text)
    for i, note in enumerate(doc["notes"], 1):
        assert f"{i}." in text and note["text"][:40] in text.replace("\n", " ")


@needs_poppler
def test_contact_and_flight_carry_their_resolution(pdf):
    path, _ = pdf
    text = _page_text(path, 1)
    ms = round(1000 / float(FPS))
    for label in ("Contact time", "Flight time"):
        line = next(x for x in text.splitlines() if x.strip().startswith(label))
        assert f"±{ms} ms (1 frame at" in line, line


@needs_poppler
def test_the_chart_pages_say_which_leg_is_near(pdf):
    path, doc = pdf
    near_notes = [n["text"] for n in doc["notes"] if n["kind"] == "near_far"]
    near = near_notes[0].split()[1] if near_notes else None
    for page in (2, 3):
        text = " ".join(_page_text(path, page).split())
        assert (f"The {near} leg is near the camera" if near else "Which leg is near the camera is not known") in text
    if near:
        assert f"{near} (near)" in " ".join(_page_text(path, 2).split())


@needs_poppler
def test_the_first_page_has_no_blank_block(pdf, tmp_path):
    """Rendered at 50 dpi: between the title and the last line no white band is taller than
    6 % of the page (the old layout left ~20 % empty between the table and the notes)."""
    path, _ = pdf
    subprocess.run(["pdftoppm", "-r", "50", "-f", "1", "-l", "1", "-png", str(path), str(tmp_path / "p")], check=True)
    img = cv2.imread(str(next(tmp_path.glob("p*.png"))), cv2.IMREAD_GRAYSCALE)
    inked = np.flatnonzero((img < 200).any(axis=1))
    gaps = np.diff(inked)
    assert gaps.max() < 0.06 * img.shape[0], (gaps.max(), img.shape[0])


@needs_poppler
def test_a_joint_not_selected_is_said_so_in_the_pdf(pdf):
    """Upload with body_joint_angles=elbow, knee, ankle (issue 25, item 2): the chart page's
    hip panel and the commentary say 'not selected', never 'not enough clean strides'."""
    path, _ = pdf
    no_hip = path.with_name("no-hip.pdf")
    text = subprocess.run(["pdftotext", str(no_hip), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert "not selected for this session" in flat                         # the hip chart panel
    assert "Hip extension at toe-off (push angle) was not measured: the hip was not selected" in flat
    assert "enough clean strides" not in flat


@needs_poppler
def test_the_metrics_table_says_where_the_runner_sits_against_the_normal_ranges(pdf):
    """Issue 22, item 6: a metric with a published range says whether the session is below,
    within or above it, with the range in the table's unit and the source; one without a
    range says nothing of it; the full sources are listed under the notes. The synthetic
    runner: 170 steps/min, 0.25 s contact at 3 m/s (both inside their ranges)."""
    from analysis.catalogue import by_name

    path, doc = pdf
    text = _page_text(path, 1)
    lines = text.splitlines()

    def row(label: str) -> str:
        return next(x for x in lines if x.strip().startswith(label))

    cadence = by_name("cadence_spm").reference
    assert "Within the normal range 160\u2013180 spm" in row("Cadence")      # the sentence wraps in its column
    assert "Within the normal range 200\u2013300 ms" in row("Contact time")
    for label in ("Flight time", "Stride time", "Power", "Balance"):
        assert "normal range" not in row(label), label
    flat = " ".join(text.split())
    assert "(Heiderscheit et al. 2011)." in flat
    assert "Normal ranges: sources and the runners they hold for" in flat
    assert f"Cadence: {cadence.source}." in flat
    cards = {c["key"]: c for c in doc["cards"]}
    assert cards["cadence_spm"]["reference"]["position"] == "within"
    assert "reference" not in cards["flight_time_s"]
