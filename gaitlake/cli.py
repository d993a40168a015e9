"""The ``gaitlake`` command line."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path

from configs import SettingsError, get_settings

SUMMARY_LINES = (
    ("cadence_spm", "cadence", "{:.1f} steps/min"),
    ("contact_time_s", "contact time", "{:.3f} s"),
    ("flight_time_s", "flight time", "{:.3f} s"),
    ("stride_time_s", "stride time", "{:.3f} s"),
    ("stride_length_m", "stride length", "{:.2f} m"),
    ("speed_mps", "speed", "{:.2f} m/s"),
    ("pace_min_per_km", "pace", "{:.2f} min/km"),
    ("power_w", "power", "{:.0f} W"),
    ("balance_pct", "balance (L)", "{:.1f} %"),
    ("contact_angle_deg", "contact angle", "{:.1f} deg"),
    ("footstrike", "foot strike", "{}"),
)


def _fail(message: str, code: int = 1) -> int:
    print(f"gaitlake: {message}", file=sys.stderr)
    return code


def cmd_process(args: argparse.Namespace) -> int:
    settings = get_settings()
    from flows.runtime import prepare_environment

    prepare_environment(settings)
    from flows.intake import IntakeError, create_session_from_path
    from storage.catalog import Catalog
    from storage.objectstore import ObjectStore

    store, catalog = ObjectStore.from_settings(settings), Catalog.from_settings(settings)
    from flows.queue import new_owner_id
    from storage.catalog import SessionStatus, utcnow

    owner = new_owner_id("process")  # the session is inserted already claimed by this command
    try:
        row = create_session_from_path(
            store, catalog, Path(args.video),
            title=args.title or Path(args.video).stem,
            user_id=args.user_id,
            height_cm=args.height_cm,
            weight_kg=args.weight_kg,
            incline_deg=args.incline_deg,
            capture_fps=args.capture_fps,
            joints=args.joints,
            status=SessionStatus.PROCESSING, lease_owner=owner, attempts=1,
            lease_expires_at=utcnow() + timedelta(seconds=settings.processing.lease_s),
        )
    except IntakeError as exc:
        return _fail(str(exc))
    print(f"session {row.id}: accepted ({row.size_bytes / 1e6:.1f} MB, sha256 {row.content_sha256[:12]})",
          file=sys.stderr)
    from flows.queue import run_one_shot

    try:
        outcome = run_one_shot(settings, row.id, owner, max_frames=args.max_frames)
    except Exception:  # noqa: BLE001 - the reason is on the row, in one sentence
        failed = catalog.get_session(row.id)
        return _fail(f"session {row.id} failed: {failed.error if failed else 'unknown reason'}")
    _print_summary(row.id, outcome)
    if args.json:
        document = {
            "session_id": row.id,
            "session_date": row.created_at.strftime("%d/%m/%Y"),
            "summary_text": None,
            **outcome["summary_document"],
            "user_information": {"height": args.height_cm, "weight": args.weight_kg},
            # Every scalar metric, flat, with its unit in its name (cadence_spm, contact_time_s, ...).
            "metrics": outcome["summary"],
            "quality": outcome["quality"],
        }
        from tasks.results import to_json

        Path(args.json).write_text(json.dumps(json.loads(to_json(document)), indent=2) + "\n")
        print(f"summary written to {args.json}", file=sys.stderr)
    return 0


def _print_summary(session_id: str, outcome: dict) -> None:
    summary, quality = outcome["summary"], outcome["quality"]
    print(f"session {session_id}: done")
    print(f"  frames            {quality['decoded_frames']} (runner found in {quality['runner_share']:.1%})")
    if quality.get("mean_confidence") is not None:
        print(f"  keypoint conf     {quality['mean_confidence']:.2f}")
    for key, label, fmt in SUMMARY_LINES:
        value = summary.get(key)
        if value is not None:
            print(f"  {label:<17} {fmt.format(value)}")
    for reason in quality.get("reasons", []) or []:
        print(f"  note: {reason}")


def cmd_query(args: argparse.Namespace) -> int:
    import duckdb

    from storage.lake import Lake
    from storage.objectstore import ObjectStore

    lake = Lake(ObjectStore.from_settings(get_settings()))
    try:
        table = lake.query(args.sql)
    except duckdb.Error as exc:
        return _fail(f"query failed: {exc}")
    out = Path(args.output) if args.output else None
    if args.format == "parquet":
        if out is None:
            return _fail("--format parquet needs --output FILE")
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    elif args.format == "csv":
        import pyarrow.csv as pacsv

        if out:
            pacsv.write_csv(table, out)
        else:
            pacsv.write_csv(table, sys.stdout.buffer)
    elif args.format == "json":
        from tasks.results import to_json

        text = to_json(table.to_pylist()) + "\n"
        out.write_text(text) if out else sys.stdout.write(text)
    else:
        text = _format_table(table)
        out.write_text(text) if out else sys.stdout.write(text)
    return 0


def _format_table(table, max_rows: int = 200) -> str:
    names = table.column_names
    rows = [[("" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)) for v in row.values()]
            for row in table.slice(0, max_rows).to_pylist()]
    widths = [min(40, max([len(n)] + [len(r[i]) for r in rows])) for i, n in enumerate(names)]
    lines = [" | ".join(n.ljust(w)[:w] for n, w in zip(names, widths)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(c.ljust(w)[:w] for c, w in zip(r, widths)) for r in rows]
    if table.num_rows > max_rows:
        lines.append(f"... {table.num_rows - max_rows} more rows (use --format csv)")
    lines.append(f"({table.num_rows} rows)")
    return "\n".join(lines) + "\n"


def cmd_config(args: argparse.Namespace) -> int:
    settings = get_settings()
    data = settings.model_dump()
    data["effective"] = {"storage_url": settings.storage_url, "catalog_url": settings.catalog_url,
                         "prefect_home": str(settings.prefect_home), "analysis_hash": settings.analysis_hash()}
    print(json.dumps(data, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gaitlake", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("process", help="process one video end to end and print its summary")
    p.add_argument("video", help="path of the video file")
    p.add_argument("--height-cm", type=float, help="runner height (scales pixels to metres)")
    p.add_argument("--weight-kg", type=float, help="runner weight (for power)")
    p.add_argument("--incline-deg", type=float, default=0.0, help="treadmill incline in degrees")
    p.add_argument("--capture-fps", type=float, help="true capture rate of slow-motion footage")
    p.add_argument("--joints", default="all", help="comma-separated: ankle,knee,elbow,hip,shoulder or all")
    p.add_argument("--title", help="session title (default: file name)")
    p.add_argument("--user-id", help="owner of the session in the catalog")
    p.add_argument("--max-frames", type=int, help="analyse only the first N frames")
    p.add_argument("--json", metavar="OUT", help="write the summary document (GET /summary/ shape) here")
    p.set_defaults(func=cmd_process)

    q = sub.add_parser("query", help="run DuckDB SQL over the lake views (sessions, frames, strides)")
    q.add_argument("sql")
    q.add_argument("--format", choices=("table", "csv", "json", "parquet"), default="table")
    q.add_argument("--output", "-o", help="write to this file instead of stdout")
    q.set_defaults(func=cmd_query)

    c = sub.add_parser("config", help="show the effective settings")
    c.set_defaults(func=cmd_config)

    from api.cli import register_cli as register_api_cli

    register_api_cli(sub)
    __import__("flows.cli", fromlist=["register_cli"]).register_cli(sub)  # worker, reprocess, compact, ingest
    __import__("tasks.report_cli", fromlist=["register_cli"]).register_cli(sub)  # report
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SettingsError as exc:
        return _fail(f"invalid configuration: {exc}", 2)


if __name__ == "__main__":
    raise SystemExit(main())
