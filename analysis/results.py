"""The engine's typed results: :class:`SessionAnalysis` (what ``analysis.engine.analyze``
returns), per-metric statistics over a session (:func:`metric_stats`), the angle
series reported for a joint selection and the JSON-safe conversion of it all.

Readers of a session (``api/``, ``tasks/``) import from here, not from the engine."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from analysis.catalogue import spread_metrics
from analysis.events import GaitEvent
from analysis.phase_report import Phases
from analysis.session_report import Quality, Summary
from analysis.strides import StrideTable, as_stride_table
from analysis.vocabulary import JOINTS, POSTURE_KEY, SIDES, angle_key


def json_safe(x):
    """JSON-safe conversion, recursively: NaN/inf -> None, numpy arrays and scalars -> Python,
    a :class:`StrideTable` -> its rows, :class:`Phases`, :class:`Summary` and :class:`Quality`
    -> their ``to_dict``."""
    if isinstance(x, StrideTable):
        return x.rows()
    if isinstance(x, Phases | Summary | Quality):
        return json_safe(x.to_dict())
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, np.ndarray):
        return [json_safe(v) for v in x.tolist()]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    return x


#: Per-stride columns derived from the stride's speed (one belt-speed reading each, see below).
SPEED_DERIVED = ("speed_mps", "pace_min_per_km", "power_w", "normalized_power_w_per_kg")


#: Per-stride metrics whose session value is the mean over strides (their spread is reported too).
STRIDE_METRICS = spread_metrics()


def measuring_strides(strides: StrideTable, key: str, mode: str | None, near: str | None) -> np.ndarray:
    """The values of column ``key`` of the strides that enter the session's statistics of it
    (in stride order, NaN where a stride does not measure it).

    All strides, except for speed-derived metrics on a treadmill with a near leg:
    every stride reads the near foot's stance inside it, so a far-leg stride
    repeats its neighbour's reading and only the near leg's strides count (each
    belt-speed reading once, ``m.treadmill_belt_speed_mps``).
    """
    values = strides.column(key)
    if key in SPEED_DERIVED and mode == "treadmill" and near in ("left", "right"):
        return values[strides.side == near]
    return values


@dataclass(frozen=True)
class MetricStats:
    """One per-stride metric over a session.

    ``values``: the finite values of the strides that measure it
    (:func:`measuring_strides`), in stride order; ``min``/``max`` their extremes;
    ``avg`` the session's value (:meth:`Summary.value`), so that every output shows one
    number per quantity. All three are None when the session value is None (too
    few strides), ``values`` are still given.
    """

    min: float | None
    max: float | None
    avg: float | None
    values: tuple[float, ...]


def metric_stats(strides: StrideTable | list[dict], key: str, summary: Summary | Mapping,
                 quality: Quality | Mapping) -> MetricStats:
    """:class:`MetricStats` of the per-stride column ``key`` (e.g. ``speed_mps``).

    ``strides``: the engine's :class:`StrideTable` (or stride rows, e.g. the lake's
    ``strides`` table as rows: :meth:`StrideTable.from_rows`), ``summary``/``quality``
    the session's (or their stored forms, :meth:`Summary.from_dict`; ``quality`` gives
    ``mode`` and ``near_leg``)."""
    quality = Quality.coerce(quality)
    v = measuring_strides(as_stride_table(strides), key, quality.mode, quality.near_leg)
    v = v[np.isfinite(v)]
    values = tuple(float(a) for a in v)
    avg = Summary.coerce(summary).value(key)
    if avg is None or v.size == 0:
        return MetricStats(None, None, None if avg is None else avg, values)
    return MetricStats(float(v.min()), float(v.max()), avg, values)


def spread_stats(strides: StrideTable | list[dict], summary: Summary | Mapping,
                 quality: Quality | Mapping) -> dict[str, MetricStats]:
    """:func:`metric_stats` of every spread metric (:data:`STRIDE_METRICS`): what the lake stores
    with the session when it is written, so that readers never compute it again."""
    table = as_stride_table(strides)
    summary, quality = Summary.coerce(summary), Quality.coerce(quality)
    return {key: metric_stats(table, key, summary, quality) for key in STRIDE_METRICS}


@dataclass(frozen=True)
class SessionAnalysis:
    """Everything the engine measured on one session (see module docs); frozen.

    ``summary``: session scalars (:class:`analysis.session_report.Summary`); ``strides``: one row per
    complete stride and side (:class:`analysis.strides.StrideTable`); ``quality``: flags
    (:class:`analysis.session_report.Quality`), with reason codes in ``missing``; ``phases``:
    gait-phase report per side (:class:`analysis.phases.Phases`);
    ``frame_series``: per-frame series; ``events``: the counted IC/MS/TO events.
    The API shapes these as the spec's documents (``api/documents.py``)."""

    fps: float
    time_s: np.ndarray
    frame_series: dict[str, np.ndarray]
    events: list[GaitEvent]
    strides: StrideTable
    summary: Summary
    quality: Quality
    phases: Phases = field(default_factory=Phases)
    joints: tuple[str, ...] = JOINTS

    def angle_keys(self) -> list[str]:
        """Angle series reported for the selected joints, plus posture."""
        return angle_keys(self.joints)

    def metric_stats(self, key: str) -> MetricStats:
        """:func:`metric_stats` of one per-stride column of this session."""
        return metric_stats(self.strides, key, self.summary, self.quality)


def angle_keys(joints: tuple[str, ...]) -> list[str]:
    """Angle series reported for ``joints``, plus posture."""
    return [POSTURE_KEY] + [angle_key(side, j) for j in joints for side in SIDES]
