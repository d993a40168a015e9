"""An edited clip through the pipeline's analysis step (issue 24), without pose.

Two shots of the shared treadmill clip (decimated to 30 fps) around a shot of the garage
clip (30 fps) make one edit. The analysis step gets the shots' stored YOLO detections
joined the same way, and the cut and camera evidence that ``tasks.video.FrameSignals``
measures on the edit's decoded frames (as ``detect_task`` stores it). It must find both
cuts from the pictures, restart tracking there, report three segments in the lake and the
API's details document, a static camera, a treadmill, and never pair events across a cut.
"""
from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest

from tasks.detections import Detections, FrameDetections
from tasks.video import FrameSignals, iter_frame_chunks
from tests.analysis.conftest import DATA, TREADMILL_DETECTIONS

VIDEOS = Path(__file__).resolve().parents[2].parent / "shared" / "videos"
#: (clip, frames of the 30 fps version) of each shot.
SHOTS = [("side", slice(0, 388, 2)), ("garage", slice(0, 180)), ("side", slice(81, 388, 2))]


SIZE = (1080, 1920)                 # the edit's frame size: the garage shot (720x1280) is scaled up


def _frames(name: str):
    path = VIDEOS / name
    if not path.exists():
        pytest.skip("shared video not found")
    for chunk in iter_frame_chunks(path, 32):
        for f in chunk:
            yield f if f.shape[1] == SIZE[0] else cv2.resize(f, SIZE, interpolation=cv2.INTER_LINEAR)


def _detections(path: Path, scale: float = 1.0) -> list[FrameDetections]:
    boxes, kps = Detections.from_bytes(path.read_bytes()).per_frame()
    out = []
    for b, k in zip(boxes, kps):
        b, k = b.copy(), k.copy()
        b[:, :4] *= scale
        k[..., :2] *= scale
        out.append(FrameDetections(b, k))
    return out


@pytest.fixture(scope="module")
def edit():
    dets = {"side": _detections(TREADMILL_DETECTIONS),
            "garage": _detections(DATA / "treadmill-garage-30fps.detections.npz", SIZE[0] / 720)}
    clips = {"side": "treadmill-side-60fps.mp4", "garage": "treadmill-garage-30fps.mp4"}
    signals = FrameSignals()
    per_frame = []
    for name, sl in SHOTS:
        wanted = set(range(388)[sl])
        for i, f in enumerate(_frames(clips[name])):
            if i in wanted:
                signals.update(f)
        per_frame += dets[name][sl]
    return Detections.from_frames(per_frame), signals


def test_edited_clip_is_three_segments_in_the_lake_and_the_api(settings, edit, tmp_path):
    from api.documents import from_lake
    from flows.intake import create_session_from_stream
    from flows.process import analyse_and_write, frame_signals_key
    from storage.catalog import Catalog
    from storage.lake import Lake
    from storage.objectstore import ObjectStore

    detections, signals = edit
    store, catalog = ObjectStore.from_settings(settings), Catalog.from_settings(settings)
    row = create_session_from_stream(store, catalog, io.BytesIO(b"\0" * 64), "edit.mp4", title="edit")
    store.write_bytes(frame_signals_key(row.id), signals.to_bytes())
    key = f"work/{row.id}/detections.npz"
    store.write_bytes(key, detections.to_bytes())
    info = {"fps": 30.0, "width": 1080, "height": 1920, "rotation_deg": 0, "reported_frames": detections.n_frames,
            "packet_frames": detections.n_frames}
    out = analyse_and_write(row.id, info, detections, key)
    q = out.quality
    lengths = [len(range(388)[sl]) for _, sl in SHOTS]
    cuts = np.cumsum(lengths)[:-1].tolist()
    assert q.segments == 3 and q.cuts == cuts
    assert q.added["camera"] == "static" and q.mode == "treadmill"
    assert any("belt speed" in r for r in q.reasons)
    seg_of = lambda f: int(np.searchsorted(cuts, f, side="right"))  # noqa: E731
    for s in out.strides:
        assert seg_of(s["ic_frame"]) == seg_of(s["next_ic_frame"])
        if s["contralateral_ic_frame"] is not None:
            assert seg_of(s["contralateral_ic_frame"]) == seg_of(s["ic_frame"])
    for d in q.segments_detail:
        assert d["cadence_spm"] == pytest.approx(168.5, rel=0.04)        # both runners run at 168-169
    assert out.summary.cadence_spm == pytest.approx(168.5, rel=0.02)
    lake = Lake(store)
    written = lake.read_table(row.id, "sessions").to_pylist()[0]
    details = from_lake("details_doc", written, q, lambda table: lake.read_table(row.id, table))
    assert details["segments"] == 3


def test_a_declared_capture_rate_times_slow_motion_and_says_so(settings):
    """The shared 60 fps clip as a phone's 4x slow motion: the file plays at 15 fps and
    declares ``com.android.capture.fps`` 60 (``VideoInfo.declared_capture_fps``). Without
    the declaration the engine would flag 42 steps/min as implausible."""
    from flows.intake import create_session_from_stream
    from flows.process import analyse_and_write
    from storage.catalog import Catalog
    from storage.objectstore import ObjectStore

    store, catalog = ObjectStore.from_settings(settings), Catalog.from_settings(settings)
    row = create_session_from_stream(store, catalog, io.BytesIO(b"\0" * 64), "slomo.mp4", title="slomo")
    detections = Detections.from_bytes(TREADMILL_DETECTIONS.read_bytes())
    key = f"work/{row.id}/detections.npz"
    store.write_bytes(key, detections.to_bytes())
    info = {"fps": 15.0, "width": 1080, "height": 1920, "rotation_deg": 0, "reported_frames": detections.n_frames,
            "packet_frames": detections.n_frames, "declared_capture_fps": 60.0}
    out = analyse_and_write(row.id, info, detections, key)
    q = out.quality
    assert q.added["capture_fps_source"] == "container" and q.implausible_timing is False
    assert q.fps_used == 60.0 and q.added["frame_times"] == "constant"
    assert out.summary.cadence_spm == pytest.approx(168.6, abs=1.0)
    assert any("declares it was filmed at 60 frames/s" in r for r in q.reasons)
    assert q.estimated_capture_fps == pytest.approx(60.0, rel=0.15)      # the cross-check agrees
