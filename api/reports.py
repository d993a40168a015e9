"""Building the spec's report documents from the lake (numbers) and the catalog (who, when).

The lake's ``sessions`` row carries the engine's summary as scalar columns, its
quality and phases as JSON (``quality_doc``, ``gait_doc``, optional ``images_doc``)
plus object keys (``video_key``, ``analyzed_video_key``); :meth:`SessionRecord.doc`
builds the summary, details and form documents from them and the run's ``strides``
and ``frames`` tables (:mod:`api.documents`) the first time they are asked for. Rows
written before that still carry ``summary_doc``, ``details_doc`` and ``form_doc``,
which are served as stored. Parsed rows are cached per (session, pipeline
version): a served lake version never changes, so the cache never goes stale.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
from contextlib import contextmanager
from datetime import date
from dataclasses import dataclass, field
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from cachetools import LRUCache
from sqlalchemy import func, select

from analysis.commentary import SessionFacts
from analysis.results import json_safe
from analysis.vocabulary import FORM_IMAGES, GAIT_PHASES
from analysis.vocabulary import ANGLE_KEYS, POSTURE_KEY, SIDES, UnknownJointError, angle_key, parse_joints
from api import documents
from api.responses import encode
from storage.catalog import RunningSession, Thread, ThreadStatus, User
from storage.lake import DamagedRun, Lake, Manifest

ACTIVITY = "Running"
DOC_COLUMNS = ("summary_doc", "details_doc", "form_doc", "gait_doc", "quality_doc", "images_doc", "export_doc")
FORM_METRICS = tuple(documents.FORM_METRICS)


def dumps(value: Any) -> str:
    """Compact JSON text (orjson: numpy arrays serialised, NaN/Infinity as null)."""
    return encode(value).decode()


# -- formatting ----------------------------------------------------------------
def as_utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def fmt_date(value: datetime | str | None) -> str:
    dt = as_utc(value)
    return dt.strftime("%d/%m/%Y") if dt else ""


def fmt_time(value: datetime | str | None) -> str:
    dt = as_utc(value)
    return dt.strftime("%I:%M %p") if dt else ""


def number_or_none(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


# -- lake access -----------------------------------------------------------------
@dataclass
class SessionRecord:
    """One served lake row, parsed."""

    session_id: str
    pipeline_version: str
    row: dict[str, Any]
    docs: dict[str, Any] = field(default_factory=dict)
    manifest: Manifest | None = None  # the run it was read from (None: the demo)
    read_table: Callable[[str], pa.Table | None] | None = None  # another table of that run

    def doc(self, name: str) -> dict[str, Any]:
        """A document of the session: as stored, or built from the run's typed results
        (:data:`api.documents.BUILT`, once; the record is cached per served version)."""
        value = self.docs.get(name)
        if value is None and name in documents.BUILT and self.read_table is not None:
            value = self.docs[name] = documents.from_lake(name, self.row, self.doc("quality_doc"), self.read_table)
        return value if isinstance(value, dict) else {}

    def strides(self) -> list[dict[str, Any]]:
        """The run's stride rows (its ``strides`` table; [] without one)."""
        table = self.read_table("strides") if self.read_table is not None else None
        return table.to_pylist() if table is not None else []


def session_facts(record: SessionRecord, profile: dict[str, Any] | None = None) -> SessionFacts:
    """The numbers commentary may use, from a served record: the engine's summary (the row's
    scalars), quality, phases and strides."""
    return SessionFacts.from_results(record.row, record.doc("quality_doc"), record.doc("gait_doc"),
                                     record.strides(), profile)


def record_from_row(session_id: str, pipeline_version: str, row: dict[str, Any], manifest: Manifest | None = None,
                    read_table: Callable[[str], pa.Table | None] | None = None) -> SessionRecord:
    docs = {}
    for name in DOC_COLUMNS:
        raw = row.get(name)
        if isinstance(raw, str) and raw:
            docs[name] = json.loads(raw)
        elif isinstance(raw, dict):
            docs[name] = raw
    return SessionRecord(session_id, pipeline_version, row, docs, manifest, read_table)


