"""Argument types and cell formatting shared by the ``gaitlake`` commands (one rule, one message)."""
from __future__ import annotations

import argparse


def positive_int(raw: str) -> int:
    """A count of at least 1 (sessions, frames, concurrency, files)."""
    return _int_between(raw, 1, None)


def port_number(raw: str) -> int:
    """A TCP port to listen on, 1-65535 (0 would let the system pick one nobody could be told)."""
    return _int_between(raw, 1, 65535)


def _int_between(raw: str, low: int, high: int | None) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"of at least {low}"
        raise argparse.ArgumentTypeError(f"must be a whole number {span}, got {raw!r}")
    return value


def ellipsize(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in "…" when something was cut (and on one line)."""
    text = " ".join(text.split()) if "\n" in text else text
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
