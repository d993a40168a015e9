"""gaitlake: side-view running video in, gait metrics out.

Runs pose on every frame, finds the runner's gait events and computes running
metrics, keeps them in a Parquet lake you can query with SQL, and serves them
through the running-sessions REST API. Every command prints the data directory
it uses (on stderr); GAITLAKE_DATA_DIR or the data_dir setting changes it.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from pathlib import Path

from analysis.catalogue import cli_summary
from configs import SettingsError, get_settings, install_log_masking, mask_text, masked, secret_values
from gaitlake.cli_types import ellipsize, positive_int

#: The summary lines printed after processing: label, decimals and unit from the metric catalogue.
SUMMARY_LINES = cli_summary()

# One example per top-level command, shown by `gaitlake --help` (a test keeps this complete). A
# command registered elsewhere may instead carry its own: an "example:" block in its epilog.
EXAMPLES = {
    "process": "gaitlake process run.mp4 --user runner@example.org --height-cm 175 --weight-kg 70 --json summary.json",
    "query": 'gaitlake query "SELECT session_id, cadence_spm FROM sessions" --format csv',
    "report": "gaitlake report SESSION_ID -o report.png --comments",
    "config": "gaitlake config",
    "users": "gaitlake users add coach@example.org --role admin --plan pro --name Coach",
    "keys": "gaitlake keys create coach@example.org",
    "serve": "gaitlake serve --port 8000",
    "worker": "gaitlake worker --limit 2",
    "ingest": "gaitlake ingest",
    "reprocess": "gaitlake reprocess --older --concurrency 4",
    "compact": "gaitlake compact --min-files 4",
    "sessions": "gaitlake sessions list --stuck",
    "lake": "gaitlake lake check",
    "stack": "gaitlake stack up",
}

# One-line help for arguments registered elsewhere without one (gaitlake/cli_api.py, cli_flows.py);
# help written next to the argument always wins. Keyed by (command path, dest).
FALLBACK_HELP = {
    ("users add", "email"): "the user's e-mail address (compared case-insensitively)",
    ("users add", "role"): "admin, sub-admin or user (default: user)",
    ("users add", "plan"): "subscription plan (decides the session limit and paid features)",
    ("users add", "name"): "display name",
    ("users add", "height_cm"): "the runner's height in cm (default for their sessions)",
    ("users add", "weight_kg"): "the runner's weight in kg (default for their sessions)",
    ("keys create", "email"): "e-mail address of the user who gets the key",
    ("serve", "host"): "interface to bind (default: api.host, 127.0.0.1)",
    ("serve", "port"): "port to listen on (default: api.port, 8000)",
    ("serve", "workers"): "uvicorn worker processes (default: 1)",
    ("compact", "table"): "only this table (repeatable; default: all three)",
    ("stack up", "api_port"): "API port (default 8000; a taken port is replaced by a free one)",
    ("stack up", "prefect_port"): "Prefect server port (default 4200; a taken port is replaced by a free one)",
    ("stack up", "s3_port"): "SeaweedFS S3 port (default 8333; a taken port is replaced by a free one)",
}

# Secret values of the effective settings: masked in every message this module prints.
_SECRETS: list[str] = []


def _fail(message: str, code: int = 1) -> int:
    print(f"gaitlake: {mask_text(message, _SECRETS)}", file=sys.stderr)
    return code


class HelpFormatter(argparse.HelpFormatter):
    """Wraps prose paragraphs; keeps indented lines (the examples) as written."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks = []
        for block in text.strip().split("\n\n"):
            lines = block.splitlines()
            if any(line.startswith(" ") for line in lines):
                blocks.append("\n".join(indent + line for line in lines))
            else:
                blocks.append(super()._fill_text(" ".join(lines), width, indent))
        return "\n\n".join(blocks)


