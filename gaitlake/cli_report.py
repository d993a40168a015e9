"""``gaitlake report SESSION_ID [-o OUT.png]``: a session's artifacts, found by its id.

Lists where ``gaitlake process`` stored the session's analysed video, snapshots
and chart report (local paths, or object-store URLs at scale), then writes the
chart report locally from the lake. Also ``--snapshots DIR`` (re-render the
gait-phase and form snapshots and the analysed video into DIR, from the lake and
the stored source video; no pose) and ``--comments`` (print the rule engine's
coaching for every block).
"""
from __future__ import annotations

import argparse
import json
import posixpath
import sys
from pathlib import Path
from typing import Any


def _fail(message: str, code: int = 1) -> int:
    print(f"gaitlake: {message}", file=sys.stderr)
    return code


def artifact_lines(store, images: dict[str, Any]) -> list[tuple[str, str]]:
    """``(label, where)`` for a session's stored artifacts (an images document, see tasks.render.session).

    ``where`` is a local path for the file store, else the object's URL (``s3://...``).
    """
    def where(key: str) -> str:
        return store.path(key) if store.is_local else store.uri(key)

    lines = []
    if images.get("video"):
        lines.append(("analysed video", where(images["video"])))
    snapshots = [k for group in ("gait", "form") for k in _leaves(images.get(group))]
    if snapshots:
        folder = posixpath.commonpath(snapshots) if len(snapshots) > 1 else posixpath.dirname(snapshots[0])
        lines.append(("snapshots", f"{len(snapshots)} JPEGs under {where(folder)}/ (gait/, form/)"))
    elif images.get("video"):
        lines.append(("snapshots", "none (they need a complete stride per side)"))
    if images.get("report"):
        lines.append(("report", where(images["report"])))
    return lines


def _leaves(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [leaf for value in node.values() for leaf in _leaves(value)]
    return []


def _why_not_served(settings, session_id: str) -> str:
    """Why a session has no served results, in one sentence: its catalog row's state and reason."""
    from storage.catalog import Catalog, SessionStatus

    row = Catalog.from_settings(settings).get_session(session_id)
    if row is None:
        return f"no session {session_id} in the catalog of {settings.data_path}"
    if row.status == SessionStatus.FAILED:
        return f"session {session_id} failed: {row.error or 'no reason was recorded'}"
    if row.status in (SessionStatus.QUEUED, SessionStatus.PROCESSING):
        return f"session {session_id} is {row.status} (no results yet; `gaitlake sessions list` shows the queue)"
    return (f"session {session_id} is {row.status} but has no served results in the lake "
            f"(`gaitlake lake check` tells why)")


def cmd_report(args: argparse.Namespace) -> int:
    from configs import get_settings
    from storage.lake import Lake
    from storage.objectstore import ObjectStore
    from tasks.render import RenderData, render_report_png

    settings = get_settings()
    if not settings.storage.url and not (settings.data_path / "store").is_dir():
        return _fail(f"session {args.session_id} is not in the lake: nothing has been processed with the "
                     f"data dir {settings.data_path} (set GAITLAKE_DATA_DIR to the one `gaitlake process` used)")
    store = ObjectStore.from_settings(settings)
    lake = Lake(store)
    manifest = lake.current_manifest(args.session_id)
    if manifest is None:
        return _fail(_why_not_served(settings, args.session_id))
    tables = {t: lake.read_table(args.session_id, t, manifest=manifest) for t in manifest.files}
    if "frames" not in tables:
        return _fail(f"session {args.session_id} has no frames table")
    sessions = tables.get("sessions")
    row = sessions.slice(0, 1).to_pylist()[0] if sessions is not None and sessions.num_rows else {}
    images = json.loads(row["images_doc"]) if row.get("images_doc") else None
    print(f"session {args.session_id} ({manifest.pipeline_version}), stored artifacts:")
    for label, where in (artifact_lines(store, images) if images else []) or [("none", "not rendered")]:
        print(f"  {label:<15} {where}")
    data = RenderData.from_tables(tables["frames"], sessions, tables.get("strides"))
    out = Path(args.output or f"report-{args.session_id}.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(render_report_png(data, row.get("title") or f"session {args.session_id}"))
    print(f"report written to {out}", file=sys.stderr)

    if args.snapshots:
        from tasks.render import render_snapshots, render_video, snapshot_plan

        video_key = row.get("video_key")
        if not video_key or not store.exists(video_key):
            return _fail("the source video is not in the object store: snapshots need it")
        folder = Path(args.snapshots)
        folder.mkdir(parents=True, exist_ok=True)
        plan = snapshot_plan(data)
        clean = {}
        with store.local_copy(video_key) as src:
            render_video(src, data, folder / "analyzed.mp4", snapshot_frames={f for f, *_ in plan.values()},
                         on_snapshot=lambda i, f: clean.__setitem__(i, f.copy()))
        for name, jpeg in render_snapshots(clean, data, plan).items():
            (folder / (name.replace("/", "_") + ".jpg")).write_bytes(jpeg)
        print(f"analysed video and {len(plan)} snapshots written to {folder}", file=sys.stderr)

    if args.comments:
        from analysis.commentary import comment
        from analysis.strides import StrideTable
        from api.documents import THREAD_TOPICS
        from tasks.results import session_facts

        strides = tables.get("strides")
        facts = session_facts(row, strides=StrideTable.from_rows(strides.to_pylist()) if strides is not None else None)
        for kind, topics in THREAD_TOPICS.items():  # by the API's thread names
            for block, topic in topics.items():
                print(f"[{kind}/{block}]\n{comment(kind, topic, facts, args.units).text}\n")
    return 0


def register_cli(subparsers) -> None:
    """Add ``report`` to the ``gaitlake`` command line."""
    p = subparsers.add_parser("report", help="list a session's stored artifacts and write its chart report (PNG)",
                              description="Find a session's artifacts by its id: list where its analysed video, snapshots "
                                          "and chart report are stored, then write the chart report locally "
                                          "from the lake.",
                              epilog="example:\n  gaitlake report SESSION_ID -o report.png --comments")
    p.add_argument("session_id", help="the session's id (printed by gaitlake process)")
    p.add_argument("-o", "--output", metavar="PNG", help="PNG file to write (default: report-SESSION_ID.png)")
    p.add_argument("--snapshots", metavar="DIR", help="also re-render the analysed video and snapshots into DIR")
    p.add_argument("--comments", action="store_true", help="also print the rule-based coaching for every block")
    p.add_argument("--units", choices=("metric", "imperial"), default="metric", help="units of --comments")
    p.set_defaults(func=cmd_report)
