"""The ``reprocess`` flow: run an archive of sessions again under a new ``pipeline_version``.

Select sessions (ids, a created-at date range, a user, and/or "served at an
older pipeline_version"), then for each one, with bounded concurrency:
pose (the ``replay`` backend replays stored detections through the Ray actor
pool: no decoding, no model; ``ultralytics`` decodes the stored video again)
-> runner track -> gait engine -> lake files + manifest of the *new* version,
not yet served, with its rendered artifacts (analysed video, snapshots, report)
named in its sessions row, so the switched version keeps ``analyzed_video_url``. When every selected session is through, the served version is
switched (lake ``_current`` pointer, then the catalog's ``pipeline_version``)
for the ones that succeeded; failures keep serving their previous version.

Resumable: a session whose manifest for the target version already exists was
finished by an earlier (crashed) run and is not recomputed; writes use keys
that depend only on (session, version, date), so a rerun never adds rows.
Progress: a Prefect progress artifact (``reprocess-progress``), flow logs, and a
bar on stderr for the CLI (``gaitlake reprocess ...``).

Each session's source video is fetched at most once (one
:meth:`storage.objectstore.ObjectStore.held_copy` per session, as ``process_session`` holds
it): probe, pose, the feet's second pass and the render read the same copy, and a replayed
session whose stages need no video fetches none. Nothing runs on import: the flow applies
the settings (:func:`flows.runtime.flow_settings`) when it starts.
"""
from __future__ import annotations

import contextvars
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from datetime import date, datetime, time as dtime, timezone
from typing import Any

from prefect import flow, get_run_logger
from sqlalchemy import select

from analysis.session_report import Quality
from configs import get_settings
from flows.runtime import flow_settings
from storage.catalog import Catalog, RunningSession, SessionStatus, utcnow
from storage.lake import DamagedRun, Lake
from storage.objectstore import HeldCopy, ObjectStore
from tasks.results import session_documents


class ReprocessError(RuntimeError):
    pass


def _as_datetime(value: str | date | datetime | None, end: bool = False) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    if not isinstance(value, datetime):
        value = datetime.combine(value, dtime.max if end else dtime.min)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def select_sessions(catalog: Catalog, target_version: str, ids: list[str] | None = None,
                    since: str | date | None = None, until: str | date | None = None,
                    user_id: str | None = None, older_only: bool = True,
                    statuses: tuple[str, ...] = (SessionStatus.DONE,)) -> list[str]:
    """Session ids matching every given criterion, oldest first.

    ``since``/``until`` bound ``created_at`` (dates are whole days, inclusive);
    ``older_only`` keeps sessions not already at ``target_version``.
    """
    query = select(RunningSession.id).where(RunningSession.status.in_([str(s) for s in statuses]))
    if ids:
        query = query.where(RunningSession.id.in_(list(ids)))
    if user_id:
        query = query.where(RunningSession.user_id == user_id)
    if (start := _as_datetime(since)) is not None:
        query = query.where(RunningSession.created_at >= start)
    if (stop := _as_datetime(until, end=True)) is not None:
        query = query.where(RunningSession.created_at <= stop)
    if older_only:
        query = query.where((RunningSession.pipeline_version.is_(None))
                            | (RunningSession.pipeline_version != target_version))
    with catalog.session() as db:
        return list(db.scalars(query.order_by(RunningSession.created_at, RunningSession.id)))


def stored_probe(store: ObjectStore, lake: Lake, session_id: str) -> dict[str, Any] | None:
    """The video facts of a processed session, without the video: probe.json, else the served lake row."""
    from flows.process import probe_key

    try:
        return json.loads(store.read_bytes(probe_key(session_id)))
    except FileNotFoundError:
        pass
    try:
        table = lake.read_table(session_id, "sessions")
    except DamagedRun:  # the served run is what is being repaired: probe the video instead
        return None
    if table is None or table.num_rows == 0:
        return None
    row = table.slice(0, 1).to_pylist()[0]
    quality = Quality.from_dict(session_documents(row)["quality_doc"])
    reported = quality.added["reported_frames"] if "reported_frames" in quality.added else row.get("n_frames")
    return {"fps": row["fps"], "width": row["width"], "height": row["height"],
            "rotation_deg": row.get("rotation_deg") or 0, "packet_frames": row.get("n_frames"),
            "reported_frames": reported}


