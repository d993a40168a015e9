"""Admin CLI: ``gaitlake users add|list|show``, ``gaitlake keys create|list|revoke``, ``gaitlake lake check``,
``gaitlake serve``. E-mail addresses are stored lowercase and compared case-insensitively.

``register_cli(subparsers)`` adds the subcommands to gaitlake's argparse CLI (gaitlake/cli.py);
each sets ``func(args) -> exit code``.
"""
from __future__ import annotations

import argparse
import signal
import sys

from sqlalchemy import func, select

from gaitlake.cli_types import port_number, positive_int

ROLES = ("admin", "sub-admin", "user")
PLANS = ("standard", "pro", "premium", "enterprise")


def _catalog():
    from configs import get_settings
    from storage.catalog import Catalog

    return Catalog.from_settings(get_settings())


def _find_user(db, ref: str):
    """A user by id or e-mail (any case), or None."""
    from storage.catalog import user_by_ref

    return user_by_ref(db, ref)


def _user_id(catalog, ref: str) -> str | None:
    """The id of the user named by ``ref`` (id or e-mail, any case); None after saying so on stderr."""
    with catalog.session() as db:
        user = _find_user(db, ref)
        if user is not None:
            return user.id
    print(f"gaitlake: no user {ref}", file=sys.stderr)
    return None


def _profile(args: argparse.Namespace) -> dict | None:
    """``--birth-date`` / ``--age`` as profile fields; None (after a message) when invalid."""
    from datetime import date

    if args.birth_date:
        try:
            born = date.fromisoformat(args.birth_date)
        except ValueError:
            print(f"gaitlake: --birth-date must be YYYY-MM-DD, got {args.birth_date!r}", file=sys.stderr)
            return None
        if not date(1900, 1, 1) <= born <= date.today():
            print("gaitlake: --birth-date must lie between 1900-01-01 and today", file=sys.stderr)
            return None
        return {"birth_date": born.isoformat()}
    if args.age is not None:
        if not 1 <= args.age <= 120:
            print("gaitlake: --age must be between 1 and 120 years", file=sys.stderr)
            return None
        return {"age": args.age}
    return {}


def _person(args: argparse.Namespace, email_label: str) -> dict | None:
    """The e-mail, height and weight given, checked with the API upload's rules (flows.options: one
    rule, one message); None after saying why on stderr. Options not given are left out."""
    from flows import options

    person = {}
    try:
        if args.email is not None:
            person["email"] = options.parse_email(args.email, email_label)
        for field in ("height_cm", "weight_kg"):
            value = options.parse_number(getattr(args, field), field, "--" + field.replace("_", "-"))
            if value is not None:
                person[field] = value
    except options.OptionError as exc:
        print(f"gaitlake: {exc}", file=sys.stderr)
        return None
    return person


def users_add(args: argparse.Namespace) -> int:
    from storage.catalog import User

    person = _person(args, "the e-mail")
    if person is None:
        return 2
    email = person["email"]
    profile = _profile(args)
    if profile is None:
        return 2
    catalog = _catalog()
    with catalog.session() as db:
        if db.scalars(select(User).where(func.lower(User.email) == email)).first() is not None:
            print(f"gaitlake: a user with e-mail {email} already exists", file=sys.stderr)
            return 1
        admin_id = None
        if args.admin:
            admin = _find_user(db, args.admin)
            if admin is None:
                print(f"gaitlake: no user {args.admin}", file=sys.stderr)
                return 1
            if admin.role not in ("admin", "sub-admin"):
                print(f"gaitlake: {args.admin} is a {admin.role}, not an admin or sub-admin", file=sys.stderr)
                return 1
            if args.role == "sub-admin" and admin.role != "admin":
                print("gaitlake: a sub-admin's --admin must be an admin", file=sys.stderr)
                return 1
            if args.role == "admin":
                print("gaitlake: an admin has no --admin", file=sys.stderr)
                return 1
            admin_id = admin.id
        elif args.role == "sub-admin":
            print("gaitlake: a sub-admin needs --admin EMAIL (its admin)", file=sys.stderr)
            return 1
        user = User(email=email, name=args.name or "", role=args.role, admin_id=admin_id,
                    plan=args.plan.lower() if args.plan else None, height_cm=person.get("height_cm"),
                    weight_kg=person.get("weight_kg"), profile=profile)
        db.add(user)
        db.flush()
        user_id = user.id
    print(user_id)
    return 0


