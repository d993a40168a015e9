"""The gait-phase report's types (:func:`analysis.phases.gait_phases` makes it): per side
the representative stride's phase marks, the stride-normalised angle curves and the mean
time from strike to mid-stance, with the engine's names and units in them. ``to_dict`` is
what the lake stores (``gait_doc``); the API renames them to the spec's (api/documents.py)."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from analysis.vocabulary import SIDES

#: Number of points of a stride-normalised curve (0..100 % of the stride).
CURVE_POINTS = 101


@dataclass(frozen=True)
class PhaseMark:
    """One gait-phase mark of the representative stride: its ``frame`` (analysed frame
    index), ``frames_since_strike`` (frames after the stride's initial contact) and
    ``percent_of_stride`` (0..100, rounded, the index into a stride-normalised curve)."""

    frame: int
    frames_since_strike: int
    percent_of_stride: int

    def to_dict(self) -> dict[str, int]:
        return {"frame": self.frame, "frames_since_strike": self.frames_since_strike,
                "percent_of_stride": self.percent_of_stride}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PhaseMark:
        return cls(*(int(d.get(k) or 0) for k in ("frame", "frames_since_strike", "percent_of_stride")))


def _floats(values: Any) -> np.ndarray:
    """A float64 array from a stored list (None -> NaN)."""
    return np.array([np.nan if v is None else v for v in (values if values is not None else [])], dtype=np.float64)


@dataclass(frozen=True)
class AngleCurve:
    """One angle (deg) over the stride, :data:`CURVE_POINTS` points from strike (0 %) to
    the next strike (100 %): ``mean`` across strides (circular), ``sd`` (sample SD across
    strides, 0 with one stride) and ``next_stride`` (the per-point linear trend over stride
    number extrapolated to the next stride; ``mean`` below 3 strides)."""

    mean: np.ndarray
    sd: np.ndarray
    next_stride: np.ndarray

    def to_dict(self) -> dict[str, list[float | None]]:
        return {k: [None if not np.isfinite(v) else float(v) for v in getattr(self, k)]
                for k in ("mean", "sd", "next_stride")}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AngleCurve:
        return cls(*(_floats(d.get(k)) for k in ("mean", "sd", "next_stride")))


@dataclass(frozen=True)
class SidePhases:
    """The gait-phase report of one side: ``peak_ms`` (mean time from strike to
    mid-stance, ms; None without strides), ``first_side`` (the side whose initial contact
    comes first in the recording), ``marks`` (:data:`GAIT_PHASES` -> :class:`PhaseMark`
    of the representative stride), ``angle_curves`` (angle key -> :class:`AngleCurve`)
    and ``curve_times_ms`` (ms of the curve points over the median stride; empty without
    strides)."""

    peak_ms: float | None = None
    first_side: str | None = None
    marks: Mapping[str, PhaseMark] = field(default_factory=dict)
    angle_curves: Mapping[str, AngleCurve] = field(default_factory=dict)
    curve_times_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def with_frames(self, frame_of: Callable[[int], int]) -> SidePhases:
        """The same report with each mark's frame mapped by ``frame_of`` (another frame
        numbering: a segment's offset, the decoded frames of a resampled clip)."""
        return replace(self, marks={name: replace(m, frame=int(frame_of(m.frame))) for name, m in self.marks.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"peak_ms": None if self.peak_ms is None else float(self.peak_ms), "first_side": self.first_side,
                "marks": {name: m.to_dict() for name, m in self.marks.items()},
                "angle_curves": {key: c.to_dict() for key, c in self.angle_curves.items()},
                "curve_times_ms": [float(v) for v in self.curve_times_ms]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SidePhases:
        peak = d.get("peak_ms")
        return cls(peak_ms=None if peak is None else float(peak), first_side=d.get("first_side"),
                   marks={name: PhaseMark.from_dict(m) for name, m in (d.get("marks") or {}).items()},
                   angle_curves={k: AngleCurve.from_dict(c) for k, c in (d.get("angle_curves") or {}).items()},
                   curve_times_ms=_floats(d.get("curve_times_ms")))


@dataclass(frozen=True)
class Phases:
    """The gait-phase report of a session, per side (:class:`SidePhases`); empty sides
    when the engine did not report phases."""

    left: SidePhases = field(default_factory=SidePhases)
    right: SidePhases = field(default_factory=SidePhases)

    def side(self, side: str) -> SidePhases:
        return self.left if side == "left" else self.right

    def items(self) -> list[tuple[str, SidePhases]]:
        return [(side, self.side(side)) for side in SIDES]

    def with_frames(self, frame_of: Callable[[int], int]) -> Phases:
        """Both sides' marks with their frames mapped by ``frame_of`` (:meth:`SidePhases.with_frames`)."""
        return Phases(self.left.with_frames(frame_of), self.right.with_frames(frame_of))

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """JSON-safe, by side, with these names (NaN -> None): what the lake stores (``gait_doc``)."""
        return {side: block.to_dict() for side, block in self.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Phases:
        """The inverse of :meth:`to_dict` (``{}`` or None: empty sides)."""
        d = d or {}
        return cls(*(SidePhases.from_dict(d.get(side) or {}) for side in SIDES))

    @classmethod
    def coerce(cls, value: Phases | Mapping[str, Any] | None) -> Phases:
        """``value`` itself, or :meth:`from_dict` of a stored one."""
        return value if isinstance(value, Phases) else cls.from_dict(value)
