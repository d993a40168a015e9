"""Lake compaction: the served per-session files of one table and date partition merged into
one ``part-*.parquet`` (all or nothing per partition, schemas unified first), the members'
manifests rewritten to name it, superseded files deleted, and the served-runs index written.
``lake`` is a :class:`storage.lake.Lake` (:meth:`storage.lake.Lake.compact` calls in here)."""
from __future__ import annotations

import io
import time
import uuid
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from storage.lake_layout import LAKE_PREFIX, TABLES, LakeError, Manifest, manifest_key, read_parquet
from storage.objectstore import ObjectStore


def compact(lake, tables: tuple[str, ...] = TABLES, min_files: int = 4, row_group_rows: int = 65536,
            delete_originals: bool = False, grace_s: float = 0.0, log=None) -> dict[str, Any]:
    """Merge the served files of each (table, date) partition with ``min_files`` or more files.

    Per partition, all or nothing: the members' files are read and their
    schemas unified (:func:`unify_tables`; files of the current layout are
    written in their declared schemas already, but a partition may still mix
    runs of an older layout that were not reprocessed yet, e.g. ``footstrike``
    stored as a null double by a layout-1 session without a foot strike), then
    one ``part-<id>.parquet`` is written (atomically); only
    then are the member runs' manifests rewritten to name it under
    ``compacted``. A partition that cannot be merged (unreadable file,
    genuinely conflicting types) is left exactly as it was, reported
    under ``skipped`` with the reason, and the other partitions go on.
    A manifest changed meanwhile (a rerun of the same version) is left
    alone, and its rows in the compacted file are filtered out by the
    views. Superseded compacted files (no manifest names them any more)
    older than ``grace_s`` are deleted; with ``delete_originals`` the
    members' per-session files too. Returns counts per table.
    """
    started = time.time()
    manifests = lake.current_manifests()
    by_partition: dict[tuple[str, str], list[Manifest]] = {}
    for m in manifests:
        for table in tables:
            if table in m.files or table in m.compacted:
                by_partition.setdefault((table, m.date), []).append(m)
    report: dict[str, Any] = {"partitions": 0, "files_before": 0, "files_after": 0, "compacted_files": [],
                              "skipped": {}}
    updated: dict[tuple[str, str], Manifest] = {(m.session_id, m.pipeline_version): m for m in manifests}
    for (table, date), members in sorted(by_partition.items()):
        keys = sorted({m.served_key(table) for m in members})
        report["files_before"] += len(keys)
        if len(keys) < max(2, min_files):
            report["files_after"] += len(keys)
            continue
        try:
            new_key, n_rows = _write_partition(lake.store, table, date, members, keys, row_group_rows)
        except (LakeError, pa.ArrowException, OSError, ValueError) as exc:
            # Nothing of this partition was rewritten: its members keep serving their files.
            reason = f"{exc.__class__.__name__}: {exc}"
            report["skipped"][f"{table}/date={date}"] = reason
            report["files_after"] += len(keys)
            if log:
                log(f"not compacted {table} date={date} ({len(keys)} files left as they are): {reason}")
            continue
        for m in members:
            ident = (m.session_id, m.pipeline_version)
            current = lake.manifest(*ident)  # re-read: compare before swapping
            if current is None or current.served_key(table) != m.served_key(table):
                continue
            fresh = Manifest(**{**current.__dict__, "files": dict(current.files),
                                "compacted": {**current.compacted, table: new_key}})
            if delete_originals:
                fresh.files[table] = new_key
            lake.store.write_bytes(manifest_key(*ident), fresh.to_json())
            updated[ident] = fresh
        report["partitions"] += 1
        report["files_after"] += 1
        report["compacted_files"].append(new_key)
        if log:
            log(f"compacted {table} date={date}: {len(keys)} files -> {new_key} ({n_rows} rows)")
    report["deleted"] = _delete_unreferenced(lake, list(updated.values()), grace_s, delete_originals)
    # Last: the served-runs index, so opening the views reads one file instead of a manifest per run.
    report["indexed"] = lake.write_index(list(updated.values()), built_at=started)
    return report