def users_edit(args: argparse.Namespace) -> int:
    """Change a user's e-mail, name, plan, height, weight or age, with the rules of ``users add``."""
    from storage.catalog import User

    person = _person(args, "--email")
    if person is None:
        return 2
    profile = _profile(args)
    if profile is None:
        return 2
    if args.name is not None:
        person["name"] = args.name
    if args.plan is not None:
        person["plan"] = None if args.plan == "none" else args.plan
    if not person and not profile:
        print("gaitlake: nothing to change: give --email, --name, --plan, --height-cm, --weight-kg, "
              "--birth-date or --age", file=sys.stderr)
        return 2
    with _catalog().session() as db:
        user = _find_user(db, args.user)
        if user is None:
            print(f"gaitlake: no user {args.user}", file=sys.stderr)
            return 1
        taken = person.get("email") and db.scalars(
            select(User).where(func.lower(User.email) == person["email"], User.id != user.id)).first()
        if taken:
            print(f"gaitlake: a user with e-mail {person['email']} already exists", file=sys.stderr)
            return 1
        for field, value in person.items():
            setattr(user, field, value)
        if profile:  # a birth date replaces an age and the other way round
            kept = {k: v for k, v in dict(user.profile or {}).items() if k not in ("age", "birth_date")}
            user.profile = {**kept, **profile}
        facts = _user_facts(db, user)
    import json

    print(json.dumps(facts, indent=1, default=str))
    return 0


def keys_create(args: argparse.Namespace) -> int:
    from api.keys import create_key

    catalog = _catalog()
    user_id = _user_id(catalog, args.email)
    if user_id is None:
        return 1
    key = create_key(catalog, user_id)
    print(key)
    print("Store this key now: it is shown once and only its hash is kept.", file=sys.stderr)
    return 0


def _user_facts(db, user) -> dict:
    from storage.catalog import RunningSession

    admin = db.get(type(user), user.admin_id) if user.admin_id else None
    sessions = db.scalar(select(func.count()).select_from(RunningSession).where(RunningSession.user_id == user.id))
    from api.reports import age_years

    return {"id": user.id, "email": user.email, "name": user.name or "", "role": user.role, "plan": user.plan,
            "admin": admin.email if admin else None, "height_cm": user.height_cm, "weight_kg": user.weight_kg,
            "age": age_years(dict(user.profile or {})), "profile": dict(user.profile or {}), "sessions": sessions,
            "created_at": user.created_at.isoformat() if user.created_at else None}


def _key_facts(key, email: str) -> dict:
    return {"prefix": key.prefix, "user": email, "created_at": key.created_at.isoformat() if key.created_at else None,
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None}


def _print_rows(rows: list[dict], columns: tuple[str, ...], as_json: bool) -> None:
    import json

    if as_json:
        print(json.dumps(rows, indent=1, default=str))
        return
    widths = {c: max([len(c)] + [len(str(r.get(c) if r.get(c) is not None else "-")) for r in rows]) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c) if r.get(c) is not None else "-").ljust(widths[c]) for c in columns))


def users_list(args: argparse.Namespace) -> int:
    from storage.catalog import User

    with _catalog().session() as db:
        rows = [_user_facts(db, u) for u in db.scalars(select(User).order_by(User.email))]
    _print_rows(rows, ("email", "role", "plan", "admin", "sessions", "id"), args.json)
    return 0


