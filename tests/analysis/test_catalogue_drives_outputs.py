"""One catalogue entry reaches every output derived from it, with no edit anywhere else.

A fresh interpreter changes ``analysis.catalogue.METRICS`` before anything imports the
catalogue's consumers. Two changes are shown:

* ``promote``: ``duty_factor`` (measured per stride and summarised by the engine, but
  reported by no document today) gets a summary block, a per-frame series and a CLI line.
* ``add``: a brand-new per-stride metric, ``swing_time_s`` (toe-off to the same foot's
  next initial contact), added in the three places issue 22 allows: its function (set on
  :mod:`analysis.metrics`, where it would be written), its catalogue entry (naming that
  function in ``computed_by``) and this test's assertions. No other module is edited.

Then a synthetic session runs through the engine, is written to a real lake
(``storage.lake.Lake`` on a local object store) and read back, and its API documents
(summary, details, export, form analysis), CLI summary, commentary facts, the page's cards
and the PDF's metrics table are built: the metric is in every one of them, with the
engine's values. The same script without the change finds it in none (the test can fail).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import contextlib, dataclasses, datetime, io, json, sys
import analysis.catalogue as cat

if sys.argv[1] == "promote":
    duty = cat.by_name("duty_factor")
    promoted = dataclasses.replace(duty, spread=True, cli_order=12,
                                   spec=cat.SpecKeys(summary=("running_mechanics", "duty_factor"),
                                                     details="duty_factor"))
    cat.METRICS = tuple(promoted if m.name == "duty_factor" else m for m in cat.METRICS)

if sys.argv[1] == "add":
    import analysis.metrics

    def swing_time_s(inputs):
        # 1. the function: swing (s) from each stride's toe-off to its end (the next initial contact)
        return inputs.next_ic_time_s - inputs.to_time_s

    analysis.metrics.swing_time_s = swing_time_s
    # 2. the catalogue entry
    cat.METRICS = cat.METRICS + (cat.Metric(
        "swing_time_s", "swing time", "swing", "s", 3, per_stride=True, spread=True, cli_order=12,
        computed_by="swing_time_s", spec=cat.SpecKeys(summary=("running_mechanics", "swing_time"),
                                                      details="swing_time", form="swing_time")),)

NEW, SPEC, LABEL = (("swing_time_s", "swing_time", "swing time") if sys.argv[1] in ("add", "as-is-swing")
                    else ("duty_factor", "duty_factor", "duty factor"))

import numpy as np
from analysis.commentary import SessionFacts
from analysis.engine import RunnerProfile, analyze
from analysis.strides import StrideTable
from analysis.synthetic import make_session
from analysis.tracking import RunnerTrack
from api import documents, reports
from api.lake_records import SessionRecord
from api.people import Owner
from api.viewer import exports, router, view
from gaitlake import cli
from storage.lake import Lake
from storage.objectstore import ObjectStore
from tasks.lake_schema import STRIDES as STRIDES_SCHEMA
from tasks.results import session_tables
from tests.engine_params import ENGINE_PARAMS

s = make_session(cadence_spm=172.0, contact_time_s=0.24, speed_mps=3.2, duration_s=6.0, seed=5)
kp = s.keypoints
result = analyze(kp, s.fps, RunnerProfile(height_m=1.75, weight_kg=70.0), params=ENGINE_PARAMS)
track = RunnerTrack(keypoints=kp, boxes=np.zeros((kp.shape[0], 5)), found=np.ones(kp.shape[0], dtype=bool),
                    n_tracks=1, track_scores={0: 1.0})
lake = Lake(ObjectStore(sys.argv[2]))
meta = {"title": "run", "user_id": "u1", "fps": s.fps, "effective_fps": result.fps,
        "n_frames": kp.shape[0], "video_key": None, "analyzed_video_key": None}
manifest = lake.write_session("s1", "v1", "cfg0", session_tables(meta, result, result.quality, track, s.fps))
row = lake.read_table("s1", "sessions", manifest=manifest).to_pylist()[0]
read = lambda name: lake.read_table("s1", name, manifest=manifest)
record = SessionRecord("s1", "v1", row, {"quality_doc": result.quality.to_dict()}, manifest, read)
when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
session = reports.SessionMeta("s1", "run", when, when, "all", 0.0, 175.0, 70.0, None)
owner = Owner("u1", "r@example.org", "R", 175.0, 70.0, {})
summary_doc = reports.summary(session, owner, record, {})
details_doc = record.doc("details_doc")
export_doc = reports.export(session, record, {}, [])
form_doc = reports.form_analysis(session, owner, record, {}, {})
out = io.StringIO()
with contextlib.redirect_stdout(out):
    from flows.process import SessionOutcome
    cli._print_summary("s1", SessionOutcome("s1", "done", summary=result.summary,
                                            quality=result.quality.with_added(decoded_frames=kp.shape[0])))
strides = StrideTable.from_rows(read("strides").to_pylist())
facts = SessionFacts.from_results(row, result.quality, result.phases, strides)
cards = {c["key"]: c for c in view.cards(row, record.doc("summary_doc"), [], result.quality)}
pdf_rows = router.pdf_metric_rows(list(cards.values()), [])
pdf = exports.report_pdf("run", "R", pdf_rows, [], [], None, None)
from matplotlib.figure import Figure
page = Figure(figsize=(8.27, 11.69))          # the PDF's first page, drawn as report_pdf draws it
exports._summary_page(page, "run", "R", pdf_rows, [])
pdf_runs = [t.get_text() for t in page.texts] if pdf.startswith(b"%PDF") else []
engine = result.strides.column(NEW) if NEW in result.strides.extra or NEW == "duty_factor" else None
card = cards.get(NEW)
print(json.dumps({
    "engine_avg": result.summary.value(NEW),
    "engine_values": [float(v) for v in result.metric_stats(NEW).values] if engine is not None else [],
    "lake_strides": read("strides").column(NEW).to_pylist() if NEW in read("strides").column_names else None,
    "engine_strides": None if engine is None else [None if v != v else float(v) for v in engine],
    "lake_row": row.get(NEW),
    "lake_row_stats": [row.get(f"{NEW}_min"), row.get(f"{NEW}_max"), row.get(f"{NEW}_values")],
    "schema_declares": NEW in STRIDES_SCHEMA.names,
    "lake_frames_has_series": SPEC in read("frames").column_names,
    "summary_block": summary_doc["running_mechanics"].get(SPEC),
    "details_series": SPEC in details_doc["metrics"],
    "details_avg": details_doc["calculated_metrics"].get(f"{SPEC}_avg"),
    "export_series": SPEC in export_doc["metrics"],
    "form_value": form_doc["metrics"].get(SPEC),
    "totals_avg": reports.average_metrics([record]).get(f"avg_{SPEC}"),
    "totals_last": reports.last_session_metrics(record, 0.0).get(SPEC),
    "cli_lines": [l for l in out.getvalue().splitlines() if LABEL in l],
    "facts_spread": facts.spread.get(NEW),
    "card": None if card is None else {k: card.get(k) for k in ("label", "unit", "value", "range")},
    "pdf_row": next(([r["label"], r["text"]] for r in pdf_rows if r["label"].lower() == LABEL), None),
    "pdf_texts": pdf_runs,
}))
"""


