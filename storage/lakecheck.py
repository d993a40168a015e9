"""``gaitlake lake check``: verify every served run against its files.

For each ``_current`` pointer: the pointer and the manifest it names parse;
every table file the manifest serves exists, parses as Parquet and holds the
number of rows the manifest records (for a compacted file: that run's rows in
it). Each damaged run is reported with its repair command
(``gaitlake reprocess ID --force``). See docs/lake.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from storage.lake import DamagedRun, Lake


@dataclass
class CheckReport:
    sessions: int = 0
    files: int = 0
    damaged: list[DamagedRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged

    def as_dict(self) -> dict:
        return {
            "sessions": self.sessions, "files": self.files, "ok": self.ok,
            "damaged": [{"session_id": d.session_id, "key": d.key, "problem": d.problem, "repair": d.repair}
                        for d in self.damaged],
        }


def check_lake(lake: Lake) -> CheckReport:
    """Read every served manifest from the store (not from the index) and every file it serves."""
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
        for table in sorted(set(manifest.files) | set(manifest.compacted)):
            report.files += 1
            try:
                lake.verify_table(manifest, table, deep=True)
            except DamagedRun as exc:
                report.damaged.append(exc)
    return report


def format_report(report: CheckReport) -> list[str]:
    lines = [f"damaged: session {d.session_id}: {d.key} {d.problem}; repair: {d.repair}" for d in report.damaged]
    runs = len({d.session_id for d in report.damaged})
    lines.append(f"checked {report.sessions} served sessions, {report.files} files: "
                 + ("all readable" if report.ok else f"{len(report.damaged)} damaged in {runs} sessions"))
    return lines
