"""API settings: defaults here, overridable by ``[api]`` in the TOML or ``GAITLAKE_API__<KEY>``.

Until the ``[api]`` section is folded into ``configs/default.toml`` the values
below are the defaults; ``Settings.api`` (when present) and the environment
variables ``GAITLAKE_API__<KEY>`` (e.g. ``GAITLAKE_API__LINK_TTL_S=600``)
override them, and ``create_app(api_settings=...)`` overrides everything.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ENV_PREFIX = "GAITLAKE_API__"

# Plans that unlock reports and thread operations (compared case-insensitively).
PAID_PLANS = ("standard", "pro", "premium", "enterprise")


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8000
    # Absolute base for links in responses ("https://api.example.org"); empty -> the request's base URL.
    public_base_url: str = ""
    # HMAC secret for signed local-storage links; empty -> <data_dir>/api-signing.key (created 0600).
    signing_secret: str = ""
    # Lifetime of signed links (local) and presigned URLs (S3), seconds.
    link_ttl_s: int = 3600
    # Bearer JWTs (Firebase-style RS256): a PEM public key/certificate file, a JWKS
    # JSON file, or a directory of them. Empty -> Bearer tokens are refused.
    jwt_public_keys: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    jwt_leeway_s: int = 30
    # Sessions a user may create per window, per plan ("free" = no plan); -1 = unlimited.
    session_limits: dict[str, int] = Field(
        default_factory=lambda: {"free": 3, "standard": 30, "pro": 100, "premium": 500, "enterprise": -1}
    )
    session_limit_window_days: int = 30
    # Start processing after an upload (tests switch it off).
    launch_processing: bool = True
    # Parsed report documents kept in memory (per served lake version).
    cache_size: int = 256

    def resolved_signing_secret(self, data_path: Path) -> bytes:
        if self.signing_secret:
            return self.signing_secret.encode()
        path = data_path / "api-signing.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()


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
    section = getattr(settings, "api", None) if settings is not None else None
    if section is not None:
        data.update(section.model_dump() if hasattr(section, "model_dump") else dict(section))
    data.update(_from_env(dict(os.environ if environ is None else environ)))
    data.update(overrides)
    return ApiSettings.model_validate(data)
