"""Lake queries over many synthetic sessions, before vs after compaction (``Lake.compact``).

Writes N sessions (one ``sessions`` row and ~20 ``strides`` rows each) through
``Lake.write_session``, then times, on the per-session layout and again after
compaction: opening the views (``Lake.connect``: reads every current manifest),
a summary query over all sessions, and per-session stride queries.
"""
from __future__ import annotations

import random
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa

from benchmarks.common import Timer, emit, median

SUMMARY_SQL = ("SELECT count(*) AS n, avg(cadence_spm) AS cadence, avg(speed_mps) AS speed, "
               "quantile_cont(contact_time_s, 0.5) AS gct FROM sessions")
PER_SESSION_SQL = "SELECT side, avg(contact_time_s), count(*) FROM strides WHERE session_id = ? GROUP BY side"


def _tables(i: int, rng) -> dict:
    n = 20
    sessions = pa.table({"cadence_spm": [float(rng.normal(170, 8))], "speed_mps": [float(rng.normal(3.2, 0.4))],
                         "contact_time_s": [float(rng.normal(0.25, 0.02))], "user_id": [f"u{i % 97}"]})
    strides = pa.table({"side": ["left", "right"] * (n // 2), "ic_frame": np.arange(n, dtype=np.int32) * 21,
                        "contact_time_s": rng.normal(0.25, 0.02, n), "stride_time_s": rng.normal(0.7, 0.02, n)})
    return {"sessions": sessions, "strides": strides}


def _queries(lake, ids, n_lookups: int) -> dict:
    with Timer() as tc:
        con = lake.connect()
    with Timer() as ts:
        con.execute(SUMMARY_SQL).fetchall()
    per = []
    for sid in random.Random(0).sample(ids, min(n_lookups, len(ids))):
        with Timer() as t:
            con.execute(PER_SESSION_SQL, [sid]).fetchall()
        per.append(t.s)
    con.close()
    return {"connect_s": round(tc.s, 3), "summary_s": round(ts.s, 4), "per_session_median_s": round(median(per), 4),
            "summary_total_s": round(tc.s + ts.s, 3)}


def run(args) -> dict:
    from storage.lake import Lake
    from storage.objectstore import ObjectStore

    n = args.sessions or (300 if args.quick else 10_000)
    root = tempfile.mkdtemp(prefix="gaitlake-lakebench-")
    lake = Lake(ObjectStore(f"file://{root}"))
    rng = np.random.default_rng(0)
    ids = [f"s{i:06d}" for i in range(n)]
    tables = [_tables(i, rng) for i in range(n)]
    with Timer() as tw, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda it: lake.write_session(it[0], "v1", "bench", it[1], date="2026-01-01"),
                      zip(ids, tables)))
    before = _queries(lake, ids, 50)
    with Timer() as tk:
        lake.compact(tables=("sessions", "strides"))
    after = _queries(lake, ids, 50)
    return emit({"benchmark": "lake", "sessions": n, "write_s": round(tw.s, 1), "compact_s": round(tk.s, 1),
                 "before": before, "after": after,
                 "ratio": round(before["summary_total_s"] / max(after["summary_total_s"], 1e-9), 3),
                 "goal": "summary and per-session <= 1 s"}, args.out)
