"""The lake's schemas, declared once (tasks/lake_schema.py): what the writer lays out is exactly
what is declared, driven by the metric catalogue; conform fixes types and fills gaps; a file that
departs from the declaration is named by lake check's comparison."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from analysis.catalogue import METRICS, spread_metrics
from analysis.engine import RunnerProfile, analyze
from analysis.synthetic import make_session
from analysis.tracking import RunnerTrack
from storage.lake_layout import LakeError, conform, schema_problems
from tasks.lake_schema import SCHEMAS, stats_columns
from tasks.results import session_tables
from tests.engine_params import ENGINE_PARAMS


@pytest.fixture(scope="module")
def tables():
    s = make_session(cadence_spm=172.0, contact_time_s=0.24, speed_mps=3.2, duration_s=5.0, seed=11, mode="treadmill")
    kp = s.keypoints
    result = analyze(kp, s.fps, RunnerProfile(height_m=1.75, weight_kg=70.0), params=ENGINE_PARAMS)
    track = RunnerTrack(keypoints=kp, boxes=np.zeros((kp.shape[0], 5)), found=np.ones(kp.shape[0], dtype=bool),
                        n_tracks=1, track_scores={0: 1.0})
    meta = {"title": "run", "user_id": "u1", "fps": s.fps, "effective_fps": result.fps, "n_frames": kp.shape[0]}
    return result, session_tables(meta, result, result.quality, track, s.fps)


def test_the_writer_lays_out_exactly_the_declared_schemas(tables):
    _, written = tables
    for name, table in written.items():
        assert table.schema.equals(SCHEMAS[name]), name      # every column, in order and type; nothing else
    # the foot stage was off: its stride columns are typed nulls, not the null type
    assert written["strides"].schema.field("footstrike_angle_deg").type == pa.float64()


def test_the_catalogue_drives_the_metric_columns_and_their_statistics(tables):
    result, written = tables
    sessions = SCHEMAS["sessions"]
    for metric in METRICS:
        assert sessions.field(metric.name).type == (pa.string() if metric.is_category else pa.float64())
    row = written["sessions"].to_pylist()[0]
    for key in spread_metrics():
        names = stats_columns(key)
        stats = result.metric_stats(key)
        assert (row[names["min"]], row[names["max"]], tuple(row[names["values"]])) == (stats.min, stats.max, stats.values)
    assert len(row["cadence_spm_values"]) == len(result.strides) and 165 < row["cadence_spm"] < 179


def test_conform_casts_fills_and_keeps_extras_and_refuses_text_for_numbers():
    schema = pa.schema([("a", pa.float64()), ("b", pa.string()), ("c", pa.int64())])
    out = conform(pa.table({"b": pa.nulls(2), "a": pa.array([1, 2], pa.int32()), "extra": ["x", "y"]}), schema)
    assert out.column_names == ["a", "b", "c", "extra"]
    assert out.schema.field("b").type == pa.string() and out.column("c").null_count == 2
    assert out.column("a").to_pylist() == [1.0, 2.0]
    with pytest.raises(LakeError, match="'a'"):
        conform(pa.table({"a": ["fast"]}), schema)


def test_schema_problems_name_missing_and_mistyped_columns():
    schema = pa.schema([("a", pa.float64()), ("b", pa.string())])
    assert schema_problems(pa.schema([("a", pa.float64()), ("b", pa.string()), ("z", pa.int8())]), schema) == []
    assert schema_problems(pa.schema([("a", pa.null())]), schema) == [
        "has 'a' as null, declared double", "lacks column 'b'"]
