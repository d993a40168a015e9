"""The CLI a newcomer meets, round two (issue 25): settings with ranges, corrupt videos refused
before anything exists, quiet pipes, one rule for a person's height/weight/e-mail, JSON for every
DuckDB type, owners and duplicates. Each runs the real entry point (``python -m gaitlake.cli``)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from configs import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def run_cli(args: list[str], env: dict[str, str] | None = None, timeout: float = 120,
            **kwargs) -> tuple[subprocess.CompletedProcess, float]:
    """``python -m gaitlake.cli ARGS`` in this checkout; (finished process, seconds)."""
    full_env = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gaitlake.cli", *args], capture_output=True, text=True,
                          env=full_env, cwd=REPO, timeout=timeout, **kwargs)
    return proc, time.perf_counter() - started


def errors(err: str) -> list[str]:
    """stderr lines other than the data-dir line."""
    return [line for line in err.splitlines() if line.strip() and not line.startswith("gaitlake: data dir ")]


# -- 7. every setting has its range, refused at start in one line (exit 2) ------------------------


def _numeric_fields(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _numeric_fields(field.annotation, f"{prefix}{name}.")
        elif field.annotation in (int, float):
            yield f"{prefix}{name}", field


def test_every_numeric_setting_has_a_lower_bound():
    unbounded = [key for key, field in _numeric_fields(Settings)
                 if not any(hasattr(m, "ge") or hasattr(m, "gt") for m in field.metadata)]
    assert unbounded == []


@pytest.mark.parametrize("variable, value, named", [
    ("GAITLAKE_RAY__NUM_ACTORS", "-3", "ray.num_actors"),
    ("GAITLAKE_POSE__BATCH_SIZE", "0", "pose.batch_size"),
    ("GAITLAKE_POSE__IMGSZ", "-5", "pose.imgsz"),
    ("GAITLAKE_API__PORT", "99999", "api.port"),
    ("GAITLAKE_API__SESSION_LIMITS__FREE", "-7", "api.session_limits.free"),
])
def test_an_out_of_range_setting_is_refused_at_start(tmp_path, variable, value, named):
    proc, elapsed = run_cli(["config"], {variable: value, "GAITLAKE_DATA_DIR": str(tmp_path / "d")})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gaitlake: invalid configuration: " + named), lines
    assert proc.stdout == "" and elapsed < 20


def test_the_worker_and_the_api_refuse_the_same_setting(tmp_path):
    env = {"GAITLAKE_RAY__NUM_ACTORS": "-3", "GAITLAKE_DATA_DIR": str(tmp_path / "d")}
    for command in (["worker", "--max-sessions", "1"], ["serve", "--no-worker"]):
        proc, _ = run_cli(command, env)
        assert proc.returncode == 2 and "ray.num_actors" in proc.stderr, (command, proc.stderr)
    full_env = dict(os.environ, PYTHONPATH=str(REPO), **env)
    # A flow reads its settings when it starts (a deployment run's entry point), not on import.
    flow = subprocess.run([sys.executable, "-c", "import flows.process as p; p.process_session.fn('s1')"],
                          capture_output=True, text=True, env=full_env, cwd=REPO, timeout=120)
    assert flow.returncode != 0 and "ray.num_actors" in flow.stderr
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("argv, says", [
    (["serve", "--port", "0"], "argument --port: must be a whole number between 1 and 65535, got '0'"),
    (["serve", "--port", "70000"], "argument --port: must be a whole number between 1 and 65535"),
    (["worker", "--limit", "-1"], "argument --limit: must be a whole number of at least 1"),
    (["stack", "up", "--api-port", "0"], "argument --api-port: must be a whole number between 1 and 65535"),
])
def test_a_port_or_count_option_out_of_range_is_refused(tmp_path, argv, says):
    proc, _ = run_cli(argv, {"GAITLAKE_DATA_DIR": str(tmp_path / "d")})
    assert proc.returncode == 2 and says in proc.stderr, proc.stderr
    assert not (tmp_path / "d").exists()


def test_unknown_variables_are_still_refused():
    with pytest.raises(ValueError, match="pose.imgz"):
        load_settings({"GAITLAKE_POSE__IMGZ": "480"})


# -- 6. a truncated or damaged MP4 is refused in about a second, before anything exists -----------

def _damaged(source: Path, kind: str, folder: Path) -> Path:
    """The treadmill clip cut to 30 % of its bytes (an interrupted copy: the sample table still
    declares 388 frames), or with its last 10 % overwritten (decodes until near the end)."""
    data = bytearray(source.read_bytes())
    if kind == "truncated":
        data = data[: len(data) * 3 // 10]
    else:
        start = len(data) * 9 // 10
        data[start:] = os.urandom(len(data) - start)
    path = folder / f"{kind}.mp4"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("kind, says", [
    ("truncated", "truncated.mp4 is cut short: only 112 of the 388 frames the file declares decode (29%)"),
    ("garbled", "garbled.mp4 is damaged: its frames do not decode"),
])
def test_a_damaged_mp4_is_refused_in_about_a_second_before_anything_exists(treadmill_video, tmp_path, kind, says):
    video = _damaged(treadmill_video, kind, tmp_path)
    data = tmp_path / "data"
    proc, elapsed = run_cli(["process", str(video), "--height-cm", "175"], {"GAITLAKE_DATA_DIR": str(data)})
    print(f"{kind}: refused in {elapsed:.2f} s (interpreter start included)")
    assert proc.returncode == 2, proc.stderr
    assert errors(proc.stderr) == [errors(proc.stderr)[0]] and says in proc.stderr, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert elapsed < 5
    assert not data.exists()  # no session row, catalog, Prefect or Ray


def test_the_shared_clips_pass_the_decode_check(treadmill_video):
    from tasks.video import probe_video, verify_decodes

    for name in ("treadmill-side-60fps.mp4", "treadmill-garage-30fps.mp4", "walking-multiperson-30fps.mp4"):
        path = treadmill_video.with_name(name)
        if path.exists():
            verify_decodes(path, probe_video(path))


# -- 10. quiet pipes, the failure reason, one data-dir line, ellipses, one error prefix ----------


def _lake_dir(tmp_path: Path) -> dict[str, str]:
    """A data dir with an (empty) lake: queries run over empty views."""
    (tmp_path / "data" / "store").mkdir(parents=True)
    return {"GAITLAKE_DATA_DIR": str(tmp_path / "data")}


@pytest.mark.parametrize("argv", [
    ["config"],
    ["query", "SELECT * FROM range(50000)", "--format", "csv"],
    ["query", "SELECT * FROM range(50000)", "--format", "json"],
    ["query", "SELECT * FROM range(500)"],
])
def test_a_closed_stdout_ends_quietly(tmp_path, argv):
    """``gaitlake config | head -1``: the reader is gone before the command writes (a pipe whose
    read end is closed), so every write fails with EPIPE, as when head has exited."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "gaitlake.cli", *argv], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=60,
                              env=dict(os.environ, PYTHONPATH=str(REPO), **_lake_dir(tmp_path)))
    finally:
        os.close(write_end)
    assert errors(proc.stderr) == [], proc.stderr
    assert proc.returncode == 141


