"""``gaitlake worker | reprocess | compact | ingest``: the scale-out commands (registered by gaitlake.cli)."""
from __future__ import annotations

import argparse
import json
import sys

from gaitlake.cli_types import ellipsize, positive_int


def _fail(message: str, code: int = 1) -> int:
    print(f"gaitlake: {message}", file=sys.stderr)
    return code


def _settings(starts_children: bool = True):
    """The settings, with the environment Prefect and Ray read; a command that may start them
    (``starts_children``) has them stopped when it dies, SIGKILL included (flows.queue.guard_children)."""
    from configs import get_settings
    from flows.runtime import prepare_environment

    settings = get_settings()
    prepare_environment(settings)
    if starts_children:
        from flows.queue import guard_children

        guard_children(settings.processing.shutdown_grace_s)
    return settings


def cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings()
    from flows.worker import run_worker

    run_worker(settings, limit=args.limit, max_sessions=args.max_sessions, idle_exit_s=args.idle_exit_s)
    return 0


def _age(moment) -> str:
    from datetime import timezone

    from storage.catalog import utcnow

    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    seconds = max(0.0, (utcnow() - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def cmd_sessions(args: argparse.Namespace) -> int:
    """List the queue by state; requeue, fail or recover sessions."""
    settings = _settings(starts_children=False)
    from flows.queue import owner_is_dead, recover
    from storage.catalog import Catalog, SessionStatus

    catalog = Catalog.from_settings(settings)  # (gaitlake.cli.main has said which data dir)
    if args.sessions_command == "recover":
        outcome = recover(settings, catalog)
        print(f"recovered {len(outcome)} session(s)")
        for sid, status in sorted(outcome.items()):
            print(f"  {sid} -> {status}")
        return 0
    if args.sessions_command in ("requeue", "fail"):
        changed = 0
        for sid in args.ids:
            row = catalog.get_session(sid)
            if row is None:
                print(f"  {sid}: no such session", file=sys.stderr)
                continue
            live = (row.status == SessionStatus.PROCESSING and row.lease_owner and not owner_is_dead(row.lease_owner)
                    and not args.force)
            if live:
                print(f"  {sid}: processing by {row.lease_owner}; --force to take it anyway", file=sys.stderr)
                continue
            if args.sessions_command == "requeue":
                ok = catalog.finish(sid, row.lease_owner, status=SessionStatus.QUEUED, error="requeued by an operator")
                if ok:
                    catalog.update_session(sid, attempts=0)
            else:
                ok = catalog.finish(sid, row.lease_owner, status=SessionStatus.FAILED,
                                    error=args.reason or "failed by an operator")
            changed += bool(ok)
            print(f"  {sid}: {'requeued' if args.sessions_command == 'requeue' else 'failed'}" if ok
                  else f"  {sid}: changed meanwhile; not touched")
        return 0 if changed == len(args.ids) else 1
    statuses = tuple(args.status) if args.status else None
    rows = catalog.sessions_by_status(statuses, limit=args.limit)
    if args.stuck:
        rows = [r for r in rows if r.status in (SessionStatus.QUEUED, SessionStatus.PROCESSING)]
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row.status)] = counts.get(str(row.status), 0) + 1
    print("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no sessions")
    if rows:
        print(f"{'session':<32}  {'status':<10}  {'age':>6}  {'updated':>7}  attempts  owner / reason")
    for row in rows:
        detail = row.lease_owner or row.error or ""
        print(f"{row.id:<32}  {row.status:<10}  {_age(row.created_at):>6}  {_age(row.updated_at):>7}  "
              f"{row.attempts or 0:>8}  {ellipsize(detail, 80)}")
    return 0


def cmd_reprocess(args: argparse.Namespace) -> int:
    settings = _settings()
    from gaitlake.cli_logs import library_logs_to_file

    print(f"gaitlake: Prefect and Ray log to {library_logs_to_file(settings.data_path / 'logs' / 'reprocess.log')}",
          file=sys.stderr)
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
    for partition, reason in sorted(report.get("skipped", {}).items()):
        print(f"  not compacted {partition} (left as it was): {reason}")
    return 1 if report.get("skipped") else 0


