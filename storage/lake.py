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
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from storage import lake_compaction
from storage.lake_compaction import unify_tables
from storage.lake_layout import (read_parquet, INDEX_CLOCK_SKEW_S, INDEX_KEY, LAKE_PREFIX, LAYOUT, TABLES, DamagedRun,
                                 LakeError, Manifest, OutdatedRun, current_key, manifest_key)
from storage.objectstore import ObjectStore

__all__ = ["INDEX_KEY", "LAKE_PREFIX", "LAYOUT", "TABLES", "DamagedRun", "Lake", "LakeError", "Manifest", "OutdatedRun",
           "unify_tables", "with_artifacts"]

log = logging.getLogger("gaitlake.lake")




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
        again (a Prefect retry, a resumed reprocess) replaces, never adds. The
        tables come in their declared schemas (``tasks.lake_schema``); the
        manifest records the layout they are in (:data:`LAYOUT`).
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
            layout=LAYOUT,
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
    _manifest_key = staticmethod(manifest_key)
    _current_key = staticmethod(current_key)

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
            table = read_parquet(io.BytesIO(data))
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
                rows = read_parquet(handle)
            if table in manifest.compacted:
                keep = pc.and_(pc.equal(rows["session_id"], manifest.session_id),
                               pc.equal(rows["pipeline_version"], manifest.pipeline_version))
                return rows.filter(keep)
            return rows
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
        """Merge the served files of each (table, date) partition with ``min_files`` or more files
        (:func:`storage.lake_compaction.compact`, which says how); returns counts per table."""
        return lake_compaction.compact(self, tables, min_files, row_group_rows, delete_originals, grace_s, log)

def _listing(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