def _catalog_row(env: dict[str, str], **fields):
    from configs import load_settings
    from storage.catalog import Catalog

    return Catalog.from_settings(load_settings(env)).create_session(**fields)


def test_report_of_a_failed_session_says_why(tmp_path):
    env = _lake_dir(tmp_path)
    reason = "no runner was found in 80% of the frames; film the runner side-on and whole"
    row = _catalog_row(env, status="failed", error=reason)
    proc, _ = run_cli(["report", row.id], env)
    assert proc.returncode == 1
    assert errors(proc.stderr) == [f"gaitlake: session {row.id} failed: {reason}"]
    proc, _ = run_cli(["report", "0" * 32], env)
    assert errors(proc.stderr) == [f"gaitlake: no session {'0' * 32} in the catalog of {tmp_path / 'data'}"]


def test_sessions_list_says_its_data_dir_once_and_marks_cut_reasons(tmp_path):
    env = _lake_dir(tmp_path)
    reason = "the video decodes, but " + "the runner leaves the frame again and again; " * 4
    row = _catalog_row(env, status="failed", error=reason)
    proc, _ = run_cli(["sessions", "list"], env)
    assert proc.returncode == 0
    assert proc.stderr.count("data dir") == 1, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith(row.id))
    assert line.endswith("…") and reason[:79] in line


