"""Rule-based commentary: every block, the session's own numbers in the requested units,
advice that flips at the reference thresholds, honesty about null metrics."""
from __future__ import annotations

import json
import re

import pytest

from analysis.commentary import (FORM_BLOCKS, GAIT_BLOCKS, KINDS, SUMMARY_BLOCKS, SessionFacts, Units,
                                 cadence_target, comment, comments_for)
from api.documents import phases_from_gait_document


@pytest.mark.parametrize("system", ["metric", "imperial"])
def test_every_block_is_produced_for_the_treadmill_session(treadmill_facts, system):
    for kind, blocks in KINDS.items():
        out = comments_for(kind, treadmill_facts, system)
        assert list(out) == list(blocks)
        for block, c in out.items():
            assert c.kind == kind and c.block == block and c.engine == "rules"
            assert len(c.text) > 80, (kind, block, c.text)
            assert "could not be assessed" not in c.text, (kind, block, c.text)
            assert re.search(r"\d", c.text), (kind, block)


def _spec_blocks() -> dict[str, set[str]]:
    """The thread block names the shared spec gives each commentary kind."""
    from tests.conftest import SHARED

    path = SHARED / "spec" / "running-openapi.json"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    paths = json.loads(path.read_text())["paths"]

    def schema(p, method, status):
        return paths[p][method]["responses"][status]["content"]["application/json"]["schema"]

    summary = schema("/running/sessions/{session_id}/summary/", "get", "200")["properties"]["summary_text"]
    return {"summary": set(summary["properties"]),
            "form": set(schema("/running/sessions/{session_id}/form-recommendations/", "post", "201")["required"]),
            "recommendation": set(schema("/running/sessions/{session_id}/recommendation/", "post", "201")["required"])}


def test_every_spec_thread_block_has_one_commentary_block():
    """The API's thread blocks are the spec's, and they map one to one onto the commentary's blocks."""
    from api.documents import THREAD_TOPICS

    assert {kind: set(topics) for kind, topics in THREAD_TOPICS.items()} == _spec_blocks()
    blocks = {"summary": SUMMARY_BLOCKS, "form": FORM_BLOCKS, "recommendation": GAIT_BLOCKS}
    assert {kind: sorted(topics.values()) for kind, topics in THREAD_TOPICS.items()} == \
        {kind: sorted(KINDS[kind]) for kind in blocks} == {kind: sorted(b) for kind, b in blocks.items()}


def test_why_missing_reads_the_quality_fields_not_reason_texts():
    def why(quality, **metrics):
        return SessionFacts(metrics=metrics, quality=quality).why_missing()

    # English reasons alone say nothing: the fields decide
    assert why({"reasons": ["Too few complete strides (left 1, right 0)"]}) == \
        "The recording did not give enough clean strides for it."
    assert why({"strides_used": 0, "strides_left": 1, "strides_right": 0}) == \
        "Too few complete strides were found (left 1, right 0); at least two per side are needed."
    assert "from the side" in why({"side_view": False, "strides_used": 0})
    assert "about 240 fps" in why({"implausible_timing": True, "suggested_capture_fps": 240.0, "strides_used": 6})
    assert "image scale" in why({"strides_used": 6}, px_per_m=None)


@pytest.mark.parametrize("cadence, target", [(168.6, 177), (169.4, 177), (171.3, 180), (160.0, 168)])
def test_one_cadence_target_from_the_shown_cadence(cadence, target):
    """5 % above the number the text shows (round(cadence)), in the cadence and the landing blocks alike."""
    assert cadence_target(cadence) == target
    facts = _facts(cadence_spm=cadence, contact_angle_deg=25.0)
    form = comment("form", "contact_angle", facts).text
    assert f"({target} steps/min)" in form
    perf = comment("summary", "performance", facts).text
    assert f"about {target}" in perf or "right in the" in perf


def test_sides_matching_to_the_degree_do_not_read_within_zero(treadmill_docs):
    gait = json.loads(json.dumps(treadmill_docs["gait_doc"]))
    gait["right"]["angles"]["rkne_angle"]["current"] = list(gait["left"]["angles"]["lkne_angle"]["current"])
    gait["right"]["phases"] = gait["left"]["phases"]
    facts = SessionFacts(metrics={}, gait=phases_from_gait_document(gait))
    text = comment("recommendation", "left_knee_angle", facts).text
    assert "to within a degree at mid-stance" in text and "within 0°" not in text


def test_metric_texts_name_the_sessions_values(treadmill_docs, treadmill_facts):
    pm = treadmill_docs["summary_doc"]["performance_metrics"]
    rm = treadmill_docs["summary_doc"]["running_mechanics"]
    perf = comment("summary", "performance", treadmill_facts, "metric").text
    assert f"{pm['speed']['avg']:.2f} m/s" in perf
    assert f"{pm['cadence']['avg']:.0f} steps/min" in perf
    assert f"{pm['power']['avg']:.0f} W" in perf
    mech = comment("summary", "mechanics", treadmill_facts, "metric").text
    assert f"{rm['contact_time']['avg'] * 1000:.0f} ms" in mech
    assert f"{rm['stride_length']['avg']:.2f} m" in mech
    bal = comment("summary", "balance_posture", treadmill_facts).text
    bp = treadmill_docs["summary_doc"]["balance_and_posture"]
    assert f"{bp['balance']['avg']:.1f} % left" in bal and f"{bp['contact_angle']['avg']:.1f}°" in bal
    form = comment("form", "contact_angle", treadmill_facts).text
    assert f"{treadmill_docs['form_doc']['metrics']['contact_angle']:.1f}°" in form


