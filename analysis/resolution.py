"""Timing resolution of durations measured in whole frames (contact, flight).

An event (initial contact, toe-off) is located to the frame, so a duration
between two events is known to one frame time, ``1 / fps``: +-17 ms at 60 fps,
+-33 ms at 30 fps. For a flight of 0.076 s at 60 fps that is +-22 %, which a
user should see next to the number (Mann et al. 2014 compare video rates for
contact-time accuracy; the ground-truth test holds each mean within one frame).
Pure: no I/O.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from analysis.session_report import Quality

__all__ = ["LARGE_RELATIVE_UNCERTAINTY", "TIMED_METRICS", "frame_time_s", "relative_uncertainty",
           "resolution_text"]

#: The session metrics that are durations counted in frames.
TIMED_METRICS: tuple[str, ...] = ("contact_time_s", "flight_time_s")
#: A relative uncertainty (one frame / value) above which it is printed too.
LARGE_RELATIVE_UNCERTAINTY = 0.10


def frame_time_s(quality: Quality | Mapping[str, Any] | None) -> float | None:
    """The frame time (s) a session's events are resolved to: ``quality.frame_time_s``,
    else ``1 / quality.fps_used``; None when neither is known
    (:meth:`analysis.session_report.Quality.resolved_frame_time_s`)."""
    return Quality.coerce(quality).resolved_frame_time_s()


def relative_uncertainty(value_s: float | None, frame_s: float | None) -> float | None:
    """One frame time as a fraction of ``value_s`` (dimensionless); None without both."""
    if not (_positive(value_s) and _positive(frame_s)):
        return None
    return float(frame_s) / float(value_s)


def resolution_text(value_s: float | None, frame_s: float | None) -> str | None:
    """``'±17 ms (1 frame at 60 fps)'``, with ``', ±22 %'`` when that is above
    :data:`LARGE_RELATIVE_UNCERTAINTY`; None when the frame time is unknown."""
    if not _positive(frame_s):
        return None
    text = f"±{1000.0 * float(frame_s):.0f} ms (1 frame at {1.0 / float(frame_s):.4g} fps)"
    rel = relative_uncertainty(value_s, frame_s)
    if rel is not None and rel > LARGE_RELATIVE_UNCERTAINTY:
        text += f", ±{100.0 * rel:.0f} %"
    return text


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
