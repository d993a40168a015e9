"""What the artifacts are drawn from: one session as the lake stores it (:class:`RenderData`),
the gait events the overlay marks, and which keypoints are drawn as doubtful.

Nothing here draws or encodes; everything is built from the lake's ``frames`` /
``sessions`` / ``strides`` tables of one session, never from a new pose run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from analysis.keypoints import KEYPOINT_NAMES, KP
from analysis.phase_report import Phases
from analysis.session_report import Quality, Summary
from analysis.vocabulary import SIDES, angle_key


class RenderError(RuntimeError):
    """An artifact could not be rendered; the message says which and why."""


@dataclass
class RenderData:
    """One session as the lake stores it, in the arrays the renderer needs.

    Attributes
    ----------
    xy : ndarray (T, 17, 2)
        Cleaned keypoints in source-frame pixels (``<name>_x_px/_y_px``); NaN = missing.
    contact : dict side -> ndarray (T,) bool
        Per-frame foot contact flags.
    angles : dict name -> ndarray (T,)
        Joint angles (deg) ``{l,r}{hip,kne,ank,sho,elb}_angle`` and ``posture_angle``.
    series : dict name -> ndarray (T,)
        Metric series (``cadence``, ``contact_time``, ``speed``, ...), NaN until known.
    time_s : ndarray (T,)
    events : list of (frame, side, kind)
        kind in IC, MS, TO (from the contact flags and peak stance knee flexion,
        the engine's own definitions).
    phases : Phases
        The engine's gait-phase report (marks per side, stride-normalised curves), from the
        lake's ``gait_doc``.
    strides : list of dict
        Rows of the ``strides`` table.
    summary : dict
        The ``sessions`` row: scalar session metrics (``cadence_spm``, ...; typed as
        :attr:`metrics`) and its JSON documents (``quality_doc``: :attr:`quality`).
    """

    xy: np.ndarray
    contact: dict[str, np.ndarray]
    angles: dict[str, np.ndarray]
    series: dict[str, np.ndarray]
    time_s: np.ndarray
    events: list[tuple[int, str, str]]
    phases: Phases = field(default_factory=Phases)
    strides: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    #: Pose confidence per keypoint (T, 17) from ``<name>_conf``; None = unknown (all trusted).
    conf: np.ndarray | None = None
    #: Heel and toe per side from the foot stage: side -> (T, 2, 3) [heel, toe] x px, y px, confidence;
    #: None for a session written without it.
    feet: dict[str, np.ndarray] | None = None
    _low: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def n_frames(self) -> int:
        return int(self.xy.shape[0])

    @property
    def low_confidence(self) -> np.ndarray:
        """(T, 17) bool: points drawn hollow because they cannot be trusted (:func:`low_confidence_mask`)."""
        if self._low is None:
            self._low = low_confidence_mask(self.xy, self.conf)
        return self._low

    @property
    def quality(self) -> Quality:
        """The engine's quality flags for this session (``quality_doc`` of the sessions row)."""
        return Quality.from_dict(_json_doc(self.summary.get("quality_doc")))

    @property
    def metrics(self) -> Summary:
        """The session's scalar metrics (the sessions row's summary columns, typed)."""
        return Summary.from_dict(self.summary)

    @classmethod
    def from_tables(cls, frames: pa.Table, sessions: pa.Table | dict | None = None,
                    strides: pa.Table | list | None = None) -> "RenderData":
        """Build from the lake's ``frames`` / ``sessions`` / ``strides`` tables of one session."""
        cols = set(frames.column_names)
        T = frames.num_rows

        def col(name: str) -> np.ndarray:
            if name not in cols:
                return np.full(T, np.nan)
            return np.asarray(frames.column(name).to_numpy(zero_copy_only=False), dtype=float)

        xy = np.full((T, 17, 2), np.nan)
        for i, name in enumerate(KEYPOINT_NAMES):
            xy[:, i, 0] = col(f"{name}_x_px")
            xy[:, i, 1] = col(f"{name}_y_px")
        conf = np.stack([col(f"{name}_conf") for name in KEYPOINT_NAMES], axis=1) if any(
            f"{name}_conf" in cols for name in KEYPOINT_NAMES) else None
        contact = {s: np.nan_to_num(col(f"{s}_contact")) > 0.5 for s in SIDES}
        angles = {c: col(c) for c in frames.column_names if c.endswith("_angle")}
        series = {c: col(c) for c in ("cadence", "contact_time", "flight_time", "speed", "pace",
                                      "stride_length", "balance", "contact_angle", "distance")}
        time_s = col("time_s") if "time_s" in cols else np.arange(T, dtype=float)
        row: dict = {}
        if isinstance(sessions, pa.Table):
            row = sessions.slice(0, 1).to_pylist()[0] if sessions.num_rows else {}
        elif isinstance(sessions, dict):
            row = sessions
        phases = Phases.from_dict(_json_doc(row.get("gait_doc")))
        if isinstance(strides, pa.Table):
            strides = strides.to_pylist()
        events = stored_events(row.get("events_doc"))
        if events is None:  # a run written before the lake kept the engine's events
            events = events_from_contact(contact, angles)
        feet = None
        if all(f"{s}_{p}_{c}" in cols for s in SIDES for p in ("heel", "toe") for c in ("x_px", "y_px", "conf")):
            feet = {s: np.stack([np.stack([col(f"{s}_{p}_x_px"), col(f"{s}_{p}_y_px"), col(f"{s}_{p}_conf")], axis=1)
                                 for p in ("heel", "toe")], axis=1) for s in SIDES}
        return cls(xy=xy, contact=contact, angles=angles, series=series, time_s=time_s,
                   events=events, phases=phases, strides=list(strides or []), summary=row, conf=conf,
                   feet=feet)


def _json_doc(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            doc = json.loads(value)
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}
    return {}


def stored_events(events_doc: Any) -> list[tuple[int, str, str]] | None:
    """The IC/MS/TO events the engine counted (the sessions row's ``events_doc``), as
    ``(frame, side, kind)`` in the overlay's order; ``None`` when the row has none.

    The overlay labels exactly these: events re-derived from the contact flags would
    skip the engine's validity gate and could mark a strike the metrics never counted."""
    doc = _json_doc(events_doc)
    if "events" not in doc:
        return None
    order = {"IC": 0, "MS": 1, "TO": 2}
    out = [(int(e["frame"]), str(e["side"]), str(e["kind"])) for e in doc["events"] if e.get("kind") in order]
    out.sort(key=lambda e: (e[0], order[e[2]], e[1]))
    return out


def events_from_contact(contact: dict[str, np.ndarray], angles: dict[str, np.ndarray]) -> list[tuple[int, str, str]]:
    """IC = first contact frame, TO = first frame off, MS = peak knee flexion in between
    (the engine's conventions, docs/analysis.md). Only complete contacts give a TO/MS.
    Used only for runs whose sessions row has no ``events_doc`` (:func:`stored_events`)."""
    out: list[tuple[int, str, str]] = []
    for side in SIDES:
        c = contact[side].astype(np.int8)
        d = np.diff(np.concatenate([[0], c, [0]]))
        starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        knee = angles.get(angle_key(side, "knee"))
        for a, b in zip(starts, ends):
            if a > 0:
                out.append((int(a), side, "IC"))
            if b < len(c):
                out.append((int(b), side, "TO"))
                if knee is not None and a > 0 and np.isfinite(knee[a:b]).any():
                    out.append((int(a + np.nanargmax(knee[a:b])), side, "MS"))
    order = {"IC": 0, "MS": 1, "TO": 2}
    out.sort(key=lambda e: (e[0], order[e[2]], e[1]))
    return out


#: A keypoint whose pose confidence is below this is drawn hollow (the tracker drops points
#: under tracking.min_keypoint_conf, 0.3, and interpolates them; 0.3-0.5 are kept but doubtful).
LOW_CONF = 0.5
#: Knee and ankle of both legs closer than this share of the thigh length in the same frame:
#: the detector put both legs on one (motion blur), so neither leg's points can be trusted.
COLLAPSE_SHARE = 0.25
_LEG_PAIRS = ((KP.LEFT_KNEE, KP.RIGHT_KNEE), (KP.LEFT_ANKLE, KP.RIGHT_ANKLE))


def low_confidence_mask(xy: np.ndarray, conf: np.ndarray | None = None) -> np.ndarray:
    """(T, 17) bool: keypoints not to be drawn as solid.

    A point is low-confidence when its pose confidence is below :data:`LOW_CONF`
    (NaN confidence = an interpolated point = low), or, for the knees and ankles,
    when both legs collapse onto one: left and right knee *and* left and right
    ankle each closer than :data:`COLLAPSE_SHARE` of the median thigh length
    (knees alone cross every stride; knees and ankles together only when the
    detector has put both legs on the same one).
    """
    T = xy.shape[0]
    low = np.zeros((T, xy.shape[1]), bool)
    if conf is not None and conf.shape[:2] == low.shape and np.isfinite(conf).any():
        low |= ~(np.nan_to_num(conf, nan=0.0) >= LOW_CONF) & np.isfinite(xy).all(axis=2)
    thighs = [np.linalg.norm(xy[:, k] - xy[:, h], axis=1) for h, k in ((KP.LEFT_HIP, KP.LEFT_KNEE),
                                                                      (KP.RIGHT_HIP, KP.RIGHT_KNEE))]
    finite = np.concatenate([t[np.isfinite(t)] for t in thighs])
    if finite.size:
        limit = COLLAPSE_SHARE * float(np.median(finite))
        with np.errstate(invalid="ignore"):
            close = [np.linalg.norm(xy[:, a] - xy[:, b], axis=1) < limit for a, b in _LEG_PAIRS]
        collapsed = close[0] & close[1]
        for a, b in _LEG_PAIRS:
            low[collapsed, a] = low[collapsed, b] = True
    return low


def doubt_mark(data: RenderData, i: int, side: str) -> str:
    """``?`` after an angle label whose knee or ankle point is low-confidence, else nothing."""
    low = data.low_confidence[min(i, data.n_frames - 1)]
    return "?" if low[KP[f"{side.upper()}_KNEE"]] or low[KP[f"{side.upper()}_ANKLE"]] else ""
