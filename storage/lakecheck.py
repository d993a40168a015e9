"""``gaitlake lake check``: verify every served run against its files.

For each ``_current`` pointer: the pointer and the manifest it names parse;
every table file the manifest serves exists, parses as Parquet and holds the
number of rows the manifest records (for a compacted file: that run's rows in
it) and, given the declared ``schemas`` (``tasks.lake_schema.SCHEMAS``, which the
command passes), every declared column with its declared type. Each damaged run
is reported with its repair command (``gaitlake reprocess ID --force``); a run
in an older lake layout (:class:`storage.lake_layout.OutdatedRun`, which the API
refuses) with ``gaitlake reprocess --older``. See docs/lake.md.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from storage.lake import DamagedRun, Lake, Manifest, OutdatedRun
from storage.lake_layout import LINEAGE, schema_problems


@dataclass
class CheckReport:
    sessions: int = 0
    files: int = 0
    damaged: list[DamagedRun] = field(default_factory=list)
    outdated: list[OutdatedRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged and not self.outdated

    def as_dict(self) -> dict:
        return {
            "sessions": self.sessions, "files": self.files, "ok": self.ok,
            "damaged": [{"session_id": d.session_id, "key": d.key, "problem": d.problem, "repair": d.repair}
                        for d in self.damaged],
            "outdated": [{"session_id": d.session_id, "layout": d.layout, "repair": d.repair} for d in self.outdated],
        }


def _check_schema(lake: Lake, manifest: Manifest, table: str, schema: pa.Schema) -> None:
    """:class:`DamagedRun` when a served file lacks a declared column or holds it in another type."""
    key = manifest.served_key(table)
    with lake.store.open(key) as handle:
        actual = pq.ParquetFile(handle).schema_arrow
    problems = schema_problems(actual, pa.unify_schemas([schema, LINEAGE]))
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise DamagedRun(manifest.session_id, key, "does not match the declared schema: " + "; ".join(problems[:3]) + more)


def check_lake(lake: Lake, schemas: Mapping[str, pa.Schema] | None = None) -> CheckReport:
    """Read every served manifest from the store (not from the index) and every file it serves
    (checked against ``schemas``, table -> declared schema, when given)."""
    report = CheckReport()
    for session_id in lake.served_session_ids():
        report.sessions += 1
        try:
            manifest = lake.current_manifest(session_id)
        except DamagedRun as exc:
            report.damaged.append(exc)
            continue
        if manifest is None:  # pointer removed while checking
            continue
        try:
            manifest.require_current_layout()
        except OutdatedRun as exc:
            report.outdated.append(exc)
            continue
        for table in sorted(set(manifest.files) | set(manifest.compacted)):
            report.files += 1
            try:
                lake.verify_table(manifest, table, deep=True)
                if schemas is not None and table in schemas:
                    _check_schema(lake, manifest, table, schemas[table])
            except DamagedRun as exc:
                report.damaged.append(exc)
    return report


def format_report(report: CheckReport) -> list[str]:
    lines = [f"damaged: session {d.session_id}: {d.key} {d.problem}; repair: {d.repair}" for d in report.damaged]
    lines += [f"outdated: session {d.session_id}: {d.problem}" for d in report.outdated]
    runs = len({d.session_id for d in report.damaged})
    found = [f"{len(report.damaged)} damaged in {runs} sessions"] if report.damaged else []
    if report.outdated:
        found.append(f"{len(report.outdated)} sessions in an older lake layout (repair: gaitlake reprocess --older)")
    lines.append(f"checked {report.sessions} served sessions, {report.files} files: "
                 + ("all readable" if report.ok else "; ".join(found)))
    return lines