class _Progress:
    """Counts finished sessions; mirrors them to a Prefect progress artifact and an optional bar."""

    def __init__(self, total: int, show_bar: bool):
        self.total, self.done, self.failed = total, 0, 0
        self.lock = threading.Lock()
        self.artifact_id = None
        self.bar = None
        self.last_push = 0.0
        try:
            from prefect.artifacts import create_progress_artifact

            self.artifact_id = create_progress_artifact(0.0, key="reprocess-progress",
                                                        description=f"reprocess: {total} sessions")
        except Exception:  # artifacts need a flow-run context and an API; progress still logs
            self.artifact_id = None
        if show_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="session", desc="reprocess", file=sys.stderr, dynamic_ncols=True)

    def step(self, ok: bool) -> None:
        with self.lock:
            self.done += 1
            self.failed += 0 if ok else 1
            if self.bar is not None:
                self.bar.update(1)
                self.bar.set_postfix(failed=self.failed)
            now = time.monotonic()
            if self.artifact_id is not None and (now - self.last_push > 1.0 or self.done == self.total):
                self.last_push = now
                try:
                    from prefect.artifacts import update_progress_artifact

                    update_progress_artifact(self.artifact_id, 100.0 * self.done / max(1, self.total))
                except Exception:
                    pass

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def served_frames(lake: Lake, session_id: str) -> int | None:
    """Frames the served run of ``session_id`` analysed (its frames row count; from the manifest);
    None when nothing, or a damaged run, is served (all frames are then analysed)."""
    try:
        manifest = lake.current_manifest(session_id)
    except DamagedRun:
        return None
    return (manifest.rows or {}).get("frames") if manifest is not None else None


def _has_artifacts(lake: Lake, session_id: str, version: str) -> bool:
    manifest = lake.manifest(session_id, version)
    table = lake.read_table(session_id, "sessions", manifest=manifest) if manifest is not None else None
    if table is None or table.num_rows == 0:
        return False
    return table.column("analyzed_video_key")[0].as_py() is not None


def attach_artifacts(lake: Lake, session_id: str, version: str, source: HeldCopy | None = None) -> bool:
    """Render the artifacts of the (unpublished) run ``version`` and name them in its sessions row.

    The analysed video, snapshots and report are drawn from that run's own
    tables (no pose), with :func:`flows.process.render_task`'s body, so the
    version reprocess switches to keeps ``analyzed_video_url``; ``source``: the
    session's held copy of its video (without it, the render fetches its own). Returns
    whether artifacts were attached (rendering off or failed: False, the numbers stay).
    """
    from flows.process import render_task

    images = render_task.fn(session_id, version, source)
    if not images:
        return False
    lake.attach_artifacts(session_id, version, images, publish=False)
    return True


def reprocess_one(session_id: str, target_version: str, pool, force: bool = False,
                  max_frames: int | None = None) -> str:
    """Write ``target_version`` of one session to the lake, with its artifacts, unpublished.

    Returns 'done' or 'resumed'. ``max_frames`` (default: as many frames as the
    served run analysed, e.g. a session processed with ``--max-frames``) bounds
    decoding on the ``ultralytics`` path: the rest of the video is never decoded.
    The source video is held once for every stage that reads it (fetched when the first does).
    """
    from flows.process import analyse_and_write
    from tasks.detect import detections_key

    settings = get_settings()
    store = ObjectStore.from_settings(settings)
    lake = Lake(store)
    row = Catalog.from_settings(settings).get_session(session_id)
    video_key = row.video_key if row is not None else None
    with store.held_copy(video_key) if video_key else nullcontext() as source:
        if not force and lake.manifest(session_id, target_version) is not None:
            # Finished by an earlier run that did not get to switch (maybe not to its artifacts).
            if settings.render.enabled and not _has_artifacts(lake, session_id, target_version):
                attach_artifacts(lake, session_id, target_version, source)
            return "resumed"
        info = stored_probe(store, lake, session_id)
        if settings.pose.backend == "replay":
            detections = _replayed(store, session_id, info, pool)
        else:
            info, detections = _detected(settings, store, lake, session_id, info, source, pool, max_frames)
        analyse_and_write(session_id, info, detections, detections_key(session_id),
                          pipeline_version=target_version, publish=False, source=source)
        attach_artifacts(lake, session_id, target_version, source)
    return "done"


def _replayed(store: ObjectStore, session_id: str, info: dict[str, Any] | None, pool):
    """The session's stored detections, replayed through the actor pool (no video, no model)."""
    from flows.process import ProcessingFailed
    from tasks.detect import Detections, detections_key, load_detections
    from tasks.pose import replay_batches

    if info is None:
        raise ProcessingFailed(f"session {session_id} has no stored video facts to replay")
    try:
        n_frames = load_detections(store, detections_key(session_id)).n_frames
    except FileNotFoundError as exc:
        raise ProcessingFailed(f"session {session_id} has no stored detections to replay") from exc
    batches = replay_batches(session_id, n_frames, pool.batch_size)
    return Detections.from_frames([d for batch in pool.map(batches) for d in batch])


