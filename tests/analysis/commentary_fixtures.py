"""Commentary fixtures (used by tests/analysis and tests/tasks): the shared treadmill session's documents (from one real `gaitlake process` run) and crafted facts.

``treadmill_session.json`` holds that run's lake documents in the shape rows had before the API
built them (``summary_doc`` blocks with min/max/avg, ``form_doc``, ``gait_doc``, ``quality_doc``)
plus a few scalars; :func:`treadmill_facts` turns them back into the engine's typed results
(summary values, spread over strides) that commentary takes.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from analysis.commentary import SessionFacts
from api.documents import FORM_METRICS, SUMMARY_METRICS, phases_from_gait_document

DATA = Path(__file__).with_name("data")


@pytest.fixture(scope="session")
def treadmill_docs() -> dict:
    return json.loads((DATA / "treadmill_session.json").read_text())


def facts_from_documents(d: dict, profile: dict) -> SessionFacts:
    """SessionFacts of a recorded session: its summary from the documents' averages, form
    metrics and scalars, and the spread from the blocks' min/max."""
    summary: dict = {}
    spread: dict = {}
    for block, names in SUMMARY_METRICS.items():
        for name, key in names.items():
            stats = d["summary_doc"][block][name]
            summary[key] = stats["avg"]
            if stats["min"] is not None and stats["max"] is not None:
                spread[key] = (stats["min"], stats["max"])
    mechanics, distance = d["summary_doc"]["running_mechanics"], d["summary_doc"]["distance_and_duration"]
    summary.update(footstrike=mechanics.get("footstrike"), total_distance_m=distance["total_distance"],
                   total_time_s=distance["total_time"])
    for name, key in FORM_METRICS.items():
        if summary.get(key) is None:
            summary[key] = d["form_doc"]["metrics"].get(name)
    summary.update({k: v for k, v in d["scalars"].items() if summary.get(k) is None})
    facts = SessionFacts.from_results(summary, d["quality_doc"], phases_from_gait_document(d["gait_doc"]), [], profile)
    return dataclasses.replace(facts, spread=spread)


@pytest.fixture
def treadmill_facts(treadmill_docs) -> SessionFacts:
    return facts_from_documents(treadmill_docs, {"height_cm": 175})
