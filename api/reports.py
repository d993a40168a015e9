"""Building the spec's report documents from the lake (numbers) and the catalog (who, when).

The lake's ``sessions`` row carries the engine's summary as scalar columns with each
spread metric's statistics, its quality and phases as JSON (``quality_doc``, ``gait_doc``,
optional ``images_doc``) plus object keys (``video_key``, ``analyzed_video_key``), in the
schema :mod:`tasks.lake_schema` declares; :meth:`SessionRecord.doc` builds the summary,
details and form documents from them and the run's ``frames`` table (:mod:`api.documents`)
the first time they are asked for. A run in an older lake layout is refused
(:class:`storage.lake_layout.OutdatedRun`: reprocess it). Parsed rows are cached per
(session, pipeline version): a served lake version never changes, so the cache never goes stale.

Split by job: reading the lake (:mod:`api.lake_records`), the runner (:mod:`api.people`),
value formats (:mod:`api.report_format`); the documents are built here, and the names of
the other three are re-exported for the routers and the CLI.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from analysis.catalogue import computed_metrics
from analysis.phase_report import Phases
from analysis.results import json_safe
from analysis.vocabulary import FORM_IMAGES, GAIT_PHASES
from analysis.vocabulary import ANGLE_KEYS, POSTURE_KEY, SIDES, UnknownJointError, angle_key, parse_joints
from api import documents
from api.lake_records import (DOC_COLUMNS, KEYPOINT_CODES, LakeReader, SessionRecord, frames_to_export, record_from_row,
                              session_facts)
from api.people import Owner, age_on, age_years, user_info, user_information
from api.report_format import as_utc, dumps, fmt_date, fmt_time, number_or_none
from storage.catalog import RunningSession, Thread, ThreadStatus

# Re-exported: the routers and the CLI read the lake, people and formatting through this module.
__all__ = [
    "ACTIVITY", "DOC_COLUMNS", "FORM_IMAGES", "FORM_METRICS", "GAIT_PHASES", "KEYPOINT_CODES", "LakeReader", "Owner",
    "SessionMeta", "SessionRecord", "age_on", "age_years", "as_utc", "average_metrics", "dumps", "export",
    "filter_angles", "flatten_calculated", "fmt_date", "fmt_time", "form_analysis", "frames_to_export",
    "gait_analysis", "last_session_metrics", "latest_thread_texts", "number_or_none", "record_from_row",
    "session_details", "session_facts", "summary", "user_info", "user_information",
]

ACTIVITY = "Running"
FORM_METRICS = tuple(documents.FORM_METRICS)


# -- documents ---------------------------------------------------------------------
def filter_angles(angles: dict[str, Any], joints: str | None) -> dict[str, Any]:
    """``angles`` without the joint-angle series of joints not in ``joints`` (stored selection text;
    ``all`` or empty keeps everything); posture and other series are always kept."""
    if not joints or joints.strip().lower() == "all":
        return angles
    try:
        selected = parse_joints(joints)
    except UnknownJointError:
        selected = ()
    dropped = set(ANGLE_KEYS) - {POSTURE_KEY} - {angle_key(side, j) for j in selected for side in SIDES}
    return {key: value for key, value in angles.items() if key not in dropped}


def flatten_calculated(calculated: dict[str, Any]) -> dict[str, float]:
    """The details document's ``calculated_metrics`` (``<metric>_avg/_min/_max``) without the
    ones not measured (the spec's map holds numbers only)."""
    out: dict[str, float] = {}
    for key, value in calculated.items():
        n = number_or_none(value)
        if n is not None:
            out[key] = n
    return out


def latest_thread_texts(db, session_id: str, kind: str) -> dict[str, str]:
    """Block -> text of the newest finished thread of ``kind`` for the session."""
    rows = db.scalars(
        select(Thread)
        .where(Thread.session_id == session_id, Thread.kind == kind, Thread.status == ThreadStatus.DONE)
        .order_by(Thread.created_at)
    )
    return {row.block: row.text for row in rows if row.text}


@dataclass
class SessionMeta:
    id: str
    title: str
    created_at: datetime
    finished_at: datetime | None
    joints: str
    incline_deg: float
    height_cm: float | None
    weight_kg: float | None
    video_key: str | None

    @classmethod
    def from_catalog(cls, row: RunningSession) -> "SessionMeta":
        return cls(row.id, row.title, as_utc(row.created_at), as_utc(row.finished_at), row.joints or "all",
                   row.incline_deg or 0.0, row.height_cm, row.weight_kg, row.video_key)


def session_details(meta: SessionMeta, owner: Owner, record: SessionRecord, urls: dict[str, str | None],
                    summary_text: str | None) -> dict[str, Any]:
    doc = record.doc("details_doc")
    out: dict[str, Any] = {
        "metrics": json_safe(doc.get("metrics") or {}),
        "angles": json_safe(filter_angles(doc.get("angles") or {}, meta.joints)),
        "all_timestamps": json_safe(doc.get("all_timestamps") or []),
        "segments": int(doc.get("segments") or 1),      # continuous segments analysed (1 without cuts)
        "created_at": {"date": fmt_date(meta.created_at), "time": fmt_time(meta.created_at)},
        "user_name": owner.name or owner.email,
        "activity": ACTIVITY,
        "title": meta.title,
        "calculated_metrics": flatten_calculated(doc.get("calculated_metrics") or {}),
    }
    for name in ("analyzed_video_url", "video_url"):
        if urls.get(name):
            out[name] = urls[name]
    if summary_text:
        out["summary"] = summary_text
    return out


def summary(meta: SessionMeta, owner: Owner, record: SessionRecord, texts: dict[str, str]) -> dict[str, Any]:
    doc = record.doc("summary_doc")
    out: dict[str, Any] = {"summary_text": dict(texts)}  # required by the spec: {} until threads are saved
    doc = documents.with_references(doc)
    for block in documents.SUMMARY_BLOCKS:
        out[block] = json_safe(doc.get(block) or {})
    out["user_information"] = user_information(owner, meta.height_cm, meta.weight_kg)
    out["session_date"] = fmt_date(meta.created_at)
    return out


def export(meta: SessionMeta, record: SessionRecord, keypoints: dict[str, list], contact: list[bool]) -> dict[str, Any]:
    doc = record.doc("details_doc")
    return {
        "metrics": json_safe(doc.get("metrics") or {}),
        "keypoints": keypoints,
        "angles": json_safe(filter_angles(doc.get("angles") or {}, meta.joints)),
        "all_timestamps": json_safe(doc.get("all_timestamps") or []),
        "contact": contact,
        "activity": ACTIVITY,
    }


def form_analysis(meta: SessionMeta, owner: Owner, record: SessionRecord, image_urls: dict[str, str],
                  comments: dict[str, str]) -> dict[str, Any]:
    built = record.doc("form_doc").get("metrics") or {}
    metrics = {k: number_or_none(built.get(k)) for k in FORM_METRICS}
    out: dict[str, Any] = {
        "metrics": metrics,
        "images": {k: v for k, v in image_urls.items() if v},
        "user_info": user_info(owner, meta.height_cm, meta.weight_kg, with_count=False),
        "date": fmt_date(meta.finished_at or meta.created_at),
    }
    references = documents.form_references(metrics)
    if references:
        out["reference_ranges"] = references
    if comments:
        out["form_comments"] = comments
    return out


def gait_analysis(meta: SessionMeta, owner: Owner, record: SessionRecord, phase_urls: dict[str, dict[str, str | None]],
                  comments: dict[str, str]) -> dict[str, Any]:
    doc = documents.gait_document(Phases.from_dict(record.doc("gait_doc")))
    out: dict[str, Any] = {}
    for side in ("left", "right"):
        src = doc[side]
        phases = {name: {**phase, "image_url": phase_urls.get(side, {}).get(name)}
                  for name, phase in src["phases"].items()}
        out[side] = {
            "peak_time": number_or_none(src["peak_time"]),
            "phases": phases,
            "initiator": str(src["initiator"] or side),
            "angles": filter_angles(src["angles"], meta.joints),
            "graph_timestamps": src["graph_timestamps"],
        }
    out["user_info"] = user_info(owner, meta.height_cm, meta.weight_kg, with_count=True)
    if comments:
        out["report_comments"] = comments
    out["date"] = fmt_date(meta.finished_at or meta.created_at)
    return out


def _stats(block: Any) -> dict[str, float | None]:
    block = block if isinstance(block, dict) else {}
    return {k: number_or_none(block.get(k)) for k in ("avg", "min", "max")}


TOTAL_AVERAGES = (("avg_speed", "performance_metrics", "speed"), ("avg_power", "performance_metrics", "power"),
                  ("avg_cadence", "performance_metrics", "cadence"), ("avg_flight_time", "running_mechanics", "flight_time"))


def catalogue_totals() -> tuple[tuple[str, str], ...]:
    """(block, name) in GET summary of the catalogue's computed per-stride metrics
    (:func:`analysis.catalogue.computed_metrics`): the totals document carries each beside the
    spec's fixed fields (``avg_<name>`` and a last-session ``{avg, min, max}``), which strict
    spec clients ignore. Read at call time, so a metric the catalogue gains needs no edit here."""
    return tuple(m.spec.summary for m in computed_metrics() if m.spec.summary is not None)


def average_metrics(records: list[SessionRecord]) -> dict[str, float | None]:
    """Mean over sessions of each session's average (sessions without the number are left out)."""
    out: dict[str, float | None] = {}
    fixed = {name for name, _, _ in TOTAL_AVERAGES}
    extra = tuple((f"avg_{metric}", block, metric) for block, metric in catalogue_totals()
                  if f"avg_{metric}" not in fixed)
    for name, block, metric in (*TOTAL_AVERAGES, *extra):
        values = [number_or_none(((record.doc("summary_doc").get(block) or {}).get(metric) or {}).get("avg"))
                  for record in records]
        values = [v for v in values if v is not None]
        out[name] = math.fsum(values) / len(values) if values else None
    return out


def last_session_metrics(record: SessionRecord, incline_deg: float) -> dict[str, Any]:
    doc = record.doc("summary_doc")
    perf = doc.get("performance_metrics") or {}
    mech = doc.get("running_mechanics") or {}
    bal = doc.get("balance_and_posture") or {}
    dist = doc.get("distance_and_duration") or {}
    incline = float(incline_deg or 0.0)
    fixed = {
        "speed": _stats(perf.get("speed")),
        "normalized_power": _stats(perf.get("normalized_power")),
        "cadence": _stats(perf.get("cadence")),
        "total_distance": number_or_none(dist.get("total_distance")),
        "power": _stats(perf.get("power")),
        "stride_time": _stats(mech.get("stride_time")),
        "total_time": number_or_none(dist.get("total_time")),
        "contact_time": _stats(mech.get("contact_time")),
        "contact_angle": _stats(bal.get("contact_angle")),
        "incline": {"avg": incline, "min": incline, "max": incline},
        "pace": _stats(perf.get("pace")),
        "stride_length": _stats(mech.get("stride_length")),
        "rbalance": _stats(bal.get("balance")),
        "flight_time": _stats(mech.get("flight_time")),
        "footstrike": str(mech.get("footstrike") or "unknown"),
    }
    return {**fixed, **{name: _stats((doc.get(block) or {}).get(name)) for block, name in catalogue_totals()
                        if name not in fixed}}
