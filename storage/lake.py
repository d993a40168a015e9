"""The Parquet results lake: atomic per-session writes, DuckDB reads.

Layout under the object store (schema of the views: ``docs/lake.md``)::

    lake/<table>/date=YYYY-MM-DD/<session_id>.<pipeline_version>.parquet   # one run of one session
    lake/<table>/date=YYYY-MM-DD/part-<id>.parquet                          # compacted: many sessions
    lake/_manifests/<session_id>/<pipeline_version>.json   # files + row counts of one run
    lake/_current/<session_id>.json                        # which version is served
    lake/_index/served.parquet                             # snapshot of the served manifests

A run writes its table files first (each atomically, under keys that depend
only on session, version and date, so a retried or resumed run overwrites
rather than duplicates), then its manifest, then the ``_current`` pointer
(or, when reprocessing, the pointer later: :meth:`Lake.publish`). Readers
trust only files named by a current pointer's manifest, so a crash at any
point leaves the previous state (or nothing) visible, never half a session.
Every row carries ``session_id``, ``pipeline_version`` and ``config_hash``.

Compaction (:meth:`Lake.compact`) merges the served per-session files of one
table and date partition into one ``part-*.parquet`` sorted by session (one
row group per few sessions, so per-session lookups prune by statistics), and
records it in each member's manifest under ``compacted``: per partition all
or nothing, with the files' schemas unified first (:func:`unify_tables`). The views then read
the compacted file and keep only the rows whose (file, session, version) a
current manifest names, so query results never change. The per-session files
stay (``files``) unless ``delete_originals``: readers that open ``files``
directly (the API's per-session fast path) keep working. Compaction ends by
writing the served-runs index: readers take a run from it when the run's
pointer is older than the snapshot, and read newer runs themselves, so opening
the views costs one file plus the runs changed since the last compaction.
"""
from __future__ import annotations

import io
import json
import logging
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from storage.objectstore import ObjectStore

TABLES = ("sessions", "frames", "strides")
LAKE_PREFIX = "lake"
# Snapshot of every served run's manifest, written by compaction (see Lake.write_index).
INDEX_KEY = f"{LAKE_PREFIX}/_index/served.parquet"
# Pointers written this close to the index's snapshot time are re-read: clocks of
# writers and of the object store may disagree by a little.
INDEX_CLOCK_SKEW_S = 60.0


log = logging.getLogger("gaitlake.lake")


class LakeError(RuntimeError):
    pass


class DamagedRun(LakeError):
    """A served run whose manifest or files are missing or unreadable (repair: reprocess it)."""

    def __init__(self, session_id: str, key: str, problem: str):
        super().__init__(f"session {session_id}: {key} {problem}")
        self.session_id, self.key, self.problem = session_id, key, problem

    @property
    def repair(self) -> str:
        return f"gaitlake reprocess {self.session_id} --force"

    @property
    def what(self) -> str:
        """What is damaged, in words a client can read (no storage paths)."""
        parts = self.key.split("/")
        if len(parts) > 1 and parts[1] == "_current":
            return f"its served-version pointer {self.problem.split(' (')[0]}"
        if len(parts) > 1 and parts[1] == "_manifests":
            return f"its manifest {self.problem.split(':')[0]}"
        table = parts[1] if len(parts) > 1 and parts[1] in TABLES else "lake"
        return f"its {table} file {self.problem.split(' (')[0]}"


@dataclass(frozen=True)
class Manifest:
    session_id: str
    pipeline_version: str
    config_hash: str
    date: str
    files: dict[str, str]  # table -> key
    rows: dict[str, int]
    created_at: str
    # table -> key of the compacted file that holds this run's rows of the table (with others').
    compacted: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Manifest":
        """Parse a manifest; :class:`ValueError` when it is not one (garbled, truncated, wrong shape)."""
        try:
            raw = json.loads(data)
            known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
            manifest = cls(**known)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a manifest ({exc.__class__.__name__}: {str(exc)[:120]})") from None
        if not (isinstance(manifest.files, dict) and isinstance(manifest.rows, dict) and isinstance(manifest.compacted, dict)):
            raise ValueError("not a manifest (files/rows/compacted are not objects)")
        return manifest

    def served_key(self, table: str) -> str | None:
        """The key readers should read ``table`` from (compacted file first)."""
        return self.compacted.get(table) or self.files.get(table)


