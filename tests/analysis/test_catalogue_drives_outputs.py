"""One catalogue entry reaches every output derived from it, with no edit anywhere else.

A fresh interpreter changes one declaration of ``analysis.catalogue.METRICS`` before anything
imports the catalogue's consumers: ``duty_factor`` (measured per stride and summarised by the
engine, but reported by no document today) gets a summary block, a per-frame series and a CLI
line. Then a synthetic session runs through the engine, is written to a real lake
(``storage.lake.Lake`` on a local object store) and read back, and its API documents, CLI
summary and commentary facts are built: the metric is in every one of them, with the engine's
values. The same script without the change finds it in none (the test can fail).

(A metric that is not yet a stride-table column still needs its line in
``analysis.stride_stage._stride_metrics``/``session_summary`` and ``analysis.strides.StrideTable``:
issue 22's item 3, the engine cut by stage, is where that goes.)
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
import contextlib, dataclasses, io, json, sys
import analysis.catalogue as cat

if sys.argv[1] == "promote":
    duty = cat.by_name("duty_factor")
    promoted = dataclasses.replace(duty, spread=True, cli_order=12,
                                   spec=cat.SpecKeys(summary=("running_mechanics", "duty_factor"),
                                                     details="duty_factor"))
    cat.METRICS = tuple(promoted if m.name == "duty_factor" else m for m in cat.METRICS)

import numpy as np
from analysis.commentary import SessionFacts
from analysis.engine import RunnerProfile, analyze
from analysis.strides import StrideTable
from analysis.synthetic import make_session
from analysis.tracking import RunnerTrack
from api import documents
from gaitlake import cli
from storage.lake import Lake
from storage.objectstore import ObjectStore
from tasks.results import session_tables

s = make_session(cadence_spm=172.0, contact_time_s=0.24, speed_mps=3.2, duration_s=6.0, seed=5)
kp = s.keypoints
result = analyze(kp, s.fps, RunnerProfile(height_m=1.75, weight_kg=70.0))
track = RunnerTrack(keypoints=kp, boxes=np.zeros((kp.shape[0], 5)), found=np.ones(kp.shape[0], dtype=bool),
                    n_tracks=1, track_scores={0: 1.0})
lake = Lake(ObjectStore(sys.argv[2]))
meta = {"title": "run", "user_id": "u1", "fps": s.fps, "effective_fps": result.fps,
        "n_frames": kp.shape[0], "video_key": None, "analyzed_video_key": None}
manifest = lake.write_session("s1", "v1", "cfg0", session_tables(meta, result, result.quality, track, s.fps))
row = lake.read_table("s1", "sessions", manifest=manifest).to_pylist()[0]
read = lambda name: lake.read_table("s1", name, manifest=manifest)
summary_doc = documents.from_lake("summary_doc", row, result.quality, read)
details_doc = documents.from_lake("details_doc", row, result.quality, read)
out = io.StringIO()
with contextlib.redirect_stdout(out):
    cli._print_summary("s1", {"summary": result.summary, "quality": {**result.quality, "decoded_frames": kp.shape[0]}})
facts = SessionFacts.from_results(row, result.quality, result.phases, StrideTable.from_rows(read("strides").to_pylist()))
strides = StrideTable.from_rows(read("strides").to_pylist())
print(json.dumps({
    "engine_avg": result.summary["duty_factor"],
    "engine_values": [float(v) for v in result.metric_stats("duty_factor").values],
    "lake_strides": read("strides").column("duty_factor").to_pylist(),
    "engine_strides": [None if v != v else float(v) for v in result.strides.duty_factor],
    "lake_frames_has_series": "duty_factor" in read("frames").column_names,
    "summary_block": summary_doc["running_mechanics"].get("duty_factor"),
    "details_series": "duty_factor" in details_doc["metrics"],
    "details_avg": details_doc["calculated_metrics"].get("duty_factor_avg"),
    "cli_lines": [l for l in out.getvalue().splitlines() if "duty factor" in l],
    "facts_spread": facts.spread.get("duty_factor"),
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
