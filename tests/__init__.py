"""The test suite as a package, so that tests/analysis never shadows the analysis package (issue 25 note)."""
