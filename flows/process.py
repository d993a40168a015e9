"""The ``process_session`` flow: one queued session from video to the lake.

probe -> decode + pose on Ray actors -> keep the runner's track -> analysis ->
lake (atomic) -> catalog ``done``; any failure marks the session ``failed``
with a one-sentence reason and leaves the lake untouched.

Run one directly with ``python -m flows.process SESSION_ID``.
"""
from __future__ import annotations

import sys
from typing import Any

from configs import get_settings
from flows.runtime import prepare_environment

prepare_environment(get_settings())  # before Prefect reads its settings

from prefect import flow, get_run_logger, task  # noqa: E402
from tqdm import tqdm  # noqa: E402

from analysis.engine import AnalysisError, RunnerProfile, analyze  # noqa: E402
from analysis.tracking import select_runner  # noqa: E402
from gaitlake import PIPELINE_VERSION  # noqa: E402
from storage.catalog import Catalog, SessionStatus, utcnow  # noqa: E402
from storage.lake import Lake  # noqa: E402
from storage.objectstore import ObjectStore  # noqa: E402
from tasks.detect import detect_video, load_detections, save_detections  # noqa: E402
from tasks.pose import PoseError, PosePool  # noqa: E402
from tasks.results import frames_table, sessions_table, strides_table  # noqa: E402
from tasks.video import VideoError, VideoInfo, probe_video  # noqa: E402


class ProcessingFailed(RuntimeError):
    """A session could not be processed; ``str()`` is the reason stored in the catalog."""


# Failures that are the input's fault: reported as they are, without a traceback.
EXPECTED_FAILURES = (VideoError, AnalysisError, PoseError, ProcessingFailed)


def _resources():
    settings = get_settings()
    store = ObjectStore.from_settings(settings)
    return settings, store, Catalog.from_settings(settings), Lake(store)


@task(name="probe-video")
def probe_task(session_id: str) -> dict[str, Any]:
    settings, store, catalog, _ = _resources()
    row = catalog.get_session(session_id)
    with store.local_copy(row.video_key) as path:
        info = probe_video(path, settings.video.max_side_px, settings.video.max_pixel_frames)
    return info.to_dict()


@task(name="detect-poses")
def detect_task(session_id: str, info: dict[str, Any], max_frames: int | None = None) -> str:
    """Decode in chunks, run pose on the actor pool, store every detection; return its key."""
    settings, store, catalog, _ = _resources()
    row = catalog.get_session(session_id)
    expected = min(info["packet_frames"], max_frames) if max_frames else info["packet_frames"]
    pool = PosePool(settings)
    try:
        with store.local_copy(row.video_key) as path, tqdm(
            total=expected, unit="frame", desc="pose", file=sys.stderr, dynamic_ncols=True
        ) as bar:
            detections = detect_video(pool, str(path), settings.video.chunk_frames, max_frames, bar.update)
    finally:
        pool.close()
    if detections.n_frames < settings.video.min_frames:
        raise ProcessingFailed(
            f"only {detections.n_frames} frames of the video decode; at least {settings.video.min_frames} are needed"
        )
    return save_detections(store, session_id, detections)


@task(name="analyse-and-write")
def analyse_task(session_id: str, info: dict[str, Any], detections_key: str) -> dict[str, Any]:
    """Select the runner, run the gait engine, and publish the session to the lake."""
    settings, store, catalog, lake = _resources()
    row = catalog.get_session(session_id)
    detections = load_detections(store, detections_key)
    boxes, keypoints = detections.per_frame()
    track = select_runner(boxes, keypoints, settings.tracking.max_jump_box_heights, settings.tracking.max_gap_frames)
    if not track.found.any():
        raise ProcessingFailed("no person was found in the video")
    if track.found_share < settings.tracking.min_runner_share:
        raise ProcessingFailed(
            f"the runner was found in only {track.found_share:.0%} of frames "
            f"(at least {settings.tracking.min_runner_share:.0%} are needed)"
        )
    profile = RunnerProfile(
        height_m=row.height_cm / 100 if row.height_cm else None,
        weight_kg=row.weight_kg,
        incline_deg=row.incline_deg or 0.0,
        mode=settings.analysis.mode,
        capture_fps=row.capture_fps,
        joints=tuple(j.strip() for j in (row.joints or "all").split(",") if j.strip()) or ("all",),
    )
    result = analyze(track.keypoints, info["fps"], profile, frame_size=(info["width"], info["height"]))
    quality = {
        **result.quality,
        "runner_share": track.found_share,
        "tracks_seen": track.n_tracks,
        "decoded_frames": detections.n_frames,
        "reported_frames": info["reported_frames"],
    }
    meta = {
        "title": row.title,
        "user_id": row.user_id,
        "created_at": row.created_at,
        "fps": info["fps"],
        "effective_fps": result.fps,
        "n_frames": detections.n_frames,
        "width": info["width"],
        "height": info["height"],
        "rotation_deg": info["rotation_deg"],
        "duration_s": detections.n_frames / info["fps"],
        "video_key": row.video_key,
        "detections_key": detections_key,
        "analyzed_video_key": None,
        "content_sha256": row.content_sha256,
        "model": "pose:" + settings.pose.model_name,
    }
    documents = {
        "summary_doc": result.summary_document(),
        "details_doc": result.details_document(),
        "form_doc": result.form_analysis_document(),
        "gait_doc": result.gait_analysis_document(),
        "quality_doc": quality,
    }
    tables = {
        "sessions": sessions_table(meta, result.summary, documents),
        "frames": frames_table(track, info["fps"], result.frame_series),
        "strides": strides_table(result.strides),
    }
    manifest = lake.write_session(
        session_id, PIPELINE_VERSION, settings.analysis_hash(), tables,
        date=row.created_at.strftime("%Y-%m-%d"),
    )
    return {"summary": result.summary, "quality": quality, "rows": manifest.rows,
            "summary_document": documents["summary_doc"]}


@flow(name="process-session", log_prints=True)
def process_session(session_id: str, max_frames: int | None = None) -> dict[str, Any]:
    """Process one queued session end to end; returns its summary and quality."""
    logger = get_run_logger()
    _, _, catalog, _ = _resources()
    row = catalog.get_session(session_id)
    if row is None:
        raise ProcessingFailed(f"no session {session_id} in the catalog")
    catalog.update_session(session_id, status=SessionStatus.PROCESSING, error=None)
    try:
        info = probe_task(session_id)
        logger.info("probed %s: %s", session_id, VideoInfo(**info))
        detections_key = detect_task(session_id, info, max_frames)
        outcome = analyse_task(session_id, info, detections_key)
    except EXPECTED_FAILURES as exc:
        catalog.mark_failed(session_id, str(exc))
        raise
    except KeyboardInterrupt:
        catalog.mark_failed(session_id, "processing was interrupted; nothing was written to the lake")
        raise
    except Exception as exc:
        catalog.mark_failed(session_id, f"internal error: {exc.__class__.__name__}: {exc}")
        raise
    catalog.update_session(session_id, status=SessionStatus.DONE, pipeline_version=PIPELINE_VERSION,
                           finished_at=utcnow())
    return outcome


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