class Parser(argparse.ArgumentParser):
    """argparse without prefix abbreviations, with one-line errors and a hint for mistyped flags."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        # Unknown options are reported alone: with `--heigth-cm 175 VIDEO` argparse takes 175
        # for the video and would also call VIDEO "unrecognized".
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            target = getattr(namespace, "_parser", None) or self
            flags = [e.split("=", 1)[0] for e in extras if e.startswith("-") and e != "-"]
            if flags:
                known = [s for a in target._actions for s in a.option_strings]
                close = difflib.get_close_matches(flags[0], known, n=1, cutoff=0.6)
                target.error(f"unknown option {flags[0]}" + (f" (did you mean {close[0]}?)" if close else ""))
            target.error(f"unexpected argument(s): {' '.join(extras)}")
        return namespace


def _check_options(args: argparse.Namespace) -> str | None:
    """The first refused option of ``gaitlake process``, as one sentence (the API's rules), or None."""
    from flows import options

    try:
        for field in ("height_cm", "weight_kg", "incline_deg", "capture_fps"):
            setattr(args, field, options.parse_number(getattr(args, field), field, "--" + field.replace("_", "-")))
        args.joints = options.parse_joints(args.joints, "--joints")
    except options.OptionError as exc:
        return str(exc)
    if args.incline_deg is None:
        args.incline_deg = 0.0
    if args.json:
        folder = Path(args.json).expanduser().parent
        if Path(args.json).expanduser().is_dir():
            return f"--json {args.json} is a folder; give a file name (e.g. {Path(args.json) / 'summary.json'})"
        if not folder.is_dir():
            return f"--json {args.json}: the folder {folder} does not exist"
    return None


def _check_video(path: Path, settings, max_frames: int | None = None) -> str | None:
    """Why ``path`` is not an analysable video (one sentence naming it), or None. About a second.

    Header, packets and the decoding of its first and last frames: a file cut short or
    damaged is refused here, before a session row, Prefect or Ray exists."""
    from api.sniff import HEAD_BYTES, describe_non_video, sniff_video

    if not path.exists():
        return f"{path} does not exist"
    if not path.is_file():
        return f"{path} is not a file"
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror or exc.__class__.__name__})"
    if not head:
        return f"{path} is empty (0 bytes)"
    if sniff_video(head) is None:
        why = describe_non_video(head, None).removeprefix("the uploaded file ")
        return f"{path} is not a video: it {why.replace('; upload an', '; give an')}"
    from tasks.video import VideoError, probe_video, verify_decodes

    try:
        info = probe_video(path, settings.video.max_side_px, settings.video.max_pixel_frames)
        verify_decodes(path, info, settings.video.min_decoded_share, max_frames)
    except VideoError as exc:
        return str(exc)  # names the file: "run.mp4 is corrupt: demuxing failed (...)"
    if info.packet_frames < settings.video.min_frames:
        return (f"{path} has {info.packet_frames} video frames; at least {settings.video.min_frames} are "
                f"needed to analyse a run")
    print(f"video: {path.name}, {info.width}x{info.height}, {info.fps:.2f} fps, {info.packet_frames} frames "
          f"({info.codec})", file=sys.stderr)
    return None


def cmd_process(args: argparse.Namespace) -> int:
    problem = _check_options(args)
    if problem:
        return _fail(problem, 2)
    settings = get_settings()
    problem = _check_video(Path(args.video), settings, args.max_frames)
    if problem:
        return _fail(problem, 2)
    from flows.runtime import prepare_environment

    prepare_environment(settings)
    from flows.queue import guard_children

    guard_children(settings.processing.shutdown_grace_s)  # Prefect's server and Ray die with this process
    from flows.intake import IntakeError
    from storage.catalog import Catalog
    from storage.objectstore import ObjectStore

    store, catalog = ObjectStore.from_settings(settings), Catalog.from_settings(settings)
    person = None
    if args.user:
        person = catalog.find_user(args.user)
        if person is None:
            return _fail(f"no user {args.user}: add one first (gaitlake users add {args.user} ...) "
                         f"or give an existing e-mail or id", 2)
    earlier = None if args.force else catalog.earlier_upload(_sha256(Path(args.video)), person and person.id)
    if earlier is not None:
        print(f"{args.video} was already processed as {earlier.id} ({earlier.status}, "
              f"{earlier.created_at:%Y-%m-%d %H:%M} UTC); not processed again (--force does)")
        _print_where(earlier.id, person, settings)
        return 0

    try:  # the session is inserted already claimed by this command: no worker takes it meanwhile
        claimed = _create_claimed_session(args, settings, store, catalog, person)
    except IntakeError as exc:
        return _fail(str(exc))
    row = claimed.row
    from gaitlake.cli_logs import library_logs_to_file

    log_path = library_logs_to_file(settings.data_path / "logs" / "process.log")
    print(f"session {row.id}: accepted ({row.size_bytes / 1e6:.1f} MB, sha256 {row.content_sha256[:12]}); "
          f"Prefect and Ray log to {log_path}", file=sys.stderr)
    from flows.queue import run_one_shot

    try:
        outcome = run_one_shot(settings, row.id, claimed.owner, max_frames=args.max_frames)
    except Exception:  # noqa: BLE001 - the reason is on the row, in one sentence
        failed = catalog.get_session(row.id)
        return _fail(f"session {row.id} failed: {failed.error if failed else 'unknown reason'}")
    _print_summary(row.id, outcome)
    _print_artifacts(row.id, outcome, settings)
    _print_where(row.id, person, settings)
    if args.json and not outcome.skipped:
        _write_summary_json(Path(args.json), row, outcome)
    return 0