def test_imperial_texts_use_imperial_units(treadmill_docs, treadmill_facts):
    pm = treadmill_docs["summary_doc"]["performance_metrics"]
    speed = pm["speed"]["avg"]
    perf = comment("summary", "performance", treadmill_facts, "imperial").text
    assert f"{speed * 2.236936:.1f} mph" in perf
    pace_mile = pm["pace"]["avg"] * 1.609344
    assert f"{int(pace_mile)}:{round((pace_mile % 1) * 60):02d} min/mile" in perf
    assert "m/s" not in perf and "km" not in perf
    dist = comment("summary", "distance_duration", treadmill_facts, "imperial").text
    feet = treadmill_docs["summary_doc"]["distance_and_duration"]["total_distance"] / 0.3048
    assert f"{feet:.0f} ft" in dist
    mech = comment("summary", "mechanics", treadmill_facts, "imperial").text
    assert re.search(r"\d+ ft \d+ in", mech) and " m." not in mech
    with pytest.raises(ValueError):
        Units("furlongs")


def _facts(**metrics) -> SessionFacts:
    return SessionFacts(metrics=metrics, quality={"strides_used": 10})


@pytest.mark.parametrize("cadence, expect, reject", [
    (150.0, "raise step rate 5-10 %", "keep it"),
    (166.0, "a 5 % increase (about 174 steps/min)", "keep it"),
    (176.0, "keep it", "increase"),
    (196.0, "above the usual", "keep it"),
])
def test_cadence_threshold_flips_advice(cadence, expect, reject):
    text = comment("summary", "performance", _facts(cadence_spm=cadence, speed_mps=3.0)).text
    assert expect in text and reject not in text and f"{cadence:.0f} steps/min" in text


@pytest.mark.parametrize("contact, expect", [(0.34, "longer than the typical range"),
                                             (0.25, "within the typical range"),
                                             (0.17, "shorter than most recreational runners")])
def test_contact_time_threshold(contact, expect):
    text = comment("summary", "mechanics", _facts(contact_time_s=contact)).text
    assert expect in text and f"{contact * 1000:.0f} ms" in text


@pytest.mark.parametrize("balance, expect", [(50.4, "share the work evenly"), (53.5, "the left foot stays down longer"),
                                             (46.0, "the right foot stays down longer")])
def test_balance_threshold(balance, expect):
    assert expect in comment("summary", "balance_posture", _facts(balance_pct=balance)).text


@pytest.mark.parametrize("angle, expect", [(10.0, "compact landing"), (18.0, "moderate reach"),
                                           (27.0, "overstriding")])
def test_contact_angle_threshold(angle, expect):
    assert expect in comment("summary", "balance_posture", _facts(contact_angle_deg=angle)).text


@pytest.mark.parametrize("lean, expect", [(6.0, "within the typical"), (-2.0, "slight forward lean"),
                                          (19.0, "run taller")])
def test_trunk_lean_threshold(lean, expect):
    assert expect in comment("summary", "balance_posture", _facts(posture_angle_deg=lean)).text


@pytest.mark.parametrize("knee, expect", [(30.0, "stiff-legged"), (42.0, "close to the typical peak"),
                                          (56.0, "deep knee bend")])
def test_knee_flexion_threshold(knee, expect):
    assert expect in comment("form", "knee_ankle", _facts(knee_flexion_deg=knee)).text


def test_final_summary_ranks_the_worst_finding_first():
    good = _facts(cadence_spm=178.0, contact_time_s=0.24, balance_pct=50.2, contact_angle_deg=12.0,
                  posture_angle_deg=6.0, speed_mps=3.5)
    text = comment("summary", "overall", good).text
    assert "Nothing measured here stands out" in text
    bad = _facts(cadence_spm=150.0, contact_time_s=0.24, balance_pct=50.2, contact_angle_deg=12.0,
                 posture_angle_deg=6.0, speed_mps=3.5)
    text = comment("summary", "overall", bad).text
    assert "most useful thing to work on is cadence (150 steps/min)" in text


def test_null_metrics_are_not_assessed_and_nothing_is_invented():
    empty = SessionFacts(metrics={}, quality={"strides_used": 0, "reasons": [
        "Too few complete strides (left 1, right 0; 2 per side needed): stride statistics are null."]})
    for kind, blocks in KINDS.items():
        for block in blocks:
            text = comment(kind, block, empty, "imperial").text
            assert "could not be assessed" in text, (kind, block, text)
            assert "Too few complete strides" in text
            assert not re.search(r"\d+(\.\d+)? ?(mph|steps/min|ms|°)", text), (kind, block, text)


def test_commentary_is_deterministic(treadmill_facts):
    a = {b: c.text for b, c in comments_for("recommendation", treadmill_facts).items()}
    b = {b: c.text for b, c in comments_for("recommendation", treadmill_facts).items()}
    assert a == b


def test_gait_blocks_name_the_phase_values(treadmill_docs, treadmill_facts):
    g = treadmill_docs["gait_doc"]["left"]
    strike = g["phases"]["strike"]["graph_phase"]
    mid = g["phases"]["mid_stance"]["graph_phase"]
    knee = g["angles"]["lkne_angle"]["current"]
    text = comment("recommendation", "left_knee_angle", treadmill_facts).text
    assert f"lands bent {knee[strike]:.0f}°" in text and f"flexes to {knee[mid]:.0f}°" in text
    hip = comment("recommendation", "right_hip_angle", treadmill_facts).text
    assert "right hip" in hip and "toe-off" in hip


def test_unknown_blocks_are_refused(treadmill_facts):
    with pytest.raises(ValueError):
        comment("summary", "left_knee_angle", treadmill_facts)
    with pytest.raises(ValueError):
        comment("nonsense", "x", treadmill_facts)
