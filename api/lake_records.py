"""Reading a session from the lake for the report documents: :class:`SessionRecord` (one served
row, parsed, its documents built on first use), :class:`LakeReader` (cached per served version,
one load per session at a time) and the export's keypoint series from the ``frames`` table.

A served lake version never changes, so the cache never goes stale."""
from __future__ import annotations

import json
import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from cachetools import LRUCache

from analysis.commentary import SessionFacts
from analysis.session_report import Quality, Summary
from api import documents
from storage.catalog import RunningSession
from storage.lake import DamagedRun, Lake, Manifest

#: The sessions row's JSON columns the API reads as they are (the others it builds: :data:`api.documents.BUILT`).
DOC_COLUMNS = ("gait_doc", "quality_doc", "images_doc")


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
        """A document of the session: one of :data:`DOC_COLUMNS` as stored, or built from the
        run's typed results (:data:`api.documents.BUILT`, once; the record is cached per served
        version; the demo's record holds its documents from the start)."""
        value = self.docs.get(name)
        if value is None and name in documents.BUILT and self.read_table is not None:
            value = self.docs[name] = documents.from_lake(name, self.row, self.doc("quality_doc"), self.read_table)
        return value if isinstance(value, dict) else {}

    def quality(self) -> Quality:
        """The session's quality flags (its ``quality_doc``, typed)."""
        return Quality.from_dict(self.doc("quality_doc"))

    def summary(self) -> Summary:
        """The session's scalar metrics (the row's summary columns, typed)."""
        return Summary.from_dict(self.row)

    def strides(self) -> list[dict[str, Any]]:
        """The run's stride rows (its ``strides`` table; [] without one)."""
        table = self.read_table("strides") if self.read_table is not None else None
        return table.to_pylist() if table is not None else []


def session_facts(record: SessionRecord, profile: dict[str, Any] | None = None) -> SessionFacts:
    """The numbers commentary may use, from a served record: the engine's summary (the row's
    scalars), quality, phases and strides."""
    return SessionFacts.from_results(record.row, record.quality(), record.doc("gait_doc"),
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
        manifest.require_current_layout()  # an older layout is reprocessed, not read (OutdatedRun)
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
        """(keypoints, contact) per frame, from the ``frames`` table (the demo's record: its ``export_doc``)."""
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
    """Export series from the lake's ``frames`` table (:data:`tasks.lake_schema.FRAMES`).

    For every COCO keypoint (metric coordinates ``<name>_x_m``/``<name>_y_m``, null
    without a scale) the export has ``<l|r><code>x``, ``<l|r><code>y`` (position) and
    ``<l|r><code>v`` (speed, per second), e.g. ``lknex``, ``lkney``, ``lknev``; ``code``
    is ``sho elb wri hip kne ank eye ear``, and ``nosex``/``nosey``/``nosev`` for the nose.
    ``contact`` is true where either foot is on the ground.
    """
    import numpy as np

    n = frames.num_rows
    sides = [frames.column(f"{side}_contact").to_pylist() for side in ("left", "right")]
    contact = [any(_truthy(v) for v in values) for values in zip(*sides)]
    t = np.asarray(frames.column("time_s").to_pylist(), dtype=float)
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
        x = np.asarray(frames.column(f"{name}_x_m").to_pylist(), dtype=float)
        y = np.asarray(frames.column(f"{name}_y_m").to_pylist(), dtype=float)
        if n >= 2:
            with np.errstate(invalid="ignore", divide="ignore"):
                v = np.hypot(np.gradient(x, t), np.gradient(y, t))
        else:
            v = np.full(n, np.nan)
        for key, series in ((f"{short}x", x), (f"{short}y", y), (f"{short}v", v)):
            keypoints[key] = [round(float(a), 5) if math.isfinite(a) else None for a in series]
    return keypoints, contact
