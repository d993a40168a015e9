"""The demo session served for ``demo=true``: ``demo_session.json``, made by ``python -m gaitlake.demo_session``."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

DEMO_PATH = Path(__file__).with_name("demo_session.json")


@lru_cache(maxsize=1)
def load_demo() -> dict[str, Any] | None:
    if not DEMO_PATH.exists():
        return None
    return json.loads(DEMO_PATH.read_text())
