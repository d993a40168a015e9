"""Start processing a queued session without waiting for it.

Embedded default: nothing to start -- the warm ``gaitlake worker`` (which
``gaitlake serve`` supervises) claims queued sessions from the catalog within
``processing.poll_interval_s``. At scale (``prefect.api_url`` set) the
``process-session`` deployment is triggered on the Prefect server and the run
claims the session; if the trigger is lost, a worker's queue loop takes the
session after ``processing.dispatch_grace_s``. Either way an accepted session is never
dropped: it stays ``queued`` until a processor claims it.
"""
from __future__ import annotations

from configs import Settings

def launch_processing(session_id: str, settings: Settings) -> str | None:
    """Dispatch ``session_id``; the flow-run id at scale, ``None`` when the queue worker will take it."""
    if not settings.prefect.api_url:
        return None
    from flows.runtime import prepare_environment

    prepare_environment(settings)
    from prefect.deployments import run_deployment

    flow_run = run_deployment(settings.processing.deployment, parameters={"session_id": session_id}, timeout=0)
    return str(flow_run.id)
