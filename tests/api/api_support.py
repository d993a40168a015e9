"""Helpers of the API tests: a small tenant world, fake uploads, schema checks.

A module of its own (not conftest) so tests can import it by a unique name.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import jsonschema
import pyarrow as pa
import uvicorn
from fastapi.testclient import TestClient

from api.keys import create_key
from api.openapi import corrected_spec
from storage.catalog import Catalog, SessionStatus, User
from storage.lake import Lake
from storage.objectstore import ObjectStore
from tasks.lake_schema import conform_tables

# A minimal ISO-BMFF (MP4) header: enough for the content sniffer, not a playable video.
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free"


def run_cli(*argv: str) -> int:
    """``gaitlake <argv>`` for the commands gaitlake/cli_api.py registers, in this process; the exit code."""
    import argparse

    from gaitlake import cli_api as cli

    parser = argparse.ArgumentParser(prog="gaitlake")
    cli.register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def fake_mp4(size: int = 4096) -> bytes:
    return MP4_HEAD + b"\x00" * max(0, size - len(MP4_HEAD))


def _stats(values):
    return {"min": min(values), "max": max(values), "avg": sum(values) / len(values), "values": values}


def sample_documents(seed: float = 0.0) -> dict:
    n = 12
    t = [i / 60 for i in range(n)]
    speed = [3.0 + seed + 0.01 * i for i in range(n)]
    summary_doc = {
        "performance_metrics": {
            "speed": _stats(speed[:4]),
            "pace": _stats([1000 / 60 / v for v in speed[:4]]),
            "cadence": _stats([168.0, 170.0, 169.0, 171.0]),
            "power": _stats([250.0, 255.0, 260.0, 258.0]),
            "normalized_power": _stats([3.5, 3.6, 3.7, 3.65]),
        },
        "running_mechanics": {
            "contact_time": _stats([0.28, 0.27, 0.29, 0.28]),
            "flight_time": _stats([0.08, 0.07, 0.09, 0.075]),
            "stride_time": _stats([0.71, 0.72, 0.70, 0.715]),
            "stride_length": _stats([2.2, 2.25, 2.18, 2.21]),
            "footstrike": "midfoot",
        },
        "balance_and_posture": {
            "balance": _stats([49.5, 50.5, 50.0, 49.8]),
            "contact_angle": _stats([8.0, 9.0, 8.5, 8.7]),
        },
        "distance_and_duration": {"total_distance": 19.5 + seed, "total_time": 6.47},
    }
    details_doc = {
        "metrics": {"speed": speed, "cadence": [169.0] * n, "distance": [3.0 * x for x in t]},
        "angles": {
            "lhip_angle": [10.0 + i for i in range(n)], "rhip_angle": [12.0] * n,
            "lkne_angle": [30.0] * n, "rkne_angle": [31.0] * n, "lsho_angle": [5.0] * n,
            "lelb_angle": [80.0] * n, "lank_angle": [95.0] * n, "posture_angle": [6.0] * n,
        },
        "all_timestamps": t,
        "calculated_metrics": {"speed": {"avg": 3.05, "min": 3.0, "max": 3.11}, "cadence_avg": 169.0},
        "segments": 4,
    }
    form_doc = {"metrics": {
        "speed": 3.05, "balance": 50.0, "cadence": 169.0, "contact_angle": 8.5, "eversion_velocity": None,
        "knee_flexion": 42.0, "posture_angle": 6.0, "ankle_angle": 95.0, "com_oscillation": 0.08,
        "stride_angle": 12.0, "mean_h": 0.9,
    }}
    phase = lambda f: {"video_frame": f, "graph_phase": f * 2, "video_phase": f}  # noqa: E731
    side = lambda s: {  # noqa: E731
        "peak_time": 0.12,
        "initiator": s,
        "phases": {p: phase(i * 5) for i, p in enumerate(("strike", "mid_stance", "takeoff", "flight", "new_strike"))},
        "angles": {f"{s[0]}hip_angle": {"current": [1.0] * 101, "next": [1.1] * 101, "std_dev": [0.2] * 101},
                   "posture_angle": {"current": [6.0] * 101, "next": [6.0] * 101, "std_dev": [0.5] * 101}},
        "graph_timestamps": [i * 7.1 for i in range(101)],
    }
    gait_doc = {"left": side("left"), "right": side("right")}
    return {"summary_doc": summary_doc, "details_doc": details_doc, "form_doc": form_doc, "gait_doc": gait_doc,
            "quality_doc": {"runner_share": 1.0, "view": "side"}}



def summary_scalars(docs: dict) -> dict:
    """The engine's summary a lake row holds beside these documents (as real rows do: each
    summary block's avg, the form metrics, footstrike, distance and time), so that what is
    read from the row's scalars (commentary) and from the documents agree."""
    from api.documents import FORM_METRICS, SUMMARY_METRICS

    s = docs["summary_doc"]
    out = {key: s[block][name]["avg"] for block, names in SUMMARY_METRICS.items() for name, key in names.items()}
    for name, key in FORM_METRICS.items():
        out.setdefault(key, docs["form_doc"]["metrics"][name])
    out.update(footstrike=s["running_mechanics"]["footstrike"], total_distance_m=s["distance_and_duration"]["total_distance"],
               total_time_s=s["distance_and_duration"]["total_time"])
    return out

