"""The scale-out topology for real, as docs/scale.md brings it up: ``gaitlake stack up``.

SeaweedFS (S3), two PostgreSQL databases (catalog, Prefect), ``prefect server
start``, a Ray head on loopback with its own token, ``gaitlake worker`` and
``gaitlake serve``, configured by environment only. A 2.5 s clip (cut from the
shared treadmill video, half size), imgsz 320, one pose actor:

* the listeners of every process started are on 127.0.0.1 only (Ray's too),
  and the Ray head refuses a client without its token;
* an upload through the API ends ``done`` through a ``process-session``
  deployment run on the worker, with the pose actor on the started cluster,
  and its analysed video downloads through a presigned link; at the same time
  a video dropped in the inbox is picked up by the ingest-inbox schedule
  (one step: the two runs overlap);
* reprocess switches the served version and keeps ``analyzed_video_url``;
* the compact-lake deployment compacts sessions with and without a foot strike;
* SIGKILL of the worker during pose: a restarted worker completes the session,
  one copy of its rows in the lake.

Each step's wall time is printed (``-s``) and recorded in docs/scale.md.
Everything started is stopped and deleted at the end (databases dropped).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest

from tests.video_support import reformat

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
TREADMILL = REPO.parent / "shared" / "videos" / "treadmill-side-60fps.mp4"
SECONDS = 2.5
TIMINGS: dict[str, float] = {}
STATE: dict[str, str] = {}  # session ids shared by the steps below (each step its own test)
# The worker's and the API's settings for this run (the stack passes the environment on).
RUN_ENV = {
    "GAITLAKE_POSE__IMGSZ": "320",
    "GAITLAKE_RAY__NUM_ACTORS": "1",
    "GAITLAKE_RAY__NUM_CPUS_PER_ACTOR": "1",
    "GAITLAKE_INGEST__INTERVAL_S": "15",
    # The worker's queue loop leaves a fresh session this long to the process-session run the API
    # triggered (that run must do the work; a flow-run process can take a minute to start on a
    # loaded machine). The restarted worker of the SIGKILL step uses RECOVERY_LEASE_S.
    "GAITLAKE_PROCESSING__LEASE_S": "300",
    "GAITLAKE_RENDER__MAX_SIDE": "480",
    "GAITLAKE_COMPACT__GRACE_S": "0",
}
LOOPBACK = ("127.0.0.1", "::ffff:127.0.0.1", "::1")
RECOVERY_LEASE_S = "20"


def _step(name: str, started: float) -> float:
    TIMINGS[name] = round(time.monotonic() - started, 1)
    print(f"\n[topology] {name}: {TIMINGS[name]} s", flush=True)
    return TIMINGS[name]


def _cut(src: Path, dst: Path, seconds: float, start_s: float = 0.0) -> Path:
    """Frames [start_s, start_s + seconds) of ``src``, re-encoded at half size (less to decode and render)."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        rate = vin.average_rate
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height = vin.codec_context.width // 2, vin.codec_context.height // 2
        vout.pix_fmt = "yuv420p"
        vout.options = {"preset": "ultrafast", "crf": "20"}
        n = 0
        for frame in inp.decode(vin):
            t = float(frame.pts * vin.time_base)
            if t < start_s:
                continue
            if t >= start_s + seconds:
                break
            image = reformat(frame, width=vout.width, height=vout.height, format="yuv420p")
            image.pts, image.time_base = n, 1 / Fraction(rate)
            n += 1
            for packet in vout.encode(image):
                out.mux(packet)
        for packet in vout.encode():
            out.mux(packet)
    return dst


