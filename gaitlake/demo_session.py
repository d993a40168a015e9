"""Generate ``api/demo/demo_session.json``: the session served for ``demo=true``.

Deterministic: synthetic side-view treadmill keypoints (``analysis.synthetic``,
fixed seed, mild pixel noise) go through the project's own gait engine
(``analysis.engine.analyze``) exactly as the pipeline does, and the lake row
and frame series it would write are stored as JSON. Re-running gives the same
bytes. ``python -m gaitlake.demo_session [--check]``.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

from analysis.results import json_safe
from api import documents
from api.demo import DEMO_PATH
from api.reports import frames_to_export

DEMO_ID = "demo"
PROFILE = {"height_m": 1.75, "weight_kg": 68.0, "incline_deg": 1.0}


def _round(value, digits: int = 4):
    if isinstance(value, float):
        return round(value, digits) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _round(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v, digits) for v in value]
    return value


def build() -> dict:
    from analysis.engine import analyze  # the demo's fixture is the engine's output, by design
    from configs import load_settings
    from analysis.params import RunnerProfile
    from analysis.synthetic import make_session

    synthetic = make_session(cadence_spm=168.0, contact_time_s=0.27, speed_mps=3.2, fps=60.0, duration_s=8.0,
                             height_m=PROFILE["height_m"], noise_px=1.0, seed=7, mode="treadmill")
    result = analyze(synthetic.keypoints, synthetic.fps,
                     RunnerProfile(height_m=PROFILE["height_m"], weight_kg=PROFILE["weight_kg"], incline_deg=PROFILE["incline_deg"]),
                     frame_size=(1080, 1920), params=load_settings(environ={}).analysis.engine_params())
    frames = pa.table({"time_s": np.asarray(result.time_s, dtype=float),
                       **{k: np.asarray(v, dtype=float) for k, v in result.frame_series.items()}})
    keypoints, contact = frames_to_export(frames)
    docs = documents.from_analysis(result)
    # the lake row's shape (summary scalars, quality and phases) plus the documents the API
    # would build from it and the run's tables (stored: the demo has no lake run)
    row = {
        **result.summary.to_dict(),
        "summary_doc": docs["summary_doc"],
        "details_doc": docs["details_doc"],
        "form_doc": docs["form_doc"],
        "gait_doc": docs["gait_doc"],
        "quality_doc": docs["quality_doc"],
        "video_key": None,
        "analyzed_video_key": None,
    }
    return _round({
        "generator": "python -m gaitlake.demo_session (analysis.synthetic seed 7 -> analysis.engine.analyze)",
        "session": {"id": DEMO_ID, "title": "Demo treadmill run", "created_at": "2025-04-07T08:30:00+00:00",
                    "finished_at": "2025-04-07T08:31:00+00:00", "joints": "all", "incline_deg": PROFILE["incline_deg"],
                    "height_cm": PROFILE["height_m"] * 100, "weight_kg": PROFILE["weight_kg"], "pipeline_version": "demo"},
        "owner": {"id": "demo-runner", "email": "demo.runner@example.org", "name": "Demo Runner",
                  "height_cm": PROFILE["height_m"] * 100, "weight_kg": PROFILE["weight_kg"], "admin_name": "Demo Coach",
                  "session_count": 1, "last_session": "2025-04-07T08:30:00+00:00",
                  "profile": {"age": 32, "gender": "female", "shoeSize": 40, "brand": "Demo", "shoeModel": "Trainer 1",
                              "leg_length": 0.92}},
        "row": row,
        "strides": json_safe(result.strides),
        "export": {"keypoints": keypoints, "contact": contact},
        "summary_text": {},
        "form_comments": {},
        "report_comments": {},
    })


def render() -> str:
    return json.dumps(build(), sort_keys=True, separators=(",", ":")) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the shipped file differs from a fresh generation")
    parser.add_argument("--output", type=Path, default=DEMO_PATH)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        same = args.output.exists() and args.output.read_text() == text
        print("demo session is up to date" if same else f"{args.output} is stale: run python -m gaitlake.demo_session")
        return 0 if same else 1
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(text) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
