"""What the report documents say about the session's runner: :class:`Owner` (a catalog user,
or the demo runner), the age from a birth date and the spec's user-information blocks."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import func, select

from api.report_format import fmt_date, number_or_none
from storage.catalog import RunningSession, User


@dataclass
class Owner:
    """What the reports say about the session's user (a catalog user, or the demo runner)."""

    id: str
    email: str
    name: str
    height_cm: float | None
    weight_kg: float | None
    profile: dict[str, Any]
    admin_name: str | None = None
    session_count: int | None = None
    last_session: datetime | None = None

    def fingerprint(self) -> str:
        """Changes whenever anything a report says about the owner changes (a document cache key part)."""
        return hashlib.blake2b(repr(self).encode(), digest_size=12).hexdigest()

    @classmethod
    def from_catalog(cls, db, user: User) -> "Owner":
        admin = db.get(User, user.admin_id) if user.admin_id else None
        count = db.scalar(select(func.count()).select_from(RunningSession).where(RunningSession.user_id == user.id))
        last = db.scalar(select(func.max(RunningSession.created_at)).where(RunningSession.user_id == user.id))
        return cls(
            id=user.id, email=user.email, name=user.name or "", height_cm=user.height_cm, weight_kg=user.weight_kg,
            profile=dict(user.profile or {}), admin_name=(admin.name or admin.email) if admin else None,
            session_count=count, last_session=last,
        )


def age_on(birth_date: date, today: date) -> int:
    """Whole years from ``birth_date`` to ``today``."""
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def age_years(profile: dict[str, Any], today: date | None = None) -> int | None:
    """Age in whole years: from ``profile["birth_date"]`` (ISO date) when stored, else ``profile["age"]``."""
    born = profile.get("birth_date")
    if isinstance(born, str) and born:
        try:
            return age_on(date.fromisoformat(born), today or datetime.now(timezone.utc).date())
        except ValueError:
            pass
    try:
        return int(profile.get("age"))
    except (TypeError, ValueError):
        return None


def user_info(owner: Owner, session_height: float | None, session_weight: float | None, with_count: bool) -> dict[str, Any]:
    """``user_info`` of form/gait reports; required keys are null when unknown (see docs/api.md)."""
    p = owner.profile
    info: dict[str, Any] = {
        "age": age_years(p),
        "height": number_or_none(session_height or owner.height_cm),
        "weight": number_or_none(session_weight or owner.weight_kg),
        "email": owner.email,
        "uid": owner.id,
        "display_name": owner.name or owner.email,
    }
    if isinstance(p.get("gender"), str):
        info["gender"] = p["gender"]
    if owner.admin_name:
        info["admin_name"] = owner.admin_name
    if owner.last_session is not None:
        info["last_session"] = fmt_date(owner.last_session)
    if with_count and owner.session_count is not None:
        info["session_count"] = owner.session_count
    for key in ("phone", "brand", "shoeModel"):
        if isinstance(p.get(key), str):
            info[key] = p[key]
    if p.get("shoeSize") is not None:
        try:
            info["shoeSize"] = int(p["shoeSize"])
        except (TypeError, ValueError):
            pass
    for key in ("leg_length", "ycom"):
        n = number_or_none(p.get(key))
        if n is not None:
            info[key] = n
    return info


def user_information(owner: Owner, session_height: float | None, session_weight: float | None) -> dict[str, Any]:
    """``user_information`` of the summary (the spec types ``age`` as a string there)."""
    p = owner.profile
    info: dict[str, Any] = {"user": owner.id, "email": owner.email, "display_name": owner.name or owner.email}
    height = number_or_none(session_height or owner.height_cm)
    weight = number_or_none(session_weight or owner.weight_kg)
    if height is not None:
        info["height"] = height
    if weight is not None:
        info["weight"] = weight
    if age_years(p) is not None:
        info["age"] = str(age_years(p))
    for key in ("gender", "brand", "shoeModel"):
        if isinstance(p.get(key), str):
            info[key] = p[key]
    for key in ("shoeSize", "leg_length", "ycom"):
        n = number_or_none(p.get(key))
        if n is not None:
            info[key] = n
    return info
