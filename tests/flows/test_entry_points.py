"""Nothing runs on import in ``flows``: the environment Prefect, Ray and Ultralytics read is applied
by each entry point (the CLI, the API, the worker, and each flow when it starts), never by importing
a flow module. Each check runs in a fresh interpreter with none of those variables set."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What flows.runtime.prepare_environment sets (a sample of each kind: Prefect, Ultralytics, Ray).
PREPARED = ("PREFECT_HOME", "PREFECT_SERVER_ANALYTICS_ENABLED", "YOLO_OFFLINE", "YOLO_CONFIG_DIR", "RAY_DEDUP_LOGS")


def _run(code: str, data_dir: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "YOLO_", "RAY_DEDUP"))}
    env.update(PYTHONPATH=str(REPO), GAITLAKE_DATA_DIR=str(data_dir), **extra)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=180)


def test_importing_the_flows_sets_nothing_and_reads_no_settings(tmp_path):
    # A setting out of range would be refused by anything that read the settings.
    code = ("import json, os; import flows.process, flows.ingest, flows.compact, flows.worker, flows.queue, "
            f"flows.launch, flows.reprocess; print(json.dumps({{k: os.environ.get(k) for k in {PREPARED!r}}}))")
    proc = _run(code, tmp_path / "data", GAITLAKE_RAY__NUM_ACTORS="-3")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {k: None for k in PREPARED}
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("flow", ["flows.process:process_session", "flows.ingest:ingest_inbox",
                                  "flows.compact:compact_lake", "flows.reprocess:reprocess"])
def test_each_flow_applies_the_environment_when_it_starts(tmp_path, flow):
    """A flow's body is a deployment run's entry point: it applies the settings first (then, called
    here outside a flow run, stops at Prefect's run logger), with the values the CLI would set."""
    module, name = flow.split(":")
    code = (f"import json, os; from {module} import {name}\n"
            f"try:\n    {name}.fn(*(['s1'] if {name!r} == 'process_session' else []))\n"
            "except Exception as exc:\n    print(type(exc).__name__)\n"
            f"print(json.dumps({{k: os.environ.get(k) for k in {PREPARED!r}}}))")
    proc = _run(code, tmp_path / "data")
    assert proc.returncode == 0, proc.stderr
    *_, stopped, seen = proc.stdout.strip().splitlines()
    assert stopped == "MissingContextError"
    expected = _run("import json, os; from configs import get_settings; from flows.runtime import "
                    f"prepare_environment; prepare_environment(get_settings()); "
                    f"print(json.dumps({{k: os.environ.get(k) for k in {PREPARED!r}}}))", tmp_path / "data")
    assert json.loads(seen) == json.loads(expected.stdout.strip().splitlines()[-1])
    assert json.loads(seen)["PREFECT_HOME"] == str(tmp_path / "data" / "prefect")


def test_a_flow_refuses_a_bad_setting_when_it_starts_not_on_import(tmp_path):
    proc = _run("from flows.compact import compact_lake; compact_lake.fn()", tmp_path / "data",
                GAITLAKE_RAY__NUM_ACTORS="-3")
    assert proc.returncode != 0 and "ray.num_actors" in proc.stderr
