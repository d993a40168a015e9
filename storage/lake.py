"""The Parquet results lake: atomic per-session writes, DuckDB reads.

Layout under the object store::

    lake/<table>/date=YYYY-MM-DD/<session_id>.<pipeline_version>.parquet
    lake/_manifests/<session_id>/<pipeline_version>.json   # files + row counts of one run
    lake/_current/<session_id>.json                        # which version is served

A run writes its table files first (each atomically), then its manifest, then
the ``_current`` pointer. Readers trust only files named by a current
pointer's manifest, so a crash at any point leaves the previous state (or
nothing) visible, never half a session. Every row carries ``session_id``,
``pipeline_version`` and ``config_hash``.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from storage.objectstore import ObjectStore

TABLES = ("sessions", "frames", "strides")
LAKE_PREFIX = "lake"


class LakeError(RuntimeError):
    pass


@dataclass(frozen=True)
class Manifest:
    session_id: str
    pipeline_version: str
    config_hash: str
    date: str
    files: dict[str, str]  # table -> key
    rows: dict[str, int]
    created_at: str

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Manifest":
        return cls(**json.loads(data))


def _with_lineage(table: pa.Table, session_id: str, pipeline_version: str, config_hash: str) -> pa.Table:
    n = table.num_rows
    for name, value in (("session_id", session_id), ("pipeline_version", pipeline_version), ("config_hash", config_hash)):
        column = pa.array([value] * n, pa.string())
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, column)
        else:
            table = table.append_column(name, column)
    return table


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
    ) -> Manifest:
        """Write one run's tables, then its manifest, then point ``_current`` at it."""
        unknown = set(tables) - set(TABLES)
        if unknown:
            raise LakeError(f"unknown lake tables {sorted(unknown)}")
        date = date or datetime.now(timezone.utc).strftime("%Y-%m-%d")
        files, rows = {}, {}
        for name, table in tables.items():
            table = _with_lineage(table, session_id, pipeline_version, config_hash)
            key = f"{LAKE_PREFIX}/{name}/date={date}/{session_id}.{pipeline_version}.parquet"
            buffer = io.BytesIO()
            pq.write_table(table, buffer, compression="zstd")
            self.store.write_bytes(key, buffer.getvalue())
            files[name], rows[name] = key, table.num_rows
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
        self.store.write_bytes(self._current_key(session_id), json.dumps({"pipeline_version": pipeline_version}).encode())
        return manifest

    # -- reads --------------------------------------------------------------
    @staticmethod
    def _manifest_key(session_id: str, pipeline_version: str) -> str:
        return f"{LAKE_PREFIX}/_manifests/{session_id}/{pipeline_version}.json"

    @staticmethod
    def _current_key(session_id: str) -> str:
        return f"{LAKE_PREFIX}/_current/{session_id}.json"

    def current_manifest(self, session_id: str) -> Manifest | None:
        try:
            pointer = json.loads(self.store.read_bytes(self._current_key(session_id)))
        except FileNotFoundError:
            return None
        return Manifest.from_json(self.store.read_bytes(self._manifest_key(session_id, pointer["pipeline_version"])))

    def current_manifests(self) -> list[Manifest]:
        manifests = []
        for key in self.store.list(f"{LAKE_PREFIX}/_current"):
            if key.endswith(".json") and not key.rsplit("/", 1)[-1].startswith(".tmp-"):
                session_id = key.rsplit("/", 1)[-1].removesuffix(".json")
                manifest = self.current_manifest(session_id)
                if manifest is not None:
                    manifests.append(manifest)
        return manifests

    def read_table(self, session_id: str, table: str) -> pa.Table | None:
        """One session's served rows of ``table`` (fast path for the API)."""
        manifest = self.current_manifest(session_id)
        if manifest is None or table not in manifest.files:
            return None
        with self.store.open(manifest.files[table]) as handle:
            return pq.read_table(handle)

    def connect(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with one view per lake table over the served files."""
        con = con or duckdb.connect()
        if not self.store.is_local:
            # httpfs cannot be downloaded offline: hand DuckDB our fsspec filesystem.
            con.register_filesystem(self.store.fs)
        by_table: dict[str, list[str]] = {t: [] for t in TABLES}
        for manifest in self.current_manifests():
            for table, key in manifest.files.items():
                by_table[table].append(self.store.uri(key) if not self.store.is_local else self.store.path(key))
        for table, paths in by_table.items():
            if paths:
                listing = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
                con.execute(
                    f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet([{listing}], union_by_name=true, hive_partitioning=false)"
                )
            else:
                con.execute(
                    f"CREATE OR REPLACE VIEW {table} AS SELECT NULL::VARCHAR AS session_id, "
                    "NULL::VARCHAR AS pipeline_version, NULL::VARCHAR AS config_hash WHERE false"
                )
        return con

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run ``sql`` over the lake views and return an Arrow table."""
        con = self.connect()
        try:
            return con.sql(sql, params=params or None).to_arrow_table()
        finally:
            con.close()
