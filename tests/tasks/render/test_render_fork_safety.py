"""A render leaves nothing behind that hangs a process forked later from another thread.

Seen in the two-minute end-to-end test: the analysed video's frames were converted with
``VideoFrame.reformat``, which caches a swscale converter in the calling thread for the
thread's life. Ray starts its GCS and raylet with ``subprocess.Popen(preexec_fn=...)``; the
forked child frees every other thread's state before it runs the hook, swscale waits
forever on its slice threads' condition variable there, the child never execs, and
``Popen`` (so ``ray.init``) never returns. A warm worker renders in one thread and may
start Ray again from another.
"""
from __future__ import annotations

import subprocess
import sys
import threading

from tasks.render import render_lake_run


def test_a_process_forked_after_a_render_still_starts(synthetic_lake_session):
    s = synthetic_lake_session
    rendered, release = threading.Event(), threading.Event()

    def render_and_stay_alive():   # like a worker's task thread between sessions
        render_lake_run(s.store, s.lake, s.session_id, s.version, preset="ultrafast")
        rendered.set()
        release.wait(120)

    threading.Thread(target=render_and_stay_alive, daemon=True).start()
    assert rendered.wait(300)
    result: dict[str, int] = {}

    def start_child():   # what Ray's start_ray_process does
        result["rc"] = subprocess.run([sys.executable, "-c", "pass"], preexec_fn=lambda: None, timeout=60).returncode

    starter = threading.Thread(target=start_child, daemon=True)
    starter.start()
    starter.join(60)
    release.set()
    assert not starter.is_alive(), "the forked child hung before exec (a converter left in a thread-local)"
    assert result["rc"] == 0
