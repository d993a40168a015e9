"""The ``process_session`` flow: one queued session from video to the lake.

probe -> decode + pose on Ray actors -> keep the runner's track -> analysis ->
lake (atomic) -> catalog ``done``; bad input marks the session ``failed``
with a one-sentence reason and leaves the lake untouched.

The flow runs under a claim on the session (:mod:`flows.claims`): given by the
caller (``claimed_by``: the worker, ``gaitlake process``) or taken by the flow
itself (a deployment run). The lake is published only while the claim is held,
and the catalog is finished only by the claim's owner.

The source video is fetched once per run (:meth:`storage.objectstore.ObjectStore.held_copy`):
probe, pose, the feet's second pass and the render read the same local copy, removed at the end.
The tasks pass the probe's :class:`tasks.video.VideoInfo`; the flow returns a :class:`SessionOutcome`.

Nothing runs on import: the flow applies the process's settings (:func:`flows.runtime.flow_settings`)
when it starts, as the CLI, the API and the worker do at theirs. Run one directly with
``python -m flows.process SESSION_ID``.
"""
from __future__ import annotations

if __name__ == "__main__":  # run as a script: the environment before Prefect is imported below
    from flows.runtime import flow_settings

    flow_settings()

import json  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator, Mapping  # noqa: E402
from contextlib import contextmanager, nullcontext  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from tqdm import tqdm  # noqa: E402

from analysis.footage import all_cuts, analyze_footage  # noqa: E402
from analysis.params import AnalysisError, RunnerProfile  # noqa: E402
from analysis.segments import cut_frames  # noqa: E402
from analysis.session_report import Quality, Summary  # noqa: E402
from analysis.tracking import select_runner  # noqa: E402
from configs import get_settings  # noqa: E402
from flows.claims import LeaseLost, heartbeat, new_owner_id  # noqa: E402
from flows.runtime import flow_settings  # noqa: E402
from storage.catalog import Catalog, SessionStatus  # noqa: E402
from storage.lake import Lake  # noqa: E402
from storage.objectstore import HeldCopy, ObjectStore  # noqa: E402
from tasks.detect import Detections, detect_video, detections_key, load_detections, save_detections  # noqa: E402
from tasks.feet import apply_foot_stage, foot_points_for_events  # noqa: E402
from tasks.pose import PoseError, PosePool, replay_batches  # noqa: E402
from tasks.results import session_tables  # noqa: E402
from tasks.video import (FrameSignals, VideoError, VideoInfo, decoded_share_problem, load_frame_signals,  # noqa: E402
                         probe_video)


class ProcessingFailed(RuntimeError):
    """A session could not be processed; ``str()`` is the reason stored in the catalog."""


@dataclass(frozen=True)
class SessionOutcome:
    """What processing one session came to: ``status`` ``done`` with its results, or ``skipped``
    with the ``reason`` (another processor holds it; this pipeline version is already served)."""

    session_id: str
    status: str                                   # "done" | "skipped"
    reason: str | None = None                     # why skipped; None when done
    summary: Summary | None = None                # the engine's scalar metrics (units in their names)
    quality: Quality | None = None                # the engine's and the pipeline's quality flags
    rows: dict[str, int] = field(default_factory=dict)            # lake rows written, per table
    strides: list[dict[str, Any]] = field(default_factory=list)   # one dict per stride
    timings: dict[str, float] = field(default_factory=dict)       # seconds per stage (``<stage>_s``)
    artifacts: dict[str, Any] | None = None       # the render's images document; None: not rendered

    @property
    def skipped(self) -> bool:
        return self.status == "skipped"


# Failures that are the input's fault: reported as they are, without a traceback.
EXPECTED_FAILURES = (VideoError, AnalysisError, PoseError, ProcessingFailed)