def users_show(args: argparse.Namespace) -> int:
    import json

    from storage.catalog import ApiKey

    with _catalog().session() as db:
        user = _find_user(db, args.user)
        if user is None:
            print(f"gaitlake: no user {args.user}", file=sys.stderr)
            return 1
        facts = _user_facts(db, user)
        facts["keys"] = [_key_facts(k, user.email) for k in db.scalars(
            select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at))]
    print(json.dumps(facts, indent=1, default=str))
    return 0


def keys_list(args: argparse.Namespace) -> int:
    from storage.catalog import ApiKey, User

    with _catalog().session() as db:
        query = select(ApiKey, User.email).join(User, User.id == ApiKey.user_id).order_by(User.email, ApiKey.created_at)
        if args.user:
            user = _find_user(db, args.user)
            if user is None:
                print(f"gaitlake: no user {args.user}", file=sys.stderr)
                return 1
            query = query.where(ApiKey.user_id == user.id)
        rows = [_key_facts(k, email) for k, email in db.execute(query)]
    _print_rows(rows, ("prefix", "user", "created_at", "revoked_at"), args.json)
    return 0


def keys_revoke(args: argparse.Namespace) -> int:
    """Revoke one key (the key itself or its 12-character prefix) or, with --user, all of a user's keys."""
    from api.keys import KEY_RE, revoke_keys
    from storage.catalog import ApiKey, utcnow

    catalog = _catalog()
    if args.user:
        user_id = _user_id(catalog, args.user)
        if user_id is None:
            return 1
        print(f"revoked {revoke_keys(catalog, user_id)} key(s) of {args.user}")
        return 0
    if not args.key:
        print("gaitlake: name a key (or its prefix) or --user EMAIL", file=sys.stderr)
        return 2
    match = KEY_RE.match(args.key.strip())
    prefix = match.group(1) if match else args.key.strip()
    with catalog.session() as db:
        key = db.get(ApiKey, prefix)
        if key is None:
            print(f"gaitlake: no key with prefix {prefix}", file=sys.stderr)
            return 1
        already = key.revoked_at is not None
        if not already:
            key.revoked_at = utcnow()
    print(f"key {prefix} {'was already revoked' if already else 'revoked'} (takes effect within the API's auth cache TTL)")
    return 0


def lake_check(args: argparse.Namespace) -> int:
    import json

    from configs import get_settings
    from storage.lake import Lake
    from storage.lakecheck import check_lake, format_report
    from storage.objectstore import ObjectStore

    from tasks.lake_schema import SCHEMAS

    report = check_lake(Lake(ObjectStore.from_settings(get_settings())), SCHEMAS)
    if args.json:
        print(json.dumps(report.as_dict(), indent=1))
    else:
        lines = format_report(report)
        for line in lines[:-1]:
            print(line)
        print(lines[-1], file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def serve(args: argparse.Namespace) -> int:
    """Run the API; on the embedded default also start and supervise the warm queue worker.

    The Prefect/Ultralytics environment is applied first (flows.runtime), so
    ``GAITLAKE_PREFECT__API_URL`` reaches the upload handler's deployment trigger.
    """
    import uvicorn

    from api.server import uvicorn_options
    from api.settings import load_api_settings
    from configs import get_settings
    from flows.runtime import prepare_environment

    settings = get_settings()
    prepare_environment(settings)
    from flows.queue import guard_children

    guard_children(settings.processing.shutdown_grace_s)  # the queue worker dies with the server, SIGKILL too
    api_settings = load_api_settings(settings)
    supervisor = None
    if (api_settings.launch_processing and settings.processing.embedded_worker and not settings.prefect.api_url
            and not args.no_worker):
        from flows.worker import WorkerSupervisor

        supervisor = WorkerSupervisor(settings).start()
        print(f"gaitlake serve: data dir {settings.data_path}; queue worker pid {supervisor.process.pid} "
              f"(log {supervisor.log_path})", file=sys.stderr, flush=True)
    def stop_serving(signum, _frame):
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler
        # that was there before it: this one, so the worker is stopped (below) instead of orphaned.
        raise SystemExit(0)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop_serving)
    try:
        uvicorn.run("api.app:app_from_env", factory=True, host=args.host or api_settings.host,
                    port=api_settings.port if args.port is None else args.port, workers=args.workers,
                    log_level="info", **uvicorn_options(api_settings))   # slow-client deadlines (api/server.py)
    finally:
        if supervisor is not None:
            supervisor.stop()
    return 0


