"""gaitlake benchmarks: ``python -m benchmarks NAME`` (see benchmarks/README.md).

Every benchmark runs its baseline side by side in the same process and prints
one JSON line ``{"benchmark": NAME, ..., "ratio": ...}`` at the end.
"""
