"""Every output of the gait engine on the shared treadmill clip, from stored detections.

The detections (``data/treadmill-side-60fps.detections.npz``: every person YOLO
found in every frame of ``../shared/videos/treadmill-side-60fps.mp4``, produced
once with the real pose stage) go through the same steps as
``flows.process.analyse_and_write``: runner selection, the engine, the lake's
sessions/strides/frames tables (through Parquet in memory), the API's documents built
from them (``api.documents.from_lake``, as the API does when it reads), and the rule
commentary from the same tables. No pose, no video, no lake on disk: deterministic and fast.

``python -m tests.analysis.treadmill_snapshot`` (or ``GAITLAKE_UPDATE_SNAPSHOT=1``
with the test) rewrites ``data/treadmill-snapshot.json``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from tests.engine_params import ENGINE_PARAMS

DATA = Path(__file__).with_name("data")
DETECTIONS = DATA / "treadmill-side-60fps.detections.npz"
SNAPSHOT = DATA / "treadmill-snapshot.json"

#: The clip as ``tasks.video.probe_video`` reads it.
FPS = 60.0
FRAME_SIZE = (1080, 1920)
#: A runner with height and weight, so that every metric (power included) is exercised.
HEIGHT_M = 1.75
WEIGHT_KG = 70.0
META = {"title": "treadmill snapshot", "user_id": "u-snapshot", "fps": FPS}


def load_track():
    """The runner's track, selected from the stored detections as the flow does."""
    from analysis.tracking import select_runner
    from configs import load_settings

    tracking = load_settings(environ={}).tracking
    with np.load(DETECTIONS) as npz:
        n_frames, frame_index = int(npz["n_frames"]), npz["frame_index"]
        boxes, keypoints = npz["boxes"], npz["keypoints"]
    bounds = np.searchsorted(frame_index, np.arange(n_frames + 1))
    per_boxes = [boxes[bounds[i]:bounds[i + 1]] for i in range(n_frames)]
    per_kp = [keypoints[bounds[i]:bounds[i + 1]] for i in range(n_frames)]
    return select_runner(per_boxes, per_kp, tracking.max_jump_box_heights, tracking.max_gap_frames)


def _series_digest(series: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per frame series: finite count, sum and sum of squares (a compact, sensitive fingerprint)."""
    out = {}
    for name in sorted(series):
        v = np.asarray(series[name], dtype=float)
        f = v[np.isfinite(v)]
        out[name] = {"n": int(f.size), "sum": float(f.sum()), "sumsq": float((f * f).sum())}
    return out


def _through_parquet(table):
    """``table`` written to Parquet and read back (the lake's round trip, dtypes included)."""
    import io

    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf)
    return pq.read_table(io.BytesIO(buf.getvalue()))


def compute() -> dict[str, Any]:
    """The full outputs, JSON-safe (NaN -> None). The documents are built by ``api.documents``
    from the lake's tables after a Parquet round trip, as the API builds them when it reads."""
    from analysis.commentary import comment
    from analysis.engine import RunnerProfile, analyze, json_safe
    from analysis.phase_report import Phases
    from api import documents as api_documents
    from tasks.results import session_documents, session_facts, session_tables

    track = load_track()
    profile = RunnerProfile(height_m=HEIGHT_M, weight_kg=WEIGHT_KG)
    result = analyze(track.keypoints, FPS, profile, frame_size=FRAME_SIZE, params=ENGINE_PARAMS)
    # as the writer lays the run out (the flow's meta gives the analysed rate as effective_fps)
    tables = session_tables({**META, "effective_fps": result.fps}, result, result.quality, track, FPS)
    lake = {name: _through_parquet(table) for name, table in tables.items()}
    row = lake["sessions"].to_pylist()[0]
    parsed = session_documents(row)
    documents = {name: api_documents.from_lake(name, row, parsed["quality_doc"], lake.get)
                 for name in ("summary_doc", "details_doc", "form_doc")}
    documents.update({name: parsed[name] for name in ("quality_doc", "events_doc")})
    # the lake stores the typed phases (Phases.to_dict); the API's spec document is built from them
    documents["gait_doc"] = api_documents.gait_document(Phases.from_dict(parsed["gait_doc"]))
    scalars = {k: v for k, v in row.items() if not k.endswith("_doc")}
    facts = session_facts(row, {"height_cm": HEIGHT_M * 100, "weight_kg": WEIGHT_KG}, lake["strides"].to_pylist())
    # as the API's threads store it: by the spec's thread block names
    commentary = {kind: {block: comment(kind, topic, facts).text for block, topic in topics.items()}
                  for kind, topics in api_documents.THREAD_TOPICS.items()}
    return json_safe({
        "fps": result.fps,
        "summary": result.summary,
        "quality": result.quality,
        "events": [[e.side, e.kind, e.frame, e.time_s] for e in result.events],
        "strides": result.strides,
        "strides_table": tables["strides"].to_pylist(),
        "sessions_row_scalars": scalars,
        "documents": documents,
        "frame_series": _series_digest(result.frame_series),
        "commentary": commentary,
    })


def differences(expected: Any, actual: Any, rel: float = 1e-9, path: str = "$") -> list[str]:
    """Where ``actual`` differs from ``expected``: numbers beyond ``rel`` (relative, with an
    absolute floor of ``rel`` for values near zero), anything else by equality."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{path}.{k}: missing" for k in expected if k not in actual]
        out += [f"{path}.{k}: unexpected" for k in actual if k not in expected]
        for k in expected:
            if k in actual:
                out += differences(expected[k], actual[k], rel, f"{path}.{k}")
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: length {len(actual)} != {len(expected)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual)) for d in differences(e, a, rel, f"{path}[{i}]")]
    numbers = (int, float)
    if (isinstance(expected, numbers) and isinstance(actual, numbers)
            and not isinstance(expected, bool) and not isinstance(actual, bool)):
        if math.isclose(expected, actual, rel_tol=rel, abs_tol=rel):
            return []
        return [f"{path}: {actual!r} != {expected!r}"]
    return [] if expected == actual else [f"{path}: {actual!r} != {expected!r}"]


def write() -> Path:
    SNAPSHOT.write_text(json.dumps(compute(), indent=1, sort_keys=True) + "\n")
    return SNAPSHOT


if __name__ == "__main__":
    print(write())