def _detected(settings, store: ObjectStore, lake: Lake, session_id: str, info: dict[str, Any] | None,
              source: HeldCopy | None, pool, max_frames: int | None):
    """Pose on the held source video (probed first when no facts are stored), saved; the video
    facts and the detections. At most ``max_frames`` (default: the served run's) are decoded."""
    from flows.process import ProcessingFailed, decode_chunk_frames, probe_key
    from tasks.detect import detect_video, save_detections
    from tasks.video import probe_video

    if source is None:
        raise ProcessingFailed(f"session {session_id} has no source video")
    path = source.path()
    if info is None:
        info = probe_video(path, settings.video.max_side_px, settings.video.max_pixel_frames).to_dict()
        store.write_bytes(probe_key(session_id), json.dumps(info).encode())
    limit = max_frames or served_frames(lake, session_id)
    detections = detect_video(pool, str(path), decode_chunk_frames(settings, info), limit)
    save_detections(store, session_id, detections)
    return info, detections


def switch_served(catalog: Catalog, lake: Lake, session_ids: list[str], target_version: str) -> int:
    """Serve ``target_version`` for these sessions: lake pointer first, then the catalog row."""
    for session_id in session_ids:
        lake.publish(session_id, target_version)
        catalog.update_session(session_id, pipeline_version=target_version, status=SessionStatus.DONE,
                               finished_at=utcnow())
    return len(session_ids)


@flow(name="reprocess", log_prints=True)
def reprocess(ids: list[str] | None = None, since: str | None = None, until: str | None = None,
              user_id: str | None = None, older_only: bool = True, pipeline_version: str | None = None,
              concurrency: int | None = None, force: bool = False, include_failed: bool = False,
              switch: bool = True, progress_bar: bool = False, max_frames: int | None = None) -> dict[str, Any]:
    """Reprocess the selected sessions under ``pipeline_version`` (default: the configured one).

    ``max_frames``: analyse at most this many frames per session (default: as many as its served run).
    """
    settings = flow_settings()  # a deployment run's entry point: the environment before Ray and pose start
    logger = get_run_logger()
    target = pipeline_version or settings.pipeline_version
    store = ObjectStore.from_settings(settings)
    catalog, lake = Catalog.from_settings(settings), Lake(store)
    statuses = (SessionStatus.DONE, SessionStatus.FAILED) if include_failed else (SessionStatus.DONE,)
    selected = select_sessions(catalog, target, ids, since, until, user_id, older_only and not force, statuses)
    width = max(1, concurrency or settings.reprocess.concurrency)
    logger.info("reprocess to %s: %d sessions selected (backend %s, concurrency %d)",
                target, len(selected), settings.pose.backend, width)
    started = time.monotonic()
    progress = _Progress(len(selected), progress_bar)
    outcome: dict[str, Any] = {"pipeline_version": target, "selected": len(selected), "done": [],
                               "resumed": [], "failed": {}}
    pool = None
    try:
        if selected:
            from tasks.pose import PosePool

            pool = PosePool(settings)
        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="reprocess") as executor:
            # Each thread runs in a copy of this flow run's context: Prefect logging (and render_task's) work there.
            futures = {executor.submit(contextvars.copy_context().run, reprocess_one, sid, target, pool, force,
                                       max_frames): sid for sid in selected}
            finished = 0
            for future in as_completed(futures):
                sid = futures[future]
                try:
                    outcome[future.result()].append(sid)
                    progress.step(True)
                except Exception as exc:  # one bad session never stops the archive
                    outcome["failed"][sid] = f"{exc.__class__.__name__}: {exc}"
                    logger.warning("reprocess %s failed: %s", sid, exc)
                    progress.step(False)
                finished += 1
                if finished % 25 == 0:
                    logger.info("reprocess: %d/%d sessions", finished, len(selected))
    finally:
        progress.close()
        if pool is not None:
            pool.close()
    complete = sorted(outcome["done"] + outcome["resumed"])
    if switch:
        outcome["switched"] = switch_served(catalog, lake, complete, target)
    elapsed = time.monotonic() - started
    outcome["elapsed_s"] = round(elapsed, 3)
    outcome["sessions_per_min"] = round(60 * len(complete) / elapsed, 1) if elapsed > 0 else None
    logger.info("reprocess to %s: %d done, %d resumed, %d failed in %.1f s (%.0f sessions/min); "
                "served version switched for %d", target, len(outcome["done"]), len(outcome["resumed"]),
                len(outcome["failed"]), elapsed, outcome["sessions_per_min"] or 0, outcome.get("switched", 0))
    return outcome