def test_query_table_cells_cut_with_an_ellipsis(tmp_path):
    proc, _ = run_cli(["query", "SELECT repeat('x', 60) AS s, 'short' AS t"], _lake_dir(tmp_path))
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[2] == "x" * 39 + "…" + " | short"


@pytest.mark.parametrize("argv, says", [
    (["users", "show", "nobody@example.org"], "gaitlake: no user nobody@example.org"),
    (["keys", "create", "nobody@example.org"], "gaitlake: no user nobody@example.org"),
    (["keys", "revoke"], "gaitlake: name a key (or its prefix) or --user EMAIL"),
    (["users", "add", "a@example.org", "--role", "sub-admin"], "gaitlake: a sub-admin needs --admin EMAIL"),
])
def test_users_and_keys_errors_start_like_every_other_command(tmp_path, argv, says):
    proc, _ = run_cli(argv, {"GAITLAKE_DATA_DIR": str(tmp_path / "data")})
    assert proc.returncode != 0
    assert len(errors(proc.stderr)) == 1 and errors(proc.stderr)[0].startswith(says), proc.stderr


# -- 4. a person's height, weight and e-mail: the API's rule and message, at creation and edit ----


@pytest.mark.parametrize("argv, says", [
    (["users", "add", "r@example.org", "--height-cm", "-5"], "--height-cm must be between 50 and 260 cm, got -5"),
    (["users", "add", "r@example.org", "--height-cm", "9999"], "--height-cm must be between 50 and 260 cm, got 9999"),
    (["users", "add", "r@example.org", "--weight-kg", "0"], "--weight-kg must be between 10 and 400 kg, got 0"),
    (["users", "add", "bad-email"], "the e-mail must be an address like name@example.org, got 'bad-email'"),
    (["users", "add", "a@b"], "must be an address like name@example.org, got 'a@b'"),
    (["users", "edit", "coach@example.org", "--height-cm", "-5"], "--height-cm must be between 50 and 260 cm, got -5"),
    (["users", "edit", "coach@example.org", "--weight-kg", "nan"], "--weight-kg must be between 10 and 400 kg, got nan"),
    (["users", "edit", "coach@example.org", "--email", "coach at example"], "--email must be an address like name@example.org"),
])
def test_a_person_out_of_range_is_refused_with_the_api_sentence(tmp_path, argv, says):
    from configs import load_settings
    from storage.catalog import Catalog, User

    env = {"GAITLAKE_DATA_DIR": str(tmp_path / "data")}
    with Catalog.from_settings(load_settings(env)).session() as db:  # the person edits are tried on
        db.add(User(email="coach@example.org", height_cm=180.0))
    proc, _ = run_cli(argv, env)
    assert proc.returncode == 2, proc.stderr
    assert len(errors(proc.stderr)) == 1 and errors(proc.stderr)[0].startswith("gaitlake: "), proc.stderr
    assert says in errors(proc.stderr)[0], proc.stderr
    shown, _ = run_cli(["users", "show", "coach@example.org"], env)  # nothing was created or changed
    import json

    assert json.loads(shown.stdout)["height_cm"] == 180.0


