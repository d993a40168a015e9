"""Load check: GET session details under 50 concurrent clients against uvicorn (p50/p99).

Run on an idle machine: python tests/api/load_details.py  (not a pytest test)."""
import asyncio, json, os, subprocess, sys, tempfile, time
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))); sys.path.insert(0, REPO)
import pyarrow as pa, httpx
from configs import load_settings
from storage.catalog import Catalog, User
from storage.objectstore import ObjectStore
from storage.lake import Lake
from api.keys import create_key
from api.demo import load_demo
data = tempfile.mkdtemp()
s = load_settings(environ={}, overrides={"data_dir": data})
cat = Catalog.from_settings(s); store = ObjectStore.from_settings(s); lake = Lake(store)
with cat.session() as db:
    a = User(email="a@x.org", role="admin", plan="pro", profile={}); db.add(a); db.flush()
    u = User(email="u@x.org", role="user", admin_id=a.id, profile={}); db.add(u); db.flush(); aid, uid = a.id, u.id
key = create_key(cat, aid)
demo = load_demo()
row = cat.create_session(user_id=uid, title="load", status="done", video_key="videos/x/source.mp4")
store.write_bytes("videos/x/source.mp4", b"\0"*100)
cols = {k: [json.dumps(v) if isinstance(v, dict) else v] for k, v in demo["row"].items()}
cols["video_key"] = ["videos/x/source.mp4"]; cols["analyzed_video_key"] = pa.array([None], pa.string())
m = lake.write_session(row.id, "v1", "c", {"sessions": pa.table(cols)})
cat.update_session(row.id, pipeline_version="v1")
env = dict(os.environ, GAITLAKE_DATA_DIR=data, GAITLAKE_API__LAUNCH_PROCESSING="false")
env.pop("GAITLAKE_API__LAUNCH_PROCESSING")  # uploads are not exercised here
srv = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env", "--port", "8765", "--log-level", "warning"], cwd=REPO, env=env)
try:
    for _ in range(50):
        try:
            httpx.get("http://127.0.0.1:8765/healthz"); break
        except Exception: time.sleep(0.2)
    url = f"http://127.0.0.1:8765/running/sessions/{row.id}/"
    H = {"Authorization": f"API-KEY {key}"}
    r = httpx.get(url, headers=H); print(r.status_code, len(r.content), "bytes")
    async def main(total=2000, conc=50):
        lat = []; q = asyncio.Queue()
        for _ in range(total): q.put_nowait(1)
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=conc)) as c:
            async def worker():
                while not q.empty():
                    q.get_nowait(); t = time.perf_counter()
                    resp = await c.get(url, headers=H); assert resp.status_code == 200
                    lat.append((time.perf_counter() - t) * 1000)
            t0 = time.perf_counter()
            await asyncio.gather(*[worker() for _ in range(conc)])
            el = time.perf_counter() - t0
        lat.sort()
        print(f"n={total} conc={conc} rps={total/el:.0f} p50={lat[len(lat)//2]:.1f}ms p99={lat[int(len(lat)*0.99)]:.1f}ms")
    asyncio.run(main(200)); asyncio.run(main(2000))
finally:
    srv.terminate(); srv.wait()
