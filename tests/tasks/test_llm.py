"""The optional LLM engine against a local fake OpenAI-compatible server (never the internet)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tasks.llm import LLMConfig, chat_url, generate


class FakeOpenAI:
    """A tiny threaded chat-completions server; ``mode`` picks its behaviour."""

    def __init__(self):
        self.mode = "ok"
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                if fake.mode == "slow":
                    time.sleep(1.5)
                if fake.mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    return
                user = body["messages"][-1]["content"]
                if fake.mode == "malformed":
                    payload = {"unexpected": True}
                elif fake.mode == "no_numbers":
                    payload = {"choices": [{"message": {"role": "assistant", "content": "Great job, keep going!"}}]}
                else:
                    data = json.loads(user.split("Data:\n", 1)[1])
                    text = "Coach says: " + data["rule_based_comment"]
                    payload = {"choices": [{"message": {"role": "assistant", "content": text}}]}
                raw = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                try:
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm():
    server = FakeOpenAI()
    yield server
    server.close()


def _config(server, **kw) -> LLMConfig:
    return LLMConfig(url=server.url, model="coach-7b", api_key="sk-test", **{"timeout_s": 5.0, **kw})


def test_llm_answer_is_used_and_prompted_with_metrics_and_findings(fake_llm, treadmill_facts):
    r = generate("summary", "performance", treadmill_facts, "imperial", _config(fake_llm))
    assert r.fallback_reason is None and r.engine == "llm:coach-7b"
    assert r.text.startswith("Coach says: ") and "mph" in r.text
    req = fake_llm.requests[-1]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    assert req["body"]["model"] == "coach-7b"
    data = json.loads(req["body"]["messages"][-1]["content"].split("Data:\n", 1)[1])
    assert data["measurement_system"] == "imperial"
    assert data["metrics_si"]["cadence_spm"] == pytest.approx(treadmill_facts.get("cadence_spm"))
    assert any(f["topic"] == "cadence" for f in data["findings"])
    assert "ONLY the numbers given" in req["body"]["messages"][0]["content"]


def test_timeout_falls_back_to_rules_and_says_why(fake_llm, treadmill_facts):
    fake_llm.mode = "slow"
    t0 = time.perf_counter()
    r = generate("form", "contact_angle", treadmill_facts, "metric", _config(fake_llm, timeout_s=0.3))
    assert time.perf_counter() - t0 < 1.4
    assert r.engine == "rules" and r.fallback_reason == "llm timeout after 0.3 s"
    assert r.text == r.rule.text and "°" in r.text


@pytest.mark.parametrize("mode, reason", [("error", "llm http 500"), ("malformed", "llm answer malformed: KeyError"),
                                          ("no_numbers", "llm answer dropped the session's numbers")])
def test_failures_fall_back_to_rules(fake_llm, treadmill_facts, mode, reason):
    fake_llm.mode = mode
    r = generate("recommendation", "left_knee_angle", treadmill_facts, "metric", _config(fake_llm))
    assert r.engine == "rules" and r.fallback_reason == reason and r.text == r.rule.text


def test_unreachable_and_unconfigured(treadmill_facts):
    r = generate("summary", "overall", treadmill_facts, "metric",
                 LLMConfig(url="http://127.0.0.1:9/v1", model="m", timeout_s=0.5))
    assert r.engine == "rules" and r.fallback_reason.startswith("llm unreachable")
    r = generate("summary", "overall", treadmill_facts, "metric", LLMConfig())
    assert r.engine == "rules" and r.fallback_reason == "llm not configured"


def test_config_from_environment_and_url_forms():
    cfg = LLMConfig.from_settings(None, {"GAITLAKE_LLM__URL": "http://h:1/v1", "GAITLAKE_LLM__MODEL": "m",
                                         "GAITLAKE_LLM__TIMEOUT_S": "7"})
    assert cfg.enabled and cfg.timeout_s == 7.0
    assert chat_url("http://h/v1/") == "http://h/v1/chat/completions"
    assert chat_url("http://h/v1/chat/completions") == "http://h/v1/chat/completions"
