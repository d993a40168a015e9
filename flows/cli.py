"""``gaitlake worker | reprocess | compact | ingest``: the scale-out commands (registered by gaitlake.cli)."""
from __future__ import annotations

import argparse
import json
import sys


def _fail(message: str, code: int = 1) -> int:
    print(f"gaitlake: {message}", file=sys.stderr)
    return code


def _settings():
    from configs import get_settings
    from flows.runtime import prepare_environment

    settings = get_settings()
    prepare_environment(settings)
    return settings


def cmd_worker(args: argparse.Namespace) -> int:
    import os

    settings = _settings()
    if not (settings.prefect.api_url or os.environ.get("PREFECT_API_URL")):
        return _fail("the worker needs a Prefect server: set GAITLAKE_PREFECT__API_URL (or PREFECT_API_URL)", 2)
    from flows.worker import serve

    print("serving deployments: process-session, ingest-inbox (every "
          f"{settings.ingest.interval_s} s), reprocess, compact-lake", file=sys.stderr)
    serve(settings, limit=args.limit)
    return 0


def cmd_reprocess(args: argparse.Namespace) -> int:
    settings = _settings()
    if not (args.ids or args.since or args.until or args.user or args.older or args.all):
        return _fail("say which sessions: IDS, --since/--until, --user, --older or --all", 2)
    from flows.reprocess import reprocess

    outcome = reprocess(
        ids=args.ids or None, since=args.since, until=args.until, user_id=args.user,
        older_only=not args.all or args.older, pipeline_version=args.pipeline_version,
        concurrency=args.concurrency, force=args.force, include_failed=args.include_failed,
        switch=not args.no_switch, progress_bar=True,
    )
    print(f"reprocess to {outcome['pipeline_version']}: {len(outcome['done'])} done, "
          f"{len(outcome['resumed'])} resumed, {len(outcome['failed'])} failed, "
          f"{outcome.get('switched', 0)} switched, {outcome['elapsed_s']:.1f} s "
          f"({outcome['sessions_per_min'] or 0:.0f} sessions/min)")
    for sid, reason in sorted(outcome["failed"].items()):
        print(f"  failed {sid}: {reason}")
    if args.json:
        print(json.dumps(outcome, indent=1, default=str))
    return 1 if outcome["failed"] else 0


def cmd_compact(args: argparse.Namespace) -> int:
    _settings()
    from flows.compact import compact_lake

    report = compact_lake(tables=args.table or None, min_files=args.min_files, grace_s=args.grace_s)
    print(f"compacted {report['partitions']} partitions: served files {report['files_before']} -> "
          f"{report['files_after']}, {report['deleted']} superseded files deleted ({report['elapsed_s']:.1f} s)")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    _settings()
    from flows.ingest import ingest_inbox

    report = ingest_inbox(force=args.force, process=False if args.no_process else None)
    print(f"ingest: {len(report['created'])} sessions created, {len(report['duplicates'])} duplicates, "
          f"{len(report['quarantined'])} quarantined, {len(report['waiting'])} waiting for a sidecar")
    for key, where in sorted(report["quarantined"].items()):
        print(f"  quarantined {key} -> {where}")
    return 0


def register_cli(subparsers) -> None:
    w = subparsers.add_parser("worker", help="serve the Prefect deployments (process-session, ingest-inbox, "
                                             "reprocess, compact-lake)")
    w.add_argument("--limit", type=int, help="most flow runs at once")
    w.set_defaults(func=cmd_worker)

    r = subparsers.add_parser("reprocess", help="reprocess sessions under a new pipeline_version")
    r.add_argument("ids", nargs="*", help="session ids")
    r.add_argument("--since", help="created on or after (YYYY-MM-DD or ISO time)")
    r.add_argument("--until", help="created on or before (YYYY-MM-DD, inclusive)")
    r.add_argument("--user", help="only this user's sessions")
    r.add_argument("--older", action="store_true", help="only sessions served at another pipeline_version")
    r.add_argument("--all", action="store_true", help="every done session, whatever its version")
    r.add_argument("--pipeline-version", help="version to write (default: pipeline.version / the package's)")
    r.add_argument("--concurrency", type=int, help="sessions at once (default: reprocess.concurrency)")
    r.add_argument("--force", action="store_true", help="recompute even sessions already at that version")
    r.add_argument("--include-failed", action="store_true", help="also retry failed sessions")
    r.add_argument("--no-switch", action="store_true", help="write the new version without serving it")
    r.add_argument("--json", action="store_true", help="print the full outcome as JSON")
    r.set_defaults(func=cmd_reprocess)

    c = subparsers.add_parser("compact", help="merge small lake files per partition (compact-lake)")
    c.add_argument("--table", action="append", choices=("sessions", "frames", "strides"))
    c.add_argument("--min-files", type=int, help="compact partitions with at least this many files")
    c.add_argument("--grace-s", type=float, help="keep superseded files this long (seconds)")
    c.set_defaults(func=cmd_compact)

    i = subparsers.add_parser("ingest", help="run ingest-inbox once (videos + JSON sidecars under inbox/)")
    i.add_argument("--force", action="store_true", help="ingest even content already ingested")
    i.add_argument("--no-process", action="store_true", help="only queue the sessions")
    i.set_defaults(func=cmd_ingest)
