"""The commands and snippets of README.md and docs/*.md work as written.

* Every ```python block runs, in a fresh interpreter, against a data directory whose lake holds
  one analysed (synthetic) session (``SESSION_ID`` in a block becomes its id).
* Every ``gaitlake`` command line of a ```bash block parses with the CLI's own parser (a
  renamed command or option fails here); synopsis lines (``[--json]``, ``a | b``) are skipped.
* The read-only ones that need nothing but that data directory (``query``, ``config``,
  ``lake check``, ``--help``) run and exit 0.

Commands that need a server, a stack, S3, a video or a real user (``serve``, ``stack up``,
``process VIDEO``, ``curl``...) are only parsed: they are covered by their own tests.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))
#: Commands run for real: they only read the data directory.
READ_ONLY = (("query",), ("config",), ("lake", "check"), ("--help",))

SEED = r"""
import numpy as np
from configs import get_settings
from analysis.engine import RunnerProfile, analyze
from analysis.synthetic import make_session
from analysis.tracking import RunnerTrack
from storage.lake import Lake
from storage.objectstore import ObjectStore
from tasks.results import session_tables

s = make_session(duration_s=5.0, seed=11)
kp = s.keypoints
result = analyze(kp, s.fps, RunnerProfile(height_m=1.75, weight_kg=70.0), params=get_settings().analysis.engine_params())
track = RunnerTrack(keypoints=kp, boxes=np.zeros((kp.shape[0], 5)), found=np.ones(kp.shape[0], dtype=bool),
                    n_tracks=1, track_scores={0: 1.0})
meta = {"title": "docs", "user_id": "u-docs", "fps": s.fps, "effective_fps": result.fps,
        "n_frames": kp.shape[0], "video_key": None, "analyzed_video_key": None}
Lake(ObjectStore.from_settings(get_settings())).write_session("docs-session", "v1", "cfg0",
                                                             session_tables(meta, result, result.quality, track, s.fps))
"""


def _blocks(lang: str) -> list[tuple[str, str]]:
    """``(file:line, text)`` of every fenced block of ``lang`` in the docs."""
    out = []
    for path in DOCS:
        lines = path.read_text().splitlines()
        start = None
        for i, line in enumerate(lines):
            if line.startswith("```"):
                if start is None:
                    start = i if line.strip() == f"```{lang}" else -1
                else:
                    if start >= 0:
                        out.append((f"{path.relative_to(REPO)}:{start + 1}", "\n".join(lines[start + 1:i])))
                    start = None
    return out


def _gaitlake_commands() -> list[tuple[str, str, list[str]]]:
    """``(where, line, argv)`` of every gaitlake command in the bash blocks (continuations joined,
    comments dropped, ``a && b`` split); synopsis lines left out."""
    found = []
    for where, text in _blocks("bash"):
        for line in text.replace("\\\n", " ").splitlines():
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError:
                continue
            segments, current = [], []
            for token in tokens:
                if token in ("&&", ";", "||"):
                    segments.append(current)
                    current = []
                else:
                    current.append(token)
            segments.append(current)
            for seg in segments:
                while seg and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", seg[0]):   # VAR=value gaitlake ...
                    seg = seg[1:]
                if not seg or seg[0] != "gaitlake":
                    continue
                if "|" in seg or any(t.startswith("[") for t in seg):
                    continue                                                 # a synopsis, not a command
                found.append((where, line.strip(), seg[1:]))
    return found


def test_the_docs_have_snippets_to_check():
    assert len(_blocks("python")) >= 2
    assert len(_gaitlake_commands()) >= 25


@pytest.mark.parametrize("where, line, argv", _gaitlake_commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_documented_gaitlake_command_parses(where, line, argv, capsys):
    from gaitlake.cli import build_parser

    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        assert exc.code == 0, f"{where}: `{line}` does not parse: {capsys.readouterr().err.strip()}"


@pytest.fixture(scope="module")
def data_env(tmp_path_factory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("docs") / "data"
    env = {**os.environ, "PYTHONPATH": str(REPO), "GAITLAKE_DATA_DIR": str(data)}
    env.pop("GAITLAKE_STORAGE__URL", None)
    done = subprocess.run([sys.executable, "-c", SEED], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return env


@pytest.mark.parametrize("where, code", _blocks("python"), ids=lambda v: v if ":" in str(v) else "")
def test_every_python_snippet_runs(where, code, data_env):
    done = subprocess.run([sys.executable, "-c", code.replace("SESSION_ID", "docs-session")], env=data_env,
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{where}:\n{code}\n{done.stderr[-3000:]}"


def test_the_read_only_commands_run(data_env):
    ran = 0
    for where, line, argv in _gaitlake_commands():
        if not any(tuple(argv[:len(cmd)]) == cmd for cmd in READ_ONLY) or "..." in argv \
                or "GAITLAKE_STORAGE__URL=" in line:                         # a placeholder, or the S3 lake
            continue
        done = subprocess.run([sys.executable, "-m", "gaitlake.cli", *argv], env=data_env, cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{where}: `{line}` exited {done.returncode}: {done.stderr[-2000:]}"
        ran += 1
    assert ran >= 4
