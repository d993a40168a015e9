"""The CLI's first-hour behaviour: options checked up front with the API's rules, one-sentence
errors (mistyped flags, non-videos, bad config files), masked secrets, the data dir it uses."""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from api.errors import ApiError
from configs import SettingsError, get_settings, install_log_masking, load_settings, mask_url, masked
from flows import options
from gaitlake.cli import build_parser, examples, main
from tests.engine_params import ENGINE_PARAMS

REPO = Path(__file__).resolve().parents[2]


def _errors(err: str) -> list[str]:
    """stderr lines other than the data-dir line."""
    return [line for line in err.splitlines() if line.strip() and not line.startswith("gaitlake: data dir ")]


# -- options: same rules as the API, checked before anything runs ---------------------------------


@pytest.mark.parametrize("argv, named", [
    (["--height-cm", "-5"], "--height-cm must be between 50 and 260 cm"),
    (["--height-cm", "1750"], "--height-cm must be between 50 and 260 cm"),
    (["--weight-kg", "heavy"], "--weight-kg must be a number"),
    (["--weight-kg", "nan"], "--weight-kg must be between 10 and 400 kg"),
    (["--incline-deg", "60"], "--incline-deg must be between -45 and 45 degrees"),
    (["--capture-fps", "0"], "--capture-fps must be between 1 and 10000 frames per second"),
    (["--joints", "knees"], "unknown joint(s) in --joints: knees"),
])
def test_bad_options_fail_at_once_with_one_sentence(settings, capsys, tmp_path, argv, named):
    video = tmp_path / "run.mp4"  # never reached: the option is refused first
    started = time.perf_counter()
    assert main(["process", *argv, str(video)]) == 2
    assert time.perf_counter() - started < 2
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and errors[0].startswith("gaitlake: " + named), errors
    assert not settings.data_path.exists()  # no session, no catalog, no store


@pytest.mark.parametrize("field, label, raw", [
    ("height_cm", "height_cm", "-5"), ("weight_kg", "weight_kg", "abc"), ("incline_deg", "incline_degree", "46"),
    ("capture_fps", "capture_fps", "0.5"),
])
def test_the_api_refuses_with_the_same_rule(field, label, raw):
    from api.app import _parse_float

    with pytest.raises(ApiError) as api:
        _parse_float({label: raw}, label, field)
    with pytest.raises(options.OptionError) as cli:
        options.parse_number(raw, field, "--" + field.replace("_", "-"))
    assert api.value.status == 400
    assert api.value.message.replace(label, "X") == str(cli.value).replace("--" + field.replace("_", "-"), "X")


@pytest.mark.parametrize("field", sorted(options.RANGES))
def test_an_inbox_sidecar_takes_the_same_ranges(field):
    """The inbox sidecar accepts exactly the CLI/API range (both ends) and refuses with its sentence."""
    import json

    from flows.ingest import SidecarError, parse_sidecar

    low, high, _ = options.RANGES[field]

    def sidecar(value) -> bytes:
        return json.dumps({"user_id": "u1", "profile": {field: value}}).encode()

    assert getattr(parse_sidecar(sidecar(low)).profile, field) == low
    assert getattr(parse_sidecar(sidecar(high)).profile, field) == high
    with pytest.raises(SidecarError) as refused:
        parse_sidecar(sidecar(high + 1))
    with pytest.raises(options.OptionError) as cli:
        options.parse_number(high + 1, field, field)
    assert str(cli.value) in str(refused.value)


def test_good_options_are_normalised():
    assert options.parse_number(" 175 ", "height_cm") == 175.0
    assert options.parse_number("", "height_cm") is None
    assert options.parse_joints("Knee, ankle,knee") == "knee,ankle"
    assert options.parse_joints("all,knee") == "all"