def _run(mode: str, tmp_path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode, (tmp_path / mode).as_uri()], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_one_catalogue_entry_reaches_lake_documents_cli_and_facts(tmp_path):
    out = _run("promote", tmp_path)
    avg, values = out["engine_avg"], out["engine_values"]
    # truth of the synthetic runner: contact 0.24 s over a stride of 2 x 60/172 s; one frame at 60 fps
    assert avg == pytest.approx(0.24 / (120 / 172), abs=(1 / 60) / (120 / 172)) and len(values) >= 8
    assert out["lake_strides"] == pytest.approx(out["engine_strides"], nan_ok=True)   # the strides table
    assert out["lake_frames_has_series"]                                              # the frames table
    block = out["summary_block"]                                                      # GET summary
    assert block["avg"] == pytest.approx(avg) and block["values"] == pytest.approx(values)
    assert (block["min"], block["max"]) == pytest.approx((min(values), max(values)))
    assert out["details_series"] and out["details_avg"] == pytest.approx(avg)         # GET details
    assert out["cli_lines"] == [f"  {'duty factor':<17} {avg:.2f}"]                   # gaitlake process
    assert out["facts_spread"] == pytest.approx([min(values), max(values)])           # commentary


def test_without_the_entry_no_output_shows_it(tmp_path):
    out = _run("as-is", tmp_path)
    assert out["lake_strides"] == pytest.approx(out["engine_strides"], nan_ok=True)   # a column already
    assert not out["lake_frames_has_series"] and not out["details_series"]
    assert out["summary_block"] is None and out["details_avg"] is None
    assert out["cli_lines"] == [] and out["facts_spread"] is None


