"""The engine's parameters the tests run with: the shipped settings' ``[analysis]``
(``configs/default.toml``, the only place their values live), read without the environment."""
from __future__ import annotations

from configs import load_settings

ENGINE_PARAMS = load_settings(environ={}).analysis.engine_params()
