"""End to end through the real pipeline: users and keys via the CLI, upload the first seconds of
the shared treadmill video through the API, wait for processing, read every operation back."""
from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api_support import assert_matches

REPO = Path(__file__).resolve().parents[2]
TREADMILL = REPO.parent / "shared" / "videos" / "treadmill-side-60fps.mp4"
SECONDS = 3.0
TIMEOUT_S = 900

pytestmark = pytest.mark.slow


def _first_seconds(src: Path, dst: Path, seconds: float) -> Path:
    """Remux (no re-encoding) the packets of the first ``seconds`` into ``dst``."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for packet in inp.demux(vin):
            if packet.dts is None:
                continue
            if float(packet.dts * vin.time_base) >= seconds:
                break
            packet.stream = vout
            out.mux(packet)
    return dst


def _cli(*argv: str, capsys) -> str:
    from api import cli

    parser = argparse.ArgumentParser(prog="gaitlake")
    cli.register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    capsys.readouterr()
    assert args.func(args) == 0
    return capsys.readouterr().out.strip()


def test_upload_process_and_read_every_operation(tmp_path, monkeypatch, capsys):
    if importlib.util.find_spec("flows.process") is None:
        pytest.skip("flows.process (the processing flow) does not exist yet")
    if not TREADMILL.exists():
        pytest.skip(f"{TREADMILL} is missing")
    from api.app import create_app
    from api.settings import ApiSettings
    from configs import get_settings

    monkeypatch.setenv("GAITLAKE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(REPO)  # the launched `python -m flows.process` runs from the working directory
    get_settings.cache_clear()
    try:
        _cli("users", "add", "coach@example.org", "--role", "admin", "--plan", "pro", "--name", "Coach", capsys=capsys)
        runner_id = _cli("users", "add", "runner@example.org", "--admin", "coach@example.org", "--name", "Runner",
                         "--height-cm", "178", "--weight-kg", "70", capsys=capsys)
        key = _cli("keys", "create", "coach@example.org", capsys=capsys)
        app = create_app(get_settings(), ApiSettings(launch_processing=True))
        client = TestClient(app)
        headers = {"Authorization": f"API-KEY {key}"}
        clip = _first_seconds(TREADMILL, tmp_path / "treadmill-first.mp4", SECONDS)
        with clip.open("rb") as handle:
            r = client.post("/running/sessions/", headers=headers, files={"video": (clip.name, handle, "video/mp4")},
                            data={"user_id": runner_id, "session_name": "E2E treadmill", "incline_degree": "1",
                                  "body_joint_angles": "all"})
        assert r.status_code == 200, r.text
        assert_matches(r.json(), "/running/sessions/", "post", 200)
        sid = r.json()["session_id"]

        deadline = time.monotonic() + TIMEOUT_S
        while True:
            details = client.get(f"/running/sessions/{sid}/", headers=headers)
            if details.status_code != 409:
                break
            assert details.json()["status"] in ("queued", "processing"), details.json()
            assert time.monotonic() < deadline, f"processing did not finish in {TIMEOUT_S} s"
            time.sleep(2)
        assert details.status_code == 200, details.text
        body = details.json()
        assert_matches(body, "/running/sessions/{session_id}/", "get")
        assert body["title"] == "E2E treadmill" and body["activity"] == "Running"
        assert client.get(body["video_url"]).status_code == 200
        assert len(body["all_timestamps"]) > 100

        base = f"/running/sessions/{sid}"
        summary = client.get(f"{base}/summary/", headers=headers)
        assert summary.status_code == 200, summary.text
        assert_matches(summary.json(), "/running/sessions/{session_id}/summary/", "get")
        cadence = summary.json()["performance_metrics"]["cadence"]["avg"]
        assert cadence is None or 120 < cadence < 220

        export = client.get(f"{base}/export/", headers=headers)
        assert export.status_code == 200, export.text
        assert_matches(export.json(), "/running/sessions/{session_id}/export/", "get")
        assert "lknev" in export.json()["keypoints"]

        for path in ("form-analysis", "gait-analysis"):
            r = client.post(f"{base}/{path}/", headers=headers)
            assert r.status_code == 200, r.text
            assert_matches(r.json(), f"/running/sessions/{{session_id}}/{path}/", "post")
        for path in ("summary", "form-recommendations", "recommendation"):
            r = client.post(f"{base}/{path}/", headers=headers)
            assert r.status_code == 201, r.text
            assert_matches(r.json(), f"/running/sessions/{{session_id}}/{path}/", "post", 201)
        total = client.get("/running/sessions/metrics/total/", headers=headers)
        assert total.status_code == 200, total.text
        assert_matches(total.json(), "/running/sessions/metrics/total/", "get")
    finally:
        get_settings.cache_clear()