def test_the_api_upload_refuses_a_height_with_the_same_sentence():
    from api.errors import ApiError
    from api.routers.uploads import _parse_float
    from flows import options

    with pytest.raises(ApiError) as api:
        _parse_float({"height_cm": "-5"}, "height_cm", "height_cm")
    with pytest.raises(options.OptionError) as cli:
        options.parse_number("-5", "height_cm", "--height-cm")
    assert api.value.message.replace("height_cm", "X") == str(cli.value).replace("--height-cm", "X")


def test_users_edit_changes_a_person_within_the_ranges(tmp_path):
    import json

    env = {"GAITLAKE_DATA_DIR": str(tmp_path / "data")}
    assert run_cli(["users", "add", "Runner@Example.org"], env)[0].returncode == 0
    proc, _ = run_cli(["users", "edit", "runner@example.org", "--height-cm", "172.5", "--weight-kg", "61",
                       "--email", "New@Example.org", "--age", "34"], env)
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert (facts["email"], facts["height_cm"], facts["weight_kg"], facts["age"]) == ("new@example.org", 172.5, 61.0, 34)
    assert run_cli(["users", "add", "other@example.org"], env)[0].returncode == 0
    taken, _ = run_cli(["users", "edit", "other@example.org", "--email", "NEW@example.org"], env)
    assert taken.returncode == 1 and "already exists" in taken.stderr


# -- 5. query --format json: every DuckDB type, or one sentence naming it ------------------------

# (SQL expression, its JSON value): one column per DuckDB type a query can return.
JSON_TYPES = {
    "sum_int": ("sum(x)", 3),  # HUGEINT -> DECIMAL(38,0) in Arrow: the sum(n_frames)
    "decimal": ("1.5", 1.5),
    "decimal_exact": ("12.25::DECIMAL(4,2)", 12.25),
    "decimal_null": ("NULL::DECIMAL(4,2)", None),
    "hugeint": ("170141183460469231731687303715884105727::HUGEINT", 170141183460469231731687303715884105727),
    "uhugeint": ("12345678901234567890123::UHUGEINT", 12345678901234567890123),
    "interval": ("INTERVAL 14 MONTH + INTERVAL 3 DAY + INTERVAL 1 HOUR + INTERVAL 5.25 SECOND", "P1Y2M3DT1H5.25S"),
    "interval_negative": ("-(INTERVAL 90 MINUTE)", "PT-1H-30M"),
    "interval_zero": ("INTERVAL 0 SECOND", "PT0S"),
    "date": ("DATE '2026-01-02'", "2026-01-02"),
    "time": ("TIME '12:34:56.5'", "12:34:56.500000"),
    "timestamp": ("TIMESTAMP '2026-01-02 03:04:05.123'", "2026-01-02T03:04:05.123000"),
    "timestamp_ns": ("'2026-01-01 00:00:00.123456789'::TIMESTAMP_NS", "2026-01-01T00:00:00.123456789"),
    "blob": ("'\\xAA\\x00abc'::BLOB", "qgBhYmM="),
    "list": ("[1, 2, NULL]", [1, 2, None]),
    "array": ("[1, 2]::INTEGER[2]", [1, 2]),
    "struct": ("{'a': 1, 'b': [INTERVAL 1 DAY]}", {"a": 1, "b": ["P1D"]}),
    "map_text_keys": ("MAP(['k'], [1.5])", {"k": 1.5}),
    "map_int_keys": ("MAP([1, 2], ['a', 'b'])", [{"key": 1, "value": "a"}, {"key": 2, "value": "b"}]),
    "uuid": ("'5c6d6b2e-0b2a-4f6e-9a3e-2b2d3f9b7c11'::UUID", "5c6d6b2e-0b2a-4f6e-9a3e-2b2d3f9b7c11"),
    "union": ("union_value(num := 2)::UNION(num INTEGER, s VARCHAR)", 2),
    "enum": ("'a'::ENUM('a', 'b')", "a"),
    "json": ("'{\"a\": 1}'::JSON", '{"a": 1}'),
    "nan": ("'nan'::DOUBLE", None),
    "text": ("'é'", "é"),
}


