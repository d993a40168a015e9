"""A synthetic session in a real lake: a plain-background H.264 clip at 29.97 fps plus the
gait engine's tables for synthetic keypoints (exact truth), written but not yet served."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from analysis.engine import RunnerProfile, analyze
from analysis.synthetic import make_session
from analysis.tracking import RunnerTrack
from api.documents import from_analysis
from storage.lake import Lake
from storage.objectstore import ObjectStore
from tasks.results import frames_table, sessions_table, strides_table
from tests.video_support import reformat
from tests.engine_params import ENGINE_PARAMS

RATE = Fraction(30000, 1001)
SIZE = (480, 320)            # width, height
BACKGROUND = (90, 90, 90)    # BGR, a plain grey
SESSION = "synthsession0001"
VERSION = "ptest"


@dataclass
class SyntheticLakeSession:
    data_dir: Path
    store: ObjectStore
    lake: Lake
    session_id: str
    version: str
    video_key: str
    n_frames: int
    rate: Fraction


def write_plain_video(path: Path, n_frames: int, rate: Fraction = RATE, size=SIZE, color=BACKGROUND) -> None:
    """An H.264 clip of ``n_frames`` plain frames at exactly ``rate``."""
    w, h = size
    frame = np.empty((h, w, 3), np.uint8)
    frame[:] = color
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=rate, options={"preset": "ultrafast", "crf": "18"})
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(n_frames):
            vf = reformat(av.VideoFrame.from_ndarray(frame, format="bgr24"), format="yuv420p")
            vf.pts = i
            vf.time_base = 1 / rate
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def build_session(data_dir: Path, publish: bool = False) -> SyntheticLakeSession:
    syn = make_session(fps=float(RATE), duration_s=3.0, px_per_m=100, lean_deg=6.0)
    kp = syn.keypoints.copy()
    kp[..., 0] += 330 - 960   # into the right half of a 480x320 frame, clear of the panel
    kp[..., 1] += 120 - 845
    T = kp.shape[0]
    result = analyze(kp, float(RATE), RunnerProfile(height_m=1.75, weight_kg=70.0), frame_size=SIZE, params=ENGINE_PARAMS)
    x, y = kp[..., 0], kp[..., 1]
    boxes = np.stack([np.nanmin(x, 1), np.nanmin(y, 1), np.nanmax(x, 1), np.nanmax(y, 1), np.ones(T)], 1)
    track = RunnerTrack(keypoints=kp, boxes=boxes, found=np.ones(T, bool), n_tracks=1, track_scores={0: 1.0})
    store = ObjectStore((data_dir / "store").as_uri())
    lake = Lake(store)
    video_key = f"videos/{SESSION}/source.mp4"
    tmp = data_dir / "source.mp4"
    write_plain_video(tmp, T)
    store.put_file(tmp, video_key)
    meta = {"title": "synthetic run", "user_id": "u1", "created_at": "2025-04-07T13:05:00+00:00",
            "fps": float(RATE), "n_frames": T, "width": SIZE[0], "height": SIZE[1], "video_key": video_key,
            "analyzed_video_key": None}
    docs = {"summary_doc": from_analysis(result)["summary_doc"], "form_doc": from_analysis(result)["form_doc"],
            "gait_doc": from_analysis(result)["gait_doc"], "quality_doc": result.quality.to_dict()}
    tables = {"sessions": sessions_table(meta, result.summary, docs),
              "frames": frames_table(track, float(RATE), result.frame_series),
              "strides": strides_table(result.strides)}
    lake.write_session(SESSION, VERSION, "cfg", tables, date="2025-04-07", publish=publish)
    return SyntheticLakeSession(data_dir, store, lake, SESSION, VERSION, video_key, T, RATE)


@pytest.fixture(scope="session")
def synthetic_lake_session(tmp_path_factory) -> SyntheticLakeSession:
    return build_session(tmp_path_factory.mktemp("artifacts") / "data")
