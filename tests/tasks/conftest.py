"""Fixtures of the tasks tests: the commentary's recorded treadmill session (the LLM engine's tests)."""
from tests.analysis.commentary_fixtures import treadmill_docs, treadmill_facts  # noqa: F401  (fixtures)
