"""Admin CLI: ``gaitlake users add``, ``gaitlake keys create``, ``gaitlake serve``.

``register_cli(subparsers)`` adds the subcommands to gaitlake's argparse CLI;
each sets ``func(args) -> exit code``.
"""
from __future__ import annotations

import argparse
import sys

from sqlalchemy import select

ROLES = ("admin", "sub-admin", "user")
PLANS = ("standard", "pro", "premium", "enterprise")


def _catalog():
    from configs import get_settings
    from storage.catalog import Catalog

    return Catalog.from_settings(get_settings())


def users_add(args: argparse.Namespace) -> int:
    from storage.catalog import User

    catalog = _catalog()
    email = args.email.strip().lower()
    with catalog.session() as db:
        if db.scalars(select(User).where(User.email == email)).first() is not None:
            print(f"error: a user with e-mail {email} already exists", file=sys.stderr)
            return 1
        admin_id = None
        if args.admin:
            admin = db.scalars(select(User).where(User.email == args.admin.strip().lower())).first()
            if admin is None:
                print(f"error: no user {args.admin}", file=sys.stderr)
                return 1
            if admin.role not in ("admin", "sub-admin"):
                print(f"error: {args.admin} is a {admin.role}, not an admin or sub-admin", file=sys.stderr)
                return 1
            if args.role == "sub-admin" and admin.role != "admin":
                print("error: a sub-admin's --admin must be an admin", file=sys.stderr)
                return 1
            if args.role == "admin":
                print("error: an admin has no --admin", file=sys.stderr)
                return 1
            admin_id = admin.id
        elif args.role == "sub-admin":
            print("error: a sub-admin needs --admin EMAIL (its admin)", file=sys.stderr)
            return 1
        user = User(email=email, name=args.name or "", role=args.role, admin_id=admin_id,
                    plan=args.plan.lower() if args.plan else None, height_cm=args.height_cm, weight_kg=args.weight_kg,
                    profile={})
        db.add(user)
        db.flush()
        user_id = user.id
    print(user_id)
    return 0


def keys_create(args: argparse.Namespace) -> int:
    from api.keys import create_key
    from storage.catalog import User

    catalog = _catalog()
    with catalog.session() as db:
        user = db.scalars(select(User).where(User.email == args.email.strip().lower())).first()
        user_id = user.id if user else None
    if user_id is None:
        print(f"error: no user {args.email}", file=sys.stderr)
        return 1
    key = create_key(catalog, user_id)
    print(key)
    print("Store this key now: it is shown once and only its hash is kept.", file=sys.stderr)
    return 0


def lake_check(args: argparse.Namespace) -> int:
    import json

    from configs import get_settings
    from storage.lake import Lake
    from storage.lakecheck import check_lake, format_report
    from storage.objectstore import ObjectStore

    report = check_lake(Lake(ObjectStore.from_settings(get_settings())))
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

    from api.settings import load_api_settings
    from configs import get_settings
    from flows.runtime import prepare_environment

    settings = get_settings()
    prepare_environment(settings)
    api_settings = load_api_settings(settings)
    supervisor = None
    if (api_settings.launch_processing and settings.processing.embedded_worker and not settings.prefect.api_url
            and not args.no_worker):
        from flows.worker import WorkerSupervisor

        supervisor = WorkerSupervisor(settings).start()
        print(f"gaitlake serve: data dir {settings.data_path}; queue worker pid {supervisor.process.pid} "
              f"(log {supervisor.log_path})", file=sys.stderr, flush=True)
    try:
        uvicorn.run("api.app:app_from_env", factory=True, host=args.host or api_settings.host,
                    port=args.port or api_settings.port, workers=args.workers, log_level="info")
    finally:
        if supervisor is not None:
            supervisor.stop()
    return 0


def register_cli(subparsers) -> None:
    users = subparsers.add_parser("users", help="manage API users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add a user, sub-admin or admin")
    add.add_argument("email")
    add.add_argument("--role", choices=ROLES, default="user")
    add.add_argument("--admin", metavar="EMAIL", help="the admin or sub-admin managing this user")
    add.add_argument("--plan", type=str.lower, choices=PLANS)
    add.add_argument("--name", default="")
    add.add_argument("--height-cm", type=float)
    add.add_argument("--weight-kg", type=float)
    add.set_defaults(func=users_add)

    keys = subparsers.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create an API key for a user (printed once)")
    create.add_argument("email")
    create.set_defaults(func=keys_create)

    lake = subparsers.add_parser("lake", help="inspect the results lake")
    lake_sub = lake.add_subparsers(dest="lake_command", required=True)
    check = lake_sub.add_parser("check", help="verify every served manifest against its files (exit 1 when damaged)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=lake_check)

    srv = subparsers.add_parser("serve", help="run the API (uvicorn)")
    srv.add_argument("--host", default=None)
    srv.add_argument("--port", type=int, default=None)
    srv.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    srv.add_argument("--no-worker", action="store_true",
                     help="do not start the embedded queue worker (run `gaitlake worker` yourself)")
    srv.set_defaults(func=serve)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m api.cli``) until gaitlake/cli.py calls register_cli."""
    parser = argparse.ArgumentParser(prog="gaitlake")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
