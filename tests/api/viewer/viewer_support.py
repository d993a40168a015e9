"""A processed session without pose: synthetic keypoints (exact truth) through the real engine,
a real source clip, the real renderer (analysed H.264 video, snapshots, chart report) and the
real lake, published the way the flow publishes. Plus a small tenant world around it.

A module of its own (not conftest) so tests and scripts can import it by a unique name.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from api_support import Server  # noqa: F401  (re-exported: the viewer's tests start their servers with it)

from analysis.engine import RunnerProfile, analyze
from analysis.synthetic import make_session
from analysis.tracking import RunnerTrack
from api.app import create_app
from api.keys import create_key
from api.settings import ApiSettings
from configs import load_settings
from storage.catalog import Catalog, SessionStatus, User
from storage.lake import Lake
from storage.objectstore import ObjectStore
from tasks.render import render_lake_run
from tasks.results import session_tables
from tests.engine_params import ENGINE_PARAMS

FPS = Fraction(30)
SIZE = (640, 360)   # width, height of the synthetic clip
VERSION = "vtest"
TRUTH = {"cadence_spm": 170.0, "contact_time_s": 0.25, "speed_mps": 3.0}


def write_source_clip(path: Path, n_frames: int, rate: Fraction = FPS, size=SIZE) -> None:
    """A treadmill-like source clip (MPEG-4 part 2 from OpenCV; the renderer decodes it and encodes the
    analysed H.264 video the page plays): a gradient wall and a belt whose slats scroll."""
    w, h = size
    wall = np.repeat((40 + 50 * np.linspace(0, 1, h))[:, None], w, 1).astype(np.uint8)
    base = np.stack([wall + 20, wall + 10, wall], -1)   # BGR
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(rate), (w, h))
    try:
        for i in range(n_frames):
            img = base.copy()
            img[h - 30:] = 70
            for x in range((i * 6) % 40 - 40, w, 40):
                img[h - 30:, max(0, x):max(0, x + 4)] = 110
            writer.write(img)
    finally:
        writer.release()


def synthetic_analysis(duration_s: float = 4.0, cadence: float = TRUTH["cadence_spm"], seed: int = 0,
                       joints: tuple[str, ...] = ("all",)):
    syn = make_session(cadence_spm=cadence, contact_time_s=TRUTH["contact_time_s"], speed_mps=TRUTH["speed_mps"],
                       fps=float(FPS), duration_s=duration_s, px_per_m=150.0, seed=seed)
    kp = syn.keypoints.copy()
    x, y = kp[..., 0], kp[..., 1]
    kp[..., 0] += SIZE[0] * 0.55 - (np.nanmin(x) + np.nanmax(x)) / 2   # centred, feet on the belt
    kp[..., 1] += (SIZE[1] - 32) - np.nanmax(y)
    result = analyze(kp, float(FPS), RunnerProfile(height_m=1.75, weight_kg=70.0, joints=joints), frame_size=SIZE, params=ENGINE_PARAMS)
    T = kp.shape[0]
    xs, ys = kp[..., 0], kp[..., 1]
    boxes = np.stack([np.nanmin(xs, 1), np.nanmin(ys, 1), np.nanmax(xs, 1), np.nanmax(ys, 1), np.ones(T)], 1)
    track = RunnerTrack(keypoints=kp, boxes=boxes, found=np.ones(T, bool), n_tracks=1, track_scores={0: 1.0})
    return result, track, T


@dataclass
class ViewerWorld:
    data_dir: Path
    catalog: Catalog
    store: ObjectStore
    lake: Lake
    users: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)

    def add_user(self, name: str, role: str = "user", admin: str | None = None, plan: str | None = None) -> str:
        with self.catalog.session() as db:
            user = User(email=f"{name}@example.org", name=name.title(), role=role, plan=plan,
                        admin_id=self.users[admin] if admin else None, height_cm=175.0, weight_kg=70.0)
            db.add(user)
            db.flush()
            self.users[name] = user.id
        self.keys[name] = create_key(self.catalog, self.users[name])
        return self.users[name]

    def add_session(self, owner: str, title: str, created: datetime, status: str = SessionStatus.DONE,
                    render: bool = True, cadence: float = TRUTH["cadence_spm"], error: str | None = None,
                    joints: str = "all") -> str:
        row = self.catalog.create_session(user_id=self.users[owner], title=title, status=status, video_key=None,
                                          incline_deg=1.0, joints=joints, created_at=created, error=error,
                                          height_cm=175.0, weight_kg=70.0)
        sid = row.id
        if status != SessionStatus.DONE:
            return sid
        result, track, T = synthetic_analysis(cadence=cadence, joints=tuple(joints.split(",")))
        video_key = f"videos/{sid}/source.mp4"
        with tempfile.TemporaryDirectory(prefix="gaitlake-viewer-") as tmp:
            clip = Path(tmp) / "source.mp4"
            write_source_clip(clip, T)
            self.store.put_file(clip, video_key)
        meta = {"title": title, "user_id": self.users[owner], "created_at": created, "fps": float(FPS),
                "effective_fps": result.fps, "n_frames": T, "width": SIZE[0], "height": SIZE[1],
                "duration_s": T / float(FPS), "video_key": video_key, "analyzed_video_key": None}
        tables = session_tables(meta, result, result.quality, track, float(FPS))  # as the pipeline lays a run out
        self.lake.write_session(sid, VERSION, "cfg", tables, date=created.strftime("%Y-%m-%d"), publish=False)
        images = render_lake_run(self.store, self.lake, sid, VERSION, video_key, preset="ultrafast") if render else None
        self.lake.attach_artifacts(sid, VERSION, images, publish=True)
        self.catalog.update_session(sid, video_key=video_key, pipeline_version=VERSION, finished_at=created + timedelta(minutes=2))
        return sid


def app_and_world(data_dir: Path, **api_options):
    """An API app on a fresh data dir (no processing launched) and an empty :class:`ViewerWorld`
    over its catalog and store, for tests that build their own tenants."""
    settings = load_settings(environ={}, overrides={"data_dir": str(data_dir)})
    app = create_app(settings, ApiSettings(launch_processing=False, **api_options))
    store = ObjectStore.from_settings(settings)
    return app, ViewerWorld(data_dir, app.state.catalog, store, Lake(store))


def build_world(data_dir: Path, catalog: Catalog, store: ObjectStore) -> ViewerWorld:
    """Tenant A (coach, runner) with a rendered session, two earlier ones, one processing, one failed;
    tenant B (another coach) with one session that A must not see."""
    w = ViewerWorld(data_dir, catalog, store, Lake(store))
    w.add_user("coach", role="admin", plan="pro")
    w.add_user("runner", admin="coach")
    w.add_user("other", role="admin", plan="pro")
    day = datetime(2025, 4, 7, 8, 30, tzinfo=timezone.utc)
    w.sessions["old1"] = w.add_session("runner", "Easy run", day - timedelta(days=14), render=False, cadence=162.0)
    w.sessions["old2"] = w.add_session("runner", "Tempo", day - timedelta(days=7), render=False, cadence=166.0)
    w.sessions["main"] = w.add_session("runner", "Treadmill 3 m/s", day)
    w.sessions["processing"] = w.add_session("runner", "Just uploaded", day + timedelta(hours=1), status=SessionStatus.PROCESSING)
    w.sessions["failed"] = w.add_session("runner", "Dark clip", day + timedelta(hours=2), status=SessionStatus.FAILED,
                                         error="no person was found in the video")
    w.sessions["foreign"] = w.add_session("other", "Other tenant's run", day, render=False)
    return w


def sign_in(watched, server, who: str = "coach") -> None:
    """Sign in through the form with ``who``'s API key (the cookie then rides on the browser context)."""
    page = watched.page
    page.goto(f"{server.url}/app/")
    page.fill("#api_key", server.world.keys[who])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/app/sessions")
    page.wait_for_selector("table.list tbody tr")   # the list's request is done before the test navigates on
