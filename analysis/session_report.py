"""The session's typed scalars and quality flags: :class:`Summary` (the engine's summary
stage, ``analysis.stride_stage.session_summary``, makes it) and :class:`Quality` (the
quality stage, ``analysis.quality.session_quality``; later stages add to it).

Both are frozen, with the engine's names and units. ``to_dict`` is what the lake stores
(the ``sessions`` row's scalar columns, ``quality_doc``), in the order the engine has
always written them; ``from_dict`` reads a stored one back (a sessions row, a
``quality_doc``), so that readers of the lake use the same attributes as readers of a
fresh analysis. The API renames nothing here: it picks the values its documents show."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from analysis.catalogue import computed_metrics
from analysis.vocabulary import joint_selected, selected_joints


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Summary:
    """The session's scalar metrics (``SessionAnalysis.summary``). None: not measured (the
    session's :attr:`Quality.missing` says why).

    Per-stride metrics are means over the strides that measure them
    (``analysis.results.measuring_strides``); their units are in the names:
    ``cadence_spm`` (steps/min, from the step-time fit), ``step_time_s``, ``contact_time_s``,
    ``flight_time_s``, ``stride_time_s`` (s), ``stride_length_m`` (m), ``speed_mps`` (m/s),
    ``pace_min_per_km`` (min/km), ``power_w`` (W, metabolic, needs the weight),
    ``normalized_power_w_per_kg`` (W/kg), ``balance_pct`` (left share of contact time, %),
    ``contact_angle_deg`` (deg), ``footstrike`` (the most frequent pattern: ``heel``,
    ``midfoot``, ``forefoot``), ``total_distance_m`` (m, speed x duration), ``total_time_s``
    (s, first to last frame with the runner), ``incline_deg`` (deg, as given),
    ``duty_factor`` (contact / stride time, 1), ``knee_flexion_deg``, ``ankle_angle_deg``
    (shank angle at contact), ``posture_angle_deg`` (trunk lean), ``stride_angle_deg`` (deg),
    ``com_oscillation_m``, ``mean_h_m`` (pelvis, m), ``eversion_velocity_deg_per_s`` (deg/s,
    always None: a side view cannot see it).

    ``computed``: the catalogue's computed per-stride metrics
    (:func:`analysis.catalogue.computed_metrics`, the stride table's ``extra`` columns) by
    name, so that a metric the catalogue adds reaches the summary without a field here.

    Calibration and context, not metrics: ``px_per_m`` (px/m, the body's image scale),
    ``facing`` (``+x``/``-x``: the runner's direction in the image) and ``mode``
    (``treadmill``/``overground``)."""

    cadence_spm: float | None = None
    step_time_s: float | None = None
    contact_time_s: float | None = None
    flight_time_s: float | None = None
    stride_time_s: float | None = None
    stride_length_m: float | None = None
    speed_mps: float | None = None
    pace_min_per_km: float | None = None
    power_w: float | None = None
    normalized_power_w_per_kg: float | None = None
    balance_pct: float | None = None
    contact_angle_deg: float | None = None
    footstrike: str | None = None
    total_distance_m: float | None = None
    total_time_s: float | None = None
    incline_deg: float | None = None
    duty_factor: float | None = None
    knee_flexion_deg: float | None = None
    ankle_angle_deg: float | None = None
    posture_angle_deg: float | None = None
    com_oscillation_m: float | None = None
    stride_angle_deg: float | None = None
    mean_h_m: float | None = None
    eversion_velocity_deg_per_s: float | None = None
    computed: Mapping[str, float | None] = field(default_factory=dict)
    px_per_m: float | None = None
    facing: str | None = None
    mode: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "computed", _frozen(self.computed))

    def value(self, name: str) -> Any:
        """The value of summary key ``name`` (a field or a :attr:`computed` metric), for the
        outputs that list their metrics from the catalogue; None when the session has none."""
        if name in self.computed:
            return self.computed[name]
        return getattr(self, name, None) if name in _SUMMARY_FIELDS else None

    def to_dict(self) -> dict[str, Any]:
        """``{key: value}`` in the engine's order (computed metrics after
        ``eversion_velocity_deg_per_s``, then ``px_per_m``, ``facing``, ``mode``): the
        sessions row's scalar columns."""
        out: dict[str, Any] = {}
        for name in _SUMMARY_FIELDS:
            if name == "px_per_m":
                out.update(self.computed)
            out[name] = getattr(self, name)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Summary:
        """The summary a mapping holds (the inverse of :meth:`to_dict`; a lake ``sessions`` row
        too, whose other columns are left out). Keys it lacks are None."""
        names = {m.name for m in computed_metrics()}
        return cls(**{k: d.get(k) for k in _SUMMARY_FIELDS},
                   computed={k: v for k, v in d.items() if k in names})

    @classmethod
    def coerce(cls, value: Summary | Mapping[str, Any] | None) -> Summary:
        """``value`` itself, or :meth:`from_dict` of a stored one (None: all None)."""
        return value if isinstance(value, Summary) else cls.from_dict(value or {})

    def with_values(self, values: Mapping[str, Any]) -> Summary:
        """The summary with the keys of ``values`` (fields or computed metrics) set; KeyError
        for a name that is neither."""
        unknown = set(values) - set(_SUMMARY_FIELDS) - set(self.computed) - {m.name for m in computed_metrics()}
        if unknown:
            raise KeyError(f"not summary keys: {sorted(unknown)}")
        computed = {**self.computed, **{k: v for k, v in values.items() if k not in _SUMMARY_FIELDS}}
        return replace(self, **{k: v for k, v in values.items() if k in _SUMMARY_FIELDS}, computed=computed)


_SUMMARY_FIELDS = tuple(f.name for f in fields(Summary) if f.name != "computed")


@dataclass(frozen=True)
class Quality:
    """The session's quality flags (``SessionAnalysis.quality``; the lake's ``quality_doc``).

    Of the engine (stage 9): ``missing`` (summary key -> reason code,
    ``analysis.quality.MISSING_REASONS``), ``short_clip`` (fewer than the needed strides per
    side), ``runner_share`` (share of frames with the runner, 0..1), ``mean_confidence``
    (keypoint confidence, 0..1), ``swaps_repaired`` / ``outliers_rejected`` (counts),
    ``strides_used`` / ``strides_left`` / ``strides_right`` (counts; the counts are None only
    in a stored document that lacks them), ``side_view`` and
    ``side_view_score`` (0..1), ``gait`` (``running``/``walking``), ``implausible_timing``,
    ``suggested_capture_fps`` (frames/s, None unless the timing is implausible),
    ``estimated_capture_fps`` and ``estimated_capture_fps_uncertainty`` (frames/s, from the
    flight phases; None without them), ``capture_fps_flights`` (flights the estimate used),
    ``mode``, ``default_height_used`` (the scale assumed a runner height), ``flight_share``
    (share of valid frames with no foot on the ground, 0..1), ``fps_used`` (the analysed
    rate, frames/s), ``frame_size`` ((width, height) px or None), ``px_per_m_left`` /
    ``px_per_m_right`` (each leg's scale, px/m), ``near_leg`` (``left``/``right``/None),
    ``stance_speed_left_mps`` / ``stance_speed_right_mps`` (each foot's belt speed on a
    treadmill, m/s, else None), ``angle_shown_share`` (angle key -> share of frames shown),
    ``frame_time_s`` (s, one analysed frame), ``joints`` (the selected joints; None in a
    document written before they were kept: every joint) and ``reasons`` (the notes, in English).

    ``added``: what the stages after it add, by the lake's keys, in the order added: the
    ``foot`` event method (``event_method``, ``event_method_fallback``), the segments
    (``segments``, ``cuts``, ``segments_detail``), ``frame_times``, the foot stage
    (``footstrike_source``, ``foot_model``, ``footstrike_left`` ...) and the pipeline's
    (``decoded_frames``, ``tracks_seen`` ...). :meth:`with_added` sets them, the
    properties below read the ones other modules need."""

    missing: Mapping[str, str] = field(default_factory=dict)
    short_clip: bool = False
    runner_share: float | None = None
    mean_confidence: float | None = None
    swaps_repaired: int | None = None
    outliers_rejected: int | None = None
    strides_used: int | None = None
    strides_left: int | None = None
    strides_right: int | None = None
    side_view: bool | None = None
    side_view_score: float | None = None
    gait: str | None = None
    implausible_timing: bool = False
    suggested_capture_fps: float | None = None
    estimated_capture_fps: float | None = None
    estimated_capture_fps_uncertainty: float | None = None
    capture_fps_flights: int | None = None
    mode: str | None = None
    default_height_used: bool = False
    flight_share: float | None = None
    fps_used: float | None = None
    frame_size: tuple[int, int] | None = None
    px_per_m_left: float | None = None
    px_per_m_right: float | None = None
    near_leg: str | None = None
    stance_speed_left_mps: float | None = None
    stance_speed_right_mps: float | None = None
    angle_shown_share: Mapping[str, float] = field(default_factory=dict)
    frame_time_s: float | None = None
    joints: tuple[str, ...] | None = None
    reasons: tuple[str, ...] = ()
    added: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("missing", "angle_shown_share", "added"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        if self.joints is not None:
            object.__setattr__(self, "joints", tuple(self.joints))
        object.__setattr__(self, "reasons", tuple(self.reasons))
        if self.frame_size is not None:
            object.__setattr__(self, "frame_size", tuple(self.frame_size))

    def with_added(self, **values: Any) -> Quality:
        """The flags with keys a later stage adds (:attr:`added`) set, each in its place."""
        clash = set(values) & set(_QUALITY_FIELDS)
        if clash:
            raise ValueError(f"engine flags are fields, set them with dataclasses.replace: {sorted(clash)}")
        return replace(self, added={**self.added, **values})

    def with_reasons(self, *, before: Sequence[str] = (), after: Sequence[str] = ()) -> Quality:
        """The flags with notes put before and after :attr:`reasons`."""
        return replace(self, reasons=(*before, *self.reasons, *after))

    @property
    def segments(self) -> int:
        """Continuous segments analysed (1 for a clip without cuts or when not said)."""
        return int(self.added.get("segments") or 1)

    def selected_joints(self) -> tuple[str, ...]:
        """The joints the session selected (:func:`analysis.vocabulary.selected_joints`)."""
        return selected_joints(self.joints)

    def selected(self, joint: str) -> bool:
        """Whether ``joint`` was selected (the trunk, ``posture``, always is)."""
        return joint_selected(self.joints, joint)

    def resolved_frame_time_s(self) -> float | None:
        """The frame time (s) the events are resolved to: :attr:`frame_time_s`, else
        ``1 / fps_used``; None when neither is a positive number."""
        for value in (self.frame_time_s, 1.0 / self.fps_used if _positive(self.fps_used) else None):
            if _positive(value):
                return float(value)
        return None

    @property
    def cuts(self) -> list[int]:
        """First frames of the continuous segments after the first (``[]`` without cuts)."""
        return list(self.added.get("cuts") or [])

    @property
    def segments_detail(self) -> list[dict[str, Any]]:
        """Each continuous segment's frames, times and own values (``analysis.segments.segment_summary``)."""
        return list(self.added.get("segments_detail") or [])

    @property
    def decoded_frames(self) -> int | None:
        """Frames the pipeline decoded (None outside the pipeline)."""
        return self.added.get("decoded_frames")

    @property
    def feet_measured(self) -> bool:
        """Whether the foot stage measured the foot strike (``footstrike_source == "measured"``)."""
        return self.added.get("footstrike_source") == "measured"

    def footstrike_side(self, side: str) -> Mapping[str, Any]:
        """The foot stage's summary of one side's measured contacts (``{}`` without it)."""
        return self.added.get(f"footstrike_{side}") or {}

    @property
    def footstrike_share(self) -> float | None:
        """Share of measured contacts with the majority pattern (None without the foot stage)."""
        return self.added.get("footstrike_share")

    @property
    def footstrike_excluded(self) -> Mapping[str, int]:
        """Contacts the foot stage left out, by reason."""
        return self.added.get("footstrike_excluded") or {}

    def to_dict(self) -> dict[str, Any]:
        """``{key: value}`` in the engine's order, then :attr:`added`'s: the lake's ``quality_doc``
        (lists where the lake has lists)."""
        out: dict[str, Any] = {name: getattr(self, name) for name in _QUALITY_FIELDS}
        out.update(missing=dict(self.missing), angle_shown_share=dict(self.angle_shown_share),
                   frame_size=None if self.frame_size is None else list(self.frame_size),
                   joints=None if self.joints is None else list(self.joints), reasons=list(self.reasons))
        out.update(self.added)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Quality:
        """The flags a stored ``quality_doc`` holds (the inverse of :meth:`to_dict`); an engine
        flag it lacks takes its default, a key that is no field goes to :attr:`added`."""
        d = d or {}
        own = {k: d[k] for k in _QUALITY_FIELDS if k in d and not (d[k] is None and k in _NOT_NONE)}
        return cls(**own, added={k: v for k, v in d.items() if k not in _QUALITY_FIELDS})

    @classmethod
    def coerce(cls, value: Quality | Mapping[str, Any] | None) -> Quality:
        """``value`` itself, or :meth:`from_dict` of a stored one."""
        return value if isinstance(value, Quality) else cls.from_dict(value)


_QUALITY_FIELDS = tuple(f.name for f in fields(Quality) if f.name != "added")
#: Flags whose stored None reads as the default (a mapping, a sequence, a flag).
_NOT_NONE = frozenset({"missing", "angle_shown_share", "reasons", "short_clip", "implausible_timing",
                       "default_height_used"})
