"""The lake's layout and the record of one run: the table names and key prefixes, the
:class:`Manifest` that names a run's files (what readers trust), the keys of manifests and
served-version pointers, and the errors readers raise (:class:`DamagedRun`). The layout
itself is described in :mod:`storage.lake`."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

TABLES = ("sessions", "frames", "strides")
LAKE_PREFIX = "lake"
#: The layout of the table files a run writes: the columns and types that
#: ``tasks.lake_schema.SCHEMAS`` declares, stamped into every manifest at write. Readers serve
#: this layout only and flag an older run (:class:`OutdatedRun`) instead of branching on its
#: columns. Raise it, and ``configs.PIPELINE_VERSION`` with it, whenever a declared schema
#: changes; ``gaitlake reprocess --older`` brings the archive to it.
LAYOUT = 2
#: Columns every row of every table carries (set by :meth:`storage.lake.Lake.write_session`).
LINEAGE = pa.schema([("session_id", pa.string()), ("pipeline_version", pa.string()), ("config_hash", pa.string())])
# Snapshot of every served run's manifest, written by compaction (see Lake.write_index).
INDEX_KEY = f"{LAKE_PREFIX}/_index/served.parquet"
# Pointers written this close to the index's snapshot time are re-read: clocks of
# writers and of the object store may disagree by a little.
INDEX_CLOCK_SKEW_S = 60.0


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


class OutdatedRun(DamagedRun):
    """A served run written in an older lake layout (its manifest's ``layout``): readers refuse it
    rather than guess at its columns; repair: reprocess it to the current pipeline version."""

    def __init__(self, session_id: str, key: str, layout: int):
        super().__init__(session_id, key, f"is in lake layout {layout}; this code reads layout {LAYOUT}")
        self.layout = layout

    @property
    def repair(self) -> str:
        return f"gaitlake reprocess {self.session_id} (or every such session: gaitlake reprocess --older)"

    @property
    def what(self) -> str:
        return f"they were written in an older lake layout ({self.layout}, this server reads {LAYOUT})"


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
    # the layout its files were written in (:data:`LAYOUT`); manifests before the stamp: 1
    layout: int = 1

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

    def require_current_layout(self) -> None:
        """Raise :class:`OutdatedRun` unless the run's files are in the current :data:`LAYOUT`."""
        if self.layout != LAYOUT:
            raise OutdatedRun(self.session_id, manifest_key(self.session_id, self.pipeline_version), self.layout)


def manifest_key(session_id: str, pipeline_version: str) -> str:
    """Key of the manifest of one run of a session."""
    return f"{LAKE_PREFIX}/_manifests/{session_id}/{pipeline_version}.json"


def current_key(session_id: str) -> str:
    """Key of the pointer to a session's served version."""
    return f"{LAKE_PREFIX}/_current/{session_id}.json"


def read_parquet(source) -> pa.Table:
    """A whole Parquet file from a Python file object, read by ``pq.ParquetFile`` in this thread.

    Not ``pq.read_table``: its dataset scan keeps the Python file in fragments that one of
    Arrow's I/O threads may release after the interpreter began to finalise; taking the GIL
    there aborts the process ("terminate called without an active exception", exit 134: seen
    in about a third of short scripts that read the lake, e.g. docs/lake.md's snippet)."""
    with pq.ParquetFile(source) as reader:
        return reader.read()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in the declared ``schema``: every declared column in its order and type (a column
    the table lacks is added as nulls; an all-null or differently typed one is cast), then the
    columns the schema does not declare, as they are. Raises :class:`LakeError` when a column
    cannot be cast (text where a number is declared)."""
    columns, fields = [], []
    for declared in schema:
        if declared.name in table.column_names:
            column = table.column(declared.name)
            if column.type != declared.type:
                try:
                    column = (pa.nulls(len(column), declared.type) if column.null_count == len(column)
                              else column.cast(declared.type))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                    raise LakeError(f"column {declared.name!r} ({column.type}) is not {declared.type}: {exc}") from None
        else:
            column = pa.nulls(table.num_rows, declared.type)
        columns.append(column)
        fields.append(declared)
    for name, column in zip(table.column_names, table.columns):
        if schema.get_field_index(name) < 0:
            columns.append(column)
            fields.append(pa.field(name, column.type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def schema_problems(actual: pa.Schema, schema: pa.Schema) -> list[str]:
    """How a file's schema departs from the declared one: declared columns missing or of another type."""
    problems = []
    for declared in schema:
        index = actual.get_field_index(declared.name)
        if index < 0:
            problems.append(f"lacks column {declared.name!r}")
        elif actual.field(index).type != declared.type:
            problems.append(f"has {declared.name!r} as {actual.field(index).type}, declared {declared.type}")
    return problems
