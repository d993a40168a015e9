"""The shared treadmill session's documents (from one real `gaitlake process` run) and crafted facts."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.commentary import SessionFacts

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def treadmill_docs() -> dict:
    return json.loads((HERE / "treadmill_session.json").read_text())


@pytest.fixture
def treadmill_facts(treadmill_docs) -> SessionFacts:
    d = treadmill_docs
    return SessionFacts.from_documents(d["summary_doc"], d["form_doc"], d["gait_doc"], d["quality_doc"],
                                       d["scalars"], {"height_cm": 175})
