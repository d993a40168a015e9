"""The spec's documents built from the lake's typed results (api/documents.py).

One synthetic treadmill session goes through the engine once and is written to the lake as the
pipeline writes it (the engine's summary as scalar columns with each spread metric's statistics,
quality/phases/events as they are, the strides and frames tables, in the declared schemas). Every
read of the API must answer the documents built straight from the engine's result. A run written
in the previous lake layout (documents stored as JSON, no statistics, no layout stamp) is refused
with the command that rewrites it, never read by guessing at its columns.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from analysis.engine import RunnerProfile, analyze
from analysis.synthetic import make_session
from analysis.tracking import RunnerTrack
from api import documents
from storage.catalog import SessionStatus
from storage.lake_layout import LAYOUT, manifest_key
from tasks.results import events_document, session_tables, sessions_table
from tests.engine_params import ENGINE_PARAMS

FPS = 60.0
DETAILS = "/running/sessions/{}/"
SUMMARY = "/running/sessions/{}/summary/"
EXPORT = "/running/sessions/{}/export/"
FORM = "/running/sessions/{}/form-analysis/"
GAIT = "/running/sessions/{}/gait-analysis/"


@pytest.fixture(scope="module")
def analysed():
    synthetic = make_session(cadence_spm=170.0, contact_time_s=0.26, speed_mps=3.1, fps=FPS, duration_s=6.0,
                             height_m=1.75, noise_px=1.0, seed=3, mode="treadmill")
    kp = synthetic.keypoints
    track = RunnerTrack(keypoints=kp, boxes=np.zeros((kp.shape[0], 5)), found=np.ones(kp.shape[0], dtype=bool),
                        n_tracks=1, track_scores={0: 1.0})
    result = analyze(kp, FPS, RunnerProfile(height_m=1.75, weight_kg=70.0, incline_deg=1.0), frame_size=(1080, 1920), params=ENGINE_PARAMS)
    return track, result


def _write(world, track, result, legacy: bool) -> str:
    row = world.catalog.create_session(user_id=world.users["ua"], title="run", status=SessionStatus.DONE,
                                       video_key=None, incline_deg=1.0, joints="all",
                                       created_at=datetime(2025, 4, 7, 13, 5, tzinfo=timezone.utc))
    meta = {"title": "run", "user_id": world.users["ua"], "fps": FPS, "effective_fps": result.fps,
            "n_frames": len(track.found), "video_key": None, "analyzed_video_key": None}
    tables = session_tables(meta, result, result.quality, track, FPS)  # as the pipeline writes a run
    if legacy:  # as layout 1 wrote it: the documents in the row, no joints, no statistics
        built = documents.from_analysis(result)
        stored = {**{k: built[k] for k in ("summary_doc", "details_doc", "form_doc")},
                  "gait_doc": built["gait_doc"], "quality_doc": result.quality.to_dict(),
                  "events_doc": events_document(result.events)}
        tables["sessions"] = sessions_table(meta, result.summary, stored)
    manifest = world.lake.write_session(row.id, "v1", "cfg0", tables)
    if legacy:  # and its manifest without the layout stamp, as that code wrote it
        raw = json.loads(manifest.to_json())
        del raw["layout"]
        world.store.write_bytes(manifest_key(row.id, "v1"), json.dumps(raw).encode())
    world.catalog.update_session(row.id, pipeline_version=manifest.pipeline_version,
                                 finished_at=datetime(2025, 4, 7, 13, 9, tzinfo=timezone.utc))
    return row.id


def _reads(world, sid: str) -> dict:
    h = world.h("alice")
    responses = {"details": world.client.get(DETAILS.format(sid), headers=h),
                 "summary": world.client.get(SUMMARY.format(sid), headers=h),
                 "export": world.client.get(EXPORT.format(sid), headers=h),
                 "form": world.client.post(FORM.format(sid), headers=h),
                 "gait": world.client.post(GAIT.format(sid), headers=h)}
    assert all(r.status_code == 200 for r in responses.values()), {k: r.status_code for k, r in responses.items()}
    out = {k: r.json() for k, r in responses.items()}
    d, s, e, f, g = out["details"], out["summary"], out["export"], out["form"], out["gait"]
    return {
        "details": {k: d[k] for k in ("metrics", "angles", "all_timestamps", "calculated_metrics")},
        "summary": {k: s[k] for k in documents.SUMMARY_METRICS.keys() | {"distance_and_duration"}},
        "export": {k: e[k] for k in ("metrics", "angles", "all_timestamps", "keypoints", "contact")},
        "form": f["metrics"],
        "gait": {side: {k: g[side][k] for k in ("peak_time", "angles", "graph_timestamps", "initiator")}
                 | {"phases": {p: {k: v for k, v in ph.items() if k != "image_url"}
                               for p, ph in g[side]["phases"].items()}}
                 for side in ("left", "right")},
    }


def test_documents_read_from_the_lake_are_the_engines(world, analysed):
    track, result = analysed
    sid = _write(world, track, result, legacy=False)
    row = world.lake.read_table(sid, "sessions").to_pylist()[0]
    assert not {"summary_doc", "details_doc", "form_doc"} & set(row)  # typed results only
    assert world.lake.current_manifest(sid).layout == LAYOUT
    # the statistics are stored with the run, equal to the engine's (the API computes none)
    stats = result.metric_stats("cadence_spm")
    assert (row["cadence_spm_min"], row["cadence_spm_max"], tuple(row["cadence_spm_values"])) == (
        stats.min, stats.max, stats.values)
    new = _reads(world, sid)
    # the documents of the engine's own result (the lake round trip loses nothing)
    built = documents.from_analysis(result)
    assert new["summary"] == documents.with_references(built["summary_doc"])   # + the published ranges
    assert new["form"] == built["form_doc"]["metrics"]
    cm = {k: v for k, v in built["details_doc"]["calculated_metrics"].items() if v is not None}
    assert new["details"]["calculated_metrics"] == cm
    assert new["details"]["all_timestamps"] == built["details_doc"]["all_timestamps"]
    assert new["details"]["metrics"] == built["details_doc"]["metrics"]
    assert new["summary"]["performance_metrics"]["speed"]["avg"] == result.summary.speed_mps
    assert new["gait"] == documents.gait_document(result.phases)   # the typed phases, in the spec's names



def test_documents_carry_the_catalogues_reference_ranges(world, analysed):
    """Each summary metric with a published range (analysis.catalogue) carries it as ``reference``
    beside min/max/avg/values, form-analysis as ``reference_ranges``; a speed-bound range only at
    a speed in its window; the documents still match the spec's schemas (an extension a strict
    client ignores)."""
    from analysis.catalogue import by_name
    from tests.api.api_support import assert_matches

    track, result = analysed
    sid = _write(world, track, result, legacy=False)
    h = world.h("alice")
    summary = world.client.get(SUMMARY.format(sid), headers=h).json()
    form = world.client.post(FORM.format(sid), headers=h).json()
    assert_matches(summary, "/running/sessions/{session_id}/summary/", "get")
    assert_matches(form, "/running/sessions/{session_id}/form-analysis/", "post")
    speed = summary["performance_metrics"]["speed"]["avg"]
    assert 2.8 <= speed <= 4.0                                      # the synthetic runner at 3.1 m/s
    with_ref = {(block, name) for block, names in documents.SUMMARY_METRICS.items() for name in names
                if "reference" in summary[block][name]}
    assert with_ref == {("performance_metrics", "cadence"), ("running_mechanics", "contact_time")}
    cadence = summary["performance_metrics"]["cadence"]["reference"]
    assert cadence == {"low": 160.0, "high": 180.0, "unit": "steps/min",
                       "source": by_name("cadence_spm").reference.source,
                       "conditions": by_name("cadence_spm").reference.conditions}
    assert summary["running_mechanics"]["contact_time"]["reference"]["high"] == 0.30
    assert set(form["reference_ranges"]) == {"cadence", "knee_flexion", "posture_angle", "com_oscillation"}
    assert form["reference_ranges"]["knee_flexion"]["low"] == 35.0 and form["metrics"]["knee_flexion"] is not None

    # the app's own OpenAPI document names the extension (schemathesis checks it on every read)
    import jsonschema
    from api.openapi import app_openapi

    ops = app_openapi()["paths"]
    for doc, path, method in ((summary, "/running/sessions/{session_id}/summary/", "get"),
                              (form, "/running/sessions/{session_id}/form-analysis/", "post")):
        schema = ops[path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.Draft202012Validator(schema).validate(doc)
        bad = json.loads(json.dumps(doc))
        target = (bad["performance_metrics"]["cadence"]["reference"] if "performance_metrics" in bad
                  else bad["reference_ranges"]["cadence"])
        del target["source"]
        assert not jsonschema.Draft202012Validator(schema).is_valid(bad)

    slow = documents.with_references({"performance_metrics": {"speed": {"avg": 2.2}, "cadence": {"avg": 160.0}},
                                      "running_mechanics": {"contact_time": {"avg": 0.3}}})
    assert "reference" not in slow["running_mechanics"]["contact_time"]   # 0.20-0.30 s holds at 2.8-4 m/s
    assert slow["performance_metrics"]["cadence"]["reference"]["low"] == 160.0
    assert "reference" not in slow["performance_metrics"]["speed"]


def test_a_run_in_the_older_layout_is_refused_with_its_repair(world, analysed):
    """Layout 1 (no stamp; documents stored; no statistics): every read answers 503 naming
    ``gaitlake reprocess --older``, and ``lake check`` lists it as outdated, not damaged."""
    from storage.lakecheck import check_lake
    from tasks.lake_schema import SCHEMAS

    track, result = analysed
    old = _write(world, track, result, legacy=True)
    h = world.h("alice")
    for path in (DETAILS, SUMMARY, EXPORT):
        r = world.client.get(path.format(old), headers=h)
        assert r.status_code == 503 and r.json()["status"] == "damaged", r.text
        assert "older lake layout (1" in r.json()["error"] and "gaitlake reprocess --older" in r.json()["error"]
    current = _write(world, track, result, legacy=False)
    assert world.client.get(SUMMARY.format(current), headers=h).status_code == 200
    report = check_lake(world.lake, SCHEMAS)
    assert [d.session_id for d in report.outdated] == [old] and report.damaged == [] and not report.ok
