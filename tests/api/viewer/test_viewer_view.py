"""Quality notes land on the cards they qualify, for the engine's own reasons on sessions built to trigger them."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from analysis.engine import RunnerProfile, analyze
from analysis.synthetic import make_session
from api.documents import from_analysis
from api.viewer import view
from tests.engine_params import ENGINE_PARAMS


def notes_and_cards(fps_told: float, fps_filmed: float = 30.0, duration_s: float = 4.0, height_m: float | None = 1.75):
    syn = make_session(fps=fps_filmed, duration_s=duration_s, px_per_m=150.0)
    result = analyze(syn.keypoints, fps_told, RunnerProfile(height_m=height_m, weight_kg=None), frame_size=(1920, 1080), params=ENGINE_PARAMS)
    notes = view.quality_notes(result.quality)
    cards = {c["key"]: c for c in view.cards(result.summary, from_analysis(result)["summary_doc"], notes)}
    return notes, cards


def kinds_on(card: dict, notes: list[dict]) -> set[str]:
    return {notes[i]["kind"] for i in card["notes"]}


def test_slow_motion_and_unknown_height_qualify_timing_and_scale_cards():
    notes, cards = notes_and_cards(fps_told=30.0, fps_filmed=120.0, height_m=None)   # 120 fps played as 30
    assert {"slow_motion", "scale", "weight", "proxy"} <= {n["kind"] for n in notes}
    assert "slow_motion" in kinds_on(cards["cadence_spm"], notes)
    assert "slow_motion" in kinds_on(cards["contact_time_s"], notes)
    assert {"scale", "slow_motion"} <= kinds_on(cards["speed_mps"], notes)
    assert kinds_on(cards["power_w"], notes) >= {"scale", "weight"}
    assert kinds_on(cards["contact_angle_deg"], notes) == set()
    assert kinds_on(cards["footstrike"], notes) == {"proxy"}


def test_too_few_strides_qualifies_every_stride_card_and_leaves_them_empty():
    notes, cards = notes_and_cards(fps_told=30.0, duration_s=0.9)
    assert "few_strides" in {n["kind"] for n in notes}
    for key in ("cadence_spm", "contact_time_s", "stride_length_m", "knee_flexion_deg"):
        assert "few_strides" in kinds_on(cards[key], notes), key
        assert cards[key]["value"] is None, key
    assert "few_strides" not in kinds_on(cards["total_time_s"], notes)


def test_a_clean_session_has_only_the_proxy_and_general_notes():
    notes, cards = notes_and_cards(fps_told=30.0)
    assert {n["kind"] for n in notes} == {"proxy", "general", "weight"}
    assert cards["cadence_spm"]["value"] == pytest.approx(170.0, abs=1.0)
    assert [c for c in cards.values() if c["notes"] and c["key"] not in ("footstrike", "ankle_angle_deg", "power_w")] == []


def test_measured_feet_drop_the_proxy_label_and_note_and_show_the_angle_per_side():
    """On the shared treadmill clip with its stored foot points: no proxy note, the cards say what
    was measured and the foot strike card gives mean +- SD per side and the pattern's share."""
    from pathlib import Path

    import analysis.feet as feet
    from analysis.tracking import select_runner
    from tasks.feet import FootTrack
    from tests.analysis.conftest import DATA, load_detections

    track = select_runner(*load_detections(DATA / "treadmill-side-60fps.detections.npz"))
    result = analyze(track.keypoints.astype(float), 60.0, frame_size=(1080, 1920), params=ENGINE_PARAMS)
    stored = FootTrack.from_bytes(Path(DATA / "treadmill-side-60fps.feet.npz").read_bytes())
    measured = feet.with_feet(result, stored.points, (1080, 1920), stored.model)
    notes = view.quality_notes(measured.quality)
    cards = {c["key"]: c for c in view.cards(measured.summary, from_analysis(measured)["summary_doc"], notes,
                                             measured.quality)}
    assert "proxy" not in {n["kind"] for n in notes}
    assert cards["footstrike"]["label"] == "Foot strike" and cards["footstrike"]["value"] == "rearfoot"
    detail = cards["footstrike"]["detail"]
    assert detail.startswith("touchdown sole angle left +") and "right +" in detail and "left out" in detail
    assert cards["ankle_angle_deg"]["label"] == "Shank at contact"     # a real shank angle, no longer a proxy
    # the proxy session keeps its labels
    plain = {c["key"]: c for c in view.cards(result.summary, from_analysis(result)["summary_doc"],
                                             view.quality_notes(result.quality), result.quality)}
    assert plain["footstrike"]["label"] == "Foot strike (proxy)" and "detail" not in plain["footstrike"]


def test_cards_carry_the_catalogues_normal_range_and_where_the_runner_sits():
    """Issue 22, item 6: the range comes from analysis.catalogue (bounds, source, conditions);
    the position is below / within (bounds included) / above; a speed-bound range (contact
    time: 2.8-4 m/s) is shown only at a speed it holds for; a metric without one has none."""
    from analysis.catalogue import by_name

    cadence, contact = by_name("cadence_spm").reference, by_name("contact_time_s").reference
    row = {"cadence_spm": cadence.low - 5, "duty_factor": 0.40, "posture_angle_deg": by_name("posture_angle_deg").reference.high + 5,
           "contact_time_s": 0.31, "speed_mps": 3.2, "flight_time_s": 0.1, "com_oscillation_m": None}
    cards = {c["key"]: c for c in view.cards(row, {}, [])}
    assert cards["cadence_spm"]["reference"] == {"low": cadence.low, "high": cadence.high, "unit": "steps/min",
                                                 "source": cadence.source, "conditions": cadence.conditions,
                                                 "position": "below"}
    assert cards["duty_factor"]["reference"]["position"] == "within"          # on the upper bound
    assert cards["posture_angle_deg"]["reference"]["position"] == "above"
    assert cards["contact_time_s"]["reference"]["position"] == "above"
    assert cards["com_oscillation_m"]["reference"]["position"] is None         # not measured: the range alone
    for key in ("flight_time_s", "stride_time_s", "power_w", "balance_pct", "footstrike", "total_time_s"):
        assert "reference" not in cards[key], key
    fast = {c["key"]: c for c in view.cards({**row, "speed_mps": 5.5}, {}, [])}
    assert "reference" not in fast["contact_time_s"] and fast["cadence_spm"]["reference"]["position"] == "below"
    assert set(view.series_references(3.2)) == {"cadence", "contact_time"}
    assert set(view.series_references(None)) == {"cadence"}


def test_every_metric_series_ships_its_unit_kind_from_the_catalogue():
    """The page converts a metric series by the unit kind the server sends (viewer.js keeps no
    table of its own): every series of the details document has one, and each is a kind the
    page's UNITS table knows."""
    from api.documents import DETAILS_METRICS

    units = view.series_units()
    assert set(units) == set(DETAILS_METRICS)
    assert units["contact_time"] == "time" and units["cadence"] == "cadence" and units["pace"] == "pace"
    js = (Path(view.__file__).parent / "static" / "viewer.js").read_text()
    page_kinds = set(re.findall(r"^\s{4}(\w+): \{ metric:", js, flags=re.M))
    assert set(units.values()) <= page_kinds, set(units.values()) - page_kinds
