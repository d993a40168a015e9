"""GET session details at C concurrent clients (httpx async -> uvicorn on loopback), p50/p99.

Baseline, same server and run: GET /healthz (the framework's floor).
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks.common import REPO, emit, pct


def _world(data: str):
    import pyarrow as pa

    from api.demo import load_demo
    from api.keys import create_key
    from configs import load_settings
    from storage.catalog import Catalog, User
    from storage.lake import Lake
    from storage.objectstore import ObjectStore

    s = load_settings(environ={}, overrides={"data_dir": data})
    cat = Catalog.from_settings(s)
    store = ObjectStore.from_settings(s)
    lake = Lake(store)
    with cat.session() as db:
        a = User(email="a@x.org", role="admin", plan="pro", profile={})
        db.add(a)
        db.flush()
        u = User(email="u@x.org", role="user", admin_id=a.id, profile={})
        db.add(u)
        db.flush()
        aid, uid = a.id, u.id
    key = create_key(cat, aid)
    demo = load_demo()
    row = cat.create_session(user_id=uid, title="bench", status="done", video_key="videos/x/source.mp4")
    store.write_bytes("videos/x/source.mp4", b"\0" * 100)
    cols = {k: [json.dumps(v) if isinstance(v, dict) else v] for k, v in demo["row"].items()}
    cols["video_key"] = ["videos/x/source.mp4"]
    cols["analyzed_video_key"] = pa.array([None], pa.string())
    lake.write_session(row.id, "v1", "c", {"sessions": pa.table(cols)})
    cat.update_session(row.id, pipeline_version="v1")
    return row.id, key


async def _load(url: str, headers: dict, total: int, conc: int) -> tuple[list[float], float]:
    import httpx

    lat: list[float] = []
    todo = iter(range(total))
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=conc)) as c:
        async def worker():
            for _ in todo:
                t = time.perf_counter()
                r = await c.get(url, headers=headers)
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
                lat.append((time.perf_counter() - t) * 1000)
        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(conc)])
        return lat, time.perf_counter() - t0


def run(args) -> dict:
    import httpx

    data = tempfile.mkdtemp(prefix="gaitlake-apibench-")
    sid, key = _world(data)
    port = args.port or 8767
    env = dict(os.environ, GAITLAKE_DATA_DIR=data)
    srv = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env", "--port", str(port),
                            "--log-level", "warning"], cwd=REPO, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                httpx.get(base + "/healthz")
                break
            except Exception:
                time.sleep(0.2)
        headers = {"Authorization": f"API-KEY {key}"}
        url = f"{base}/running/sessions/{sid}/"
        size = len(httpx.get(url, headers=headers).content)
        total, conc = args.requests or (300 if args.quick else 2000), args.clients or 50
        asyncio.run(_load(url, headers, min(total, 200), conc))                 # warm-up
        lat, el = asyncio.run(_load(url, headers, total, conc))
        hlat, hel = asyncio.run(_load(base + "/healthz", {}, total, conc))
    finally:
        srv.terminate()
        srv.wait()
    p99, hp99 = pct(lat, 99), pct(hlat, 99)
    return emit({"benchmark": "api", "requests": total, "clients": conc, "response_bytes": size,
                 "details_p50_ms": round(pct(lat, 50), 1), "details_p99_ms": round(p99, 1),
                 "details_rps": round(total / el), "healthz_p50_ms": round(pct(hlat, 50), 1),
                 "healthz_p99_ms": round(hp99, 1), "ratio": round(p99 / hp99, 2), "goal": "details p99 <= 50 ms"},
                args.out)