def _retry_transient(task, task_run, state) -> bool:
    """Prefect retries transient failures (storage, Ray), never bad input."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception as err:  # noqa: BLE001 - the result itself may be the failure
        exc = err
    return not isinstance(exc, EXPECTED_FAILURES)


def _logger():
    """The run's logger inside a flow or task; the module's when a task body is called directly (reprocess)."""
    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:
        import logging

        return logging.getLogger("gaitlake.flows.process")


def retry_options(settings) -> dict[str, Any]:
    """Prefect retries for the I/O tasks, read when the flow runs (not at import).

    Lake keys depend only on (session, version, date): a retried task overwrites, never duplicates.
    """
    return dict(retries=settings.pipeline.task_retries, retry_delay_seconds=settings.pipeline.task_retry_delay_s,
                retry_condition_fn=_retry_transient)


# One warm pose pool per process (the worker keeps its model loaded across sessions).
_POOL: dict[str, Any] = {}
_POOL_LOCK = threading.Lock()


def pose_pool(settings) -> PosePool:
    """The process's pose pool for these pose/Ray settings, started on first use and kept."""
    import ray

    key = json.dumps([settings.pose.model_dump(), settings.ray.model_dump(), settings.storage_url], sort_keys=True)
    with _POOL_LOCK:
        cached = _POOL.get("pool")
        if cached is not None and (_POOL.get("key") != key or not ray.is_initialized()):
            if ray.is_initialized():
                cached.close()
            cached = None
        if cached is None:
            cached = PosePool(settings)
            _POOL.update(pool=cached, key=key)
        return cached


def close_pose_pool() -> None:
    with _POOL_LOCK:
        pool = _POOL.pop("pool", None)
        _POOL.pop("key", None)
    if pool is not None:
        pool.close()


_WARM = {"keep": False}


def keep_pose_pool_warm(keep: bool = True) -> None:
    """Keep the pose pool between sessions (the queue worker); otherwise it is closed after each
    session, so a library caller or a test does not leave actors holding the CPUs Ray has."""
    _WARM["keep"] = keep


@contextmanager
def session_pose_pool(settings) -> Iterator[PosePool]:
    pool = pose_pool(settings)
    try:
        yield pool
    finally:
        if not _WARM["keep"]:
            close_pose_pool()


def probe_key(session_id: str) -> str:
    return f"work/{session_id}/probe.json"


def frame_signals_key(session_id: str) -> str:
    """The decoded frames' cut and camera-motion evidence (``tasks.video.FrameSignals``)."""
    return f"work/{session_id}/frame-signals.npz"


def _fmt_rate(rate: float | None) -> str:
    return f"{rate:.0f} frames/s" if rate else "not measurable here"


def _resources():
    settings = get_settings()
    store = ObjectStore.from_settings(settings)
    return settings, store, Catalog.from_settings(settings), Lake(store)


def _source_path(source: HeldCopy | None) -> str:
    """The local copy of the session's source video (fetched now if it is not yet)."""
    if source is None:
        raise ProcessingFailed("the session has no source video")
    return str(source.path())


# The source copy a task reads is a live handle, not a value to hash for Prefect's cache keys.
@task(name="probe-video", cache_policy=NO_CACHE)
def probe_task(session_id: str, source: HeldCopy | None) -> VideoInfo:
    settings, store, _, _ = _resources()
    if settings.pose.backend == "replay" and store.exists(probe_key(session_id)):
        return VideoInfo.from_dict(json.loads(store.read_bytes(probe_key(session_id))))  # replay: no video needed
    info = probe_video(_source_path(source), settings.video.max_side_px, settings.video.max_pixel_frames)
    store.write_bytes(probe_key(session_id), json.dumps(info.to_dict()).encode())
    return info


@task(name="detect-poses", cache_policy=NO_CACHE)
def detect_task(session_id: str, source: HeldCopy | None, info: VideoInfo) -> str:
    """Decode in chunks (at most ``info.frame_limit`` frames), run pose on the actor pool, store every
    detection; return its key."""
    settings, store, _, _ = _resources()
    if settings.pose.backend == "replay":  # stored detections, replayed through the actor pool
        stored = load_detections(store, detections_key(session_id))
        with session_pose_pool(settings) as pool:
            batches = replay_batches(session_id, stored.n_frames, pool.batch_size)
            detections = Detections.from_frames([d for batch in pool.map(batches) for d in batch])
        return save_detections(store, session_id, detections)
    expected = info.expected_frames
    path = _source_path(source)
    with session_pose_pool(settings) as pool, tqdm(
        total=expected, unit="frame", desc="pose", file=sys.stderr, dynamic_ncols=True
    ) as bar:
        signals = FrameSignals()
        detections = detect_video(pool, path, decode_chunk_frames(settings, info), info.frame_limit, bar.update,
                                  signals=signals)
    store.write_bytes(frame_signals_key(session_id), signals.to_bytes())
    if detections.n_frames < settings.video.min_frames:
        raise ProcessingFailed(
            f"only {detections.n_frames} frames of the video decode; at least {settings.video.min_frames} are needed"
        )
    check_decoded_share(detections.n_frames, expected, settings.video.min_decoded_share)
    return save_detections(store, session_id, detections)


