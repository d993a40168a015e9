"""gaitlake.stack.kill_tree: leaders first, then what they left, then SIGKILL (real processes, real signals)."""
from __future__ import annotations

import subprocess
import sys
import time

import psutil

from gaitlake.stack import kill_tree

# A leader that takes a moment to shut down on SIGTERM and does not stop its child (kill_tree must);
# the child notes whether its leader was still running when SIGTERM reached it.
LEADER = r"""
import signal, subprocess, sys, time
log = sys.argv[1]
child = subprocess.Popen([sys.executable, "-c", CHILD, log])
def term(*_):
    open(log, "a").write("leader\n")
    time.sleep(0.5)
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
open(log, "a").write("ready\n")
while True:
    time.sleep(0.05)
"""
CHILD_HANDLES = r"""
import os, signal, sys, time
leader = os.getppid()
def term(*_):
    open(sys.argv[1], "a").write("child-after-leader\n" if os.getppid() != leader else "child-beside-leader\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
while True:
    time.sleep(0.05)
"""
CHILD_IGNORES = r"""
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    time.sleep(0.05)
"""


def _start(tmp_path, child: str) -> tuple[subprocess.Popen, list, object]:
    log = tmp_path / "signals.log"
    code = f"CHILD = {child!r}\n" + LEADER
    leader = subprocess.Popen([sys.executable, "-c", code, str(log)], start_new_session=True)
    deadline = time.monotonic() + 60
    while not (log.exists() and "ready" in log.read_text()):   # the child is started before "ready"
        assert leader.poll() is None and time.monotonic() < deadline, "the leader did not start"
        time.sleep(0.05)
    tree = [psutil.Process(leader.pid), *psutil.Process(leader.pid).children(recursive=True)]
    assert len(tree) == 2
    return leader, tree, log


def test_the_leader_is_signalled_before_what_it_started(tmp_path):
    leader, tree, log = _start(tmp_path, CHILD_HANDLES)
    kill_tree(leader.pid, grace_s=30)
    assert not [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert log.read_text().split() == ["ready", "leader", "child-after-leader"]


def test_a_descendant_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    leader, tree, log = _start(tmp_path, CHILD_IGNORES)
    kill_tree(leader.pid, grace_s=1)
    assert not [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert log.read_text().split() == ["ready", "leader"]