def test_a_mistyped_flag_is_named_alone(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["process", "--heigth-cm", "175", "myrun.mp4"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "unknown option --heigth-cm (did you mean --height-cm?)" in err[0]
    assert "myrun.mp4" not in err[0]


def test_flags_are_not_abbreviated(capsys):
    with pytest.raises(SystemExit):
        main(["process", "--height", "175", "run.mp4"])
    assert "unknown option --height" in capsys.readouterr().err


# -- help -----------------------------------------------------------------------------------------


def _parsers(parser: argparse.ArgumentParser, path: str = ""):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}".strip())


def test_every_command_and_option_has_help_and_every_command_an_example():
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = set(commands.choices) - set(examples(parser))
    assert not missing, f"add an example to gaitlake.cli.EXAMPLES (or an 'example:' epilog) for {missing}"
    top = parser.format_help()
    for name in commands.choices:
        assert f"  gaitlake {name}" in top.split("examples:")[1]
    for path, sub in _parsers(parser):
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                assert all(choice.help for choice in action._choices_actions), path
            else:
                assert action.help, f"gaitlake {path}: {action.dest} has no help"
        assert "``" not in sub.format_help(), f"gaitlake {path}: RST backticks in the help"


# -- not a video: refused in about a second, naming the user's file ------------------------------


def _run_cli(args: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gaitlake.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=60)
    return proc, time.perf_counter() - started


@pytest.mark.parametrize("name, content, says", [
    ("notes.mp4", b"these are my running notes\n" * 20, "notes.mp4 is not a video: it looks like text"),
    ("photo.mov", b"\x89PNG\r\n\x1a\n" + bytes(200), "photo.mov is not a video: it looks like a PNG image"),
    ("broken.mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(4000),
     "broken.mp4 is not a readable video file"),
    ("empty.mp4", b"", "empty.mp4 is empty (0 bytes)"),
])
def test_a_non_video_is_refused_within_seconds(tmp_path, name, content, says):
    path = tmp_path / name
    path.write_bytes(content)
    data = tmp_path / "data"
    env = dict(os.environ, GAITLAKE_DATA_DIR=str(data))
    proc, elapsed = _run_cli(["process", str(path), "--height-cm", "175"], env, tmp_path)
    print(f"{name}: refused in {elapsed:.2f} s (interpreter start included)")
    assert proc.returncode == 2, proc.stderr
    errors = _errors(proc.stderr)
    assert len(errors) == 1 and says in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert elapsed < 5
    assert not data.exists()  # no session, catalog, Prefect or Ray was created


# -- configuration files -------------------------------------------------------------------------


@pytest.mark.parametrize("content, says", [
    (None, "no such file"),
    ("[pose\nimgsz = 480\n", "is not valid TOML"),
    ("[pose]\nimgz = 480\n", "pose.imgz: Extra inputs are not permitted"),
    ("[pose]\nimgsz = 'big'\n", "pose.imgsz: Input should be a valid integer"),
])
def test_a_bad_config_file_is_one_sentence(tmp_path, monkeypatch, capsys, content, says):
    profile = tmp_path / "profile.toml"
    if content is not None:
        profile.write_text(content)
    monkeypatch.setenv("GAITLAKE_CONFIG", str(profile))
    get_settings.cache_clear()
    try:
        assert main(["config"]) == 2
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr()
    assert out.out == ""
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gaitlake: invalid configuration: ") and says in lines[0], lines


def test_a_missing_config_file_prints_no_traceback(tmp_path):
    env = dict(os.environ, GAITLAKE_CONFIG=str(tmp_path / "nope.toml"), GAITLAKE_DATA_DIR=str(tmp_path / "d"))
    proc, _ = _run_cli(["query", "select 1"], env, tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"gaitlake: invalid configuration: GAITLAKE_CONFIG={tmp_path / 'nope.toml'}: no such file"


# -- secrets ---------------------------------------------------------------------------------------

SECRETS = {
    "GAITLAKE_LLM__API_KEY": "sk-live-0123456789abcdef",
    "GAITLAKE_API__SIGNING_SECRET": "hmac-signing-secret-42",
    "GAITLAKE_CATALOG__URL": "postgresql+psycopg://gait:pg-pass-9876@db.internal:5432/gaitlake",
    "GAITLAKE_PREFECT__API_URL": "https://ops:prefect-pw-55@prefect.internal/api",
}
CLEAR = ("sk-live-0123456789abcdef", "hmac-signing-secret-42", "pg-pass-9876", "prefect-pw-55")


def test_config_and_the_data_dir_line_mask_secrets(settings, monkeypatch, capsys):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        assert main(["config"]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr()
    for clear in CLEAR:
        assert clear not in out.out and clear not in out.err
    data = json.loads(out.out)
    assert data["llm"]["api_key"] == "****" and data["api"]["signing_secret"] == "****"
    assert data["catalog"]["url"] == "postgresql+psycopg://gait:****@db.internal:5432/gaitlake"
    assert data["effective"]["catalog_url"] == data["catalog"]["url"]
    assert data["prefect"]["api_url"] == "https://ops:****@prefect.internal/api"
    assert data["llm"]["url"] == ""  # unset values stay visibly unset
    assert "catalog postgresql+psycopg://gait:****@db.internal" in out.err


def test_log_lines_mask_secrets(caplog):
    s = load_settings(SECRETS)
    previous = logging.getLogRecordFactory()
    try:
        install_log_masking(s)
        with caplog.at_level(logging.INFO, logger="gaitlake.test"):
            log = logging.getLogger("gaitlake.test")
            log.info("calling the LLM with key %s", "sk-live-0123456789abcdef")
            log.warning("catalog %s unreachable", "postgresql://someone:other-pw@h/db")
            log.info("signing with %s", s.api.signing_secret)
    finally:
        logging.setLogRecordFactory(previous)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "sk-live" not in text and "other-pw" not in text and "hmac-signing" not in text
    assert "calling the LLM with key ****" in text and "postgresql://someone:****@h/db" in text


def test_masking_rules():
    assert mask_url("s3://AKIA:secret/x@bucket/p") == "s3://AKIA:secret/x@bucket/p"  # not userinfo: untouched
    assert mask_url("redis://:pw@h:6379/0") == "redis://:****@h:6379/0"
    assert mask_url("http://host:8080/path") == "http://host:8080/path"
    assert masked({"llm": {"api_key": "", "max_tokens": 400}}) == {"llm": {"api_key": "", "max_tokens": 400}}


# -- the data directory ----------------------------------------------------------------------------


def test_every_command_says_its_data_dir_and_a_read_creates_no_lake(settings, capsys):
    assert main(["query", "select count(*) from sessions"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"gaitlake: data dir {settings.data_path} (from GAITLAKE_DATA_DIR)"
    assert "no lake in" in err[1] and "GAITLAKE_DATA_DIR" in err[1]
    assert main(["report", "abc123"]) == 1
    assert capsys.readouterr().err.startswith(f"gaitlake: data dir {settings.data_path} ")
    assert not settings.data_path.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG rule is Linux's")
def test_the_default_data_dir_is_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    s = load_settings({})
    assert s.data_dir == ""
    assert s.data_path == (tmp_path / "xdg" / "gaitlake").resolve()
    assert s.storage_url == (tmp_path / "xdg" / "gaitlake" / "store").as_uri()
    assert load_settings({"GAITLAKE_DATA_DIR": "./data"}).data_path == (Path.cwd() / "data").resolve()


def test_tool_variables_are_not_taken_for_settings():
    env = {"GAITLAKE_SHARED_DIR": "/x", "GAITLAKE_TEST_PG": "h:1", "GAITLAKE_STACK_DIR": "/y",
           "GAITLAKE_UPDATE_SNAPSHOT": "1", "GAITLAKE_CHROMIUM": "/usr/bin/chromium"}
    assert load_settings(env).data_dir == ""
    with pytest.raises(SettingsError, match="GAITLAKE_SHARED_DIRR: no setting 'shared_dirr'"):
        load_settings({"GAITLAKE_SHARED_DIRR": "/x"})


def test_a_json_output_that_cannot_be_written_is_refused_up_front(settings, capsys, tmp_path):
    assert main(["process", "--json", str(tmp_path), str(tmp_path / "run.mp4")]) == 2
    assert f"--json {tmp_path} is a folder" in capsys.readouterr().err
    assert main(["process", "--json", str(tmp_path / "no" / "s.json"), str(tmp_path / "run.mp4")]) == 2
    assert "the folder" in capsys.readouterr().err and not settings.data_path.exists()


def test_process_prints_where_the_artifacts_are(settings, capsys):
    from flows.process import SessionOutcome
    from gaitlake.cli import _print_artifacts
    from tasks.render import artifact_keys

    keys = artifact_keys("s1", "v1")
    images = {"video": keys["video"], "report": keys["report"], "gait": {"left": {"strike": keys["gait"]["left"]["strike"]}},
              "form": {"contact_angle": keys["form"]["contact_angle"]}}
    _print_artifacts("s1", SessionOutcome("s1", "done", summary=None, artifacts=images), settings)
    out = capsys.readouterr().out
    store = settings.data_path / "store"
    assert f"analysed video    {store / keys['video']}" in out
    assert f"report            {store / keys['report']}" in out
    assert f"snapshots         2 JPEGs under {store / 'artifacts/s1/v1'}/ (gait/, form/)" in out
    assert "gaitlake report s1" in out
    _print_artifacts("s1", SessionOutcome("s1", "done", summary=None, artifacts=None), settings)
    assert "artifacts         not rendered" in capsys.readouterr().out


def test_the_summary_says_the_power_is_metabolic(capsys):
    from analysis.session_report import Quality, Summary
    from flows.process import SessionOutcome
    from gaitlake.cli import _print_summary

    _print_summary("s1", SessionOutcome("s1", "done", summary=Summary(power_w=830.4, cadence_spm=166.2),
                                        quality=Quality(runner_share=1.0).with_added(decoded_frames=388)))
    out = capsys.readouterr().out
    assert "  metabolic power   830 W (Minetti cost of running)" in out
    assert "  cadence           166.2 steps/min" in out


def test_the_summary_states_the_frame_time_next_to_contact_and_flight(capsys):
    """The engine's real outcome on the 60 fps clip: flight 0.06 s is known to one frame
    (17 ms), about 28 %: both are printed (issue 25, item 3)."""
    import re

    from analysis.engine import RunnerProfile, analyze
    from analysis.tracking import select_runner
    from flows.process import SessionOutcome
    from gaitlake.cli import _print_summary
    from tests.analysis.conftest import TREADMILL_DETECTIONS, TREADMILL_FPS, load_detections

    keypoints = select_runner(*load_detections(TREADMILL_DETECTIONS)).keypoints.astype(float)
    result = analyze(keypoints, TREADMILL_FPS, RunnerProfile(), params=ENGINE_PARAMS)
    quality = result.quality.with_added(decoded_frames=keypoints.shape[0])
    _print_summary("s1", SessionOutcome("s1", "done", summary=result.summary, quality=quality))
    out = capsys.readouterr().out
    for key, label in (("contact_time_s", "contact time"), ("flight_time_s", "flight time")):
        value = result.summary.value(key)
        line = next(x for x in out.splitlines() if x.startswith(f"  {label}"))
        rel = (1 / 60) / value
        want = f"  {label:<17} {value:.3f} s  ±17 ms (1 frame at 60 fps)" + (f", ±{100 * rel:.0f} %" if rel > 0.10 else "")
        assert line == want
    assert re.search(r"flight time .* ±\d+ %", out)            # 1 frame of ~0.06 s: large, so stated
    assert "cadence" in out and "±" not in next(x for x in out.splitlines() if x.startswith("  cadence"))