def stats_columns_of(docs: dict) -> dict:
    """The per-metric statistics a lake row stores with the session (``<metric>_min/_max/_values``),
    from the summary document's blocks."""
    from api.documents import SUMMARY_METRICS
    from tasks.lake_schema import stats_columns

    s, out = docs["summary_doc"], {}
    for block, names in SUMMARY_METRICS.items():
        for name, key in names.items():
            out.update({column: s[block][name][stat] for stat, column in stats_columns(key).items()})
    return out


def sample_frames(docs: dict) -> pa.Table:
    """The run's ``frames`` table: the details document's series and angles per frame, and a few points."""
    details = docs["details_doc"]
    n = len(details["all_timestamps"])
    return pa.table({
        "frame_index": pa.array(range(n), pa.int32()), "time_s": details["all_timestamps"],
        "runner_found": [True] * n, "box_x1": pa.array([1.0] * n, pa.float32()),
        "left_knee_x_raw": pa.array([100.0 + i for i in range(n)], pa.float32()),
        "left_knee_x_m": [0.01 * i for i in range(n)], "left_knee_y_m": [0.5] * (n - 1) + [None],
        **details["metrics"], **details["angles"],
        "left_contact": [1.0 if i % 2 == 0 else 0.0 for i in range(n)], "right_contact": [0.0] * (n - 1) + [float("nan")],
    })


@dataclass
class World:
    client: TestClient
    catalog: Catalog
    store: ObjectStore
    lake: Lake
    users: dict[str, str] = field(default_factory=dict)  # name -> id
    keys: dict[str, str] = field(default_factory=dict)  # name -> api key
    launched: list[str] = field(default_factory=list)

    def h(self, name: str) -> dict[str, str]:
        return {"Authorization": f"API-KEY {self.keys[name]}"}

    def add_user(self, name: str, role: str = "user", admin: str | None = None, plan: str | None = None, **kw) -> str:
        with self.catalog.session() as db:
            user = User(email=f"{name}@example.org", name=name.title(), role=role,
                        admin_id=self.users[admin] if admin else None, plan=plan,
                        height_cm=kw.get("height_cm", 178.0), weight_kg=kw.get("weight_kg", 70.0),
                        profile=kw.get("profile", {"age": 34, "gender": "female", "shoeSize": 42, "brand": "Acme"}))
            db.add(user)
            db.flush()
            self.users[name] = user.id
        self.keys[name] = create_key(self.catalog, self.users[name])
        return self.users[name]

    def add_session(self, owner: str, status: str = SessionStatus.DONE, with_lake: bool = True, seed: float = 0.0,
                    joints: str = "all", images: bool = True) -> str:
        row = self.catalog.create_session(
            user_id=self.users[owner], title=f"{owner} run", status=status, video_key=None, incline_deg=1.0,
            joints=joints, created_at=datetime(2025, 4, 7, 13, 5, tzinfo=timezone.utc),
            error="the video has no runner" if status == SessionStatus.FAILED else None,
        )
        sid = row.id
        video_key = f"videos/{sid}/source.mp4"
        self.store.write_bytes(video_key, fake_mp4())
        self.catalog.update_session(sid, video_key=video_key)
        if with_lake and status == SessionStatus.DONE:
            docs = sample_documents(seed)
            images_doc = {}
            if images:
                images_doc = {
                    "form": {k: f"renders/{sid}/form_{k}.jpg" for k in ("contact_angle", "push_angle", "knee_ankle")},
                    "gait": {s: {p: f"renders/{sid}/{s}_{p}.jpg" for p in ("strike", "mid_stance", "takeoff", "flight", "new_strike")}
                             for s in ("left", "right")},
                }
                for key in images_doc["form"].values():
                    self.store.write_bytes(key, b"\xff\xd8\xff\xe0fakejpeg")
            analyzed = f"renders/{sid}/analyzed.mp4"
            self.store.write_bytes(analyzed, fake_mp4())
            columns = {
                "title": [f"{owner} run"], "user_id": [self.users[owner]], "created_at": ["2025-04-07T13:05:00+00:00"],
                "fps": [60.0], "effective_fps": [60.0], "n_frames": [12], "width": [1080], "height": [1920],
                "duration_s": [0.2], "joints": ["all"],
                **{key: [value] for key, value in summary_scalars(docs).items()},
                **{key: [value] for key, value in stats_columns_of(docs).items()},
                "video_key": [video_key], "analyzed_video_key": [analyzed],
                **{name: [json.dumps(docs[name])] for name in ("gait_doc", "quality_doc")},
                "images_doc": [json.dumps(images_doc)],
            }
            manifest = self.lake.write_session(sid, "v1", "cfg0", conform_tables(
                {"sessions": pa.table(columns), "frames": sample_frames(docs)}))
            self.catalog.update_session(sid, pipeline_version=manifest.pipeline_version,
                                        finished_at=datetime(2025, 4, 7, 13, 9, tzinfo=timezone.utc))
        return sid


_SPEC = corrected_spec()


def response_schema(path: str, method: str, status: int) -> dict:
    return _SPEC["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]


def assert_matches(payload, path: str, method: str, status: int = 200) -> None:
    schema = response_schema(path, method, status)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``app`` under a real uvicorn on 127.0.0.1 (a thread), with ``options`` (e.g.
    :func:`api.server.uvicorn_options`) on top of quiet logging."""

    def __init__(self, app, world=None, **options):
        self.app, self.world = app, world
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, lifespan="off", **options))
        self.thread = threading.Thread(target=self.server.run, name="viewer-uvicorn", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
