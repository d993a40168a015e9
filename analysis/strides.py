"""The engine's per-stride result: one typed, frozen table, one numpy array per column.

:class:`StrideTable` holds one row per complete stride and side, sorted by IC
frame (left first on ties), as ``analysis.stride_stage._stride_metrics`` measures
them with the functions of :mod:`analysis.metrics`. The session's values
(``analysis.results.metric_stats``, the summary), the lake's ``strides`` table
(``tasks.results.strides_table``, through :meth:`StrideTable.rows`), the API's
documents and the commentary read it. A table read back from the lake becomes
one again through :meth:`StrideTable.from_rows`.

Besides its fixed columns, a table carries the catalogue's computed per-stride
metrics (:func:`analysis.catalogue.computed_metrics`) in :attr:`StrideTable.extra`:
each a float column named as its metric, reached like a fixed one (``table.name``,
:meth:`StrideTable.column`, :meth:`StrideTable.rows` after the fixed columns).
:class:`StrideInputs` is what their functions in :mod:`analysis.metrics` read.

Missing values: NaN in float columns, ``None`` in ``footstrike``, and for the
integer column ``contralateral_ic_frame`` the explicit mask
``has_contralateral_ic`` (the frame is -1 where the mask is False).
:meth:`StrideTable.rows` turns every missing value into ``None``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np

from analysis import catalogue

__all__ = ["COLUMNS", "StrideInputs", "StrideTable", "as_stride_table", "catalogue_columns"]

#: Integer frame columns that every stride has.
FRAME_COLUMNS = ("ic_frame", "to_frame", "next_ic_frame")
#: The float columns (NaN where not measured), in table order.
FLOAT_COLUMNS = (
    "ic_time_s", "contact_time_s", "stride_time_s", "step_time_s", "flight_time_s", "cadence_spm", "duty_factor",
    "speed_mps", "pace_min_per_km", "stride_length_m", "power_w", "normalized_power_w_per_kg",
    "contact_angle_deg", "knee_flexion_deg", "ankle_angle_deg", "posture_angle_deg", "com_oscillation_m",
    "stride_angle_deg", "mean_h_m", "balance_pct", "footstrike_angle_deg", "footstrike_confidence",
)
#: Every column, in the order of the rows and of the lake's ``strides`` table.
COLUMNS = ("side", *FRAME_COLUMNS, "contralateral_ic_frame", *FLOAT_COLUMNS[:15], "footstrike",
           *FLOAT_COLUMNS[15:])
SIDE_VALUES = ("left", "right")


def catalogue_columns() -> tuple[str, ...]:
    """The catalogue's computed per-stride metrics (:func:`analysis.catalogue.computed_metrics`):
    the columns of :attr:`StrideTable.extra`, in catalogue order, after :data:`COLUMNS`."""
    return tuple(m.name for m in catalogue.computed_metrics())


@dataclass(frozen=True, eq=False, kw_only=True)
class StrideTable:
    """One row per complete stride and side; every attribute an equally long 1-D array
    (read-only). A stride of one foot runs from its initial contact (IC) to its next IC.

    Attributes
    ----------
    side : np.ndarray of str
        ``'left'`` or ``'right'``: the foot whose stride it is.
    ic_frame : np.ndarray of int64
        Frame of the stride's IC (its start).
    to_frame : np.ndarray of int64
        Frame of the first toe-off (TO) of the same foot after the IC.
    next_ic_frame : np.ndarray of int64
        Frame of the same foot's next IC (the stride's end).
    contralateral_ic_frame : np.ndarray of int64
        Frame of the other foot's first IC after ``ic_frame`` and before
        ``next_ic_frame``; -1 where there is none (see ``has_contralateral_ic``).
    has_contralateral_ic : np.ndarray of bool
        Mask of ``contralateral_ic_frame``: False where the other foot has no IC
        inside the stride (then step and flight time are NaN too).
    ic_time_s : np.ndarray of float64
        Sub-frame instant of the IC (s from the first frame).
    contact_time_s : np.ndarray of float64
        Ground contact time (s), :func:`analysis.metrics.contact_time_s`.
    stride_time_s : np.ndarray of float64
        Stride time (s), :func:`analysis.metrics.stride_time_s`.
    step_time_s : np.ndarray of float64
        Step time (s) to the contralateral IC, :func:`analysis.metrics.step_time_s`.
    flight_time_s : np.ndarray of float64
        Flight time (s), :func:`analysis.metrics.flight_time_s`.
    cadence_spm : np.ndarray of float64
        Cadence of the step (steps/min), :func:`analysis.metrics.cadence_spm`;
        NaN without a step or for a zero one.
    duty_factor : np.ndarray of float64
        Contact time / stride time (dimensionless), :func:`analysis.metrics.duty_factor`.
    speed_mps : np.ndarray of float64
        Speed (m/s): treadmill belt speed (:func:`analysis.metrics.treadmill_belt_speed_mps`)
        or overground pelvis speed (:func:`analysis.metrics.overground_speed_mps`).
    pace_min_per_km : np.ndarray of float64
        Pace (min/km), :func:`analysis.metrics.pace_min_per_km`.
    stride_length_m : np.ndarray of float64
        Stride length (m), :func:`analysis.metrics.stride_length_m`.
    power_w : np.ndarray of float64
        Metabolic power (W), :func:`analysis.metrics.metabolic_power_w`; NaN without weight.
    normalized_power_w_per_kg : np.ndarray of float64
        Mass-normalised power (W/kg), :func:`analysis.metrics.normalized_power_w_per_kg`.
    contact_angle_deg : np.ndarray of float64
        Leg angle at IC (deg, + = ankle ahead of hip), :func:`analysis.metrics.contact_angle_deg`.
    knee_flexion_deg : np.ndarray of float64
        Peak stance knee flexion (deg), :func:`analysis.metrics.knee_flexion_deg`.
    ankle_angle_deg : np.ndarray of float64
        Ankle angle at IC (deg, proxy), :func:`analysis.metrics.ankle_angle_at_ic_deg`.
    footstrike : np.ndarray of object
        ``'rearfoot'``, ``'midfoot'``, ``'forefoot'`` or None,
        :func:`analysis.metrics.footstrike_proxy`.
    posture_angle_deg : np.ndarray of float64
        Mean trunk lean over the stride (deg, + forward), :func:`analysis.metrics.posture_angle_deg`.
    com_oscillation_m : np.ndarray of float64
        Vertical oscillation of the pelvis over one step (m), :func:`analysis.metrics.com_oscillation_m`.
    stride_angle_deg : np.ndarray of float64
        Largest angle between the thighs (deg), :func:`analysis.metrics.stride_angle_deg`.
    mean_h_m : np.ndarray of float64
        Mean pelvis height above the floor (m), :func:`analysis.metrics.mean_height_m`.
    balance_pct : np.ndarray of float64
        Contact-time balance (%, 50 = symmetric) against the other side's next
        stride, :func:`analysis.metrics.balance_pct`; NaN where there is none.
    footstrike_angle_deg : np.ndarray of float64
        Measured sole angle at touchdown (deg, + toe up), :func:`analysis.feet.touchdown_angle_deg`;
        NaN without the foot stage or for an unusable contact (then ``footstrike`` is None).
    footstrike_confidence : np.ndarray of float64
        Smallest heel/toe confidence of that measurement (0..1), :func:`analysis.feet.contact_quality`.
    extra : Mapping[str, np.ndarray of float64]
        The catalogue's computed per-stride metrics by name (:func:`catalogue_columns`,
        each in its metric's unit), also reached as attributes (``table.<name>``).

    Raises
    ------
    ValueError
        When the arrays are not 1-D, differ in length, a side is neither left nor
        right, or ``contralateral_ic_frame`` is not -1 where it is masked.
    """

    side: np.ndarray
    ic_frame: np.ndarray
    to_frame: np.ndarray
    next_ic_frame: np.ndarray
    contralateral_ic_frame: np.ndarray
    has_contralateral_ic: np.ndarray
    ic_time_s: np.ndarray
    contact_time_s: np.ndarray
    stride_time_s: np.ndarray
    step_time_s: np.ndarray
    flight_time_s: np.ndarray
    cadence_spm: np.ndarray
    duty_factor: np.ndarray
    speed_mps: np.ndarray
    pace_min_per_km: np.ndarray
    stride_length_m: np.ndarray
    power_w: np.ndarray
    normalized_power_w_per_kg: np.ndarray
    contact_angle_deg: np.ndarray
    knee_flexion_deg: np.ndarray
    ankle_angle_deg: np.ndarray
    footstrike: np.ndarray
    posture_angle_deg: np.ndarray
    com_oscillation_m: np.ndarray
    stride_angle_deg: np.ndarray
    mean_h_m: np.ndarray
    balance_pct: np.ndarray
    footstrike_angle_deg: np.ndarray | None = None
    footstrike_confidence: np.ndarray | None = None
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("footstrike_angle_deg", "footstrike_confidence"):   # added later: NaN when not given
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.full(np.asarray(self.side).size, np.nan))
        n = np.asarray(self.side).size
        for f in _array_fields():
            object.__setattr__(self, f, _column_view(f, getattr(self, f), n))
        clash = set(self.extra) & {f.name for f in fields(self)}
        if clash:
            raise ValueError(f"StrideTable.extra repeats a fixed column: {sorted(clash)}.")
        extra = {k: _column_view(k, v, n) for k, v in self.extra.items()}
        object.__setattr__(self, "extra", MappingProxyType(extra))
        bad = ~np.isin(self.side, SIDE_VALUES)
        if bad.any():
            raise ValueError(f"StrideTable.side must be left or right, got {self.side[bad][0]!r}.")
        if (self.contralateral_ic_frame[~self.has_contralateral_ic] != -1).any():
            raise ValueError("StrideTable.contralateral_ic_frame must be -1 where has_contralateral_ic is False.")

    def __getstate__(self) -> dict[str, Any]:
        # a mappingproxy does not pickle: pickle (and deepcopy) the catalogue columns as a dict
        return {**self.__dict__, "extra": dict(self.extra)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({**state, "extra": MappingProxyType(dict(state.get("extra") or {}))})

    def __getattr__(self, name: str) -> np.ndarray:
        # only reached when no attribute has the name: a catalogue column of ``extra``
        extra = self.__dict__.get("extra") or {}
        if name in extra:
            return extra[name]
        raise AttributeError(f"StrideTable has no column {name!r}")

    # --- constructors ------------------------------------------------------------
    @classmethod
    def empty(cls) -> StrideTable:
        """A table without strides (and an empty column of each catalogue metric)."""
        return cls(**{f: np.zeros(0, dtype=_dtype(f)) for f in _array_fields()},
                   extra={name: np.zeros(0) for name in catalogue_columns()})

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> StrideTable:
        """The table of stride rows: :meth:`rows` of a table, or the lake's ``strides`` table
        as rows (``pyarrow.Table.to_pylist()``), with a catalogue column for each of
        :func:`catalogue_columns`. Keys that are no column (``stride_index``) are ignored; None, and a float column a row lacks, become NaN (``None`` in
        ``footstrike``, masked in ``contralateral_ic_frame``). ``side`` and the frame columns
        are required."""
        rows = list(rows)
        cols: dict[str, Any] = {"side": np.array([r["side"] for r in rows], dtype=str)}
        for name in FRAME_COLUMNS:
            cols[name] = np.array([r[name] for r in rows], dtype=np.int64)
        contra = [r.get("contralateral_ic_frame") for r in rows]
        cols["has_contralateral_ic"] = np.array([c is not None for c in contra], dtype=bool)
        cols["contralateral_ic_frame"] = np.array([-1 if c is None else c for c in contra], dtype=np.int64)
        for name in FLOAT_COLUMNS:
            cols[name] = np.array([_float(r.get(name)) for r in rows], dtype=np.float64)
        cols["footstrike"] = np.array([r.get("footstrike") for r in rows], dtype=object)
        extra = {name: np.array([_float(r.get(name)) for r in rows], dtype=np.float64) for name in catalogue_columns()}
        return cls(**cols, extra=extra)

    # --- access ------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.side.size)

    def column(self, name: str) -> np.ndarray:
        """The column ``name`` (one of :data:`COLUMNS`, or a catalogue column of :attr:`extra`)."""
        if name in self.extra:
            return self.extra[name]
        if name not in COLUMNS:
            raise KeyError(f"no stride column {name!r}")
        return getattr(self, name)

    def take(self, which: np.ndarray) -> StrideTable:
        """The strides selected by a boolean mask or an index array, in that order."""
        return type(self)(**{f: getattr(self, f)[which] for f in _array_fields()},
                          extra={k: v[which] for k, v in self.extra.items()})

    def of_side(self, side: str) -> StrideTable:
        """The strides of one side (``'left'`` or ``'right'``), in table order."""
        return self.take(self.side == side)

    def count(self, side: str) -> int:
        """Number of strides of one side."""
        return int((self.side == side).sum())

    def rows(self) -> list[dict[str, Any]]:
        """One dict per stride, keys :data:`COLUMNS` then :attr:`extra`'s in order, Python
        scalars, JSON-safe: None for every missing value (NaN/inf, a masked contralateral IC,
        no footstrike)."""
        cols: dict[str, list] = {"side": self.side.tolist()}
        for name in FRAME_COLUMNS:
            cols[name] = getattr(self, name).tolist()
        cols["contralateral_ic_frame"] = _with_none(self.contralateral_ic_frame, ~self.has_contralateral_ic)
        for name in FLOAT_COLUMNS:
            values = getattr(self, name)
            cols[name] = _with_none(values, ~np.isfinite(values))
        cols["footstrike"] = self.footstrike.tolist()
        for name, values in self.extra.items():
            cols[name] = _with_none(values, ~np.isfinite(values))
        names = (*COLUMNS, *self.extra)
        return [dict(zip(names, vals)) for vals in zip(*(cols[k] for k in names))]


def as_stride_table(strides: StrideTable | Sequence[Mapping[str, Any]] | None) -> StrideTable:
    """``strides`` as a :class:`StrideTable`: a table as it is, rows through
    :meth:`StrideTable.from_rows`, None as an empty table."""
    if isinstance(strides, StrideTable):
        return strides
    return StrideTable.from_rows(strides or [])


@dataclass(frozen=True, eq=False)
class StrideInputs:
    """What a catalogue metric's function (``Metric.computed_by`` in :mod:`analysis.metrics`)
    reads to compute its value for every stride at once: the stride table's fixed columns
    and the session's per-frame kinematics.

    ``strides``: the table without catalogue columns (sides, event frames, ``ic_time_s``
    and every fixed metric); ``to_time_s``, ``next_ic_time_s``,
    ``contralateral_ic_time_s``: sub-frame instants (s) of each stride's toe-off, end and
    contralateral IC (NaN without one); ``fps``: the analysed frame rate (Hz);
    ``keypoints_xy``: (T, 17, 2) COCO-17 image coordinates (px); ``angles``: per-frame
    joint angles (deg, the engine's ``frame_series`` names); ``pelvis_height_m``: (T,)
    pelvis height above the floor line (m); ``mode``: ``treadmill`` or ``overground``.
    """

    strides: StrideTable
    to_time_s: np.ndarray
    next_ic_time_s: np.ndarray
    contralateral_ic_time_s: np.ndarray
    fps: float
    keypoints_xy: np.ndarray
    angles: Mapping[str, np.ndarray]
    pelvis_height_m: np.ndarray
    mode: str


def _array_fields() -> tuple[str, ...]:
    """The fixed columns' attributes (every field but ``extra``)."""
    return tuple(f.name for f in fields(StrideTable) if f.name != "extra")


def _column_view(name: str, column: Any, n: int) -> np.ndarray:
    """``column`` as a read-only 1-D array of ``n`` values of its dtype (the caller's array stays
    writable); ValueError otherwise."""
    value = np.asarray(column, dtype=_dtype(name))
    if value.ndim != 1:
        raise ValueError(f"StrideTable.{name} must be 1-D, got shape {value.shape}.")
    if value.size != n:
        raise ValueError(f"StrideTable columns differ in length: {name} has {value.size}, side has {n}.")
    value = value.view()
    value.flags.writeable = False
    return value


def _dtype(name: str):
    if name == "side":
        return str
    if name in FRAME_COLUMNS or name == "contralateral_ic_frame":
        return np.int64
    if name == "has_contralateral_ic":
        return bool
    if name == "footstrike":
        return object
    return np.float64


def _float(value: Any) -> float:
    return np.nan if value is None else float(value)


def _with_none(values: np.ndarray, none: np.ndarray) -> list:
    """``values`` as a list, None where ``none``."""
    out = values.tolist()
    for i in np.flatnonzero(none).tolist():
        out[i] = None
    return out