class _KeyedLocks:
    """One lock per key while it is in use: work on one key runs once at a time, other keys in parallel.

    (cachetools' ``cached(condition=)``, which the document cache uses, would also keep a ``None``
    record, which must be looked for again, and cannot file a record under its manifest's version.)"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[Any, list] = {}   # key -> [lock, holders and waiters]

    @contextmanager
    def hold(self, key: Any):
        with self._lock:
            entry = self._held.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._lock:
                entry[1] -= 1
                if not entry[1]:
                    del self._held[key]


class LakeReader:
    """Served lake rows of catalog sessions, parsed once per (session, served version).

    A run whose manifest or files are missing or unreadable raises
    :class:`storage.lake.DamagedRun` (answered 503 by the API, see docs/api.md).
    """

    def __init__(self, lake: Lake, cache_size: int = 256):
        self.lake = lake
        self._records: LRUCache = LRUCache(max(1, cache_size))
        self._exports: LRUCache = LRUCache(max(4, cache_size // 8))
        self._lock = threading.Lock()
        self._loading = _KeyedLocks()

    def _cached(self, cache: LRUCache, key: Any) -> Any:
        with self._lock:
            return cache.get(key)

    def _remember(self, cache: LRUCache, key: Any, value: Any) -> None:
        with self._lock:
            cache[key] = value

    def manifest(self, session: RunningSession) -> Manifest | None:
        """The manifest of the version the catalog names (else the served one); DamagedRun if garbled."""
        if session.pipeline_version:
            try:
                return self.lake.served_manifest(session.id, session.pipeline_version)
            except DamagedRun as exc:
                if exc.problem != "is missing":
                    raise
        return self.lake.current_manifest(session.id)

    def cached(self, session: RunningSession) -> SessionRecord | None:
        """The record if it is in memory (no lake access), else None."""
        return self._cached(self._records, (session.id, session.pipeline_version)) if session.pipeline_version else None

    def record(self, session: RunningSession) -> SessionRecord | None:
        cached = self.cached(session)
        if cached is not None:
            return cached
        # One lake read per session at a time: the many readers of a session nobody has read yet
        # (a new server, a newly processed session) wait for the first instead of each reading it.
        with self._loading.hold(session.id):
            return self._load(session)

    def _load(self, session: RunningSession) -> SessionRecord | None:
        cached = self.cached(session)   # read by a concurrent reader while this one waited
        if cached is not None:
            return cached
        manifest = self.manifest(session)
        if manifest is None or "sessions" not in manifest.files:
            return None
        cache_key = (session.id, manifest.pipeline_version)
        cached = self._cached(self._records, cache_key)
        if cached is not None:
            return cached
        table = self.lake.read_table(session.id, "sessions", manifest=manifest)
        self.lake.verify_run(manifest)  # the other tables: present, Parquet, right row count (footers only)
        if table is None or table.num_rows == 0:
            return None
        row = table.slice(0, 1).to_pylist()[0]
        try:
            record = record_from_row(session.id, manifest.pipeline_version, row, manifest,
                                     lambda name: self.lake.read_table(session.id, name, manifest=manifest))
        except ValueError as exc:  # a document column that is not JSON
            raise DamagedRun(session.id, manifest.files["sessions"], f"holds a document that is not JSON ({exc})") from None
        self._remember(self._records, cache_key, record)
        if session.pipeline_version and session.pipeline_version != manifest.pipeline_version:
            self._remember(self._records, (session.id, session.pipeline_version), record)
        return record

    def export_series(self, record: SessionRecord) -> tuple[dict[str, list], list[bool]]:
        """(keypoints, contact) per frame, from ``export_doc`` or the ``frames`` table."""
        doc = record.doc("export_doc")
        if doc:
            return dict(doc.get("keypoints") or {}), list(doc.get("contact") or [])
        if record.manifest is None or "frames" not in record.manifest.files:
            return {}, []
        cache_key = (record.session_id, record.pipeline_version)
        cached = self._cached(self._exports, cache_key)
        if cached is not None:
            return cached
        frames = self.lake.read_table(record.session_id, "frames", manifest=record.manifest)
        result = frames_to_export(frames)
        self._remember(self._exports, cache_key, result)
        return result


KEYPOINT_CODES = {
    "nose": "nose", "eye": "eye", "ear": "ear", "shoulder": "sho", "elbow": "elb", "wrist": "wri",
    "hip": "hip", "knee": "kne", "ankle": "ank",
}


def _truthy(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float):
        return math.isfinite(value) and value > 0.5
    return bool(value)


def frames_to_export(frames: pa.Table) -> tuple[dict[str, list], list[bool]]:
    """Export series from the lake's ``frames`` table.

    For every COCO keypoint with metric coordinates (``<name>_x_m``/``<name>_y_m``;
    pixel ``_x_px``/``_x_raw`` when no scale exists) the export has
    ``<l|r><code>x``, ``<l|r><code>y`` (position) and ``<l|r><code>v`` (speed,
    per second), e.g. ``lknex``, ``lkney``, ``lknev``; ``code`` is ``sho elb wri
    hip kne ank eye ear``, and ``nosex``/``nosey``/``nosev`` for the nose.
    ``contact`` is true where either foot is on the ground.
    """
    import numpy as np

    names = set(frames.column_names)
    n = frames.num_rows
    if "contact" in names:
        contact = [_truthy(v) for v in frames.column("contact").to_pylist()]
    else:
        sides = [c for c in ("left_contact", "right_contact", "contact_left", "contact_right") if c in names]
        columns = [frames.column(c).to_pylist() for c in sides]
        contact = [any(_truthy(v) for v in values) for values in zip(*columns)] if columns else []
    if "time_s" in names:
        t = np.asarray(frames.column("time_s").to_pylist(), dtype=float)
    else:
        t = np.arange(n, dtype=float)
    keypoints: dict[str, list] = {}
    from analysis.keypoints import KEYPOINT_NAMES

    for name in KEYPOINT_NAMES:
        side, _, joint = name.partition("_")
        if not joint:
            side, joint = "", name
        code = KEYPOINT_CODES.get(joint)
        if code is None:
            continue
        short = f"{side[0]}{code}" if side else code
        for suffix in ("_m", "_px", "_raw"):
            xs, ys = f"{name}_x{suffix}", f"{name}_y{suffix}"
            if xs in names and ys in names:
                x = np.asarray(frames.column(xs).to_pylist(), dtype=float)
                y = np.asarray(frames.column(ys).to_pylist(), dtype=float)
                break
        else:
            continue
        if n >= 2:
            with np.errstate(invalid="ignore", divide="ignore"):
                v = np.hypot(np.gradient(x, t), np.gradient(y, t))
        else:
            v = np.full(n, np.nan)
        for key, series in ((f"{short}x", x), (f"{short}y", y), (f"{short}v", v)):
            keypoints[key] = [round(float(a), 5) if math.isfinite(a) else None for a in series]
    return keypoints, contact


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


def flatten_calculated(calculated: Any) -> dict[str, float]:
    """``{"speed": {"avg": 3.1, ...}}`` -> ``{"speed_avg": 3.1, ...}`` (the spec's flat number map)."""
    out: dict[str, float] = {}
    if not isinstance(calculated, dict):
        return out
    for key, value in calculated.items():
        if isinstance(value, dict):
            for stat, number in value.items():
                n = number_or_none(number)
                if n is not None:
                    out[f"{key}_{stat}"] = n
        else:
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
class Owner:
    """What the reports say about the session's user (a catalog user, or the demo runner)."""

    id: str
    email: str
    name: str
    height_cm: float | None
    weight_kg: float | None
    profile: dict[str, Any]
    admin_name: str | None = None
    session_count: int | None = None
    last_session: datetime | None = None

    def fingerprint(self) -> str:
        """Changes whenever anything a report says about the owner changes (a document cache key part)."""
        return hashlib.blake2b(repr(self).encode(), digest_size=12).hexdigest()

    @classmethod
    def from_catalog(cls, db, user: User) -> "Owner":
        admin = db.get(User, user.admin_id) if user.admin_id else None
        count = db.scalar(select(func.count()).select_from(RunningSession).where(RunningSession.user_id == user.id))
        last = db.scalar(select(func.max(RunningSession.created_at)).where(RunningSession.user_id == user.id))
        return cls(
            id=user.id, email=user.email, name=user.name or "", height_cm=user.height_cm, weight_kg=user.weight_kg,
            profile=dict(user.profile or {}), admin_name=(admin.name or admin.email) if admin else None,
            session_count=count, last_session=last,
        )


def age_on(birth_date: date, today: date) -> int:
    """Whole years from ``birth_date`` to ``today``."""
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def age_years(profile: dict[str, Any], today: date | None = None) -> int | None:
    """Age in whole years: from ``profile["birth_date"]`` (ISO date) when stored, else ``profile["age"]``."""
    born = profile.get("birth_date")
    if isinstance(born, str) and born:
        try:
            return age_on(date.fromisoformat(born), today or datetime.now(timezone.utc).date())
        except ValueError:
            pass
    try:
        return int(profile.get("age"))
    except (TypeError, ValueError):
        return None


def user_info(owner: Owner, session_height: float | None, session_weight: float | None, with_count: bool) -> dict[str, Any]:
    """``user_info`` of form/gait reports; required keys are null when unknown (see docs/api.md)."""
    p = owner.profile
    info: dict[str, Any] = {
        "age": age_years(p),
        "height": number_or_none(session_height or owner.height_cm),
        "weight": number_or_none(session_weight or owner.weight_kg),
        "email": owner.email,
        "uid": owner.id,
        "display_name": owner.name or owner.email,
    }
    if isinstance(p.get("gender"), str):
        info["gender"] = p["gender"]
    if owner.admin_name:
        info["admin_name"] = owner.admin_name
    if owner.last_session is not None:
        info["last_session"] = fmt_date(owner.last_session)
    if with_count and owner.session_count is not None:
        info["session_count"] = owner.session_count
    for key in ("phone", "brand", "shoeModel"):
        if isinstance(p.get(key), str):
            info[key] = p[key]
    if p.get("shoeSize") is not None:
        try:
            info["shoeSize"] = int(p["shoeSize"])
        except (TypeError, ValueError):
            pass
    for key in ("leg_length", "ycom"):
        n = number_or_none(p.get(key))
        if n is not None:
            info[key] = n
    return info


def user_information(owner: Owner, session_height: float | None, session_weight: float | None) -> dict[str, Any]:
    """``user_information`` of the summary (the spec types ``age`` as a string there)."""
    p = owner.profile
    info: dict[str, Any] = {"user": owner.id, "email": owner.email, "display_name": owner.name or owner.email}
    height = number_or_none(session_height or owner.height_cm)
    weight = number_or_none(session_weight or owner.weight_kg)
    if height is not None:
        info["height"] = height
    if weight is not None:
        info["weight"] = weight
    if age_years(p) is not None:
        info["age"] = str(age_years(p))
    for key in ("gender", "brand", "shoeModel"):
        if isinstance(p.get(key), str):
            info[key] = p[key]
    for key in ("shoeSize", "leg_length", "ycom"):
        n = number_or_none(p.get(key))
        if n is not None:
            info[key] = n
    return info


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
        "calculated_metrics": flatten_calculated(doc.get("calculated_metrics")),
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
    doc = record.doc("form_doc")
    metrics_src = doc.get("metrics") if isinstance(doc.get("metrics"), dict) else doc
    metrics = {k: number_or_none(metrics_src.get(k)) for k in FORM_METRICS}
    metrics.update({k: number_or_none(v) for k, v in metrics_src.items()
                    if k not in metrics and isinstance(v, int | float) and not isinstance(v, bool)})
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
    doc = record.doc("gait_doc")
    out: dict[str, Any] = {}
    for side in ("left", "right"):
        src = doc.get(side) or {}
        phases = {}
        for name, phase in (src.get("phases") or {}).items():
            phase = dict(phase)
            for key in ("video_frame", "graph_phase", "video_phase"):
                phase[key] = int(phase.get(key) or 0)
            phase.pop("image_key", None)
            phase["image_url"] = phase_urls.get(side, {}).get(name)
            phases[name] = phase
        out[side] = {
            "peak_time": number_or_none(src.get("peak_time")),
            "phases": phases,
            "initiator": str(src.get("initiator") or side),
            "angles": json_safe(filter_angles(src.get("angles") or {}, meta.joints)),
            "graph_timestamps": json_safe(src.get("graph_timestamps") or []),
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


def average_metrics(records: list[SessionRecord]) -> dict[str, float | None]:
    """Mean over sessions of each session's average (sessions without the number are left out)."""
    out: dict[str, float | None] = {}
    for name, block, metric in TOTAL_AVERAGES:
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
    return {
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