def check_decoded_share(decoded: int, expected: int, min_share: float) -> None:
    """Fail a file that decodes less than ``min_share`` of the frames it declares (the rule
    :func:`tasks.video.decoded_share_problem` that ``gaitlake process`` applies before anything exists)."""
    problem = decoded_share_problem(decoded, expected, min_share)
    if problem:
        raise ProcessingFailed(problem)


def decode_chunk_frames(settings, info: VideoInfo | Mapping[str, Any]) -> int:
    """Frames per decode chunk within ``video.max_decode_mb``.

    Frames are downscaled as they decode, except for ROI inference, which keeps
    each chunk at full resolution for its crops: there the chunk shrinks to fit
    the budget (with the prefetched chunks), so memory stays bounded on any input.
    """
    chunk = settings.video.chunk_frames
    if not settings.pose.roi:
        return chunk
    info = VideoInfo.coerce(info)
    frame_bytes = info.width * info.height * 3
    in_flight = settings.video.prefetch_chunks + 1
    fits = (settings.video.max_decode_mb << 20) // max(1, frame_bytes * in_flight)
    return max(1, min(chunk, int(fits)))


@task(name="analyse-and-write", cache_policy=NO_CACHE)
def analyse_task(session_id: str, info: VideoInfo, detections_key: str, pipeline_version: str | None = None,
                 publish: bool = True, source: HeldCopy | None = None) -> SessionOutcome:
    """Select the runner, run the gait engine, and write the session to the lake (served if ``publish``)."""
    _, store, _, _ = _resources()
    return analyse_and_write(session_id, info, load_detections(store, detections_key), detections_key,
                             pipeline_version, publish, source=source)


def analyse_and_write(session_id: str, info: VideoInfo | Mapping[str, Any], detections: Detections,
                      detections_key: str, pipeline_version: str | None = None, publish: bool = True,
                      source: HeldCopy | None = None) -> SessionOutcome:
    """Body of :func:`analyse_task` as a plain function (the reprocess flow calls it with replayed detections).

    ``source``: the run's copy of the video, for the feet's second pass (without it, the pass fetches
    its own); ``info`` as a mapping is a stored ``probe.json`` (:meth:`tasks.video.VideoInfo.from_dict`).
    """
    info = VideoInfo.coerce(info)
    settings, store, catalog, lake = _resources()
    pipeline_version = pipeline_version or settings.pipeline_version
    row = catalog.get_session(session_id)
    boxes, keypoints = detections.per_frame()
    signals = (load_frame_signals(store.read_bytes(frame_signals_key(session_id)))
               if store.exists(frame_signals_key(session_id)) else None)
    if signals is not None and len(signals["frame_change"]) != detections.n_frames:
        signals = None                        # from another decode (max_frames): not these frames'
    picture_cuts = cut_frames(signals["frame_change"]) if signals is not None else np.zeros(0, np.int64)
    track = _runner_track(settings, boxes, keypoints, picture_cuts)
    # Real time: the frames' timestamps (variable-rate phone video, in analyze_footage), and the
    # capture rate the user gave or, failing that, the one the container declares for slow motion.
    declared = info.declared_capture_fps
    capture_fps = row.capture_fps or declared
    profile = _runner_profile(row, settings, capture_fps)
    # The engine runs on the [analysis] settings it is hashed under (config_hash).
    frame_size = (info.width, info.height)
    frame_times = info.frame_times_s
    # the "foot" event method reads heel and toe: then the foot points come before the engine
    feet = foot_points_for_events(settings, store, session_id, row.video_key, track.boxes, len(track.boxes),
                                  detections, source)
    result = analyze_footage(track.keypoints, track.boxes, info.fps, all_cuts(picture_cuts, track.boxes),
                             signals["tile_shift"] if signals is not None else None,
                             signals["tile_response"] if signals is not None else None,
                             profile, frame_size, params=settings.analysis.engine_params(),
                             frame_times_s=frame_times, foot_points=feet[0].points if feet and feet[0] else None)
    # heel and toe: the measured foot strike and ankle angle, or the shank proxy with the reason why
    result = apply_foot_stage(settings, store, session_id, row.video_key, result, track.boxes, frame_size,
                              len(track.boxes), detections, feet, source=source)
    quality = _pipeline_quality(result, row, info, track, detections, declared, capture_fps, frame_times)
    meta = _session_meta(row, info, result, detections, detections_key, settings)
    # the engine's typed results; the API builds the spec's documents from them when it reads
    tables = session_tables(meta, result, quality, track, info.fps)
    manifest = lake.write_session(
        session_id, pipeline_version, settings.analysis_hash(), tables,
        date=row.created_at.strftime("%Y-%m-%d"), publish=publish,
    )
    return SessionOutcome(session_id, "done", summary=result.summary, quality=quality, rows=dict(manifest.rows),
                          strides=result.strides.rows())


