"""Process-level set-up that must happen before Prefect or Ultralytics are imported."""
from __future__ import annotations

import math
import os

from configs import Settings


def prepare_environment(settings: Settings) -> None:
    """Point Prefect at its home (ephemeral default) or server; keep Ultralytics offline-safe.

    Explicit environment variables win over gaitlake's settings.
    """
    home = settings.prefect_home
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home))
    if settings.prefect.api_url:
        os.environ.setdefault("PREFECT_API_URL", settings.prefect.api_url)
    else:
        os.environ.setdefault("PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "true")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The ephemeral API starts a server subprocess; on a loaded machine 20 s (Prefect's default) is not enough.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
                          str(max(1, math.ceil(settings.processing.orchestration_timeout_s))))
    # Our own tqdm bar shows progress; Prefect's console logs stay at INFO.
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(settings.data_path / "ultralytics"))
    # Ray workers inherit this; keep their logs out of the console.
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")


def flow_settings() -> Settings:
    """The settings a flow runs under, with :func:`prepare_environment` applied: a flow's own entry
    point (a deployment run on a work pool), as the CLI, the API and the worker apply it at theirs.

    Called first thing in each flow's body, never on import: importing a flow module reads no
    settings and changes no environment. Prefect is already running by then (its settings come
    from the worker's environment); Ray and Ultralytics start later, inside the tasks, and see it.
    """
    from configs import get_settings

    settings = get_settings()
    prepare_environment(settings)
    return settings