def _with_constants(table: pa.Table, values: dict[str, str | None]) -> pa.Table:
    """``table`` with one string column per name holding the same value in every row (replaced
    where the column exists, appended where not)."""
    for name, value in values.items():
        column = pa.array([value] * table.num_rows, pa.string())
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, column)
        else:
            table = table.append_column(name, column)
    return table


def _with_lineage(table: pa.Table, session_id: str, pipeline_version: str, config_hash: str) -> pa.Table:
    return _with_constants(table, {"session_id": session_id, "pipeline_version": pipeline_version,
                                   "config_hash": config_hash})


def with_artifacts(sessions: pa.Table, images: dict[str, Any]) -> pa.Table:
    """The sessions row with ``analyzed_video_key`` and ``images_doc`` (the images document as
    JSON, ``tasks.render.render_session``'s return) set."""
    return _with_constants(sessions, {"analyzed_video_key": images.get("video"),
                                      "images_doc": json.dumps(images, separators=(",", ":"))})


class Lake:
    def __init__(self, store: ObjectStore):
        self.store = store

    # -- writes -------------------------------------------------------------
    def write_session(
        self,
        session_id: str,
        pipeline_version: str,
        config_hash: str,
        tables: dict[str, pa.Table],
        date: str | None = None,
        publish: bool = True,
    ) -> Manifest:
        """Write one run's tables, then its manifest, then (``publish``) point ``_current`` at it.

        Keys depend only on (session, version, date): writing the same run
        again (a Prefect retry, a resumed reprocess) replaces, never adds.
        """
        unknown = set(tables) - set(TABLES)
        if unknown:
            raise LakeError(f"unknown lake tables {sorted(unknown)}")
        date = date or datetime.now(timezone.utc).strftime("%Y-%m-%d")
        files, rows = {}, {}
        for name, table in tables.items():
            files[name], rows[name] = self._write_table(name, table, session_id, pipeline_version, config_hash, date)
        manifest = Manifest(
            session_id=session_id,
            pipeline_version=pipeline_version,
            config_hash=config_hash,
            date=date,
            files=files,
            rows=rows,
            created_at=datetime.now(timezone.utc).isoformat(),
        )
        self.store.write_bytes(self._manifest_key(session_id, pipeline_version), manifest.to_json())
        if publish:
            self.publish(session_id, pipeline_version)
        return manifest

    def _write_table(self, name: str, table: pa.Table, session_id: str, pipeline_version: str,
                     config_hash: str, date: str) -> tuple[str, int]:
        """Write one table of one run (atomically, at its run-determined key); return key and rows."""
        table = _with_lineage(table, session_id, pipeline_version, config_hash)
        key = f"{LAKE_PREFIX}/{name}/date={date}/{session_id}.{pipeline_version}.parquet"
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        self.store.write_bytes(key, buffer.getvalue())
        return key, table.num_rows

    def replace_table(self, manifest: Manifest, name: str, table: pa.Table, publish: bool = False) -> Manifest:
        """Rewrite one table of a written run, then its manifest (the other tables are untouched)."""
        key, rows = self._write_table(name, table, manifest.session_id, manifest.pipeline_version,
                                      manifest.config_hash, manifest.date)
        fresh = Manifest(**{**manifest.__dict__, "files": {**manifest.files, name: key},
                            "rows": {**manifest.rows, name: rows}})
        self.store.write_bytes(self._manifest_key(manifest.session_id, manifest.pipeline_version), fresh.to_json())
        if publish:
            self.publish(manifest.session_id, manifest.pipeline_version)
        return fresh

    def publish(self, session_id: str, pipeline_version: str) -> None:
        """Serve ``pipeline_version`` of ``session_id`` (its manifest must exist)."""
        if not self.store.exists(self._manifest_key(session_id, pipeline_version)):
            raise LakeError(f"no manifest for session {session_id} version {pipeline_version}")
        self.store.write_bytes(self._current_key(session_id), json.dumps({"pipeline_version": pipeline_version}).encode())

    def attach_artifacts(self, session_id: str, pipeline_version: str, images: dict[str, Any] | None,
                         publish: bool = False) -> Manifest:
        """Name a written run's rendered artifacts in its sessions row (``images``: the images
        document; none: the row is left as it is), then, with ``publish``, serve the run: new
        sessions file, new manifest, the ``_current`` pointer last, so readers never see a mix."""
        manifest = self.manifest(session_id, pipeline_version)
        if manifest is None:
            raise LakeError(f"session {session_id} has no lake run {pipeline_version}")
        if images:
            sessions = self.read_table(session_id, "sessions", manifest=manifest)
            return self.replace_table(manifest, "sessions", with_artifacts(sessions, images), publish=publish)
        if publish:
            self.publish(session_id, pipeline_version)
        return manifest

    def manifest(self, session_id: str, pipeline_version: str) -> Manifest | None:
        """The manifest of one run, or None when that run never completed."""
        try:
            return Manifest.from_json(self.store.read_bytes(self._manifest_key(session_id, pipeline_version)))
        except FileNotFoundError:
            return None

    def served_version(self, session_id: str) -> str | None:
        try:
            return json.loads(self.store.read_bytes(self._current_key(session_id)))["pipeline_version"]
        except FileNotFoundError:
            return None

    def serves_intact(self, session_id: str, pipeline_version: str) -> bool:
        """Whether ``pipeline_version`` of the session is served with a readable pointer and manifest.

        What "already done" means to the queue and the flow: a served run whose manifest is
        garbled or missing is damaged, not done, and must be computed again (the repair
        that ``lake check`` prints), never marked done on the strength of its pointer."""
        try:
            manifest = self.current_manifest(session_id)
        except DamagedRun:
            return False
        return manifest is not None and manifest.pipeline_version == pipeline_version

    # -- reads --------------------------------------------------------------
    @staticmethod
    def _manifest_key(session_id: str, pipeline_version: str) -> str:
        return f"{LAKE_PREFIX}/_manifests/{session_id}/{pipeline_version}.json"

    @staticmethod
    def _current_key(session_id: str) -> str:
        return f"{LAKE_PREFIX}/_current/{session_id}.json"

    def current_manifest(self, session_id: str) -> Manifest | None:
        """The served run's manifest; None when nothing is served; :class:`DamagedRun` when the
        pointer or the manifest it names is missing or garbled."""
        key = self._current_key(session_id)
        try:
            data = self.store.read_bytes(key)
        except FileNotFoundError:
            return None
        try:
            version = json.loads(data)["pipeline_version"]
            if not isinstance(version, str) or not version:
                raise ValueError("no pipeline_version")
        except (ValueError, TypeError, KeyError) as exc:
            raise DamagedRun(session_id, key, f"is not a served-version pointer ({exc.__class__.__name__})") from None
        return self.served_manifest(session_id, version)

    def served_manifest(self, session_id: str, pipeline_version: str) -> Manifest:
        """The manifest of a run that is (or is about to be) served; :class:`DamagedRun` if missing or garbled."""
        key = self._manifest_key(session_id, pipeline_version)
        try:
            return Manifest.from_json(self.store.read_bytes(key))
        except FileNotFoundError:
            raise DamagedRun(session_id, key, "is missing") from None
        except ValueError as exc:
            raise DamagedRun(session_id, key, f"is garbled: {exc}") from None

    def _served_pointers(self) -> dict[str, float | None]:
        """Served session ids with their ``_current`` pointer's modification time."""
        pointers = {}
        for key, modified in self.store.list_modified(f"{LAKE_PREFIX}/_current").items():
            name = key.rsplit("/", 1)[-1]
            if name.endswith(".json") and not name.startswith(".tmp-"):
                pointers[name.removesuffix(".json")] = modified
        return pointers

    def served_session_ids(self) -> list[str]:
        return sorted(self._served_pointers())

    def current_manifests(self) -> list[Manifest]:
        """Every served run's manifest (damaged ones skipped with a warning: :meth:`served_runs`)."""
        manifests, damaged = self.served_runs()
        for problem in damaged:
            log.warning("lake: skipping %s (repair: %s)", problem, problem.repair)
        return manifests

    def served_runs(self) -> tuple[list[Manifest], list[DamagedRun]]:
        """Every served run's manifest, and the runs whose pointer or manifest is damaged.

        Runs whose pointer is older than the served-runs index come from the
        index (one file); the rest are read one by one (concurrently on remote
        stores). Without an index every run is read.
        """
        pointers = self._served_pointers()
        indexed, built_at = self._read_index()
        found: list[Manifest] = []
        to_read: list[str] = []
        for session_id, modified in sorted(pointers.items()):
            manifest = indexed.get(session_id)
            fresh = built_at is not None and modified is not None and modified < built_at - INDEX_CLOCK_SKEW_S
            if manifest is not None and fresh:
                found.append(manifest)
            else:
                to_read.append(session_id)

        def one(session_id: str) -> Manifest | DamagedRun | None:
            try:
                return self.current_manifest(session_id)
            except DamagedRun as exc:
                return exc
            except FileNotFoundError:  # pointer removed between listing and reading
                return None

        if self.store.is_local or len(to_read) < 4:
            read = [one(i) for i in to_read]
        else:
            with ThreadPoolExecutor(max_workers=16) as pool:
                read = list(pool.map(one, to_read))
        return (found + [m for m in read if isinstance(m, Manifest)], [m for m in read if isinstance(m, DamagedRun)])

    # -- served-runs index ---------------------------------------------------
    def write_index(self, manifests: list[Manifest] | None = None, built_at: float | None = None) -> int:
        """Snapshot every served run's manifest into ``lake/_index/served.parquet``.

        ``built_at`` must be taken before the manifests were read: a pointer
        written after it is newer than the snapshot, so readers fetch that run
        themselves. Returns the number of runs indexed.
        """
        built_at = time.time() if built_at is None else built_at
        manifests = self.current_manifests() if manifests is None else manifests
        table = pa.table({
            "session_id": pa.array([m.session_id for m in manifests], pa.string()),
            "manifest": pa.array([m.to_json().decode() for m in manifests], pa.string()),
        }).replace_schema_metadata({"built_at": repr(built_at)})
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        self.store.write_bytes(INDEX_KEY, buffer.getvalue())
        return len(manifests)

    def _read_index(self) -> tuple[dict[str, Manifest], float | None]:
        try:
            data = self.store.read_bytes(INDEX_KEY)
        except FileNotFoundError:
            return {}, None
        try:
            table = pq.read_table(io.BytesIO(data))
            built_at = float((table.schema.metadata or {}).get(b"built_at", b"nan"))
        except (pa.ArrowException, ValueError) as exc:  # a damaged index is ignored: every run is read instead
            log.warning("lake: ignoring the unreadable served-runs index %s (%s)", INDEX_KEY, exc)
            return {}, None
        if built_at != built_at:  # NaN: an index without its timestamp is not trusted
            return {}, None
        manifests = {}
        for sid, doc in zip(table.column("session_id").to_pylist(), table.column("manifest").to_pylist()):
            try:
                manifests[sid] = Manifest.from_json(doc.encode())
            except ValueError:  # that run is read from its own manifest
                continue
        return manifests, built_at

    def read_table(self, session_id: str, table: str, manifest: Manifest | None = None) -> pa.Table | None:
        """One session's served rows of ``table`` (fast path for the API; compacted files filtered).

        :class:`DamagedRun` when the file is missing, does not parse as Parquet, or holds a
        different number of rows than the manifest says.
        """
        manifest = manifest or self.current_manifest(session_id)
        if manifest is None:
            return None
        key = manifest.served_key(table)
        if key is None:
            return None
        rows = self._read_run_file(manifest, table, key)
        expected = manifest.rows.get(table)
        if isinstance(expected, int) and rows.num_rows != expected:
            raise DamagedRun(manifest.session_id, key, f"holds {rows.num_rows} rows of {table} where the manifest says {expected}")
        return rows

    def verify_run(self, manifest: Manifest, deep: bool = False) -> None:
        """Raise :class:`DamagedRun` unless every file the run serves exists and parses as Parquet
        with the manifest's row count (its footer only, or ``deep``: every row decoded)."""
        for table in sorted(set(manifest.files) | set(manifest.compacted)):
            self.verify_table(manifest, table, deep)

    def verify_table(self, manifest: Manifest, table: str, deep: bool = False) -> None:
        key = manifest.served_key(table)
        if key is None:
            return
        if deep or table in manifest.compacted:
            self.read_table(manifest.session_id, table, manifest=manifest)
            return
        try:
            with self.store.open(key) as handle:
                rows = pq.ParquetFile(handle).metadata.num_rows
        except FileNotFoundError:
            raise DamagedRun(manifest.session_id, key, "is missing") from None
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise DamagedRun(manifest.session_id, key, f"does not parse as Parquet ({str(exc)[:160]})") from None
        expected = manifest.rows.get(table)
        if isinstance(expected, int) and rows != expected:
            raise DamagedRun(manifest.session_id, key, f"holds {rows} rows of {table} where the manifest says {expected}")

    def _read_run_file(self, manifest: Manifest, table: str, key: str) -> pa.Table:
        try:
            with self.store.open(key) as handle:
                if table in manifest.compacted:
                    return pq.read_table(handle, filters=[("session_id", "=", manifest.session_id),
                                                          ("pipeline_version", "=", manifest.pipeline_version)])
                return pq.read_table(handle)
        except FileNotFoundError:
            raise DamagedRun(manifest.session_id, key, "is missing") from None
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise DamagedRun(manifest.session_id, key, f"does not parse as Parquet ({str(exc)[:160]})") from None

    def _reader_path(self, key: str) -> str:
        return self.store.path(key) if self.store.is_local else self.store.uri(key)

    def connect(self, con: duckdb.DuckDBPyConnection | None = None, manifests: list[Manifest] | None = None,
                exclude: set[str] | None = None, warn=None) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with one view per lake table over the served files.

        Per-session files are read as they are; a compacted file is read with
        a semi-join on (file, session_id, pipeline_version) against the served
        runs, so rows of superseded versions inside it never show. A served
        file DuckDB cannot read (missing, not Parquet) is left out, with a
        warning naming it and its session (``warn``, default: the
        ``gaitlake.lake`` logger); ``exclude`` (a set, updated in place)
        holds the reader paths left out.
        """
        con = con or duckdb.connect()
        if not self.store.is_local:
            # httpfs cannot be downloaded offline: hand DuckDB our fsspec filesystem.
            con.register_filesystem(self.store.fs)
        manifests = self.current_manifests() if manifests is None else manifests
        exclude = set() if exclude is None else exclude
        owners = None
        for table in TABLES:
            while True:
                try:
                    self._create_view(con, table, manifests, exclude)
                    break
                except (duckdb.IOException, duckdb.InvalidInputException) as exc:
                    owners = owners or self._owners_by_path(manifests)
                    if not self._leave_out(str(exc), owners, exclude, warn):
                        raise
        return con

    def _leave_out(self, message: str, owners: dict[str, tuple[str, set[str]]], exclude: set[str], warn) -> bool:
        """Add the damaged files a DuckDB error is about to ``exclude``, with a warning; False if none."""
        bad = self._damaged_paths(message, owners, exclude)
        for path in sorted(bad):
            text = (f"lake: left out {path} (session {', '.join(sorted(owners[path][1]))}): it cannot be read; "
                    "repair with `gaitlake reprocess SESSION_ID --force`, check with `gaitlake lake check`")
            warn(text) if warn else log.warning("%s", text)
        exclude |= bad
        return bool(bad)

    def _create_view(self, con: duckdb.DuckDBPyConnection, table: str, manifests: list[Manifest], exclude) -> None:
        plain: list[str] = []
        shared: dict[str, list[tuple[str, str]]] = {}
        for manifest in manifests:
            if table in manifest.compacted:
                path = self._reader_path(manifest.compacted[table])
                if path not in exclude:
                    shared.setdefault(path, []).append((manifest.session_id, manifest.pipeline_version))
            elif table in manifest.files:
                path = self._reader_path(manifest.files[table])
                if path not in exclude:
                    plain.append(path)
        selects = []
        if plain:
            selects.append(f"SELECT * FROM read_parquet({_listing(plain)}, union_by_name=true, hive_partitioning=false)")
        if shared:
            served = pa.table({
                "file": [p for p, members in shared.items() for _ in members],
                "session_id": [s for members in shared.values() for s, _ in members],
                "pipeline_version": [v for members in shared.values() for _, v in members],
            })
            con.register(f"_served_{table}_arrow", served)
            con.execute(f"CREATE OR REPLACE TEMP TABLE _served_{table} AS SELECT * FROM _served_{table}_arrow")
            con.unregister(f"_served_{table}_arrow")
            selects.append(
                f"SELECT t.* EXCLUDE (filename) FROM read_parquet({_listing(list(shared))}, union_by_name=true, "
                f"hive_partitioning=false, filename=true) t SEMI JOIN _served_{table} s "
                "ON t.filename = s.file AND t.session_id = s.session_id AND t.pipeline_version = s.pipeline_version"
            )
        if selects:
            body = selects[0] if len(selects) == 1 else " UNION ALL BY NAME ".join(f"({q})" for q in selects)
            con.execute(f"CREATE OR REPLACE VIEW {table} AS {body}")
        else:
            con.execute(
                f"CREATE OR REPLACE VIEW {table} AS SELECT NULL::VARCHAR AS session_id, "
                "NULL::VARCHAR AS pipeline_version, NULL::VARCHAR AS config_hash WHERE false"
            )

    def query(self, sql: str, params: list[Any] | None = None, warn=None) -> pa.Table:
        """Run ``sql`` over the lake views and return an Arrow table.

        A served file that DuckDB cannot read (missing, not Parquet), when the
        views are made or while the query runs, is left out of the views and
        the query is run again, with a warning (see :meth:`connect`): healthy
        rows keep answering. Other SQL errors are raised as they are.
        """
        manifests = self.current_manifests()
        exclude: set[str] = set()
        owners = None
        while True:
            con = self.connect(manifests=manifests, exclude=exclude, warn=warn)
            try:
                return con.sql(sql, params=params or None).to_arrow_table()
            except (duckdb.IOException, duckdb.InvalidInputException) as exc:
                owners = owners or self._owners_by_path(manifests)
                if not self._leave_out(str(exc), owners, exclude, warn):
                    raise
            finally:
                con.close()

    def _owners_by_path(self, manifests: list[Manifest]) -> dict[str, tuple[str, set[str]]]:
        """Reader path -> (object key, sessions served from it)."""
        owners: dict[str, tuple[str, set[str]]] = {}
        for m in manifests:
            for table in set(m.files) | set(m.compacted):
                key = m.served_key(table)
                owners.setdefault(self._reader_path(key), (key, set()))[1].add(m.session_id)
        return owners

    def _damaged_paths(self, message: str, owners: dict[str, tuple[str, set[str]]], exclude: set[str]) -> set[str]:
        """Served paths a DuckDB error names; failing that, the served paths that do not parse."""
        named = {n for n in re.findall(r"[\"']([^\"']+\.parquet)[\"']", message)}
        candidates = [p for p in owners if p not in exclude]
        bad = {p for p in candidates if p in named or any(p.endswith(n) or n.endswith(p) for n in named)}
        return bad or {p for p in candidates if not self._parses(owners[p][0])}

    def _parses(self, key: str) -> bool:
        try:
            with self.store.open(key) as handle:
                pq.ParquetFile(handle).metadata
            return True
        except (pa.ArrowException, OSError, ValueError):
            return False

    # -- maintenance --------------------------------------------------------
    def served_files(self, manifests: list[Manifest] | None = None) -> dict[str, set[str]]:
        """Distinct files the views read, per table."""
        manifests = self.current_manifests() if manifests is None else manifests
        out: dict[str, set[str]] = {t: set() for t in TABLES}
        for m in manifests:
            for table in set(m.files) | set(m.compacted):
                out.setdefault(table, set()).add(m.served_key(table))
        return out

    def compact(self, tables: tuple[str, ...] = TABLES, min_files: int = 4, row_group_rows: int = 65536,
                delete_originals: bool = False, grace_s: float = 0.0, log=None) -> dict[str, Any]:
        """Merge the served files of each (table, date) partition with ``min_files`` or more files.

        Per partition, all or nothing: the members' files are read and their
        schemas unified (:func:`unify_tables`: a column that is all null in one
        file takes the type it has in the others, e.g. ``footstrike`` stored as
        a null double by a session without a foot strike and as a string by
        one with), then one ``part-<id>.parquet`` is written (atomically); only
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
        manifests = self.current_manifests()
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
                new_key, n_rows = self._write_partition(table, date, members, keys, row_group_rows)
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
                current = self.manifest(*ident)  # re-read: compare before swapping
                if current is None or current.served_key(table) != m.served_key(table):
                    continue
                fresh = Manifest(**{**current.__dict__, "files": dict(current.files),
                                    "compacted": {**current.compacted, table: new_key}})
                if delete_originals:
                    fresh.files[table] = new_key
                self.store.write_bytes(self._manifest_key(*ident), fresh.to_json())
                updated[ident] = fresh
            report["partitions"] += 1
            report["files_after"] += 1
            report["compacted_files"].append(new_key)
            if log:
                log(f"compacted {table} date={date}: {len(keys)} files -> {new_key} ({n_rows} rows)")
        report["deleted"] = self._delete_unreferenced(list(updated.values()), grace_s, delete_originals)
        # Last: the served-runs index, so opening the views reads one file instead of a manifest per run.
        report["indexed"] = self.write_index(list(updated.values()), built_at=started)
        return report

    def _write_partition(self, table: str, date: str, members: list[Manifest], keys: list[str],
                         row_group_rows: int) -> tuple[str, int]:
        """Merge one partition's served rows into a new ``part-*.parquet``; return its key and rows.

        Raises before writing anything when a file cannot be read or the
        schemas cannot be unified.
        """
        parts = []
        for key in keys:
            with self.store.open(key) as handle:
                part = pq.read_table(handle)
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
        self.store.write_bytes(new_key, buffer.getvalue())
        return new_key, merged.num_rows

    def _delete_unreferenced(self, manifests: list[Manifest], grace_s: float, delete_originals: bool) -> int:
        """Delete compacted files (and, with ``delete_originals``, per-session files) nobody serves."""
        referenced = set()
        for m in self.current_manifests():
            referenced |= set(m.files.values()) | set(m.compacted.values())
        # Every manifest (served or not) keeps its per-session files unless originals are deleted.
        deleted = 0
        now = time.time()
        for table in TABLES:
            for key in self.store.list(f"{LAKE_PREFIX}/{table}"):
                name = key.rsplit("/", 1)[-1]
                is_part = name.startswith("part-")
                if key in referenced or name.startswith(".tmp-") or not (is_part or delete_originals):
                    continue
                if not is_part and not self._orphaned_original(key, referenced):
                    continue
                if grace_s > 0:
                    modified = self.store.info(key).get("mtime") or self.store.info(key).get("LastModified")
                    if modified is not None:
                        ts = modified.timestamp() if hasattr(modified, "timestamp") else float(modified)
                        if now - ts < grace_s:
                            continue
                self.store.delete(key)
                deleted += 1
        return deleted

    def _orphaned_original(self, key: str, referenced: set[str]) -> bool:
        # <session>.<version>.parquet: only delete when that run is served from a compacted file.
        name = key.rsplit("/", 1)[-1].removesuffix(".parquet")
        session_id, _, version = name.partition(".")
        manifest = self.manifest(session_id, version) if version else None
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


def _listing(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