def _runner_track(settings, boxes, keypoints, picture_cuts: np.ndarray):
    """The one runner's track (``analysis.tracking.select_runner``); :class:`ProcessingFailed` when
    nobody, or the runner in too few frames, is found."""
    track = select_runner(boxes, keypoints, settings.tracking.max_jump_box_heights, settings.tracking.max_gap_frames,
                          cuts=picture_cuts)
    if not track.found.any():
        raise ProcessingFailed("no person was found in the video")
    if track.found_share < settings.tracking.min_runner_share:
        raise ProcessingFailed(
            f"the runner was found in only {track.found_share:.0%} of frames "
            f"(at least {settings.tracking.min_runner_share:.0%} are needed)"
        )
    return track


def _runner_profile(row, settings, capture_fps: float | None) -> RunnerProfile:
    """What the catalog row knows of the runner and the capture, as the engine's profile."""
    return RunnerProfile(
        height_m=row.height_cm / 100 if row.height_cm else None,
        weight_kg=row.weight_kg,
        incline_deg=row.incline_deg or 0.0,
        mode=settings.analysis.mode,
        capture_fps=capture_fps,
        joints=tuple(j.strip() for j in (row.joints or "all").split(",") if j.strip()) or ("all",),
    )


def _pipeline_quality(result, row, info: VideoInfo, track, detections: Detections, declared: float | None,
                      capture_fps: float | None, frame_times) -> Quality:
    """The engine's quality plus what the pipeline knows: frame times, the capture rate's source,
    the runner's track, decoded against declared frames (and a note when the end is missing)."""
    notes = []
    if capture_fps and not row.capture_fps:
        notes.append(f"Slow motion: the file declares it was filmed at {declared:g} frames/s and plays at "
                     f"{info.fps:.4g}; every time uses the capture rate (the flight-phase estimate, "
                     f"{_fmt_rate(result.quality.estimated_capture_fps)}, cross-checks it).")
    quality = replace(result.quality, runner_share=track.found_share).with_added(
        capture_fps_source=("given" if row.capture_fps else "container") if capture_fps else None,
        tracks_seen=track.n_tracks, fragments_joined=track.fragments_joined, decoded_frames=detections.n_frames,
        reported_frames=info.reported_frames, declared_frames=info.declared_frames,
    ).with_reasons(before=notes)
    expected = info.expected_frames
    if detections.n_frames < expected:
        quality = quality.with_added(truncated=True).with_reasons(after=[
            f"only {detections.n_frames} of the {expected} frames the file declares decode; "
            "the end of the file is missing or damaged"])
    return quality


def _session_meta(row, info: VideoInfo, result, detections: Detections, detections_key: str,
                  settings) -> dict[str, Any]:
    """The lake row's metadata: catalog fields, the video's geometry and rates, the keys of its files."""
    return {
        "title": row.title,
        "user_id": row.user_id,
        "created_at": row.created_at,
        "fps": info.fps,
        "effective_fps": result.fps,
        "n_frames": detections.n_frames,
        "width": info.width,
        "height": info.height,
        "rotation_deg": info.rotation_deg,
        # playback time; the timestamps' mean rate where the container's average differs from it
        "duration_s": detections.n_frames / (info.timestamp_fps or info.fps),
        "video_key": row.video_key,
        "detections_key": detections_key,
        "analyzed_video_key": None,
        "content_sha256": row.content_sha256,
        "model": "pose:" + settings.pose.model_name,
    }


@task(name="render-artifacts", cache_policy=NO_CACHE)
def render_task(session_id: str, pipeline_version: str, source: HeldCopy | None = None) -> dict[str, Any] | None:
    """Analysed video, snapshots and chart report from the written (unpublished) run; no pose.

    ``source``: the run's copy of the video (without it, the render fetches its own).

    Artifacts are not worth failing a session for: on error the session is
    published without them (``analyzed_video_key`` stays null) and a warning logged.
    """
    settings, store, catalog, lake = _resources()
    if not settings.render.enabled:
        return None
    from tasks.render import panel_joints, render_lake_run, render_options

    row = catalog.get_session(session_id)
    try:
        return render_lake_run(store, lake, session_id, pipeline_version, row.video_key, source=source,
                               joints=panel_joints(row.joints), **render_options(settings))
    except Exception as exc:  # noqa: BLE001 - artifacts are optional; the numbers are not
        _logger().warning("session %s: artifacts not rendered: %s: %s", session_id,
                                 exc.__class__.__name__, exc)
        return None


