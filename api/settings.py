"""API settings: the ``[api]`` section of ``configs/default.toml`` (model: ``configs.ApiSettings``).

The environment variables ``GAITLAKE_API__<KEY>`` (e.g. ``GAITLAKE_API__LINK_TTL_S=600``)
override it, and ``create_app(api_settings=...)`` overrides everything.
"""
from __future__ import annotations

import os
import re
from typing import Any

from configs import ApiSettings

ENV_PREFIX = "GAITLAKE_API__"

#: Session and thread ids the server accepts (anything else is a 400 before any query); the
#: served OpenAPI schema carries the same pattern.
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# Plans that unlock reports and thread operations (compared case-insensitively).
PAID_PLANS = ("standard", "pro", "premium", "enterprise")


# The model lives in configs (every tunable is declared there); re-exported here.


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    import json

    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX):].lower()
        if key not in ApiSettings.model_fields:
            raise ValueError(f"{name}: no API setting {key!r}")
        if key in ("session_limits", "jwt_algorithms"):
            values[key] = json.loads(raw) if raw.strip().startswith(("{", "[")) else raw.split(",")
        elif key == "launch_processing":
            values[key] = raw.lower() in ("1", "true", "yes", "on")
        else:
            values[key] = raw
    return values


def load_api_settings(settings=None, environ: dict[str, str] | None = None, **overrides: Any) -> ApiSettings:
    data: dict[str, Any] = {}
    if settings is not None:
        data.update(settings.api.model_dump())
    data.update(_from_env(dict(os.environ if environ is None else environ)))
    data.update(overrides)
    return ApiSettings.model_validate(data)
