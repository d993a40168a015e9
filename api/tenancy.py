"""Tenancy, roles and plans.

* A user's ``admin_id`` names the admin or sub-admin who manages them; a
  sub-admin's ``admin_id`` names its admin.
* An admin manages itself, the users and sub-admins it owns, and the users of
  those sub-admins. A sub-admin manages itself and its own users. A user
  manages only itself.
* A session is visible to a caller iff its owner is managed by the caller.
  Anything else answers exactly like a session that does not exist (404), so
  nobody learns whether another tenant's session exists.
* The effective plan of a user is its own ``plan`` or, when unset, the nearest
  manager's plan up the chain (the tenant pays for its users).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import bindparam, func, select

from api.auth import Principal
from api.errors import ApiError
from api.settings import PAID_PLANS, SESSION_ID_RE
from storage.catalog import Catalog, Quota, RunningSession, Thread, ThreadStatus, User, utcnow


NOT_FOUND = "session not found"


def managed_user_ids(db, principal: Principal) -> set[str]:
    ids = {principal.user_id}
    if principal.role not in ("admin", "sub-admin"):
        return ids
    frontier = {principal.user_id}
    depth = 2 if principal.role == "admin" else 1
    for _ in range(depth):
        children = set(db.scalars(select(User.id).where(User.admin_id.in_(frontier))))
        children -= ids
        if not children:
            break
        ids |= children
        frontier = children
    return ids


def manages(db, principal: Principal, owner: User) -> bool:
    """Whether ``principal`` manages ``owner`` (same rule as :func:`managed_user_ids`).

    At most one extra lookup, whatever the tenant's size: an admin manages its
    direct reports and their reports, a sub-admin its direct reports.
    """
    if owner.id == principal.user_id:
        return True
    if principal.role not in ("admin", "sub-admin") or owner.admin_id is None:
        return False
    if owner.admin_id == principal.user_id:
        return True
    if principal.role != "admin":
        return False
    manager = db.get(User, owner.admin_id)
    return manager is not None and manager.admin_id == principal.user_id


def effective_plan(db, user: User) -> str | None:
    seen: set[str] = set()
    node: User | None = user
    while node is not None and node.id not in seen:
        if node.plan:
            return node.plan.lower()
        seen.add(node.id)
        node = db.get(User, node.admin_id) if node.admin_id else None
    return None


PLAN_REQUIRED = "no valid payment plan: a Standard, Pro, Premium or Enterprise plan is required for this report"


def has_paid_plan(plan: str | None) -> bool:
    return (plan or "").lower() in PAID_PLANS


def require_paid_plan(plan: str | None, status: int) -> None:
    """The plan gate, for both doors: the API's paid reports (summary metrics, form and gait analysis,
    commentary threads) and the viewer's page blocks and report downloads that show the same things.
    ``plan`` is the owner's effective plan (:func:`effective_plan`, :attr:`SessionView.plan`);
    ``status`` is the refusal's HTTP status (the spec answers 404 or 403 per operation)."""
    if not has_paid_plan(plan):
        raise ApiError(status, PLAN_REQUIRED)


def check_session_id(session_id: str) -> None:
    if not SESSION_ID_RE.match(session_id):
        raise ApiError(400, "invalid session_id: expected 1-64 letters, digits, '-' or '_'")


def visible_session(catalog: Catalog, principal: Principal, session_id: str) -> tuple[RunningSession, User]:
    """The session and its owner if the caller may see it; else 404 (the same as nonexistent)."""
    check_session_id(session_id)
    with catalog.session() as db:
        row = db.get(RunningSession, session_id)
        owner = db.get(User, row.user_id) if row is not None and row.user_id is not None else None
        if owner is None or not manages(db, principal, owner):
            raise ApiError(404, NOT_FOUND)
        return row, owner


@dataclass
class SessionView:
    """A visible session with what reports need about its owner, read in one catalog query."""

    session: RunningSession  # a SimpleNamespace of its columns (see _entity), read-only
    owner: User
    manager: User | None  # owner's admin or sub-admin
    plan: str | None  # effective plan (own, else the nearest manager's)
    session_count: int
    last_session: datetime | None
    threads: tuple  # (count, newest update) of the session's finished threads: changes when a text is saved

    def owner_facts(self):
        from api.reports import Owner

        m = self.manager
        return Owner(id=self.owner.id, email=self.owner.email, name=self.owner.name or "", height_cm=self.owner.height_cm,
                     weight_kg=self.owner.weight_kg, profile=dict(self.owner.profile or {}),
                     admin_name=(m.name or m.email) if m else None, session_count=self.session_count,
                     last_session=self.last_session)


