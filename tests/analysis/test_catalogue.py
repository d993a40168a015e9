"""The metric catalogue (analysis/catalogue.py): complete, consistent with every output it drives,
its reference ranges sound and documented."""
from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest

import analysis.catalogue as catalogue
import analysis.commentary as commentary
import analysis.commentary_rules as rules
from analysis.catalogue import FOOT_STAGE_COLUMNS, METRICS, Metric, Reference, SpecKeys
from analysis.engine import SERIES_METRICS, STRIDE_METRICS, RunnerProfile, analyze
from analysis.strides import COLUMNS, FLOAT_COLUMNS
from analysis.synthetic import make_session
from tests.engine_params import ENGINE_PARAMS

REPO = Path(__file__).resolve().parents[2]
#: Summary keys that are calibration or context, not metrics (module docs).
NOT_METRICS = {"px_per_m", "facing", "mode"}

# The lists the outputs held before the catalogue, verbatim: deriving them must not change an output.
FORMER_STRIDE_METRICS = ("speed_mps", "pace_min_per_km", "cadence_spm", "power_w", "normalized_power_w_per_kg",
                         "contact_time_s", "flight_time_s", "stride_time_s", "stride_length_m", "balance_pct",
                         "contact_angle_deg")
FORMER_SERIES_METRICS = {"speed": "speed_mps", "pace": "pace_min_per_km", "cadence": "cadence_spm",
                         "contact_time": "contact_time_s", "flight_time": "flight_time_s",
                         "stride_time": "stride_time_s", "stride_length": "stride_length_m",
                         "power": "power_w", "normalized_power": "normalized_power_w_per_kg",
                         "balance": "balance_pct", "contact_angle": "contact_angle_deg"}
FORMER_FACT_KEYS = FORMER_STRIDE_METRICS + ("total_distance_m", "total_time_s", "knee_flexion_deg",
                                            "posture_angle_deg", "ankle_angle_deg", "com_oscillation_m",
                                            "stride_angle_deg", "mean_h_m")
FORMER_CLI_LINES = (
    ("cadence_spm", "cadence", "{:.1f} steps/min"),
    ("contact_time_s", "contact time", "{:.3f} s"),
    ("flight_time_s", "flight time", "{:.3f} s"),
    ("stride_time_s", "stride time", "{:.3f} s"),
    ("stride_length_m", "stride length", "{:.2f} m"),
    ("speed_mps", "speed", "{:.2f} m/s"),
    ("pace_min_per_km", "pace", "{:.2f} min/km"),
    ("power_w", "metabolic power", "{:.0f} W (Minetti cost of running)"),
    ("balance_pct", "balance (L)", "{:.1f} %"),
    ("contact_angle_deg", "contact angle", "{:.1f} deg"),
    ("footstrike", "foot strike", "{}"),
)


def test_derived_lists_equal_the_former_literals():
    assert STRIDE_METRICS == FORMER_STRIDE_METRICS
    assert list(SERIES_METRICS.items()) == list(FORMER_SERIES_METRICS.items())   # the frames table's column order
    assert commentary.SessionFacts.KEYS == FORMER_FACT_KEYS


@pytest.mark.parametrize("value", [0.0, 1.23456, 171.96, -3.05, 1234.5])
def test_cli_lines_print_as_before(value):
    from gaitlake.cli import SUMMARY_LINES

    assert [m.name for m in SUMMARY_LINES] == [key for key, _, _ in FORMER_CLI_LINES]
    for metric, (_, label, fmt) in zip(SUMMARY_LINES, FORMER_CLI_LINES):
        shown = "midfoot" if metric.is_category else value
        assert (metric.label, metric.format(shown)) == (label, fmt.format(shown))


def test_every_stride_column_and_summary_key_is_declared_once():
    names = [m.name for m in METRICS]
    assert len(names) == len(set(names))
    stride_metrics = {c for c in FLOAT_COLUMNS if c not in ("ic_time_s", *FOOT_STAGE_COLUMNS)} | {"footstrike"}
    assert {m.name for m in METRICS if m.per_stride} == stride_metrics
    assert stride_metrics <= set(COLUMNS)
    s = make_session(duration_s=6.0)
    summary = analyze(s.keypoints, s.fps, RunnerProfile(height_m=1.75, weight_kg=70.0), params=ENGINE_PARAMS).summary
    assert set(summary.to_dict()) - NOT_METRICS == set(names)
    assert all(not m.per_stride for m in METRICS if m.name not in stride_metrics)


