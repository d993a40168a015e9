"""Seed a catalog + store with synthetic processed sessions (stored detections, probe facts, old lake rows).

Used by the bulk tests and the throughput benchmark::

    python tests/scale/seed.py --data-dir /tmp/gaitlake-bench --n 200
    GAITLAKE_DATA_DIR=/tmp/gaitlake-bench GAITLAKE_POSE__BACKEND=replay \\
        gaitlake reprocess --older --pipeline-version p-new --concurrency 4
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from analysis.synthetic import make_session  # noqa: E402
from storage.catalog import Catalog, SessionStatus, User  # noqa: E402
from storage.lake import Lake  # noqa: E402
from storage.objectstore import ObjectStore  # noqa: E402
from tasks.detect import Detections, save_detections  # noqa: E402
from tasks.pose import FrameDetections  # noqa: E402

OLD_VERSION = "p-old"


def synthetic_detections(seed: int, duration_s: float = 4.0, fps: float = 60.0) -> Detections:
    """A runner (synthetic kinematics, varied cadence) plus a static bystander in every frame."""
    rng = np.random.default_rng(seed)
    session = make_session(cadence_spm=float(rng.uniform(155, 185)), speed_mps=float(rng.uniform(2.5, 4.0)),
                           duration_s=duration_s, fps=fps, noise_px=0.5, seed=seed)
    frames = []
    for kp in session.keypoints.astype(np.float32):
        x, y = kp[:, 0], kp[:, 1]
        runner_box = np.array([[x.min() - 10, y.min() - 20, x.max() + 10, y.max() + 5, 0.92]], np.float32)
        bystander = kp.copy()
        bystander[:, 0] += 900
        bystander[:, 2] = 0.6
        by_box = runner_box.copy()
        by_box[0, [0, 2]] += 900
        by_box[0, 4] = 0.5
        frames.append(FrameDetections(np.concatenate([runner_box, by_box]), np.stack([kp, bystander])))
    return Detections.from_frames(frames)


def seed(settings, n: int, version: str = OLD_VERSION, users: tuple[str, ...] = ("u-a", "u-b"),
         start: datetime = datetime(2026, 3, 1, 8, tzinfo=timezone.utc), per_day: int = 10,
         serve_old: bool = True) -> list[str]:
    """Create ``n`` done sessions served at ``version``; returns their ids (oldest first)."""
    store, catalog = ObjectStore.from_settings(settings), Catalog.from_settings(settings)
    lake = Lake(store)
    with catalog.session() as db:
        for user in users:
            if db.get(User, user) is None:
                db.add(User(id=user, email=f"{user}@example.com"))
    ids = []
    for i in range(n):
        sid = f"s{i:05d}"
        created = start + timedelta(days=i // per_day, minutes=i % per_day)
        detections = synthetic_detections(i)
        save_detections(store, sid, detections)
        info = {"fps": 60.0, "width": 1920, "height": 1080, "rotation_deg": 0, "packet_frames": detections.n_frames,
                "reported_frames": detections.n_frames, "codec": "h264", "duration_s": detections.n_frames / 60}
        store.write_bytes(f"work/{sid}/probe.json", json.dumps(info).encode())
        if serve_old:
            lake.write_session(sid, version, "old", {
                "sessions": pa.table({"cadence_spm": [0.0], "fps": [60.0], "n_frames": [detections.n_frames]}),
                "frames": pa.table({"frame_index": pa.array(np.arange(detections.n_frames, dtype=np.int32))}),
            }, date=created.strftime("%Y-%m-%d"))
        catalog.create_session(id=sid, user_id=users[i % len(users)], title=f"synthetic {i}",
                               status=SessionStatus.DONE, pipeline_version=version if serve_old else None,
                               height_cm=175.0, weight_kg=70.0, video_key=f"videos/{sid}/source.mp4",
                               created_at=created, content_sha256=f"{i:064x}")
        ids.append(sid)
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    from configs import load_settings

    settings = load_settings(overrides={"data_dir": args.data_dir})
    ids = seed(settings, args.n)
    print(f"seeded {len(ids)} sessions at {OLD_VERSION} under {settings.storage_url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
