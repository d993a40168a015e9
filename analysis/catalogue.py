"""The metric catalogue: one frozen declaration per metric the engine reports.

Each :class:`Metric` says, once, what every output needs to show the number:
its name with the unit (the engine's summary key and, for per-stride metrics,
the :class:`analysis.strides.StrideTable` column), labels, the unit symbol and
its imperial conversion, decimals, whether it is measured per stride and side
or once per session, whether it has a per-frame series, whether it is measured
or a proxy/model, its keys in the API's documents, and a published reference
range (:class:`Reference`) or None where no defensible range exists.

The outputs derive their lists from :data:`METRICS` instead of repeating them:
the engine's ``STRIDE_METRICS`` and ``SERIES_METRICS``
(:func:`spread_metrics`, :func:`series_metrics`), the commentary's
``SessionFacts.KEYS`` (:func:`commentary_keys`), the CLI's summary lines
(:func:`cli_summary`) and the API documents' metric maps (``api/documents.py``).
Adding a metric to a document is adding (or extending) its entry here. The
functions read :data:`METRICS` when called, so the lists are derived when
their modules are imported.

A per-stride metric that is not one of the stride table's fixed columns names
the function of :mod:`analysis.metrics` that computes it (``computed_by``,
:func:`computed_metrics`): the stride stage calls it with the session's
``analysis.strides.StrideInputs`` and the table carries the result as a
catalogue column (``StrideTable.extra``), which the summary, the lake, the
documents, the CLI, the page and the PDF then show like any other. Adding
such a metric is its function, its entry here and its test.

Not metrics, so not here: ``ic_time_s`` (a timestamp), the frame columns of
the stride table, and the summary's calibration/context keys ``px_per_m``,
``facing`` and ``mode``.

Reference ranges are deliberately conservative bands of typical values from
the cited literature under the stated conditions (population, speed); they are
descriptive, not clinical cut-offs, and match the bands the rule-based
commentary (``analysis/commentary.py``) judges against. ``docs/analysis.md``
carries the table :func:`reference_table` renders (a test keeps them equal).

Pure: no I/O, no imports of other project modules.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "METRICS", "Imperial", "Metric", "Reference", "SpecKeys", "SUMMARY_METRIC_BLOCKS", "by_name", "cli_summary",
    "commentary_keys", "computed_metrics", "reference_table", "series_metrics", "spread_metrics",
]

#: The summary document's blocks that hold per-stride ``{min, max, avg, values}`` objects, in order.
SUMMARY_METRIC_BLOCKS = ("performance_metrics", "running_mechanics", "balance_and_posture")


@dataclass(frozen=True)
class Imperial:
    """The imperial display of an SI value: ``value * factor`` in ``symbol``."""

    symbol: str
    factor: float

    def convert(self, si_value: float) -> float:
        return si_value * self.factor


@dataclass(frozen=True)
class Reference:
    """A published typical range of a metric, in the metric's SI unit.

    ``source``: the citation (authors, year, journal); ``conditions``: the
    population and circumstances the range holds for. ``speed_mps``: where the
    range holds only in a speed window (contact time shortens as speed rises),
    ``(low, high)`` of the session speed (m/s); None: at any running speed.
    """

    low: float
    high: float
    source: str
    conditions: str
    speed_mps: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"Reference range needs finite low < high, got {self.low}..{self.high}.")

    @property
    def short_source(self) -> str:
        """The citation as authors and year only (``Folland et al. 2017; Moore 2016``), for a
        chart legend or a table cell that has no room for the journal."""
        return "; ".join(part.split(",")[0].strip() for part in self.source.split(";"))

    def applies(self, speed_mps: float | None) -> bool:
        """Whether the range holds for a session at ``speed_mps`` (None: unknown speed, so a
        speed-bound range does not apply)."""
        if self.speed_mps is None:
            return True
        if speed_mps is None or not math.isfinite(speed_mps):
            return False
        return self.speed_mps[0] <= speed_mps <= self.speed_mps[1]


@dataclass(frozen=True)
class SpecKeys:
    """Where a metric appears in the running-sessions API's documents (the spec's names).

    ``summary``: ``(block, name)`` in GET summary (a per-stride ``{min, max, avg, values}``
    object in :data:`SUMMARY_METRIC_BLOCKS`, or a scalar in ``distance_and_duration``);
    ``details``: the key of its per-frame series in session details' ``metrics`` (its
    ``<key>_avg/_min/_max`` in ``calculated_metrics``); ``form``: its key in
    form-analysis ``metrics``. None: not in that document.
    """

    summary: tuple[str, str] | None = None
    details: str | None = None
    form: str | None = None


@dataclass(frozen=True)
class Metric:
    """One metric, declared once.

    ``name``: the summary key with its unit (``contact_time_s``), also the
    stride-table column when ``per_stride``; ``label`` the words a reader sees
    (the CLI's), ``short_label`` the card/axis label; ``unit`` the SI symbol
    (``""`` dimensionless, ``None`` for a category); ``qualifier`` a few words
    printed after the unit where the number needs them; ``decimals`` for display.
    ``per_stride``: one value per stride and side (a stride-table column) whose
    session value averages the strides; else one value per session.
    ``spread``: the documents report its min/max/values over strides (the
    engine's ``STRIDE_METRICS``). ``basis``: ``measured``, ``proxy`` (a stand-in
    for a quantity COCO-17 cannot see) or ``model`` (computed from a published
    model of other measured values). ``side_view``: measurable in a side view at
    all. ``cli_order``: its position in the CLI's summary lines (None: not printed).
    ``computed_by``: for a per-stride metric that is not a fixed stride-table column,
    the name of the function in :mod:`analysis.metrics` that computes it, one value
    per stride (s, m, deg... as ``unit``), from an ``analysis.strides.StrideInputs``
    (the name, not the function: this module imports no other project module).
    """

    name: str
    label: str
    short_label: str
    unit: str | None
    decimals: int
    per_stride: bool
    basis: Literal["measured", "proxy", "model"] = "measured"
    spec: SpecKeys = SpecKeys()
    spread: bool = False
    reference: Reference | None = None
    imperial: Imperial | None = None
    qualifier: str = ""
    side_view: bool = True
    cli_order: int | None = None
    computed_by: str | None = None

    def __post_init__(self) -> None:
        if self.computed_by is not None and not self.per_stride:
            raise ValueError(f"metric {self.name}: computed_by needs a per-stride metric")

    @property
    def is_category(self) -> bool:
        return self.unit is None

    @property
    def series(self) -> str | None:
        """Name of its per-frame series (the details document's key), or None."""
        return self.spec.details

    def format(self, value: Any) -> str:
        """``value`` as the CLI prints it: decimals, unit and qualifier (a category as it is)."""
        if self.is_category:
            return f"{value}"
        text = f"{value:.{self.decimals}f}" + (f" {self.unit}" if self.unit else "")
        return f"{text} ({self.qualifier})" if self.qualifier else text

    def reference_json(self, speed_mps: float | None = None) -> dict[str, Any] | None:
        """The API's ``reference`` object ``{low, high, unit, source, conditions}`` when the
        metric has a range that holds at ``speed_mps``; else None."""
        ref = self.reference
        if ref is None or not ref.applies(speed_mps):
            return None
        return {"low": ref.low, "high": ref.high, "unit": self.unit, "source": ref.source,
                "conditions": ref.conditions}


# --- sources (only what the ranges below rest on) ------------------------------------
_HEIDERSCHEIT_2011 = "Heiderscheit et al. 2011, Med Sci Sports Exerc 43(2):296-302"
_FOLLAND_2017 = "Folland et al. 2017, Med Sci Sports Exerc 49(7):1412-1423"
_MOORE_2016 = "Moore 2016, Sports Med 46(6):793-807 (review)"
_NOVACHECK_1998 = "Novacheck 1998, Gait Posture 7(1):77-95"
_TENG_POWERS_2014 = "Teng & Powers 2014, J Orthop Sports Phys Ther 44(10):785-792"

_MPS_TO_MPH = 3600 / 1609.344
_M_TO_FT = 1 / 0.3048
_M_TO_IN = 1 / 0.0254
_PERF, _MECH, _BAL, _DIST = (*SUMMARY_METRIC_BLOCKS, "distance_and_duration")

#: Every metric, in the order of the details document's series (then the others). The
#: summary document and ``STRIDE_METRICS`` keep this order within each block.
METRICS: tuple[Metric, ...] = (
    Metric("speed_mps", "speed", "speed", "m/s", 2, per_stride=True, spread=True, cli_order=6,
           spec=SpecKeys(summary=(_PERF, "speed"), details="speed", form="speed"),
           imperial=Imperial("mph", _MPS_TO_MPH)),
    Metric("pace_min_per_km", "pace", "pace", "min/km", 2, per_stride=True, spread=True, cli_order=7,
           spec=SpecKeys(summary=(_PERF, "pace"), details="pace"), imperial=Imperial("min/mile", 1.609344)),
    Metric("cadence_spm", "cadence", "cadence", "steps/min", 1, per_stride=True, spread=True, cli_order=1,
           spec=SpecKeys(summary=(_PERF, "cadence"), details="cadence", form="cadence"),
           reference=Reference(160.0, 180.0, _HEIDERSCHEIT_2011,
                               "healthy recreational runners on a treadmill at their preferred speed (45 in "
                               "Heiderscheit 2011); trained distance runners sit at the upper end")),
    Metric("contact_time_s", "contact time", "contact", "s", 3, per_stride=True, spread=True, cli_order=2,
           spec=SpecKeys(summary=(_MECH, "contact_time"), details="contact_time"),
           reference=Reference(0.20, 0.30, f"{_FOLLAND_2017}; {_MOORE_2016}",
                               "endurance runners at training speeds (97 on a treadmill at 2.8-3.3 m/s in "
                               "Folland 2017); contact time shortens as speed rises", speed_mps=(2.8, 4.0))),
    Metric("flight_time_s", "flight time", "flight", "s", 3, per_stride=True, spread=True, cli_order=3,
           spec=SpecKeys(summary=(_MECH, "flight_time"), details="flight_time")),
    Metric("stride_time_s", "stride time", "stride time", "s", 3, per_stride=True, spread=True, cli_order=4,
           spec=SpecKeys(summary=(_MECH, "stride_time"), details="stride_time")),
    Metric("stride_length_m", "stride length", "stride length", "m", 2, per_stride=True, spread=True, cli_order=5,
           spec=SpecKeys(summary=(_MECH, "stride_length"), details="stride_length"),
           imperial=Imperial("ft", _M_TO_FT)),
    # The metabolic cost of running (Minetti et al. 2002) x mass x speed, not mechanical power.
    Metric("power_w", "metabolic power", "power", "W", 0, per_stride=True, spread=True, basis="model",
           qualifier="Minetti cost of running", cli_order=8,
           spec=SpecKeys(summary=(_PERF, "power"), details="power")),
    Metric("normalized_power_w_per_kg", "metabolic power per kg", "power/kg", "W/kg", 2, per_stride=True,
           spread=True, basis="model", spec=SpecKeys(summary=(_PERF, "normalized_power"), details="normalized_power")),
    Metric("balance_pct", "balance (L)", "balance", "%", 1, per_stride=True, spread=True, cli_order=9,
           spec=SpecKeys(summary=(_BAL, "balance"), details="balance", form="balance")),
    Metric("contact_angle_deg", "contact angle", "contact angle", "deg", 1, per_stride=True, spread=True,
           cli_order=10, spec=SpecKeys(summary=(_BAL, "contact_angle"), details="contact_angle",
                                       form="contact_angle")),
    Metric("total_distance_m", "distance", "distance", "m", 1, per_stride=False,
           spec=SpecKeys(summary=(_DIST, "total_distance"), details="distance"), imperial=Imperial("ft", _M_TO_FT)),
    Metric("total_time_s", "duration", "duration", "s", 1, per_stride=False,
           spec=SpecKeys(summary=(_DIST, "total_time"))),
    Metric("step_time_s", "step time", "step time", "s", 3, per_stride=True),
    Metric("duty_factor", "duty factor", "duty factor", "", 2, per_stride=True,
           reference=Reference(0.30, 0.40, _FOLLAND_2017,
                               "endurance runners at training speeds (treadmill, 2.8-3.3 m/s in Folland "
                               "2017); below 0.5 with a flight phase is running")),
    Metric("knee_flexion_deg", "knee flexion in stance", "knee flexion", "deg", 1, per_stride=True,
           spec=SpecKeys(form="knee_flexion"),
           reference=Reference(35.0, 50.0, _NOVACHECK_1998,
                               "peak knee flexion in stance (about mid-stance), about 40-45 deg at "
                               "running speeds; widened by 5 deg each way")),
    Metric("posture_angle_deg", "trunk lean", "trunk lean", "deg", 1, per_stride=True,
           spec=SpecKeys(form="posture_angle"),
           reference=Reference(2.0, 10.0, f"{_TENG_POWERS_2014}; {_FOLLAND_2017}",
                               "forward trunk lean of recreational runners overground at 3.4 m/s: "
                               "self-selected 7.3 +/- 3.6 deg in Teng & Powers 2014")),
    Metric("ankle_angle_deg", "shank angle at contact", "ankle (proxy)", "deg", 1, per_stride=True, basis="proxy",
           spec=SpecKeys(form="ankle_angle")),
    # Measured from heel and toe by the foot stage (Altman & Davis 2012 cut-offs, analysis.feet);
    # without it, a shank-angle proxy (``quality.footstrike_source``). Classes, not a normal range.
    Metric("footstrike", "foot strike", "foot strike", None, 0, per_stride=True, basis="proxy", cli_order=11),
    Metric("com_oscillation_m", "vertical oscillation", "oscillation", "m", 3, per_stride=True,
           spec=SpecKeys(form="com_oscillation"), imperial=Imperial("in", _M_TO_IN),
           reference=Reference(0.05, 0.10, f"{_MOORE_2016}; {_FOLLAND_2017}",
                               "vertical excursion of the centre of mass per step at endurance speeds "
                               "(here the pelvis as its proxy)")),
    Metric("stride_angle_deg", "stride angle", "stride angle", "deg", 1, per_stride=True,
           spec=SpecKeys(form="stride_angle")),
    Metric("mean_h_m", "mean pelvis height", "pelvis height", "m", 2, per_stride=True,
           spec=SpecKeys(form="mean_h"), imperial=Imperial("ft", _M_TO_FT)),
    Metric("incline_deg", "treadmill incline", "incline", "deg", 1, per_stride=False),
    Metric("eversion_velocity_deg_per_s", "eversion velocity", "eversion", "deg/s", 0, per_stride=False,
           side_view=False, spec=SpecKeys(form="eversion_velocity")),
)


#: Per-contact columns of the strides table that the foot stage (issue 23, ``analysis.feet``)
#: fills after the engine: the measured touchdown sole angle (deg, + toe up) and its
#: confidence. Not session metrics: the session's foot strike is ``footstrike`` (the
#: majority pattern) and the per-side angle means are in ``quality.footstrike_{side}``.
FOOT_STAGE_COLUMNS = ("footstrike_angle_deg", "footstrike_confidence")


def by_name(name: str) -> Metric:
    """The metric ``name`` (a summary key such as ``cadence_spm``); KeyError when unknown."""
    for metric in METRICS:
        if metric.name == name:
            return metric
    raise KeyError(f"no metric {name!r} in analysis.catalogue.METRICS")


def spread_metrics(metrics: tuple[Metric, ...] | None = None) -> tuple[str, ...]:
    """Per-stride metrics whose min/max/values the documents report (the engine's
    ``STRIDE_METRICS``), in the summary document's order: block by block
    (:data:`SUMMARY_METRIC_BLOCKS`), catalogue order within a block."""
    metrics = METRICS if metrics is None else metrics
    spread = [m for m in metrics if m.spread]
    for m in spread:
        if not m.per_stride or m.spec.summary is None or m.spec.summary[0] not in SUMMARY_METRIC_BLOCKS:
            raise ValueError(f"metric {m.name}: a spread needs a per-stride metric in a summary block")
    return tuple(m.name for m in sorted(spread, key=lambda m: SUMMARY_METRIC_BLOCKS.index(m.spec.summary[0])))


def series_metrics(metrics: tuple[Metric, ...] | None = None) -> dict[str, str]:
    """Per-frame series of per-stride metrics: series name -> stride column (the engine's
    ``SERIES_METRICS``; each stride's value holds from its completion on)."""
    metrics = METRICS if metrics is None else metrics
    return {m.series: m.name for m in metrics if m.per_stride and m.series}


def commentary_keys(metrics: tuple[Metric, ...] | None = None) -> tuple[str, ...]:
    """Session values the commentary reads (``SessionFacts.KEYS``): the spread metrics,
    then every other number a document reports and a side view can measure."""
    metrics = METRICS if metrics is None else metrics
    spread = spread_metrics(metrics)
    rest = tuple(m.name for m in metrics if m.name not in spread and not m.is_category and m.side_view
                 and (m.spec.summary or m.spec.form))
    return spread + rest


def computed_metrics(metrics: tuple[Metric, ...] | None = None) -> tuple[Metric, ...]:
    """Per-stride metrics computed by a declared function (``computed_by``): the stride
    table's catalogue columns, in catalogue order."""
    metrics = METRICS if metrics is None else metrics
    return tuple(m for m in metrics if m.computed_by is not None)


def cli_summary(metrics: tuple[Metric, ...] | None = None) -> tuple[Metric, ...]:
    """The metrics the CLI prints after processing, in its order."""
    metrics = METRICS if metrics is None else metrics
    return tuple(sorted((m for m in metrics if m.cli_order is not None), key=lambda m: m.cli_order))


def reference_table(metrics: tuple[Metric, ...] | None = None) -> str:
    """The Markdown table of reference ranges (docs/analysis.md): every metric, its unit,
    its range (or "none": no defensible published range), source and conditions."""
    metrics = METRICS if metrics is None else metrics
    lines = ["| metric | unit | range | source | conditions |", "|---|---|---|---|---|"]
    for m in metrics:
        unit = "category" if m.is_category else (m.unit or "1")
        ref = m.reference
        if ref is None:
            lines.append(f"| {m.name} | {unit} | none | | |")
            continue
        low, high = f"{ref.low:.{m.decimals}f}", f"{ref.high:.{m.decimals}f}"
        speed = f" (applies at {ref.speed_mps[0]:g}-{ref.speed_mps[1]:g} m/s)" if ref.speed_mps else ""
        lines.append(f"| {m.name} | {unit} | {low}-{high} | {ref.source} | {ref.conditions}{speed} |")
    return "\n".join(lines) + "\n"