def _person_options(parser: argparse.ArgumentParser) -> None:
    """--height-cm, --weight-kg (the API's ranges) and --birth-date | --age."""
    parser.add_argument("--height-cm", metavar="CM", help="runner height, 50-260 cm (scales pixels to metres)")
    parser.add_argument("--weight-kg", metavar="KG", help="runner weight, 10-400 kg (for metabolic power)")
    born = parser.add_mutually_exclusive_group()
    born.add_argument("--birth-date", metavar="YYYY-MM-DD", help="date of birth: reports give the age on the day they are read")
    born.add_argument("--age", type=int, help="age in years, when the birth date is not known")


def register_cli(subparsers) -> None:
    users = subparsers.add_parser("users", help="manage API users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add a user, sub-admin or admin")
    add.add_argument("email", help="the user's e-mail address (stored lowercase, compared case-insensitively)")
    add.add_argument("--role", choices=ROLES, default="user", help="admin, sub-admin or user (default: user)")
    add.add_argument("--admin", metavar="EMAIL", help="the admin or sub-admin managing this user")
    add.add_argument("--plan", type=str.lower, choices=PLANS, help="subscription plan (session limit, paid reports)")
    add.add_argument("--name", default="", help="display name")
    _person_options(add)
    add.set_defaults(func=users_add)
    edit = users_sub.add_parser("edit", help="change a user's e-mail, name, plan, height, weight or age")
    edit.add_argument("user", help="e-mail address (any case) or user id")
    edit.add_argument("--email", help="the new e-mail address")
    edit.add_argument("--name", help="display name")
    edit.add_argument("--plan", type=str.lower, choices=(*PLANS, "none"), help="subscription plan (none: the free plan)")
    _person_options(edit)
    edit.set_defaults(func=users_edit)
    lst = users_sub.add_parser("list", help="list every user with role, plan, manager and session count")
    lst.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lst.set_defaults(func=users_list)
    show = users_sub.add_parser("show", help="show one user (by e-mail or id) with its API keys")
    show.add_argument("user", help="e-mail address (any case) or user id")
    show.set_defaults(func=users_show)

    keys = subparsers.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create an API key for a user (printed once)")
    create.add_argument("email", help="e-mail address (any case) or id of the key's user")
    create.set_defaults(func=keys_create)
    klist = keys_sub.add_parser("list", help="list API keys (prefix, user, created, revoked); secrets are never stored")
    klist.add_argument("--user", metavar="EMAIL", help="only this user's keys")
    klist.add_argument("--json", action="store_true", help="print JSON instead of a table")
    klist.set_defaults(func=keys_list)
    revoke = keys_sub.add_parser("revoke", help="revoke one key, or every key of a user")
    revoke.add_argument("key", nargs="?", help="the key itself or its 12-character prefix (from keys list)")
    revoke.add_argument("--user", metavar="EMAIL", help="revoke every key of this user instead")
    revoke.set_defaults(func=keys_revoke)

    lake = subparsers.add_parser("lake", help="inspect the results lake")
    lake_sub = lake.add_subparsers(dest="lake_command", required=True)
    check = lake_sub.add_parser("check", help="verify every served manifest against its files (exit 1 when damaged)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=lake_check)

    srv = subparsers.add_parser("serve", help="run the API (uvicorn)")
    srv.add_argument("--host", default=None)
    srv.add_argument("--port", type=port_number, default=None)
    srv.add_argument("--workers", type=positive_int, default=1, help="uvicorn worker processes")
    srv.add_argument("--no-worker", action="store_true",
                     help="do not start the embedded queue worker (run `gaitlake worker` yourself)")
    srv.set_defaults(func=serve)