def _create_claimed_session(args: argparse.Namespace, settings, store, catalog, person):
    """The video's session, created and claimed by the queue for this command
    (:func:`flows.queue.create_claimed_session`), with the person's height and weight unless given
    (as an API upload does); raises ``IntakeError``."""
    from flows.queue import create_claimed_session

    return create_claimed_session(
        settings, store, catalog, Path(args.video),
        title=args.title or Path(args.video).stem,
        user_id=person.id if person else None,
        # the owner's height and weight unless given (as an API upload does)
        height_cm=args.height_cm or (person.height_cm if person else None),
        weight_kg=args.weight_kg or (person.weight_kg if person else None),
        incline_deg=args.incline_deg,
        capture_fps=args.capture_fps,
        joints=args.joints,
    )


def _write_summary_json(path: Path, row, outcome) -> None:
    """``process --json``: the spec's summary document of the session plus every scalar metric and
    the quality flags, as JSON."""
    from analysis.results import spread_stats
    from api.documents import stats_of, summary_document

    document = {
        "session_id": row.id,
        "session_date": row.created_at.strftime("%d/%m/%Y"),
        "summary_text": None,
        **summary_document(outcome.summary, stats_of(spread_stats(outcome.strides or [], outcome.summary,
                                                                  outcome.quality))),
        "user_information": {"height": row.height_cm, "weight": row.weight_kg},
        # Every scalar metric, flat, with its unit in its name (cadence_spm, contact_time_s, ...).
        "metrics": outcome.summary.to_dict(),
        "quality": outcome.quality.to_dict(),
    }
    from tasks.results import to_json

    path.write_text(json.dumps(json.loads(to_json(document)), indent=2) + "\n")
    print(f"summary written to {path}", file=sys.stderr)


def _print_summary(session_id: str, outcome) -> None:
    if outcome.skipped:  # another processor did it, or this version is already served
        print(f"session {session_id}: not reprocessed ({outcome.reason})")
        return
    summary, quality = outcome.summary, outcome.quality
    print(f"session {session_id}: done")
    print(f"  frames            {quality.decoded_frames} (runner found in {quality.runner_share:.1%})")
    if quality.mean_confidence is not None:
        print(f"  keypoint conf     {quality.mean_confidence:.2f}")
    from analysis.resolution import TIMED_METRICS, resolution_text

    frame_s = quality.resolved_frame_time_s()
    for metric in SUMMARY_LINES:
        value = summary.value(metric.name)
        if value is not None:
            # durations between frame-located events are known to one frame: say so
            res = resolution_text(value, frame_s) if metric.name in TIMED_METRICS else None
            print(f"  {metric.label:<17} {metric.format(value)}" + (f"  {res}" if res else ""))
    for reason in quality.reasons:
        print(f"  note: {reason}")


def _print_artifacts(session_id: str, outcome, settings) -> None:
    """Where the analysed video, snapshots and report were written (paths, or keys on S3)."""
    if outcome.skipped:
        return
    from storage.objectstore import ObjectStore
    from gaitlake.cli_report import artifact_lines

    images = outcome.artifacts
    if not images:
        why = "render.enabled is false" if not settings.render.enabled else "see the warning above"
        print(f"  artifacts         not rendered ({why})")
        return
    for label, where in artifact_lines(ObjectStore.from_settings(settings), images):
        print(f"  {label:<17} {where}")
    print(f"  (gaitlake report {session_id} lists them again)")


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _print_where(session_id: str, person, settings) -> None:
    """Where the session can be seen: its owner's page and the API, or why nowhere but here."""
    if person is None:
        print(f"  owner             none: the page and the API show it to no one (give --user EMAIL); "
              f"gaitlake report {session_id} shows it")
        return
    base = settings.api.public_base_url.rstrip("/") or f"http://{settings.api.host}:{settings.api.port}"
    print(f"  owner             {person.email} ({person.id})")
    print(f"  page              {base}/app/sessions/{session_id} (gaitlake serve)")
    print(f"  API               GET {base}/running/sessions/{session_id}/summary/")


