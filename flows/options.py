"""Session options shared by the CLI (``gaitlake process``) and the API upload.

One set of rules for the runner's height and weight, the treadmill incline, the
true capture rate and the joints to analyse, so ``--height-cm -5`` and
``height_cm=-5`` are refused with the same sentence before any work starts.
Callers pass the name the user typed (``--height-cm`` or ``height_cm``) as
``label`` so the message names it.
"""
from __future__ import annotations

import math
import re
from typing import Any

from analysis.vocabulary import JOINTS, UnknownJointError, joints_text
from analysis.vocabulary import parse_joints as vocabulary_parse_joints

# field -> (lowest, highest, unit): the accepted closed ranges.
RANGES: dict[str, tuple[float, float, str]] = {
    "height_cm": (50, 260, "cm"),
    "weight_kg": (10, 400, "kg"),
    "incline_deg": (-45, 45, "degrees"),
    "capture_fps": (1, 10000, "frames per second"),
}


class OptionError(ValueError):
    """An option value is refused; the message is one sentence naming the option."""


# One '@', something before it, a dotted domain after it, no spaces: what a person's e-mail
# must look like to be one (deliverability is the mail server's business, not ours).
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
EMAIL_MAX_CHARS = 320  # the catalog column's size (RFC 5321's 64 + 1 + 255)


def parse_email(raw: Any, label: str = "email") -> str:
    """``raw`` as a person's e-mail address, stripped and lowercased (addresses compare case-insensitively)."""
    if not isinstance(raw, str):
        raise OptionError(f"{label} must be a text field")
    email = raw.strip().lower()
    if len(email) > EMAIL_MAX_CHARS or not _EMAIL.match(email):
        raise OptionError(f"{label} must be an address like name@example.org, got {raw.strip()[:60]!r}")
    return email


def parse_number(raw: Any, field: str, label: str | None = None) -> float | None:
    """``raw`` (text or a number; None or blank = not given) as a float inside ``RANGES[field]``."""
    label = label or field
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise OptionError(f"{label} must be a text field")
    try:
        value = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except ValueError:
        raise OptionError(f"{label} must be a number, got {str(raw)[:40]!r}") from None
    low, high, unit = RANGES[field]
    if not math.isfinite(value) or not (low <= value <= high):
        raise OptionError(f"{label} must be between {low:g} and {high:g} {unit}, got {str(raw).strip()[:40]}")
    return value


def parse_joints(raw: Any, label: str = "body_joint_angles") -> str:
    """The stored form of a joint selection (``all`` or joints comma-separated, in
    ``analysis.vocabulary.JOINTS`` order); blank or None = ``all``. Parsed by
    ``analysis.vocabulary.parse_joints``, the one parser, and refused with ``label`` in the message."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return "all"
    if not isinstance(raw, str):
        raise OptionError(f"{label} must be a text field")
    try:
        return joints_text(vocabulary_parse_joints(raw))
    except UnknownJointError as exc:
        raise OptionError(f"unknown joint(s) in {label}: {', '.join(exc.unknown)[:200]}; "
                          f"choose from {', '.join(JOINTS)} or all") from None
