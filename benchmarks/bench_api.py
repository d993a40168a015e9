"""The report reads at C concurrent clients against one uvicorn worker on loopback, p50/p99 per operation.

Operations: GET details, export, summary; POST form-analysis, gait-analysis (the demo session's
run, analysed by the engine and written to the lake as the pipeline writes it); baseline in the same server and run: GET
/healthz (the framework's floor). The load generator is a lean asyncio HTTP/1.1 keep-alive client
(one connection per client, ``Accept-Encoding: gzip``; bodies are read, not decoded) so that on a
small machine most of the CPU goes to the server. It runs in this process while uvicorn runs in a
child process: both share the machine's cores (reported as ``cores``). Besides latency, it reports
the server's CPU time per request (``<op>_server_cpu_ms``, from the process tree's CPU counters),
which a loaded shared machine does not distort the way it distorts p99.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchmarks.common import ENGINE_PARAMS, REPO, emit, pct

OPERATIONS = (("details", "GET", "/running/sessions/{sid}/"), ("export", "GET", "/running/sessions/{sid}/export/"),
              ("summary", "GET", "/running/sessions/{sid}/summary/"),
              ("form", "POST", "/running/sessions/{sid}/form-analysis/"),
              ("gait", "POST", "/running/sessions/{sid}/gait-analysis/"), ("healthz", "GET", "/healthz"))


def _world(data: str):
    import numpy as np

    from analysis.engine import RunnerProfile, analyze
    from analysis.synthetic import make_session
    from analysis.tracking import RunnerTrack
    from api.keys import create_key
    from configs import load_settings
    from storage.catalog import Catalog, User
    from storage.lake import Lake
    from storage.objectstore import ObjectStore
    from tasks.results import session_tables

    s = load_settings(environ={}, overrides={"data_dir": data})
    cat = Catalog.from_settings(s)
    store = ObjectStore.from_settings(s)
    lake = Lake(store)
    with cat.session() as db:
        a = User(email="a@x.org", role="admin", plan="pro", profile={})
        db.add(a)
        db.flush()
        u = User(email="u@x.org", role="user", admin_id=a.id, profile={"birth_date": "1990-05-01"})
        db.add(u)
        db.flush()
        aid, uid = a.id, u.id
    key = create_key(cat, aid)
    row = cat.create_session(user_id=uid, title="bench", status="done", video_key="videos/x/source.mp4")
    store.write_bytes("videos/x/source.mp4", b"\0" * 100)
    # the demo's run (gaitlake.demo_session): synthetic treadmill keypoints through the engine
    run = make_session(cadence_spm=168.0, contact_time_s=0.27, speed_mps=3.2, fps=60.0, duration_s=8.0,
                       height_m=1.75, noise_px=1.0, seed=7, mode="treadmill")
    kp = run.keypoints
    result = analyze(kp, run.fps, RunnerProfile(height_m=1.75, weight_kg=68.0, incline_deg=1.0), frame_size=(1080, 1920),
                     params=ENGINE_PARAMS)
    track = RunnerTrack(keypoints=kp, boxes=np.zeros((kp.shape[0], 5)), found=np.ones(kp.shape[0], dtype=bool),
                        n_tracks=1, track_scores={0: 1.0})
    meta = {"title": "bench", "user_id": uid, "fps": run.fps, "effective_fps": result.fps, "n_frames": kp.shape[0],
            "video_key": "videos/x/source.mp4"}
    lake.write_session(row.id, "v1", "c", session_tables(meta, result, result.quality, track, run.fps))
    cat.update_session(row.id, pipeline_version="v1")
    return row.id, key


async def _request(reader, writer, raw: bytes) -> int:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def _load(port: int, raw: bytes, total: int, conc: int) -> tuple[list[float], float]:
    lat: list[float] = []
    todo = iter(range(total))

    async def client():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in todo:
                t = time.perf_counter()
                status = await _request(reader, writer, raw)
                if status != 200:
                    raise RuntimeError(f"HTTP {status} for {raw.split(b' ')[1].decode()}")
                lat.append((time.perf_counter() - t) * 1000)
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(conc)])
    return lat, time.perf_counter() - t0


def _server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of the server process tree so far (robust to a loaded machine)."""
    import psutil

    procs = [psutil.Process(pid)]
    procs += procs[0].children(recursive=True)
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def _raw(method: str, path: str, key: str | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Accept-Encoding: gzip", "Content-Length: 0"]
    if key:
        lines.append(f"Authorization: API-KEY {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def run(args) -> dict:
    import httpx

    data = tempfile.mkdtemp(prefix="gaitlake-apibench-")
    srv = None
    try:
        sid, key = _world(data)
        port = args.port or 8767
        env = dict(os.environ, GAITLAKE_DATA_DIR=data, GAITLAKE_API__LAUNCH_PROCESSING="false")
        workers = getattr(args, "workers", None) or 1
        srv = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env", "--port", str(port),
                                "--workers", str(workers), "--log-level", "warning", "--no-access-log"], cwd=REPO, env=env)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(base + "/healthz")
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        total, conc = args.requests or (300 if args.quick else 2000), args.clients or 50
        result: dict = {"benchmark": "api", "requests": total, "clients": conc, "workers": workers, "cores": os.cpu_count(),
                        "load1_before": round(os.getloadavg()[0], 2)}
        for name, method, template in OPERATIONS:
            path = template.format(sid=sid)
            auth = None if name == "healthz" else key
            raw = _raw(method, path, auth)
            # The first C requests at once on a new server (the record and the documents not yet in
            # memory): the slowest waits for whatever the cold read does under contention.
            cold, _ = asyncio.run(_load(port, raw, conc, conc))
            result[f"{name}_cold_max_ms"] = round(max(cold), 1)
            plain = httpx.request(method, base + path, headers={"Authorization": f"API-KEY {auth}"} if auth else {})
            plain.raise_for_status()
            asyncio.run(_load(port, raw, min(total, 200), conc))  # warm-up
            cpu0 = _server_cpu_s(srv.pid)
            lat, elapsed = asyncio.run(_load(port, raw, total, conc))
            result[f"{name}_server_cpu_ms"] = round((_server_cpu_s(srv.pid) - cpu0) / total * 1000, 3)
            result[f"{name}_bytes"] = len(plain.content)
            result[f"{name}_p50_ms"] = round(pct(lat, 50), 1)
            result[f"{name}_p99_ms"] = round(pct(lat, 99), 1)
            result[f"{name}_rps"] = round(total / elapsed)
    finally:
        if srv is not None:
            srv.terminate()
            srv.wait()
        shutil.rmtree(data, ignore_errors=True)
    floor = result["healthz_p99_ms"]
    reads = [n for n, _, _ in OPERATIONS if n != "healthz"]
    result["worst_p99_ms"] = max(result[f"{n}_p99_ms"] for n in reads)
    result["ratio"] = round(result["worst_p99_ms"] / floor, 2) if floor else None
    # Server CPU per request relative to /healthz: what the code costs, whatever the neighbours do.
    result["cpu_ratio"] = round(max(result[f"{n}_server_cpu_ms"] for n in reads) / result["healthz_server_cpu_ms"], 2)
    result["load1_after"] = round(os.getloadavg()[0], 2)
    result["goal"] = "every read p99 <= 50 ms at 50 clients"
    return emit(result, args.out)