class Topology:
    def __init__(self, stack, root: Path):
        import httpx

        self.stack, self.root = stack, root
        self.env = stack.child_env()
        self.api = f"http://127.0.0.1:{stack.state['ports']['api']}"
        self.prefect = self.env["GAITLAKE_PREFECT__API_URL"]
        self.http = httpx.Client(timeout=30)

    # -- the system under test, seen from outside --------------------------------
    def settings(self, **extra: str):
        from configs import load_settings

        return load_settings({k: v for k, v in {**self.env, **extra}.items() if k.startswith("GAITLAKE_")})

    def catalog(self):
        from storage.catalog import Catalog

        return Catalog.from_settings(self.settings())

    def lake(self):
        from storage.lake import Lake
        from storage.objectstore import ObjectStore

        return Lake(ObjectStore.from_settings(self.settings()))

    def gaitlake(self, *argv: str, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gaitlake.cli", *argv], env={**self.env, **extra},
                              cwd=REPO, capture_output=True, text=True, timeout=timeout)

    def wait(self, what: str, check, timeout: float, every: float = 1.0):
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                logs = {n: Path(i["log"]).read_text(errors="replace")[-3000:]
                        for n, i in self.stack.state["components"].items() if n in ("worker", "api")}
                raise AssertionError(f"{what}: not within {timeout:.0f} s; logs:\n" + "\n".join(
                    f"--- {n}\n{t}" for n, t in logs.items()))
            time.sleep(every)

    def status(self, session_id: str) -> str | None:
        row = self.catalog().get_session(session_id)
        return row.status if row is not None else None

    def upload(self, key: str, user_id: str, clip: Path, title: str) -> str:
        with clip.open("rb") as handle:
            r = self.http.post(f"{self.api}/running/sessions/", headers={"Authorization": f"API-KEY {key}"},
                               files={"video": (clip.name, handle, "video/mp4")},
                               data={"user_id": user_id, "session_name": title})
        assert r.status_code == 200, r.text
        return r.json()["session_id"]

    def details(self, key: str, session_id: str) -> dict:
        r = self.http.get(f"{self.api}/running/sessions/{session_id}/", headers={"Authorization": f"API-KEY {key}"})
        assert r.status_code == 200, r.text
        return r.json()

    def flow_run(self, flow_run_id: str) -> dict:
        return self.http.get(f"{self.prefect}/flow_runs/{flow_run_id}").json()

    def task_runs(self, flow_run_id: str) -> list[dict]:
        r = self.http.post(f"{self.prefect}/task_runs/filter",
                           json={"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200})
        assert r.status_code == 200, r.text
        return r.json()

    def deployment(self, name: str) -> dict:
        r = self.http.get(f"{self.prefect}/deployments/name/{name}")
        assert r.status_code == 200, r.text
        return r.json()

    def run_deployment(self, name: str, parameters: dict, timeout: float) -> dict:
        deployment = self.deployment(name)
        r = self.http.post(f"{self.prefect}/deployments/{deployment['id']}/create_flow_run",
                           json={"parameters": parameters})
        assert r.status_code in (200, 201), r.text
        run_id = r.json()["id"]
        return self.wait(f"{name} run", lambda: (lambda fr: fr if fr["state_type"] in (
            "COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None)(self.flow_run(run_id)), timeout)

    def ray_actors(self) -> list[tuple[str, str]]:
        """(class, state) of every actor the Ray head has seen (its GCS; a driver with the token)."""
        code = ("import json, os, ray; from ray._private import state; "
                "ray.init(address=os.environ['GAITLAKE_RAY__ADDRESS'], log_to_driver=False); "
                "print(json.dumps([[a.get('ActorClassName') or a.get('Name'), a['State']] "
                "for a in state.actors().values()]))")
        out = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        return [tuple(a) for a in json.loads(out.stdout.strip().splitlines()[-1])]

    def pose_actor_alive(self) -> bool:
        import psutil

        for pid in self.stack.pids().get("ray", []):
            try:
                if "PoseActor" in " ".join(psutil.Process(pid).cmdline()):
                    return True
            except psutil.Error:
                pass
        return False


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    if not TREADMILL.exists():
        pytest.skip(f"{TREADMILL} is missing")
    from gaitlake.stack import Stack, StackError

    root = tmp_path_factory.mktemp("stack")
    saved = {k: os.environ.get(k) for k in RUN_ENV}
    os.environ.update(RUN_ENV)
    stack = Stack(root / "s")
    try:
        started = time.monotonic()
        try:
            timings = stack.up(api_port=0, prefect_port=0, s3_port=0, ray_port=0, ray_client_port=0, ray_cpus=2,
                               timeout_s=240, log=lambda m: print(m, flush=True))
        except StackError as exc:
            if "no PostgreSQL server answers" in str(exc):
                pytest.skip(str(exc))
            raise
        _step("stack up", started)
        TIMINGS.update({f"  {k}": v for k, v in timings.items()})
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # s3fs in this process reads them
            saved.setdefault(name, os.environ.get(name))
            os.environ[name] = stack.env[name]
        yield Topology(stack, root)
    finally:
        ray_temp = stack.state.get("ray_temp")
        everything = [pid for pids in stack.pids().values() for pid in pids]
        started = time.monotonic()
        stack.down(purge=True, log=lambda m: print(m, flush=True))
        _step("stack down", started)
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        print("\n[topology] wall times (s): " + json.dumps(TIMINGS, indent=1), flush=True)
        import psutil

        left = [p for p in everything if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        assert not left, f"processes left running: {left}"
        assert not ray_temp or not Path(ray_temp).exists()


@pytest.fixture(scope="module")
def people(topology):
    """An admin with a key, and two runners (one uploads, one drops files in the inbox)."""
    from api.keys import create_key
    from storage.catalog import User

    catalog = topology.catalog()
    with catalog.session() as db:
        db.add(User(id="coach", email="coach@example.org", role="admin", plan="pro", name="Coach"))
        db.flush()
        for uid in ("runner-api", "runner-inbox", "runner-kill"):
            db.add(User(id=uid, email=f"{uid}@example.org", admin_id="coach", height_cm=178, weight_kg=70))
    return create_key(catalog, "coach")


@pytest.fixture(scope="module")
def clip(topology) -> Path:
    return _cut(TREADMILL, topology.root / "clip.mp4", SECONDS)


def test_listeners_are_on_loopback_and_ray_wants_its_token(topology):
    import psutil

    seen = 0
    for name, pids in topology.stack.pids().items():
        for pid in pids:
            try:
                connections = psutil.Process(pid).net_connections(kind="inet")
            except psutil.NoSuchProcess:
                continue
            for c in connections:
                if c.status == psutil.CONN_LISTEN:
                    seen += 1
                    assert c.laddr.ip in LOOPBACK, f"{name} pid {pid} listens on {c.laddr}"
    assert seen >= 10  # S3 + filer + master + volume, Prefect, GCS, raylet, agents, the API
    wrong = topology.root / "wrong-token"
    wrong.write_text("0" * 64)
    code = ("from configs import load_settings; from tasks.pose import init_ray, PoseError\n"
            "try:\n    init_ray(load_settings().ray)\nexcept PoseError as e:\n    print('REFUSED', e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO,
                         env={**topology.env, "GAITLAKE_RAY__AUTH_TOKEN_PATH": str(wrong),
                              "RAY_AUTH_TOKEN_PATH": str(wrong)})
    assert "REFUSED could not join the Ray cluster" in out.stdout, out.stdout + out.stderr[-2000:]
    assert "GAITLAKE_RAY__AUTH_MODE=token" in out.stdout


def _need(name: str) -> str:
    if name not in STATE:
        pytest.skip(f"an earlier step did not produce {name}")
    return STATE[name]


def test_an_upload_and_an_inbox_drop_are_each_done_by_deployment_runs(topology, people, clip):
    """Both ways in, side by side (their flow-run processes start and run at the same time: one wait, not two).

    The upload: the API triggers a ``process-session`` deployment run on the worker, the pose runs on the
    stack's Ray head, and the analysed video downloads through a presigned link. The inbox drop: the
    ``ingest-inbox`` schedule picks the file up, queues a session and triggers its run.
    """
    import hashlib

    key = people
    lake, catalog = topology.lake(), topology.catalog()
    digest = hashlib.sha256(clip.read_bytes()).hexdigest()
    started = time.monotonic()
    sid = topology.upload(key, "runner-api", clip, "topology upload")
    lake.store.write_bytes("inbox/dropped.mp4", clip.read_bytes())
    lake.store.write_bytes("inbox/dropped.mp4.json", json.dumps(
        {"user_id": "runner-inbox", "title": "from the inbox", "profile": {"height_cm": 175}}).encode())
    finished: dict[str, str] = {}

    def inbox_session():
        rows = catalog.find_by_hash(digest, user_id="runner-inbox")
        return rows[0].id if rows and rows[0].status in ("done", "failed") else None

    def both_finished():
        if "upload" not in finished and topology.status(sid) in ("done", "failed"):
            finished["upload"] = sid
            _step("upload -> done (side by side with the inbox drop)", started)
        if "inbox" not in finished and (found := inbox_session()):
            finished["inbox"] = found
            _step("inbox drop -> done (side by side with the upload)", started)
        return len(finished) == 2

    topology.wait("upload and inbox sessions done", both_finished, 600)

    # The upload: done by the run the API triggered, with the pose on the stack's Ray head.
    row = catalog.get_session(sid)
    assert row.status == "done", row.error
    STATE["upload"] = sid
    flow_run = topology.flow_run(row.flow_run_id)
    assert flow_run["state_type"] == "COMPLETED"
    assert flow_run["deployment_id"] == topology.deployment("process-session/process-session")["id"]
    tasks = {t["name"].rsplit("-", 1)[0] for t in topology.task_runs(row.flow_run_id)}
    assert {"probe-video", "detect-poses", "analyse-and-write", "publish"} <= tasks   # that run did the work
    assert ("PoseActor", "DEAD") in topology.ray_actors()   # the pose ran on the stack's Ray head
    link = topology.details(key, sid)["analyzed_video_url"]
    assert link and link.startswith(topology.env["GAITLAKE_STORAGE__PUBLIC_ENDPOINT_URL"])
    video = topology.http.get(link)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    # Results live in S3 and PostgreSQL: no Prefect result files, no store, no signing key in the data dir.
    data = Path(topology.env["GAITLAKE_DATA_DIR"])
    assert not (data / "api-signing.key").exists() and not (data / "store").exists()
    assert not [p for p in (data / "prefect").rglob("*") if p.is_file()]

    # The inbox drop: a session of its own, processed, the file moved to _processed.
    inbox = finished["inbox"]
    assert inbox != sid
    assert topology.status(inbox) == "done", catalog.get_session(inbox).error
    assert lake.store.exists(f"inbox/_processed/{inbox}/dropped.mp4")
    STATE["inbox"] = inbox


def test_reprocess_switches_the_served_version_and_keeps_the_analysed_video(topology, people):
    sid = _need("upload")
    lake = topology.lake()
    started = time.monotonic()
    out = topology.gaitlake("reprocess", sid, "--pipeline-version", "topology-v2", timeout=600,
                            GAITLAKE_POSE__BACKEND="replay")     # stored detections through the actor pool
    _step("reprocess (replay) -> switched", started)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    assert "1 done" in out.stdout and "1 switched" in out.stdout
    assert lake.served_version(sid) == "topology-v2"
    assert topology.catalog().get_session(sid).pipeline_version == "topology-v2"
    link = topology.details(people, sid)["analyzed_video_url"]
    assert link and "/topology-v2/" in link and topology.http.get(link).status_code == 200


def test_compaction_over_sessions_with_and_without_a_foot_strike(topology):
    # The nightly compact-lake deployment, run now on the worker.
    from analysis.session_report import Summary
    from analysis.strides import StrideTable
    from tasks.results import sessions_table, strides_table

    lake = topology.lake()
    real = [STATE[k] for k in ("upload", "inbox") if k in STATE]
    date = time.strftime("%Y-%m-%d", time.gmtime())
    if real:
        date = topology.catalog().get_session(real[0]).created_at.strftime("%Y-%m-%d")
    expected = {s: lake.read_table(s, "sessions").column("footstrike")[0].as_py() for s in real}
    extra = {"synthetic-no-strike": None, "synthetic-rearfoot": "rearfoot"}
    for s, strike in extra.items():
        lake.write_session(s, "v1", "h", {
            "sessions": sessions_table({"title": s}, Summary(cadence_spm=170.0, footstrike=strike), {}),
            "strides": strides_table(StrideTable.from_rows([
                {"side": "left", "ic_frame": 0, "to_frame": 14, "next_ic_frame": 42, "footstrike": strike}]))}, date=date)
    expected.update(extra)
    started = time.monotonic()
    run = topology.run_deployment("compact-lake/compact-lake", {"min_files": 2, "grace_s": 0}, 600)
    _step("compact-lake deployment run", started)
    assert run["state_type"] == "COMPLETED", run["state"]
    for s in expected:
        assert "sessions" in lake.current_manifest(s).compacted, s
    con = lake.connect()
    assert dict(con.execute("select session_id, footstrike from sessions").fetchall()) == expected
    for s in real:
        assert con.execute("select count(*) from frames where session_id = ?", [s]).fetchone()[0] == \
            lake.current_manifest(s).rows["frames"]


def test_a_worker_killed_during_pose_is_recovered_by_the_next(topology, people, clip):
    # TODO(issue 10, lead): relies on the catalog lease: the restarted worker's recovery
    # (dead owner / lapsed lease -> queued) and its queue loop taking the session.
    started = time.monotonic()
    sid = topology.upload(people, "runner-kill", clip, "killed mid-pose")
    topology.wait("pose running", lambda: topology.status(sid) == "processing" and topology.pose_actor_alive(),
                  600, every=0.2)
    killed_at = time.monotonic()
    topology.stack.kill("worker", signal.SIGKILL)
    _step("upload -> pose running (then SIGKILL)", started)
    assert topology.status(sid) == "processing"   # the killed run published nothing
    started = time.monotonic()
    os.environ["GAITLAKE_PROCESSING__LEASE_S"] = RECOVERY_LEASE_S   # restored by the fixture
    topology.stack.start_worker(timeout_s=240)
    _step("worker restart (started; deployments already registered)", started)
    topology.wait("recovered session done", lambda: topology.status(sid) in ("done", "failed"), 600)
    _step("SIGKILL -> done (restarted worker)", killed_at)
    row = topology.catalog().get_session(sid)
    assert row.status == "done", row.error
    lake = topology.lake()
    manifest = lake.current_manifest(sid)
    assert lake.store.list(f"lake/_manifests/{sid}") == [f"lake/_manifests/{sid}/{manifest.pipeline_version}.json"]
    con = lake.connect()
    for table in ("sessions", "frames", "strides"):
        n = con.execute(f"select count(*) from {table} where session_id = ?", [sid]).fetchone()[0]
        assert n == manifest.rows[table], table     # exactly one copy of the rows
    assert manifest.rows["sessions"] == 1 and manifest.rows["frames"] == round(SECONDS * 60)