def _open_lake(settings):
    """The lake for reading, or an error sentence when nothing was ever written there (creates nothing)."""
    if not settings.storage.url and not (settings.data_path / "store").is_dir():
        return None, (f"no lake in {settings.data_path}: nothing has been processed with this data dir "
                      f"(set GAITLAKE_DATA_DIR to the one `gaitlake process` used)")
    from storage.lake import Lake
    from storage.objectstore import ObjectStore

    return Lake(ObjectStore.from_settings(settings)), None


def cmd_query(args: argparse.Namespace) -> int:
    import duckdb

    if args.format == "parquet" and not args.output:
        return _fail("--format parquet needs --output FILE", 2)
    lake, problem = _open_lake(get_settings())
    if problem:
        return _fail(problem)
    try:
        table = lake.query(args.sql)
    except duckdb.Error as exc:
        return _fail(f"query failed: {exc}")
    out = Path(args.output) if args.output else None
    if args.format == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    elif args.format == "csv":
        import pyarrow.csv as pacsv

        if out:
            pacsv.write_csv(table, out)
        else:
            pacsv.write_csv(table, sys.stdout.buffer)
    elif args.format == "json":
        from gaitlake.query_json import UnsupportedColumn, rows_as_json

        try:
            text = rows_as_json(table) + "\n"
        except UnsupportedColumn as exc:
            return _fail(f"query --format json: {exc}")
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
    lines = [" | ".join(ellipsize(n, w).ljust(w) for n, w in zip(names, widths)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(ellipsize(c, w).ljust(w) for c, w in zip(r, widths)) for r in rows]
    if table.num_rows > max_rows:
        lines.append(f"... {table.num_rows - max_rows} more rows (use --format csv)")
    lines.append(f"({table.num_rows} rows)")
    return "\n".join(lines) + "\n"


def cmd_config(args: argparse.Namespace) -> int:
    settings = get_settings()
    data = masked(settings.model_dump())
    data["effective"] = masked({"data_dir": str(settings.data_path), "storage_url": settings.storage_url,
                                "catalog_url": settings.catalog_url, "prefect_home": str(settings.prefect_home),
                                "analysis_hash": settings.analysis_hash()})
    print(json.dumps(data, indent=2))
    return 0


def _data_dir_line(settings) -> str:
    """One line: the data directory in use, and where that choice came from."""
    if os.environ.get("GAITLAKE_DATA_DIR"):
        source = "from GAITLAKE_DATA_DIR"
    elif settings.data_dir.strip():
        source = "from the data_dir setting"
    else:
        source = "the default user data dir; GAITLAKE_DATA_DIR changes it"
    extra = "".join(f", {name} {mask_text(url)}" for name, url in
                    (("store", settings.storage.url), ("catalog", settings.catalog.url)) if url)
    return f"gaitlake: data dir {settings.data_path} ({source}){extra}"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="gaitlake", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title="commands", parser_class=Parser)

    p = sub.add_parser("process", help="process one video end to end and print its summary",
                       description="Process one running video end to end: pose, gait events, metrics, "
                                   "rendered artifacts, lake. Options are checked before any work starts.",
                       epilog=f"example:\n  {EXAMPLES['process']}")
    p.add_argument("video", help="path of the video file (MP4, MOV, AVI, MKV or WebM)")
    p.add_argument("--height-cm", metavar="CM", help="runner height, 50-260 cm (scales pixels to metres)")
    p.add_argument("--weight-kg", metavar="KG", help="runner weight, 10-400 kg (for metabolic power)")
    p.add_argument("--incline-deg", metavar="DEG", help="treadmill incline, -45 to 45 degrees (default 0)")
    p.add_argument("--capture-fps", metavar="FPS", help="true capture rate of slow-motion footage, 1-10000")
    p.add_argument("--joints", default="all", help="comma-separated ankle,knee,elbow,hip,shoulder, or all (default)")
    p.add_argument("--title", help="session title (default: the file name)")
    p.add_argument("--user", "--user-id", dest="user", metavar="EMAIL|ID",
                   help="the runner who owns the session (e-mail or id): the page and the API show it to them")
    p.add_argument("--force", action="store_true",
                   help="process the video even if the same file (same SHA-256) was processed before")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="analyse only the first N frames")
    p.add_argument("--json", metavar="OUT", help="also write the summary document (GET summary shape) to OUT")
    p.set_defaults(func=cmd_process)

    q = sub.add_parser("query", help="run DuckDB SQL over the lake views (sessions, frames, strides)",
                       epilog=f"example:\n  {EXAMPLES['query']}")
    q.add_argument("sql", help="one SQL statement over the views sessions, frames and strides")
    q.add_argument("--format", choices=("table", "csv", "json", "parquet"), default="table",
                   help="output format (default: table)")
    q.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout (needed for parquet)")
    q.set_defaults(func=cmd_query)

    c = sub.add_parser("config", help="show the effective settings (secrets masked)",
                       epilog=f"example:\n  {EXAMPLES['config']}")
    c.set_defaults(func=cmd_config)

    from gaitlake import cli_api, cli_flows, cli_report, stack

    cli_api.register_cli(sub)  # users, keys, lake check, serve
    cli_flows.register_cli(sub)  # worker, sessions, reprocess, compact, ingest
    cli_report.register_cli(sub)  # report
    stack.register_cli(sub)  # stack up/down/env/status
    _finish(parser)
    parser.epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples(parser).values())
    return parser