def test_query_json_serialises_every_duckdb_type(tmp_path):
    import json

    columns = ", ".join(f"{sql} AS {name}" for name, (sql, _) in JSON_TYPES.items())
    proc, _ = run_cli(["query", "--format", "json", f"SELECT {columns} FROM (VALUES (1), (2)) t(x)"],
                      _lake_dir(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{name: value for name, (_, value) in JSON_TYPES.items()}]


def test_query_json_names_a_type_it_cannot_write(tmp_path):
    proc, _ = run_cli(["query", "--format", "json", "SELECT 12::VARINT AS big"], _lake_dir(tmp_path))
    assert proc.returncode == 1 and proc.stdout == ""
    assert errors(proc.stderr) == ["gaitlake: query --format json: column 'big' has the DuckDB type bignum, which "
                                   "has no JSON form: cast it in the query (CAST(big AS VARCHAR), or AS DOUBLE "
                                   "for a number)"]


# -- 18. SIGKILL of gaitlake process or of the queue worker leaves no child running --------------


def _descendants(pid: int) -> dict[int, float]:
    import psutil

    try:
        return {c.pid: c.create_time() for c in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return {}


def _alive(pid: int, created: float) -> bool:
    import psutil

    try:
        process = psutil.Process(pid)
        return abs(process.create_time() - created) < 0.01 and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("command", ["process", "worker"])
def test_sigkill_leaves_no_prefect_server_or_ray_behind(treadmill_video, tmp_path, command):
    import signal

    import psutil

    argv = {"process": ["process", str(treadmill_video), "--max-frames", "60"], "worker": ["worker"]}[command]
    env = dict(os.environ, PYTHONPATH=str(REPO), GAITLAKE_DATA_DIR=str(tmp_path / "data"),
               GAITLAKE_PROCESSING__SHUTDOWN_GRACE_S="2")
    if command == "worker":  # a queued session, so that the worker starts Prefect's server to process it
        from configs import load_settings
        from flows.intake import create_session_from_path
        from storage.catalog import Catalog
        from storage.objectstore import ObjectStore

        settings = load_settings(env)
        create_session_from_path(ObjectStore.from_settings(settings), Catalog.from_settings(settings),
                                 treadmill_video, title="queued")
    parent = subprocess.Popen([sys.executable, "-m", "gaitlake.cli", *argv], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: dict[int, float] = {}
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # until Prefect's server runs under it
            seen.update(_descendants(parent.pid))
            servers = [pid for pid in seen if _alive(pid, seen[pid])
                       and "prefect" in " ".join(psutil.Process(pid).cmdline())]
            if servers:
                break
            assert parent.poll() is None, f"{command} ended before starting Prefect"
            time.sleep(0.5)
        else:
            pytest.fail("Prefect's server never started")
        time.sleep(3)  # and whatever else starts with it (Ray)
        seen.update(_descendants(parent.pid))
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15  # the grace (2 s), then SIGKILL
        while time.monotonic() < deadline and any(_alive(pid, t) for pid, t in seen.items()):
            time.sleep(0.5)
        survivors = {pid: " ".join(psutil.Process(pid).cmdline())[:120]
                     for pid, t in seen.items() if _alive(pid, t)}
        assert survivors == {}, survivors
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid, created in seen.items():  # a failed run cleans up after itself
            if _alive(pid, created):
                os.kill(pid, signal.SIGKILL)


# -- 8 and 9. process: an owner, where to see it, no duplicate; back within seconds, quiet -------


@pytest.mark.slow
def test_process_gives_an_owner_refuses_a_duplicate_and_returns_at_once(treadmill_video, tmp_path):
    import json
    import threading

    env = {"GAITLAKE_DATA_DIR": str(tmp_path / "data")}
    user_id = run_cli(["users", "add", "Runner@Example.org", "--height-cm", "178"], env)[0].stdout.strip()
    full_env = dict(os.environ, PYTHONPATH=str(REPO), **env)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "gaitlake.cli", "process", str(treadmill_video), "--max-frames",
                             "60", "--user", "runner@example.org"], env=full_env, cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout: list[tuple[float, str]] = []
    reader = threading.Thread(target=lambda: stdout.extend((time.monotonic(), line) for line in proc.stdout))
    reader.start()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=600) == 0, stderr
    ended = time.monotonic()
    reader.join()
    lines = [line.rstrip("\n") for _, line in stdout]
    print(f"process took {ended - started:.1f} s; exit {ended - stdout[-1][0]:.2f} s after the last summary line")
    assert ended - stdout[-1][0] < 5  # Prefect and Ray are not waited for (took 15-20 s)
    session_id = lines[0].split()[1].rstrip(":")
    assert f"  owner             runner@example.org ({user_id})" in lines
    assert f"  page              http://127.0.0.1:8000/app/sessions/{session_id} (gaitlake serve)" in lines
    assert f"  API               GET http://127.0.0.1:8000/running/sessions/{session_id}/summary/" in lines
    assert not any("height unknown" in line for line in lines)  # the owner's height was used
    # stderr: gaitlake's own lines and the pose bar; Prefect's and Ray's go to the log file
    for line in stderr.replace("\r", "\n").splitlines():
        assert not line.strip() or line.startswith(("gaitlake: data dir", "video: ", f"session {session_id}: accepted",
                                                    "pose:")), line
    log = (tmp_path / "data" / "logs" / "process.log").read_text()
    assert "SIGTERM handler is not set" in log  # Ray's notice, moved off the terminal

    again, elapsed = run_cli(["process", str(treadmill_video), "--max-frames", "60", "--user", user_id], env)
    assert again.returncode == 0 and elapsed < 20, again.stderr
    assert f"was already processed as {session_id} (done," in again.stdout
    assert "accepted" not in again.stderr
    sessions = json.loads(run_cli(["query", "--format", "json", "SELECT session_id FROM sessions"], env)[0].stdout)
    assert [row["session_id"] for row in sessions] == [session_id]

    # 17. a garbled manifest is repaired by the command lake check prints
    manifest = next((tmp_path / "data" / "store" / "lake" / "_manifests" / session_id).glob("*.json"))
    manifest.write_text(manifest.read_text()[:40])
    check, _ = run_cli(["lake", "check"], env)
    assert check.returncode == 1
    repair = check.stdout.split("repair: ", 1)[1].split("\n", 1)[0]
    assert repair == f"gaitlake reprocess {session_id} --force"
    fixed, _ = run_cli(repair.split()[1:], env, timeout=600)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "1 done, 0 resumed, 0 failed, 1 switched" in fixed.stdout
    check, _ = run_cli(["lake", "check"], env)
    assert check.returncode == 0 and check.stdout.endswith("all readable\n"), check.stdout


# -- 21. lake check ends with its own exit status, every time --------------------------------------


def _healthy_lake(data: Path, sessions: int = 4) -> list[str]:
    """A lake with ``sessions`` served runs (sessions + frames tables) written by storage.lake."""
    import pyarrow as pa

    from configs import load_settings
    from storage.lake import Lake
    from storage.objectstore import ObjectStore
    from tasks.lake_schema import conform_tables

    lake = Lake(ObjectStore.from_settings(load_settings({"GAITLAKE_DATA_DIR": str(data)})))
    ids = []
    for i in range(sessions):
        session_id = f"{i:032x}"
        frames = pa.table({"frame_index": pa.array(range(120), pa.int32()), "time_s": [f / 60 for f in range(120)]})
        tables = {"sessions": pa.table({"title": [f"run {i}"], "fps": [60.0]}), "frames": frames}
        lake.write_session(session_id, "v1", "cfg0", conform_tables(tables))  # in the declared schemas
        ids.append(session_id)
    return ids


def test_lake_check_exits_with_its_status_every_time(tmp_path):
    env = {"GAITLAKE_DATA_DIR": str(tmp_path / "data")}
    _healthy_lake(tmp_path / "data")
    codes = []
    for _ in range(10):  # aborted (134) after its report in 30-50 % of runs
        proc, _ = run_cli(["lake", "check"], env)
        codes.append(proc.returncode)
        assert proc.stdout == "checked 4 served sessions, 8 files: all readable\n", proc.stderr
    assert codes == [0] * 10


def test_a_damaged_run_is_not_taken_for_done(tmp_path):
    """sessions requeue / recover: a served pointer whose manifest is garbled is not "already done"."""
    from datetime import timedelta

    from configs import load_settings
    from flows.queue import recover
    from storage.catalog import Catalog, SessionStatus, utcnow
    from storage.lake import Lake
    from storage.objectstore import ObjectStore

    settings = load_settings({"GAITLAKE_DATA_DIR": str(tmp_path / "data")})
    healthy, damaged = _healthy_lake(tmp_path / "data", sessions=2)
    lake = Lake(ObjectStore.from_settings(settings))
    manifest = next((tmp_path / "data" / "store" / "lake" / "_manifests" / damaged).glob("*.json"))
    manifest.write_text("{not json")
    assert lake.serves_intact(healthy, "v1") and not lake.serves_intact(damaged, "v1")
    catalog = Catalog.from_settings(settings)
    for session_id in (healthy, damaged):  # both claimed by a processor whose lease lapsed
        catalog.create_session(id=session_id, status=SessionStatus.PROCESSING, lease_owner="gone",
                               lease_expires_at=utcnow() - timedelta(seconds=5), attempts=1)
    settings = load_settings({"GAITLAKE_DATA_DIR": str(tmp_path / "data"), "GAITLAKE_PIPELINE__VERSION": "v1"})
    outcome = recover(settings, catalog)
    assert outcome == {healthy: "done", damaged: "queued"}


@pytest.mark.slow
def test_a_requeued_session_with_a_garbled_manifest_is_processed_again_not_marked_done(treadmill_video, tmp_path):
    """Item 17's other door: ``sessions requeue ID`` on a run whose manifest is garbled, then the
    queue worker. The worker's flow took the served pointer for a finished run and marked the
    session ``done`` again with the damage still there; it must process it and publish a
    readable run."""
    env = {"GAITLAKE_DATA_DIR": str(tmp_path / "data")}
    first, _ = run_cli(["process", str(treadmill_video), "--max-frames", "60"], env, timeout=600)
    assert first.returncode == 0, first.stderr
    session_id = first.stdout.split()[1].rstrip(":")
    manifest = next((tmp_path / "data" / "store" / "lake" / "_manifests" / session_id).glob("*.json"))
    manifest.write_text(manifest.read_text()[:40])
    assert run_cli(["lake", "check"], env)[0].returncode == 1
    requeued, _ = run_cli(["sessions", "requeue", session_id], env)
    assert requeued.returncode == 0 and f"{session_id}: requeued" in requeued.stdout, requeued.stdout + requeued.stderr
    worker, _ = run_cli(["worker", "--max-sessions", "1", "--idle-exit-s", "30"], env, timeout=900)
    assert worker.returncode == 0, worker.stdout + worker.stderr
    check, _ = run_cli(["lake", "check"], env)
    assert check.returncode == 0 and check.stdout.endswith("all readable\n"), check.stdout
    status, _ = run_cli(["query", "--format", "json", "SELECT session_id FROM sessions"], env)
    import json

    assert [row["session_id"] for row in json.loads(status.stdout)] == [session_id]
    listed, _ = run_cli(["sessions", "list"], env)
    row = next(line for line in listed.stdout.splitlines() if line.startswith(session_id))
    assert row.split()[1] == "done", row
