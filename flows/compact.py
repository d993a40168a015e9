"""The ``compact-lake`` flow: merge the small Parquet files of each lake partition.

Every processed session writes one small file per table; after thousands of
sessions a scan opens thousands of objects (slow on S3). This flow merges the
served files of each ``(table, date)`` partition that holds at least
``compact.min_files`` of them into one ``part-<id>.parquet``, sorted by
session (so per-session lookups prune row groups by statistics), and records
it in each member's manifest. Query results do not change (see
:meth:`storage.lake.Lake.compact`); superseded compacted files are deleted
after ``compact.grace_s`` seconds. Schemas are unified across the files (a
column all null in one file takes its type from the others), and a partition
that cannot be merged is left exactly as it was and named under ``skipped``.
"""
from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger

from flows.runtime import flow_settings
from storage.lake import TABLES, Lake
from storage.objectstore import ObjectStore


@flow(name="compact-lake", log_prints=True)
def compact_lake(tables: list[str] | None = None, min_files: int | None = None,
                 grace_s: float | None = None, delete_originals: bool = False) -> dict[str, Any]:
    """Compact the lake; returns files before/after and the compacted keys."""
    settings = flow_settings()  # this flow's entry point: the environment applied here, not on import
    logger = get_run_logger()
    lake = Lake(ObjectStore.from_settings(settings))
    started = time.monotonic()
    report = lake.compact(
        tuple(tables or TABLES),
        min_files=settings.compact.min_files if min_files is None else min_files,
        row_group_rows=settings.compact.row_group_rows,
        delete_originals=delete_originals,
        grace_s=settings.compact.grace_s if grace_s is None else grace_s,
        log=logger.info,
    )
    report["elapsed_s"] = round(time.monotonic() - started, 3)
    logger.info("compact-lake: %d partitions, served files %d -> %d, %d superseded files deleted (%.1f s)",
                report["partitions"], report["files_before"], report["files_after"], report["deleted"],
                report["elapsed_s"])
    for partition, reason in sorted(report["skipped"].items()):
        logger.warning("compact-lake: %s not compacted, left as it was: %s", partition, reason)
    return report