@functools.lru_cache(maxsize=1)
def _session_view_statement():
    """Built once (SQLAlchemy then reuses its compiled SQL; building it costs more than running it).

    Core columns, not ORM entities: hydrating four mapped objects per request cost about as much as
    the query itself."""
    s, t = RunningSession.__table__, Thread.__table__
    owner, m1, m2, other = User.__table__.alias("owner"), User.__table__.alias("m1"), User.__table__.alias("m2"), s.alias("other")
    done = (t.c.session_id == s.c.id) & (t.c.status == str(ThreadStatus.DONE))
    return (
        select(*[c.label(f"s_{c.name}") for c in s.c], *[c.label(f"u_{c.name}") for c in owner.c],
               *[c.label(f"m_{c.name}") for c in m1.c], m2.c.plan.label("top_plan"), m2.c.admin_id.label("top_admin_id"),
               select(func.count(other.c.id)).where(other.c.user_id == owner.c.id).scalar_subquery().label("n_sessions"),
               select(func.max(other.c.created_at)).where(other.c.user_id == owner.c.id).scalar_subquery().label("last_session"),
               select(func.count(t.c.id)).where(done).scalar_subquery().label("n_threads"),
               select(func.max(t.c.updated_at)).where(done).scalar_subquery().label("threads_at"))
        .select_from(s.join(owner, owner.c.id == s.c.user_id).outerjoin(m1, m1.c.id == owner.c.admin_id)
                     .outerjoin(m2, m2.c.id == m1.c.admin_id))
        .where(s.c.id == bindparam("session_id"))
    )


def _entity(cls, hit, prefix: str) -> SimpleNamespace:
    """``cls``'s columns as attributes, from the ``prefix``-labelled columns of ``hit`` (a plain, read-only
    view of the row: building instrumented ORM instances cost a third of a cached read)."""
    return SimpleNamespace(**{c.key: hit[f"{prefix}{c.name}"] for c in cls.__table__.c})


def session_view(catalog: Catalog, principal: Principal, session_id: str) -> SessionView:
    """The session, its owner and managers, the owner's session count and latest session, and its
    finished threads' fingerprint: one SELECT. 404 unless the caller manages the owner (:func:`manages`)."""
    with catalog.engine.connect() as conn:
        hit = conn.execute(_session_view_statement(), {"session_id": session_id}).mappings().first()
    if hit is None:
        raise ApiError(404, NOT_FOUND)
    user = _entity(User, hit, "u_")
    manager = _entity(User, hit, "m_") if hit["m_id"] is not None else None
    visible = user.id == principal.user_id or (
        principal.role in ("admin", "sub-admin") and manager is not None
        and (manager.id == principal.user_id or (principal.role == "admin" and manager.admin_id == principal.user_id)))
    if not visible:
        raise ApiError(404, NOT_FOUND)
    plan = user.plan or (manager.plan if manager else None) or hit["top_plan"]
    if plan is None and hit["top_admin_id"] is not None:  # a deeper chain than admin > sub-admin > user
        with catalog.session() as db:
            plan = effective_plan(db, db.get(User, user.id))
    return SessionView(_entity(RunningSession, hit, "s_"), user, manager, plan.lower() if plan else None,
                       int(hit["n_sessions"] or 0), hit["last_session"], (int(hit["n_threads"] or 0), str(hit["threads_at"])))


def resolve_upload_owner(catalog: Catalog, principal: Principal, user_ref: str) -> User:
    """The user an upload is for. Users may upload for themselves only (403 otherwise);
    admins/sub-admins for the users they manage (404 for anyone else: no existence leak)."""
    user_ref = user_ref.strip()
    with catalog.session() as db:
        caller = db.get(User, principal.user_id)
        if caller is None:
            raise ApiError(401, "the caller's account no longer exists")
        if user_ref == caller.id or user_ref.lower() == (caller.email or "").lower():  # e-mails: any case
            return caller
        if principal.role not in ("admin", "sub-admin"):
            raise ApiError(403, "admin or sub-admin privileges are required to create sessions for another user")
        managed = managed_user_ids(db, principal)
        user = db.get(User, user_ref)
        if user is None:
            user = db.scalars(select(User).where(func.lower(User.email) == user_ref.lower())).first()
        if user is None or user.id not in managed:
            raise ApiError(404, "user not found")
        return user


def session_quota(catalog: Catalog, user: User, limits: dict[str, int], window_days: int) -> Quota | None:
    """The plan's session limit for ``user`` as a :class:`Quota` (``None`` = unlimited)."""
    with catalog.session() as db:
        plan = effective_plan(db, user) or "free"
    limit = limits.get(plan, limits.get("free", 0))
    if limit is None or limit < 0:
        return None
    return Quota(user.id, limit, utcnow() - timedelta(days=window_days))


def session_limit_error(catalog: Catalog, user: User, quota: Quota, window_days: int) -> ApiError:
    with catalog.session() as db:
        plan = effective_plan(db, user) or "free"
    return ApiError(
        404,
        f"session limit reached: the {plan} plan allows {quota.limit} sessions per {window_days} days for this user",
    )


def check_session_limit(catalog: Catalog, user: User, limits: dict[str, int], window_days: int) -> Quota | None:
    """Refuse early (before the upload is stored) when the limit is already reached; return the quota.

    The binding check is repeated in the inserting transaction (``Catalog.create_session(quota=...)``).
    """
    quota = session_quota(catalog, user, limits, window_days)
    if quota is None:
        return None
    with catalog.session() as db:
        count = db.scalar(select(func.count()).select_from(RunningSession).where(
            RunningSession.user_id == user.id, RunningSession.created_at >= quota.since))
    if count >= quota.limit:
        raise session_limit_error(catalog, user, quota, window_days)
    return quota


def require_manager(principal: Principal) -> None:
    if principal.role not in ("admin", "sub-admin"):
        raise ApiError(403, "admin or sub-admin privileges are required for this operation")
