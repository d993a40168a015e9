"""Start processing a queued session without waiting for it.

Embedded default: a detached ``python -m flows.process SESSION_ID`` process
runs the ``process_session`` flow (its own ephemeral Prefect and local Ray),
so the API process never hosts Ray or the model. At scale (``prefect.api_url``
set) the ``process-session`` deployment is triggered on the Prefect server and
a worker picks it up.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from configs import Settings

DEPLOYMENT_NAME = "process-session/process-session"


def launch_processing(session_id: str, settings: Settings) -> str:
    """Start processing ``session_id``; return a handle (pid or flow-run id) as text."""
    if settings.prefect.api_url:
        from prefect.deployments import run_deployment

        flow_run = run_deployment(DEPLOYMENT_NAME, parameters={"session_id": session_id}, timeout=0)
        return str(flow_run.id)
    log_dir = settings.data_path / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{session_id}.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.process", session_id],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=Path.cwd(),
        env=dict(os.environ, GAITLAKE_DATA_DIR=str(settings.data_path)),
        start_new_session=True,
    )
    log.close()
    return f"pid:{process.pid}"