@task(name="publish")
def publish_task(session_id: str, pipeline_version: str, images: dict[str, Any] | None) -> None:
    """Serve the run, with the artifact keys in its sessions row (the lake's last write)."""
    _, _, _, lake = _resources()
    lake.attach_artifacts(session_id, pipeline_version, images, publish=True)


@flow(name="process-session", log_prints=True)
def process_session(session_id: str, max_frames: int | None = None, force: bool = False,
                    claimed_by: str | None = None) -> SessionOutcome:
    """Process one queued session end to end; returns its :class:`SessionOutcome`.

    ``claimed_by``: the owner of the caller's claim on the session; without it
    (a deployment run) the flow claims the session itself, and is ``skipped``
    when another live processor holds it. A session whose lake already serves the
    configured pipeline_version (published by an earlier attempt, a re-delivered
    trigger) is marked ``done`` without reprocessing (``skipped``), unless ``force``.
    """
    flow_settings()  # a deployment run's entry point: the same environment as the CLI's and the worker's
    logger = get_run_logger()
    settings, _, catalog, lake = _resources()
    if catalog.get_session(session_id) is None:
        raise ProcessingFailed(f"no session {session_id} in the catalog")
    owner = claimed_by
    if owner is None:
        owner = new_owner_id("flow")
        if not catalog.claim(session_id, owner, settings.processing.lease_s, allow_done=force):
            row = catalog.get_session(session_id)
            logger.info("session %s is %s (owner %s); nothing to do", session_id, row.status, row.lease_owner)
            return SessionOutcome(session_id, "skipped", f"{row.status} (owner {row.lease_owner})")
    beat = heartbeat(catalog, settings.processing.lease_s)
    beat.hold(session_id, owner)
    try:
        return _run_stages(session_id, owner, settings, catalog, lake, max_frames, force, beat)
    except EXPECTED_FAILURES as exc:
        catalog.finish(session_id, owner, status=SessionStatus.FAILED, error=str(exc))
        raise
    except LeaseLost:
        raise
    except BaseException as exc:
        if claimed_by is None:  # our own claim: give it back (or fail it after max_attempts)
            from flows.claims import describe_failure

            catalog.release(session_id, owner, describe_failure(exc), settings.processing.max_attempts)
        raise
    finally:
        if claimed_by is None:
            beat.drop(session_id)


def _run_stages(session_id, owner, settings, catalog, lake, max_frames, force, beat) -> SessionOutcome:
    logger = get_run_logger()
    version = settings.pipeline_version
    if not force and lake.serves_intact(session_id, version):
        catalog.finish(session_id, owner, status=SessionStatus.DONE, pipeline_version=version)
        logger.info("session %s is already published at %s; marked done (force=True reprocesses)",
                    session_id, version)
        return SessionOutcome(session_id, "skipped", f"already served at {version}")
    retries = retry_options(settings)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def timed(name, fn, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            timings[f"{name}_s"] = round(time.perf_counter() - t0, 3)

    video_key = catalog.get_session(session_id).video_key
    # One local copy of the source for every stage that reads it, fetched when the first one does
    # (never, for a replayed session that renders nothing) and removed when the stages end.
    with lake.store.held_copy(video_key) if video_key else nullcontext() as source:
        info = timed("probe", probe_task.with_options(**retries), session_id, source).limited(max_frames)
        logger.info("probed %s: %s", session_id, info)
        beat.check(session_id)
        key = timed("detect", detect_task.with_options(**retries), session_id, source, info)
        outcome = timed("analyse", analyse_task.with_options(**retries), session_id, info, key, publish=False,
                        source=source)
        images = timed("render", render_task, session_id, version, source)
    beat.check(session_id)  # fenced: only the claim's owner publishes
    timed("publish", publish_task.with_options(**retries), session_id, version, images)
    if not catalog.finish(session_id, owner, status=SessionStatus.DONE, pipeline_version=version):
        logger.warning("session %s: published, but the claim had passed to another processor", session_id)
    timings["flow_s"] = round(time.perf_counter() - started, 3)
    return replace(outcome, timings=timings, artifacts=images)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m flows.process SESSION_ID", file=sys.stderr)
        return 2
    try:
        process_session(argv[0])
    except EXPECTED_FAILURES as exc:
        print(f"gaitlake: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
