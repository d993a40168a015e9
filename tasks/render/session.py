"""The flow's render step: every artifact of one session into the object store.

Object keys (under the session's pipeline version)::

    artifacts/<session>/<version>/analyzed.mp4
    artifacts/<session>/<version>/gait/<side>_<phase>.jpg     (10 images)
    artifacts/<session>/<version>/form/<contact_angle|push_angle|knee_ankle>.jpg
    artifacts/<session>/<version>/report.png

:func:`render_lake_run` draws a written run (served or not) from its own lake tables;
naming the artifacts in the run's sessions row is the lake's job
(``storage.lake.Lake.attach_artifacts``).
"""
from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from analysis.vocabulary import FORM_IMAGES, GAIT_PHASES, JOINTS, SIDES, parse_joints
from storage.objectstore import HeldCopy
from tasks.render.data import RenderData, RenderError
from tasks.render.report import render_report_png
from tasks.render.snapshots import render_snapshots, snapshot_plan
from tasks.render.video import DEFAULT_PANEL_JOINTS, render_video

log = logging.getLogger("gaitlake.render")
_LOCAL_PATH = re.compile(r"""['"]?(?:[A-Za-z]:)?[/\\][^\s'"]+['"]?""")


def artifact_prefix(session_id: str, pipeline_version: str) -> str:
    return f"artifacts/{session_id}/{pipeline_version}"


def artifact_keys(session_id: str, pipeline_version: str) -> dict[str, Any]:
    base = artifact_prefix(session_id, pipeline_version)
    return {
        "video": f"{base}/analyzed.mp4",
        "report": f"{base}/report.png",
        "gait": {side: {ph: f"{base}/gait/{side}_{ph}.jpg" for ph in GAIT_PHASES} for side in SIDES},
        "form": {k: f"{base}/form/{k}.jpg" for k in FORM_IMAGES},
    }


def failure_reason(exc: BaseException) -> str:
    """Why an artifact failed, for the session's notes: the exception's class and message, local
    file paths (a temporary copy of the source, say) left out; the log keeps them."""
    message = _LOCAL_PATH.sub("", str(exc)).strip(" :") or "no detail"
    return f"{exc.__class__.__name__}: {message[:300]}"


def render_session(store, session_id: str, pipeline_version: str, video_key: str, data: RenderData, *,
                   max_side: int = 1280, crf: int = 23, preset: str = "veryfast",
                   joints: Iterable[str] = DEFAULT_PANEL_JOINTS, title: str = "",
                   source: HeldCopy | None = None) -> dict[str, Any]:
    """Render every artifact of one session into the object store; return the images document.

    ``{"video": key, "report": key, "gait": {side: {phase: key}}, "gait_frames": {side:
    {phase: frame}}, "form": {image: key}, "video_info": {...}, "failed": {artifact: reason}}``;
    phases/images that cannot be drawn (too few strides, no flight) are left out. Each artifact
    is rendered and written on its own (atomically): one that fails is logged, named in
    ``failed`` (the page and the PDF show it among the session's quality notes) and left out,
    and never takes the others with it. The snapshots are cut from the frames the video pass
    decodes, so they are missing where the source does not decode. ``source``: the run's copy of
    the video (the flow's, fetched once for every stage); without it a copy of ``video_key`` is fetched.
    """
    keys = artifact_keys(session_id, pipeline_version)
    plan = snapshot_plan(data)
    clean: dict[int, np.ndarray] = {}
    wanted = {f for f, *_ in plan.values()}
    doc: dict[str, Any] = {"gait": {}, "gait_frames": {}, "form": {}}
    failed: dict[str, str] = {}

    def attempt(artifact: str, render) -> None:
        try:
            render()
        except Exception as exc:  # noqa: BLE001 - an artifact is not worth the others
            log.warning("session %s: %s not rendered: %s: %s", session_id, artifact, exc.__class__.__name__, exc)
            failed[artifact] = failure_reason(exc)

    def video() -> None:
        with store.local_copy(video_key, source) as src, tempfile.TemporaryDirectory(prefix="gaitlake-render-") as tmp:
            out = Path(tmp) / "analyzed.mp4"
            info = render_video(src, data, out, max_side=max_side, crf=crf, preset=preset, joints=joints,
                                snapshot_frames=wanted, on_snapshot=lambda i, f: clean.__setitem__(i, f.copy()))
            store.put_file(out, keys["video"])
        doc.update(video=keys["video"], video_info=info)

    def snapshot(name: str, jpeg: bytes) -> None:
        group, leaf = name.split("/", 1)
        if group == "gait":
            side, phase = leaf.split("_", 1)
            key = keys["gait"][side][phase]
            store.write_bytes(key, jpeg)
            doc["gait"].setdefault(side, {})[phase] = key
            # the frame the image shows (the cleanest stride's, tasks.render.snapshots.clean_phase_frames)
            doc["gait_frames"].setdefault(side, {})[phase] = plan[name][0]
        else:
            key = keys["form"][leaf]
            store.write_bytes(key, jpeg)
            doc["form"][leaf] = key

    def report() -> None:
        store.write_bytes(keys["report"], render_report_png(data, title or f"session {session_id}"))
        doc["report"] = keys["report"]

    attempt("video", video)
    for name, jpeg in render_snapshots(clean, data, plan, max_side, failed=failed).items():
        attempt(name, lambda name=name, jpeg=jpeg: snapshot(name, jpeg))
    attempt("report", report)
    if failed:
        doc["failed"] = failed
    return doc


def _run_tables(lake, session_id: str, pipeline_version: str) -> tuple[Any, dict[str, pa.Table]]:
    manifest = lake.manifest(session_id, pipeline_version)
    if manifest is None:
        raise RenderError(f"session {session_id} has no lake run {pipeline_version}")
    tables = {t: lake.read_table(session_id, t, manifest=manifest) for t in manifest.files}
    return manifest, tables


def render_lake_run(store, lake, session_id: str, pipeline_version: str, video_key: str | None = None,
                    **options: Any) -> dict[str, Any]:
    """Render the artifacts of one lake run (served or not) from its tables; return the images document."""
    _, tables = _run_tables(lake, session_id, pipeline_version)
    sessions = tables.get("sessions")
    row = sessions.slice(0, 1).to_pylist()[0] if sessions is not None and sessions.num_rows else {}
    video_key = video_key or row.get("video_key")
    source = options.get("source")
    if not video_key or not ((source is not None and source.fetched) or store.exists(video_key)):
        raise RenderError(f"session {session_id}: the source video is not in the object store")
    data = RenderData.from_tables(tables["frames"], sessions, tables.get("strides"))
    return render_session(store, session_id, pipeline_version, video_key, data,
                          title=options.pop("title", None) or (row.get("title") or f"session {session_id}"),
                          **options)


def panel_joints(selection: str | Iterable[str] | None) -> tuple[str, ...]:
    """The joints the video's live panel shows for a session's joint selection (its stored text,
    :func:`analysis.vocabulary.parse_joints`): the selected ones, or knee, hip and ankle for all."""
    joints = parse_joints(selection)
    return DEFAULT_PANEL_JOINTS if joints == JOINTS else joints


def render_options(settings) -> dict[str, Any]:
    """Renderer options from the ``[render]`` settings section (an empty preset: the renderer's own)."""
    section = settings.render
    out: dict[str, Any] = {"max_side": section.max_side, "crf": section.crf}
    if section.preset:
        out["preset"] = section.preset
    return out
