"""A short script that reads the lake ends with its own status (no abort at interpreter exit).

``pq.read_table`` on a Python file object keeps that file inside a dataset whose fragments one
of Arrow's I/O threads may release after the interpreter began to finalise; taking the GIL
there aborted the process ("terminate called without an active exception", -6/134) in 4 of
12 runs of docs/lake.md's snippet. The lake reads whole files with ``pq.ParquetFile`` in the
calling thread (``storage.lake_layout.read_parquet``).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa

from configs import load_settings
from storage.lake import Lake
from storage.objectstore import ObjectStore

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
from configs import get_settings
from storage.lake import Lake
from storage.objectstore import ObjectStore
lake = Lake(ObjectStore.from_settings(get_settings()))
lake.query("SELECT count(*) FROM frames")
con = lake.connect()
rows = lake.read_table("0" * 32, "frames")
assert rows.num_rows == 600
"""


def test_reading_scripts_exit_cleanly_every_time(tmp_path):
    data = tmp_path / "data"
    lake = Lake(ObjectStore.from_settings(load_settings({"GAITLAKE_DATA_DIR": str(data)})))
    frames = pa.table({"frame_index": pa.array(range(600), pa.int32()), "time_s": [f / 60 for f in range(600)]})
    lake.write_session("0" * 32, "v1", "cfg0", {"sessions": pa.table({"title": ["run"], "fps": [60.0]}),
                                                "frames": frames})
    env = {**os.environ, "PYTHONPATH": str(REPO), "GAITLAKE_DATA_DIR": str(data)}
    codes = [subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=REPO, capture_output=True,
                            text=True, timeout=120).returncode for _ in range(10)]
    assert codes == [0] * 10