def examples(parser: argparse.ArgumentParser) -> dict[str, str]:
    """command -> one example line: :data:`EXAMPLES`, else the first one in the command's own epilog."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    found = {}
    for name, child in commands.items():
        own = [line.strip() for line in (child.epilog or "").splitlines() if line.strip().startswith("gaitlake ")]
        line = EXAMPLES.get(name) or (own[0] if own else None)
        if line:
            found[name] = line
    return found


def _finish(parser: argparse.ArgumentParser, path: str = "") -> None:
    """Every (sub)parser: no abbreviations, known to its namespace (for errors), a help on every argument."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                child.allow_abbrev = False
                child.set_defaults(_parser=child)
                _finish(child, f"{path} {name}".strip())
        elif action.help is None:
            action.help = FALLBACK_HELP.get((path, action.dest))


def main(argv: list[str] | None = None, exit_fast: bool | None = None) -> int:
    """Run one command; its exit status. As the program (``argv`` None, or ``exit_fast``), the process
    ends as soon as the command is done, without waiting for Prefect, Ray or the interpreter's
    teardown of native libraries (:func:`_exit_now`)."""
    exit_fast = argv is None if exit_fast is None else exit_fast
    # OpenCV's bundled FFmpeg prints decoder complaints ("[h264 @ 0x...] cabac decode ...") on
    # stderr; a damaged file is reported in one sentence instead. GAITLAKE users may set it back.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        args = build_parser().parse_args(argv)
        settings = get_settings()
        _SECRETS[:] = secret_values(settings)
        install_log_masking(settings)
        print(_data_dir_line(settings), file=sys.stderr)
        code = args.func(args)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at interpreter exit
        if exit_fast:
            _exit_now(code, settings.processing.shutdown_grace_s)
        return code
    except SettingsError as exc:
        return _fail(f"invalid configuration: {exc}", 2)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:
        return _closed_stdout()


def _exit_now(code: int, grace_s: float) -> None:
    """End the program with ``code`` now, its output flushed, without the interpreter's teardown.

    - Children (the ephemeral Prefect server, local Ray): their orderly shutdown at interpreter
      exit took 15-20 s after `process` printed its summary, for nothing the user waits for (the
      results are published, the catalog row is final). A detached reaper stops them once this
      process is gone (SIGTERM, then SIGKILL after ``grace_s``: flows.queue.stop_children_after_exit).
    - Native libraries: `gaitlake lake check` aborted after its report ("terminate called
      without an active exception", exit 134; 5 of 30 runs on a healthy 4-session lake). The
      cause (gdb): an Arrow I/O thread released a dataset holding a Python file after the
      interpreter began to finalise; the lake now reads with ``storage.lake_layout.read_parquet``.
      Skipping the teardown also keeps any other library's exit-time work off the user's time.
    """
    import logging

    import psutil

    logging.shutdown()  # flush the log file
    sys.stdout.flush()
    sys.stderr.flush()
    if psutil.Process().children(recursive=True):
        from flows.queue import stop_children_after_exit

        stop_children_after_exit(grace_s)
    os._exit(code)


def _closed_stdout() -> int:
    """The reader of stdout went away (``gaitlake config | head -1``): stop quietly, as `cat` would.

    Python would report the pipe again when it flushes stdout at exit: point stdout at
    /dev/null first. The exit status is the shell's for a SIGPIPE death (128 + 13)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


if __name__ == "__main__":
    raise SystemExit(main())
