"""One number per quantity: the engine summary, the lake's sessions row, every API document and the
commentary show the same value for each session metric (issue 16: balance 50.4 vs 50.2, cadence
166.24/166.32/166.37 by endpoint, cadence targets 177 vs 178).

The shared treadmill clip from its stored detections (no pose): engine -> sessions row
(tasks.results) -> API documents built from that row and the strides/frames tables (api.reports,
api.documents) and commentary built from the same (tasks.results.session_facts).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from analysis.commentary import Units, comments_for
from analysis.engine import RunnerProfile, analyze
from api.documents import from_analysis
from api import reports
from tasks.results import events_document, session_facts, session_tables
from tests.analysis.treadmill_snapshot import FPS, FRAME_SIZE, HEIGHT_M, META, WEIGHT_KG, load_track
from tests.engine_params import ENGINE_PARAMS

#: summary key -> (summary-document block, metric name)
QUANTITIES = {
    "speed_mps": ("performance_metrics", "speed"), "pace_min_per_km": ("performance_metrics", "pace"),
    "cadence_spm": ("performance_metrics", "cadence"), "power_w": ("performance_metrics", "power"),
    "normalized_power_w_per_kg": ("performance_metrics", "normalized_power"),
    "contact_time_s": ("running_mechanics", "contact_time"), "flight_time_s": ("running_mechanics", "flight_time"),
    "stride_time_s": ("running_mechanics", "stride_time"), "stride_length_m": ("running_mechanics", "stride_length"),
    "balance_pct": ("balance_and_posture", "balance"), "contact_angle_deg": ("balance_and_posture", "contact_angle"),
}


@pytest.fixture(scope="module")
def session():
    track = load_track()
    result = analyze(track.keypoints, FPS, RunnerProfile(height_m=HEIGHT_M, weight_kg=WEIGHT_KG),
                     frame_size=FRAME_SIZE, params=ENGINE_PARAMS)
    # the lake's shape: typed results in the row and tables; the API builds its documents from them
    # (as the writer lays the run out: the spread metrics' statistics stored with the row)
    tables = session_tables({**META, "effective_fps": result.fps}, result, result.quality, track, FPS)
    row = tables["sessions"].to_pylist()[0]
    record = reports.record_from_row("s1", "p-test", row, read_table=tables.get)
    when = datetime(2025, 7, 4, 13, 5, tzinfo=timezone.utc)
    meta = reports.SessionMeta("s1", "t", when, when, "all", 0.0, HEIGHT_M * 100, WEIGHT_KG, None)
    owner = reports.Owner("u1", "u@example.org", "U", HEIGHT_M * 100, WEIGHT_KG, {})
    api = {
        "summary": reports.summary(meta, owner, record, {}),
        "details": reports.session_details(meta, owner, record, {}, None),
        "form": reports.form_analysis(meta, owner, record, {}, {}),
        "last": reports.last_session_metrics(record, 0.0),
        "totals": reports.average_metrics([record]),
    }
    facts = session_facts(row, {"height_cm": HEIGHT_M * 100, "weight_kg": WEIGHT_KG}, tables["strides"].to_pylist())
    texts = {kind: {b: c.text for b, c in comments_for(kind, facts).items()}
             for kind in ("summary", "form", "recommendation")}
    return result, row, api, texts


@pytest.mark.parametrize("key", list(QUANTITIES))
def test_every_output_shows_the_summary_value(session, key):
    result, row, api, _ = session
    block, name = QUANTITIES[key]
    value = result.summary.value(key)
    assert value is not None
    shown = {
        "sessions row": row[key],
        "summary document": from_analysis(result)["summary_doc"][block][name]["avg"],
        "details calculated": from_analysis(result)["details_doc"]["calculated_metrics"][f"{name}_avg"],
        "GET summary": api["summary"][block][name]["avg"],
        "GET details": api["details"]["calculated_metrics"][f"{name}_avg"],
    }
    if name in api["last"]:
        shown["last session"] = api["last"][name]["avg"]
    if f"avg_{name}" in api["totals"]:
        shown["totals"] = api["totals"][f"avg_{name}"]
    if name in api["form"]["metrics"]:
        shown["form analysis"] = api["form"]["metrics"][name]
    assert shown == {where: pytest.approx(value, rel=1e-12) for where in shown}


def test_events_document_lists_the_engines_events(session):
    result, row, _, _ = session
    doc = events_document(result.events)
    assert [(e["side"], e["kind"], e["frame"]) for e in doc["events"]] == [(e.side, e.kind, e.frame)
                                                                          for e in result.events]
    counted_ic = sorted(e["frame"] for e in doc["events"] if e["kind"] == "IC" and e["side"] == "left")
    left = result.strides.of_side("left")
    assert set(left.ic_frame.tolist()) | set(left.next_ic_frame.tolist()) <= set(counted_ic)


def test_commentary_names_the_same_numbers(session):
    result, _, _, texts = session
    s, q = result.summary, result.quality
    perf, mech = texts["summary"]["performance"], texts["summary"]["mechanics"]
    bal = texts["summary"]["balance_posture"]
    assert f"{s.balance_pct:.1f} % left / {100 - s.balance_pct:.1f} % right" in bal
    assert f"cadence averaged {s.cadence_spm:.0f} steps/min" in perf
    assert Units().speed(s.speed_mps) in perf
    assert f"on the ground for {Units.ms(s.contact_time_s)}" in mech
    assert f"Contact takes {s.duty_factor:.0%}" in mech
    # one cadence target in every block that names one
    targets = {int(t) for block in texts.values() for text in block.values()
               for t in re.findall(r"\((?:about )?(\d{3}) steps/min\)", text)}
    assert len(targets) == 1, targets
    # strides are counted per side, as the quality document counts them
    dist = texts["summary"]["distance_duration"]
    assert f"({q.strides_left} complete left and {q.strides_right} complete right strides)" in dist
    assert not any("within 0°" in text for block in texts.values() for text in block.values())