def _write_partition(store: ObjectStore, table: str, date: str, members: list[Manifest], keys: list[str],
                     row_group_rows: int) -> tuple[str, int]:
    """Merge one partition's served rows into a new ``part-*.parquet``; return its key and rows.

    Raises before writing anything when a file cannot be read or the
    schemas cannot be unified.
    """
    parts = []
    for key in keys:
        with store.open(key) as handle:
            part = read_parquet(handle)
        if key.rsplit("/", 1)[-1].startswith("part-"):
            wanted = {(m.session_id, m.pipeline_version) for m in members if m.served_key(table) == key}
            mask = pc.is_in(pc.binary_join_element_wise(part["session_id"], part["pipeline_version"], "\x00"),
                            value_set=pa.array([f"{s}\x00{v}" for s, v in wanted]))
            part = part.filter(mask)
        parts.append(part)
    merged = pa.concat_tables(unify_tables(parts), promote_options="permissive")
    sort_keys = [("session_id", "ascending"), ("pipeline_version", "ascending")]
    for extra in ("frame_index", "stride_index"):
        if extra in merged.column_names:
            sort_keys.append((extra, "ascending"))
    merged = merged.sort_by(sort_keys)
    new_key = f"{LAKE_PREFIX}/{table}/date={date}/part-{uuid.uuid4().hex[:12]}.parquet"
    buffer = io.BytesIO()
    pq.write_table(merged, buffer, compression="zstd", row_group_size=row_group_rows)
    store.write_bytes(new_key, buffer.getvalue())
    return new_key, merged.num_rows

def _delete_unreferenced(lake, manifests: list[Manifest], grace_s: float, delete_originals: bool) -> int:
    """Delete compacted files (and, with ``delete_originals``, per-session files) nobody serves."""
    referenced = set()
    for m in lake.current_manifests():
        referenced |= set(m.files.values()) | set(m.compacted.values())
    # Every manifest (served or not) keeps its per-session files unless originals are deleted.
    deleted = 0
    now = time.time()
    for table in TABLES:
        for key in lake.store.list(f"{LAKE_PREFIX}/{table}"):
            name = key.rsplit("/", 1)[-1]
            is_part = name.startswith("part-")
            if key in referenced or name.startswith(".tmp-") or not (is_part or delete_originals):
                continue
            if not is_part and not _orphaned_original(lake, key, referenced):
                continue
            if grace_s > 0:
                modified = lake.store.info(key).get("mtime") or lake.store.info(key).get("LastModified")
                if modified is not None:
                    ts = modified.timestamp() if hasattr(modified, "timestamp") else float(modified)
                    if now - ts < grace_s:
                        continue
            lake.store.delete(key)
            deleted += 1
    return deleted

def _orphaned_original(lake, key: str, referenced: set[str]) -> bool:
    # <session>.<version>.parquet: only delete when that run is served from a compacted file.
    name = key.rsplit("/", 1)[-1].removesuffix(".parquet")
    session_id, _, version = name.partition(".")
    manifest = lake.manifest(session_id, version) if version else None
    return manifest is not None and key not in manifest.files.values() and bool(manifest.compacted)


def unify_tables(parts: list[pa.Table]) -> list[pa.Table]:
    """Give every table the same type per column name, so they concatenate.

    A column that holds no value in a table (all null: a metric a session did
    not have, stored as a null double or a null-typed column) takes the type
    the column has where it holds values; the types of columns with values are
    unified by Arrow's permissive rules (``int32`` + ``int64`` -> ``int64``,
    ``null`` -> anything). Columns with values of incompatible types (a real
    number in one file, text in another) raise :class:`LakeError`.
    """
    valued: dict[str, list[pa.DataType]] = {}
    for part in parts:
        for name, column in zip(part.column_names, part.columns):
            if column.null_count < len(column):
                valued.setdefault(name, []).append(column.type)
    target: dict[str, pa.DataType] = {}
    for name, types in valued.items():
        try:
            target[name] = pa.unify_schemas([pa.schema([(name, t)]) for t in types],
                                            promote_options="permissive").field(name).type
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise LakeError(f"column {name!r} holds values of incompatible types "
                            f"{sorted({str(t) for t in types})}: {exc}") from None
    out = []
    for part in parts:
        for i, (name, column) in enumerate(zip(part.column_names, part.columns)):
            wanted = target.get(name)
            if wanted is None or column.type == wanted:
                continue
            if column.null_count == len(column):
                part = part.set_column(i, name, pa.nulls(len(column), wanted))
            else:
                part = part.set_column(i, name, column.cast(wanted))
        out.append(part)
    return out

