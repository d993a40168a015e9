"""`gaitlake process` end to end: Prefect + Ray + real YOLO11n-pose weights on real video."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from gaitlake.cli import main
from storage.catalog import Catalog, RunningSession, SessionStatus
from storage.lake import Lake
from storage.objectstore import ObjectStore

pytestmark = pytest.mark.slow


def _catalog_rows(settings) -> list[RunningSession]:
    catalog = Catalog.from_settings(settings)
    with catalog.session() as db:
        return list(db.query(RunningSession).all())


def _lake_counts(settings) -> dict[str, int]:
    lake = Lake(ObjectStore.from_settings(settings))
    return {t: lake.query(f"select count(*) as n from {t}").column("n")[0].as_py() for t in ("sessions", "frames")}


def test_process_first_frames_of_the_treadmill_video(settings, treadmill_video, tmp_path, capsys):
    out = tmp_path / "summary.json"
    code = main(["process", str(treadmill_video), "--max-frames", "200", "--height-cm", "175",
                 "--weight-kg", "70", "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "cadence" in captured.out
    # contact and flight are counted in frames: the line says what one frame is (issue 25, item 3)
    lines = {line.split()[0]: line for line in captured.out.splitlines() if line.startswith("  contact time")
             or line.startswith("  flight time")}
    assert set(lines) == {"contact", "flight"}, captured.out
    for line in lines.values():
        assert "±17 ms (1 frame at 60 fps)" in line, line

    document = json.loads(out.read_text())
    quality = document["quality"]
    assert quality["runner_share"] >= 0.95
    assert quality["mean_confidence"] >= 0.5
    assert quality["decoded_frames"] == 200
    for block in ("performance_metrics", "running_mechanics", "balance_and_posture", "distance_and_duration"):
        assert block in document
    # 3.3 s hold ~9 steps: enough for cadence, and for contact and flight (2 strides a side) (ground truth 168.6 steps/min over the clip).
    assert document["performance_metrics"]["cadence"]["avg"] == pytest.approx(168.6, abs=8)

    rows = _catalog_rows(settings)
    assert [r.status for r in rows] == [SessionStatus.DONE]
    assert rows[0].id == document["session_id"] and len(rows[0].content_sha256) == 64
    assert _lake_counts(settings) == {"sessions": 1, "frames": 200}

    code = main(["query", "select count(*) as n, count(distinct session_id) as s from frames", "--format", "json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 200, "s": 1}]

    # the foot stage ran in the pose actors: heel and toe per frame, the measured strike per contact
    assert quality["footstrike_source"] == "measured" and quality["foot_model"] == "pose_landmark_full.tflite"
    code = main(["query", "select count(left_heel_x_px) as heels, count(right_toe_y_m) as toes from frames",
                 "--format", "json"])
    assert code == 0
    seen = json.loads(capsys.readouterr().out)[0]
    assert seen["heels"] >= 100 and seen["toes"] >= 100
    code = main(["query", "select footstrike, footstrike_angle_deg from strides", "--format", "json"])
    assert code == 0
    strides = json.loads(capsys.readouterr().out)
    assert strides and all((r["footstrike"] is None) == (r["footstrike_angle_deg"] is None) for r in strides)


def _no_person_video(path, n_frames=24):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(n_frames):
        writer.write(cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (31, 31), 0))
    writer.release()
    return path


@pytest.mark.parametrize(
    "make, message, row_created",
    [
        (lambda d: d / "missing.mp4", "does not exist", False),
        (lambda d: (d / "empty.mp4").write_bytes(b"") and None or d / "empty.mp4", "empty", False),
        # refused before any session exists (header sniff + probe in the CLI)
        (lambda d: (d / "notes.mp4").write_text("not a video\n" * 20) and d / "notes.mp4", "is not a video", False),
        (lambda d: _no_person_video(d / "nobody.mp4"), "no person", True),
    ],
    ids=["missing", "zero-byte", "text-named-mp4", "no-person"],
)
def test_bad_input_fails_clearly_and_leaves_nothing(settings, tmp_path, capsys, make, message, row_created):
    path = make(tmp_path)
    code = main(["process", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert err[-1].startswith("gaitlake: ") and message in err[-1]
    rows = _catalog_rows(settings)
    if row_created:
        assert len(rows) == 1 and rows[0].status == SessionStatus.FAILED and message in rows[0].error
    else:
        assert rows == []
    assert _lake_counts(settings) == {"sessions": 0, "frames": 0}