def test_spec_keys_name_the_spec_documents():
    from api.openapi import shared_spec

    paths = shared_spec()["paths"]
    summary = paths["/running/sessions/{session_id}/summary/"]["get"]["responses"]["200"]
    summary = summary["content"]["application/json"]["schema"]["properties"]
    form = paths["/running/sessions/{session_id}/form-analysis/"]["post"]["responses"]["200"]
    form = form["content"]["application/json"]["schema"]["properties"]["metrics"]["properties"]
    for m in METRICS:
        if m.spec.summary:
            block, name = m.spec.summary
            assert name in summary[block]["properties"], m.name
        if m.spec.form:
            assert m.spec.form in form, m.name
    assert {m.spec.form for m in METRICS if m.spec.form} == set(form)


def test_units_and_imperial_conversions():
    for m in METRICS:
        assert m.name.endswith(("_s", "_m", "_mps", "_spm", "_pct", "_deg", "_w", "_kg", "_km", "_per_s")) or \
            m.name in ("duty_factor", "footstrike"), f"{m.name}: the name carries its unit"
        assert (m.unit is None) == m.is_category and m.decimals >= 0
    assert catalogue.by_name("speed_mps").imperial.convert(1609.344 / 3600) == pytest.approx(1.0)   # 1 mph
    assert catalogue.by_name("pace_min_per_km").imperial.convert(5.0) == pytest.approx(8.0467, abs=1e-4)
    assert catalogue.by_name("stride_length_m").imperial.convert(0.3048) == pytest.approx(1.0)
    assert catalogue.by_name("com_oscillation_m").imperial.convert(0.0254) == pytest.approx(1.0)
    with pytest.raises(KeyError, match="no metric 'cadence'"):
        catalogue.by_name("cadence")


def test_reference_ranges_are_the_commentarys_bands():
    """One number per quantity: the range a user sees and the band the commentary judges by."""
    ref = {m.name: (m.reference.low, m.reference.high) for m in METRICS if m.reference}
    assert ref == {
        "cadence_spm": (rules.CADENCE_LOW, rules.CADENCE_TYPICAL[1]),
        "contact_time_s": rules.CONTACT_TYPICAL,
        "duty_factor": (0.30, 0.40),
        "knee_flexion_deg": rules.KNEE_STANCE_TYPICAL,
        "posture_angle_deg": rules.TRUNK_LEAN_TYPICAL,
        "com_oscillation_m": rules.OSCILLATION_TYPICAL,
    }
    for m in METRICS:
        if m.reference:
            assert re.search(r"\b(19|20)\d\d\b", m.reference.source), f"{m.name}: source with its year"
            assert m.reference.conditions and m.basis == "measured" and not m.is_category
    # proxies, models and self-defined metrics have no published range
    assert catalogue.by_name("footstrike").reference is None
    assert catalogue.by_name("ankle_angle_deg").reference is None
    assert catalogue.by_name("stride_angle_deg").reference is None


def test_a_speed_bound_range_applies_only_in_its_window():
    contact = catalogue.by_name("contact_time_s")
    assert contact.reference_json(3.5) == {"low": 0.20, "high": 0.30, "unit": "s",
                                           "source": contact.reference.source,
                                           "conditions": contact.reference.conditions}
    assert contact.reference_json(2.7) is None and contact.reference_json(4.2) is None
    assert contact.reference_json(2.8) is not None and contact.reference_json(4.0) is not None
    assert contact.reference_json(None) is None and contact.reference_json(math.nan) is None
    cadence = catalogue.by_name("cadence_spm")
    assert cadence.reference_json(None)["low"] == 160.0
    assert catalogue.by_name("speed_mps").reference_json(3.0) is None
    with pytest.raises(ValueError, match="low < high"):
        Reference(2.0, 1.0, "x 2000", "y")


def test_a_spread_metric_needs_a_summary_block():
    bad = Metric("x_s", "x", "x", "s", 1, per_stride=True, spread=True, spec=SpecKeys(form="x"))
    with pytest.raises(ValueError, match="x_s"):
        catalogue.spread_metrics((*METRICS, bad))


def test_docs_reference_table_is_the_catalogues():
    """docs/analysis.md shows the table the catalogue renders (regenerate it with
    ``python -c "from analysis.catalogue import reference_table; print(reference_table())"``)."""
    text = (REPO / "docs" / "analysis.md").read_text()
    assert catalogue.reference_table() in text
    changed = dataclasses.replace(catalogue.by_name("cadence_spm"),
                                  reference=Reference(150.0, 180.0, "x 2000", "y"))
    assert catalogue.reference_table((changed,)) not in text      # the check can fail