def test_a_new_per_stride_metric_in_three_places_reaches_every_output(tmp_path):
    """Issue 22 item 1: a per-stride metric that is no stride-table column yet, added as its
    function, its catalogue entry and this test, reaches the lake, every API document, the
    CLI, the page and the PDF."""
    out = _run("add", tmp_path)
    avg, values = out["engine_avg"], out["engine_values"]
    # 3. the test: truth of the synthetic runner, swing = stride - contact = 2 x 60/172 - 0.24 s;
    # each event within one frame at 60 fps, so a stride's swing within two frames
    assert avg == pytest.approx(120 / 172 - 0.24, abs=2 / 60) and len(values) >= 8
    assert all(v == pytest.approx(120 / 172 - 0.24, abs=2 / 60) for v in values)
    assert out["lake_strides"] == pytest.approx(out["engine_strides"], nan_ok=True)   # the strides table
    assert out["schema_declares"]                                                     # ... and its schema
    assert out["lake_row"] == pytest.approx(avg)                                       # the sessions row
    stats = out["lake_row_stats"]                                                     # ... its stats
    assert stats[:2] == pytest.approx([min(values), max(values)]) and stats[2] == pytest.approx(values)
    assert out["lake_frames_has_series"]                                              # the frames table
    block = out["summary_block"]                                                      # GET summary
    assert block["avg"] == pytest.approx(avg) and block["values"] == pytest.approx(values)
    assert (block["min"], block["max"]) == pytest.approx((min(values), max(values)))
    assert out["details_series"] and out["details_avg"] == pytest.approx(avg)         # GET details
    assert out["export_series"]                                                       # GET export
    assert out["form_value"] == pytest.approx(avg)                                    # POST form-analysis
    assert out["totals_avg"] == pytest.approx(avg)                                    # GET metrics/total
    assert out["totals_last"] == pytest.approx({"avg": avg, "min": min(values), "max": max(values)})
    assert out["cli_lines"] == [f"  {'swing time':<17} {avg:.3f} s"]                  # gaitlake process
    assert out["facts_spread"] == pytest.approx([min(values), max(values)])           # commentary
    card = out["card"]                                                                # the page
    assert (card["label"], card["unit"]) == ("Swing time", "time")
    assert card["value"] == pytest.approx(avg, abs=1e-4)
    assert card["range"] == pytest.approx([min(values), max(values)], abs=1e-4)
    shown = f"{avg * 1000:.0f} ms"                                                    # the PDF
    assert out["pdf_row"] == ["Swing time", shown]
    assert "Swing time" in out["pdf_texts"] and shown in out["pdf_texts"]


def test_without_the_new_metric_no_output_shows_it(tmp_path):
    """The same script without the function and the entry: ``swing_time_s`` is nowhere."""
    out = _run("as-is-swing", tmp_path)
    assert out["engine_avg"] is None and out["lake_strides"] is None and out["lake_row"] is None
    assert not out["schema_declares"] and out["lake_row_stats"] == [None, None, None]
    assert not out["lake_frames_has_series"] and out["summary_block"] is None
    assert not out["details_series"] and out["details_avg"] is None and not out["export_series"]
    assert out["form_value"] is None and out["cli_lines"] == [] and out["facts_spread"] is None
    assert out["totals_avg"] is None and out["totals_last"] is None
    assert out["card"] is None and out["pdf_row"] is None
    assert "Swing time" not in out["pdf_texts"] and "Contact time" in out["pdf_texts"]