def cmd_ingest(args: argparse.Namespace) -> int:
    import os

    settings = _settings()
    from flows.ingest import ingest_inbox

    report = ingest_inbox(force=args.force, process=False if args.no_process else None)
    print(f"ingest: {len(report['created'])} sessions created, {len(report['duplicates'])} duplicates, "
          f"{len(report['quarantined'])} quarantined, {len(report['waiting'])} waiting for a sidecar")
    for key, where in sorted(report["quarantined"].items()):
        print(f"  quarantined {key} -> {where}")
    embedded = not (settings.prefect.api_url or os.environ.get("PREFECT_API_URL"))
    if report["created"] and embedded and settings.ingest.process and not args.no_process:
        # No server to dispatch to: work the queue here until it is empty (as `gaitlake worker` would).
        from flows.worker import run_worker

        print(f"ingest: processing the queue in this process ({len(report['created'])} new)", file=sys.stderr)
        run_worker(settings, idle_exit_s=0.0)
    return 0


def register_cli(subparsers) -> None:
    w = subparsers.add_parser("worker", help="process the session queue (warm: Prefect, Ray and the model start "
                                             "once); with a Prefect server also serve the deployments")
    w.add_argument("--limit", type=positive_int, help="most deployment flow runs at once with a Prefect server "
                                             "(default: processing.concurrency + 2)")
    w.add_argument("--max-sessions", type=positive_int, help="exit after processing this many sessions")
    w.add_argument("--idle-exit-s", type=float, help="exit once the queue has been empty this long (seconds)")
    w.set_defaults(func=cmd_worker)

    q = subparsers.add_parser("sessions", help="the processing queue: list sessions by state, requeue, fail, recover")
    q.set_defaults(func=cmd_sessions, sessions_command="list", status=None, stuck=False, limit=200)
    q_sub = q.add_subparsers(dest="sessions_command")
    q_list = q_sub.add_parser("list", help="sessions by state with age, attempts and owner or reason")
    q_list.add_argument("--status", action="append", choices=("queued", "processing", "done", "failed"),
                        help="only these states (repeatable)")
    q_list.add_argument("--stuck", action="store_true", help="only queued or processing sessions")
    q_list.add_argument("--limit", type=positive_int, default=200, help="most rows shown (newest first)")
    q_list.set_defaults(func=cmd_sessions)
    q_requeue = q_sub.add_parser("requeue", help="put sessions back in the queue (attempts reset)")
    q_requeue.add_argument("ids", nargs="+", help="session ids")
    q_requeue.add_argument("--force", action="store_true", help="even if a live processor holds it")
    q_requeue.set_defaults(func=cmd_sessions)
    q_fail = q_sub.add_parser("fail", help="mark sessions failed with a reason")
    q_fail.add_argument("ids", nargs="+", help="session ids")
    q_fail.add_argument("--reason", help="the sentence stored as the failure reason")
    q_fail.add_argument("--force", action="store_true", help="even if a live processor holds it")
    q_fail.set_defaults(func=cmd_sessions)
    q_recover = q_sub.add_parser("recover", help="requeue/fail sessions whose processor stopped; "
                                                 "mark published ones done")
    q_recover.set_defaults(func=cmd_sessions)

    r = subparsers.add_parser("reprocess", help="reprocess sessions under a new pipeline_version")
    r.add_argument("ids", nargs="*", help="session ids")
    r.add_argument("--since", help="created on or after (YYYY-MM-DD or ISO time)")
    r.add_argument("--until", help="created on or before (YYYY-MM-DD, inclusive)")
    r.add_argument("--user", help="only this user's sessions")
    r.add_argument("--older", action="store_true", help="only sessions served at another pipeline_version")
    r.add_argument("--all", action="store_true", help="every done session, whatever its version")
    r.add_argument("--pipeline-version", help="version to write (default: pipeline.version / the package's)")
    r.add_argument("--concurrency", type=positive_int, help="sessions at once (default: reprocess.concurrency)")
    r.add_argument("--force", action="store_true", help="recompute even sessions already at that version")
    r.add_argument("--include-failed", action="store_true", help="also retry failed sessions")
    r.add_argument("--no-switch", action="store_true", help="write the new version without serving it")
    r.add_argument("--json", action="store_true", help="print the full outcome as JSON")
    r.set_defaults(func=cmd_reprocess)

    c = subparsers.add_parser("compact", help="merge small lake files per partition (compact-lake)")
    c.add_argument("--table", action="append", choices=("sessions", "frames", "strides"))
    c.add_argument("--min-files", type=positive_int, help="compact partitions with at least this many files")
    c.add_argument("--grace-s", type=float, help="keep superseded files this long (seconds)")
    c.set_defaults(func=cmd_compact)

    i = subparsers.add_parser("ingest", help="run ingest-inbox once (videos + JSON sidecars under inbox/)")
    i.add_argument("--force", action="store_true", help="ingest even content already ingested")
    i.add_argument("--no-process", action="store_true", help="only queue the sessions")
    i.set_defaults(func=cmd_ingest)
