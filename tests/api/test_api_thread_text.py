"""Thread text: the rule engine fills threads at creation; texts appear as summary_text, form_comments and
report_comments; with an LLM configured the background task uses it, or falls back and says why."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from configs import LlmSettings


def _threads(world, path: str, sid: str, who: str = "alice") -> dict:
    r = world.client.post(path.format(sid=sid), headers=world.h(who))
    assert r.status_code == 201, r.text
    return r.json()


def test_rule_texts_appear_where_the_spec_shows_them(world):
    sid = world.add_session("ua")
    ids = _threads(world, "/running/sessions/{sid}/summary/?measurement_system=imperial", sid)
    summary = world.client.get(f"/running/sessions/{sid}/summary/", headers=world.h("alice")).json()
    assert set(summary["summary_text"]) == set(ids)
    assert "mph" in summary["summary_text"]["performance_metrics"]
    cadence = summary["performance_metrics"]["cadence"]["avg"]
    assert f"{cadence:.0f} steps/min" in summary["summary_text"]["performance_metrics"]
    one = world.client.get(f"/running/threads/{ids['final_summary']}/", headers=world.h("alice")).json()
    assert one["status"] == "done" and one["text"] == summary["summary_text"]["final_summary"]

    _threads(world, "/running/sessions/{sid}/form-recommendations/", sid)
    form = world.client.post(f"/running/sessions/{sid}/form-analysis/", headers=world.h("alice")).json()
    assert set(form["form_comments"]) == {"contact_angle", "push_angle", "knee_ankle", "general_form_recommendation"}
    assert "8.6°" in form["form_comments"]["contact_angle"]  # the sample session's mean contact angle

    _threads(world, "/running/sessions/{sid}/recommendation/", sid)
    gait = world.client.post(f"/running/sessions/{sid}/gait-analysis/", headers=world.h("alice")).json()
    assert len(gait["report_comments"]) == 8 and "trunk" in gait["report_comments"]["left_posture_angle"]


class _FakeLLM:
    def __init__(self, delay: float = 0.0):
        fake = self
        self.calls = 0

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                fake.calls += 1
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(delay)
                rule = json.loads(body["messages"][-1]["content"].split("Data:\n", 1)[1])["rule_based_comment"]
                raw = json.dumps({"choices": [{"message": {"content": "LLM: " + rule}}]}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("delay, engine, reason", [(0.0, "llm:fake", None),
                                                   (1.0, "rules", "llm fallback: llm timeout after 0.3 s")])
def test_llm_engine_in_the_background_with_fallback(world, monkeypatch, delay, engine, reason):
    fake = _FakeLLM(delay)
    # The [llm] settings section the app was built with (GAITLAKE_LLM__* feed the same section).
    monkeypatch.setattr(world.client.app.state.settings, "llm",
                        LlmSettings(url=fake.url, model="fake", timeout_s=0.3))
    try:
        sid = world.add_session("ua")
        ids = _threads(world, "/running/sessions/{sid}/form-recommendations/", sid)
        # TestClient runs background tasks before returning: the threads are filled now
        for tid in ids.values():
            t = world.client.get(f"/running/threads/{tid}/", headers=world.h("alice")).json()
            assert t["status"] == "done" and t["engine"] == engine and t["fallback_reason"] == reason
            assert t["text"].startswith("LLM: ") == (engine != "rules")
        assert fake.calls == 4
    finally:
        fake.close()
