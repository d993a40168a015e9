"""The commentary's inputs and outputs: :class:`SessionFacts` (one session's numbers as
the rules read them, from the engine's result or a lake row), :class:`Units` (formatting in
metric or imperial), and what a rule returns: :class:`Finding` (one assessed quantity, the
LLM engine's ground truth) and :class:`Comment` (a block's text and findings).

Pure: numbers and dicts in, values out. No I/O.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from analysis.catalogue import commentary_keys
from analysis.phase_report import Phases
from analysis.results import STRIDE_METRICS, metric_stats
from analysis.session_report import Quality, Summary
from analysis.strides import StrideTable, as_stride_table

__all__ = ["Comment", "Finding", "SessionFacts", "Units", "as_number"]


# ---------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------
class Units:
    """Formatting in the requested measurement system ('metric' or 'imperial')."""

    M_PER_MILE = 1609.344
    M_PER_FT = 0.3048

    def __init__(self, system: str = "metric"):
        system = (system or "metric").lower()
        if system not in ("metric", "imperial"):
            raise ValueError("measurement_system must be 'metric' or 'imperial'")
        self.system = system

    @property
    def imperial(self) -> bool:
        return self.system == "imperial"

    def speed(self, mps: float) -> str:
        if self.imperial:
            return f"{mps * 3600 / self.M_PER_MILE:.1f} mph"
        return f"{mps:.2f} m/s ({mps * 3.6:.1f} km/h)"

    @staticmethod
    def _mmss(minutes: float) -> str:
        m = int(minutes)
        s = int(round((minutes - m) * 60))
        if s == 60:
            m, s = m + 1, 0
        return f"{m}:{s:02d}"

    def pace(self, min_per_km: float) -> str:
        if self.imperial:
            return f"{self._mmss(min_per_km * self.M_PER_MILE / 1000)} min/mile"
        return f"{self._mmss(min_per_km)} min/km"

    def distance(self, m: float) -> str:
        if self.imperial:
            if m >= 0.1 * self.M_PER_MILE:
                return f"{m / self.M_PER_MILE:.2f} miles"
            return f"{m / self.M_PER_FT:.0f} ft"
        return f"{m / 1000:.2f} km" if m >= 1000 else f"{m:.1f} m"

    def length(self, m: float) -> str:
        """Body-scale lengths (stride length): m or ft + in."""
        if self.imperial:
            inches = m / 0.0254
            ft, inch = divmod(int(round(inches)), 12)
            return f"{ft} ft {inch} in"
        return f"{m:.2f} m"

    def small(self, m: float) -> str:
        """Centimetre-scale lengths (oscillation)."""
        if self.imperial:
            return f"{m / 0.0254:.1f} in"
        return f"{m * 100:.1f} cm"

    @staticmethod
    def duration(s: float) -> str:
        if s >= 60:
            return f"{int(s // 60)} min {int(round(s % 60)):02d} s"
        return f"{s:.1f} s"

    @staticmethod
    def ms(s: float) -> str:
        return f"{s * 1000:.0f} ms"




# ---------------------------------------------------------------------------
# Inputs and outputs
# ---------------------------------------------------------------------------
def as_number(x: Any) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class Finding:
    """One assessed quantity: what, its value (SI units), the verdict and the reference."""

    topic: str
    status: str                 # low | typical | high | unknown | info | asymmetric | variable
    value: float | None = None
    unit: str = ""
    reference: str = ""
    advice: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Comment:
    kind: str
    block: str
    text: str
    findings: tuple[Finding, ...] = ()
    measurement_system: str = "metric"
    engine: str = "rules"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "block": self.block, "text": self.text, "engine": self.engine,
                "measurement_system": self.measurement_system,
                "findings": [f.to_dict() for f in self.findings]}


@dataclass
class SessionFacts:
    """The numbers commentary may use.

    ``metrics``: session means in SI units (keys as the engine's summary:
    ``cadence_spm``, ``contact_time_s``, ``speed_mps``, ``posture_angle_deg``, ...);
    ``spread``: ``{metric: (min, max)}`` over strides; ``gait``: the engine's phase
    report (:class:`analysis.phase_report.Phases`); ``quality``: the engine's quality
    (:class:`analysis.session_report.Quality`).
    """

    metrics: dict[str, Any]
    spread: dict[str, tuple[float, float]] = field(default_factory=dict)
    gait: Phases = field(default_factory=Phases)
    quality: Quality = field(default_factory=Quality)
    profile: dict = field(default_factory=dict)   # height_cm, weight_kg when known

    #: Session values commentary reads (null ones are kept as None; other keys of the summary
    #: only when they have a value).
    KEYS = commentary_keys()

    @classmethod
    def from_results(cls, summary: Summary | Mapping, quality: Quality | Mapping | None = None, phases: Phases | Mapping | None = None,
                     strides: StrideTable | list[dict] | None = None, profile: dict | None = None) -> "SessionFacts":
        """From the engine's typed results: ``summary`` (``SessionAnalysis.summary``, or a lake
        sessions row, whose scalars are that summary), ``quality`` (or the lake's ``quality_doc``), ``phases``
        (or the lake's ``gait_doc``, :meth:`Phases.to_dict`) and the strides
        (a :class:`analysis.strides.StrideTable`, or stride rows such as the lake's
        ``strides`` table's; for the spread over strides, :func:`analysis.results.metric_stats`)."""
        table = as_stride_table(strides)
        quality = Quality.coerce(quality)
        values = summary.to_dict() if isinstance(summary, Summary) else summary
        summary = Summary.coerce(summary)
        metrics: dict[str, Any] = {key: as_number(summary.value(key)) for key in cls.KEYS}
        if summary.footstrike is not None:
            metrics["footstrike"] = summary.footstrike
        for key, value in values.items():
            if key.endswith("_doc"):
                continue
            if metrics.get(key) is None and (isinstance(value, str) or as_number(value) is not None):
                metrics[key] = value if isinstance(value, str) else as_number(value)
        spread: dict[str, tuple[float, float]] = {}
        for key in STRIDE_METRICS:
            s = metric_stats(table, key, summary, quality)
            if s.min is not None and s.max is not None:
                spread[key] = (s.min, s.max)
        return cls(metrics=metrics, spread=spread, gait=Phases.coerce(phases), quality=quality,
                   profile=dict(profile or {}))

    def __post_init__(self) -> None:
        self.quality = Quality.coerce(self.quality)

    def get(self, key: str) -> float | None:
        return as_number(self.metrics.get(key))

    def selected(self, joint: str) -> bool:
        """Whether the session selected ``joint`` for angle reporting (quality ``joints``)."""
        return self.quality.selected(joint)

    def why_missing(self) -> str:
        """One sentence on why a metric is null, from the quality document's fields
        (``px_per_m``, ``side_view``, ``strides_used``/``strides_left``/``strides_right``,
        ``implausible_timing``/``suggested_capture_fps``), never from its English reasons."""
        q = self.quality
        if "px_per_m" in self.metrics and self.get("px_per_m") is None:
            return "The image scale could not be estimated, so lengths and speeds are not measured."
        if q.side_view is False:
            return "The camera does not look at the runner from the side, so sagittal metrics are unreliable."
        if q.strides_used == 0:
            n_left, n_right = q.strides_left, q.strides_right
            found = f" (left {n_left}, right {n_right})" if n_left is not None and n_right is not None else ""
            return f"Too few complete strides were found{found}; at least two per side are needed."
        if q.implausible_timing:
            fps = as_number(q.suggested_capture_fps)
            hint = f" (about {fps:g} fps)" if fps else ""
            return ("The timing is not humanly possible at this frame rate: the video is probably slow motion; "
                    f"give its capture frame rate{hint}.")
        return "The recording did not give enough clean strides for it."

    # phase-report access -------------------------------------------------
    def curve(self, side: str, key: str) -> list[float] | None:
        """The mean stride curve (deg) of angle ``key``; None when absent or not finite throughout."""
        c = self.gait.side(side).angle_curves.get(key)
        if c is None or not c.mean.size or not np.isfinite(c.mean).all():
            return None
        return [float(v) for v in c.mean]

    def curve_sd(self, side: str, key: str) -> float | None:
        """Mean over the stride of the curve's SD across strides (deg)."""
        c = self.gait.side(side).angle_curves.get(key)
        sd = [float(v) for v in (c.sd if c is not None else []) if np.isfinite(v)]
        return sum(sd) / len(sd) if sd else None

    def phase_index(self, side: str, phase: str) -> int | None:
        """Percent of the stride (the curve index) of phase mark ``phase``."""
        mark = self.gait.side(side).marks.get(phase)
        return None if mark is None else mark.percent_of_stride

    def at_phase(self, side: str, key: str, phase: str) -> float | None:
        cur, i = self.curve(side, key), self.phase_index(side, phase)
        if cur is None or i is None:
            return None
        return cur[max(0, min(len(cur) - 1, i))]
