import csv
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gaitlake.cli import main
from storage.lake import Lake
from storage.objectstore import ObjectStore


@pytest.fixture
def lake(settings):
    lake = Lake(ObjectStore.from_settings(settings))
    lake.write_session("a", "v1", "h", {"sessions": pa.table({"cadence_spm": [170.0]}),
                                        "frames": pa.table({"frame_index": [0, 1, 2]})})
    lake.write_session("b", "v1", "h", {"sessions": pa.table({"cadence_spm": [180.0]}),
                                        "frames": pa.table({"frame_index": [0]})})
    return lake


def test_query_formats(lake, capsys, tmp_path):
    sql = "select session_id, cadence_spm from sessions order by session_id"
    assert main(["query", sql]) == 0
    out = capsys.readouterr().out
    assert "cadence_spm" in out and "(2 rows)" in out

    assert main(["query", sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"session_id": "a", "cadence_spm": 170.0},
                                                   {"session_id": "b", "cadence_spm": 180.0}]
    assert main(["query", sql, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["session_id"] for r in rows] == ["a", "b"]

    target = tmp_path / "out.parquet"
    assert main(["query", "select count(*) as n from frames", "--format", "parquet", "-o", str(target)]) == 0
    assert pq.read_table(target).to_pylist() == [{"n": 4}]


def test_bad_sql_is_one_clear_line(lake, capsys):
    assert main(["query", "select nope from sessions"]) == 1
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("gaitlake: data dir")]
    assert len(err) >= 1 and err[0].startswith("gaitlake: query failed")


def test_config_shows_effective_values(settings, capsys):
    assert main(["config"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["effective"]["storage_url"] == settings.storage_url
