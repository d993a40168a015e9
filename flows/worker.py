"""``gaitlake worker``: serve the four deployments from this process (Prefect ``serve``).

The same deployments are declared in ``deploy/prefect.yaml`` for work pools
(``prefect deploy --all``, then ``prefect worker start --pool gaitlake``).
``serve`` needs a Prefect server (``prefect.api_url`` / ``PREFECT_API_URL``):
an ephemeral API lives only as long as one process and cannot take triggers
from the API process.
"""
from __future__ import annotations

from configs import Settings, get_settings
from flows.runtime import prepare_environment

DEPLOYMENTS = ("process-session", "ingest-inbox", "reprocess", "compact-lake")


def build_deployments(settings: Settings) -> list:
    """``RunnerDeployment`` objects (name, schedule, parameters) for ``prefect.serve``."""
    prepare_environment(settings)
    from flows.compact import compact_lake
    from flows.ingest import ingest_inbox
    from flows.process import process_session
    from flows.reprocess import reprocess

    return [
        process_session.to_deployment(name="process-session", tags=["gaitlake"],
                                      description="Process one queued session (the API triggers it)."),
        ingest_inbox.to_deployment(name="ingest-inbox", interval=settings.ingest.interval_s, tags=["gaitlake"],
                                   description="Queue videos dropped under the inbox prefix."),
        reprocess.to_deployment(name="reprocess", tags=["gaitlake"],
                                description="Reprocess selected sessions under a new pipeline_version."),
        compact_lake.to_deployment(name="compact-lake", cron="30 3 * * *", tags=["gaitlake"],
                                   description="Merge small Parquet files per lake partition."),
    ]


def serve(settings: Settings | None = None, limit: int | None = None) -> None:
    settings = settings or get_settings()
    deployments = build_deployments(settings)
    from prefect import serve as prefect_serve

    prefect_serve(*deployments, limit=limit)
