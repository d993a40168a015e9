"""compact-lake: fewer files, identical query results, on the local store and on S3."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from storage.lake import Lake
from storage.objectstore import ObjectStore

QUERIES = [
    "select * from sessions order by session_id",
    "select session_id, pipeline_version, frame_index, x, note from frames order by all",
    "select side, count(*) n, round(avg(stride_time_s), 9) t from strides group by side order by side",
    "select session_id, count(*) from frames where session_id = 's007' group by all",
]


def _fill(lake: Lake, n: int = 24, dates: int = 3) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        sid = f"s{i:03d}"
        frames = {"frame_index": pa.array(np.arange(50, dtype=np.int32)), "x": rng.normal(size=50)}
        if i % 5 == 0:
            frames["note"] = ["extra column"] * 50  # schemas differ between sessions
        lake.write_session(sid, "v1", "h", {
            "sessions": pa.table({"cadence_spm": [float(160 + i)], "title": [f"run {i}"]}),
            "frames": pa.table(frames),
            "strides": pa.table({"stride_index": [0, 1], "side": ["left", "right"],
                                 "stride_time_s": [0.7 + i / 100, 0.71]}),
        }, date=f"2026-04-0{1 + i % dates}")


def _results(lake: Lake) -> list:
    con = lake.connect()
    return [con.execute(q).fetchall() for q in QUERIES]


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path):
    if request.param == "local":
        return Lake(ObjectStore((tmp_path / "store").as_uri()))
    settings = request.getfixturevalue("s3_settings")
    return Lake(ObjectStore.from_settings(settings))


def test_compaction_keeps_results_and_reduces_files(lake):
    _fill(lake)
    before = _results(lake)
    files_before = sum(len(v) for v in lake.served_files().values())
    report = lake.compact(min_files=2, row_group_rows=100)
    assert report["files_before"] == files_before == 24 * 3
    assert report["files_after"] == 3 * 3 and report["partitions"] == 9
    assert sum(len(v) for v in lake.served_files().values()) == 9
    assert _results(lake) == before
    # The per-session fast path reads only that session's rows from the compacted file.
    assert lake.read_table("s007", "frames").num_rows == 50
    assert set(lake.read_table("s007", "frames").column("session_id").to_pylist()) == {"s007"}


def test_reprocessing_after_compaction_shows_only_the_new_version(lake):
    _fill(lake, n=8, dates=1)
    lake.compact(min_files=2)
    lake.write_session("s003", "v2", "h", {
        "sessions": pa.table({"cadence_spm": [999.0], "title": ["again"]}),
        "frames": pa.table({"frame_index": pa.array(np.arange(7, dtype=np.int32)), "x": np.zeros(7)}),
        "strides": pa.table({"stride_index": [0], "side": ["left"], "stride_time_s": [0.5]}),
    }, date="2026-04-01")
    con = lake.connect()
    assert con.execute("select count(*) from frames where session_id = 's003'").fetchone()[0] == 7
    assert con.execute("select count(*) from frames").fetchone()[0] == 7 * 50 + 7
    assert con.execute("select cadence_spm from sessions where session_id = 's003'").fetchone()[0] == 999.0
    # A second compaction folds the new file in and deletes the superseded compacted file.
    before = _results(lake)
    report = lake.compact(min_files=2, grace_s=0)
    assert report["deleted"] == 3 and _results(lake) == before
    # Views built before it named the deleted file: why compact.grace_s defaults to 10 minutes.
    assert lake.connect().execute("select count(*) from frames").fetchone()[0] == 7 * 50 + 7


def test_compact_lake_flow_and_cli(settings, capsys):
    from gaitlake.cli import main

    lake = Lake(ObjectStore.from_settings(settings))
    _fill(lake, n=12, dates=2)
    assert main(["compact", "--min-files", "2", "--grace-s", "0"]) == 0
    assert "served files 36 -> 6" in capsys.readouterr().out


def _session_row(sid: str, footstrike: str | None) -> dict[str, pa.Table]:
    """One session as the pipeline lays it out (tasks.results), with or without a foot strike."""
    from analysis.session_report import Summary
    from analysis.strides import StrideTable
    from tasks.results import sessions_table, strides_table

    sessions = sessions_table({"title": f"run {sid}", "fps": 60.0}, Summary(cadence_spm=170.0, footstrike=footstrike),
                              {"quality_doc": {"runner_share": 1.0}})
    frames = {"ic_frame": 0, "to_frame": 14, "next_ic_frame": 42}
    strides = strides_table(StrideTable.from_rows([
        {**frames, "side": "left", "stride_time_s": 0.7, "footstrike": footstrike},
        {**frames, "side": "right", "stride_time_s": 0.71, "footstrike": footstrike}]))
    return {"sessions": sessions, "strides": strides}


def test_compaction_unifies_a_missing_foot_strike_with_a_present_one(lake):
    # A session without a foot strike stores a null double (sessions) / a null-typed column
    # (strides); one with stores a string. Compaction used to fail: "string vs double".
    strikes = {"s0": None, "s1": "rearfoot", "s2": None, "s3": "forefoot"}
    for sid, strike in strikes.items():
        lake.write_session(sid, "v1", "h", _session_row(sid, strike), date="2026-04-01")
    assert lake.read_table("s0", "sessions").schema.field("footstrike").type == pa.float64()
    assert lake.read_table("s1", "sessions").schema.field("footstrike").type == pa.string()
    report = lake.compact(min_files=2)
    assert report["skipped"] == {} and report["partitions"] == 2 and report["files_after"] == 2
    con = lake.connect()
    assert dict(con.execute("select session_id, footstrike from sessions").fetchall()) == strikes
    assert sorted(con.execute("select session_id, footstrike from strides where side = 'left'").fetchall()) == \
        sorted(strikes.items())
    for sid, strike in strikes.items():
        manifest = lake.current_manifest(sid)
        assert set(manifest.compacted) == {"sessions", "strides"}
        assert lake.read_table(sid, "sessions").column("footstrike").to_pylist() == [strike]


def test_a_partition_that_cannot_be_merged_is_left_exactly_as_it_was(lake):
    for i in range(3):  # date 1: real conflicting values (a number, then text) -> not mergeable
        tables = _session_row(f"a{i}", "rearfoot")
        if i == 0:
            tables["sessions"] = tables["sessions"].set_column(
                tables["sessions"].column_names.index("footstrike"), "footstrike", pa.array([1.5]))
        lake.write_session(f"a{i}", "v1", "h", tables, date="2026-04-01")
    for i in range(3):  # date 2: fine
        lake.write_session(f"b{i}", "v1", "h", _session_row(f"b{i}", None if i else "midfoot"), date="2026-04-02")
    manifests_before = {f"a{i}": lake.store.read_bytes(f"lake/_manifests/a{i}/v1.json") for i in range(3)}
    parts_before = [k for k in lake.store.list("lake") if "/part-" in k]
    report = lake.compact(min_files=2)
    assert list(report["skipped"]) == ["sessions/date=2026-04-01"]
    assert "incompatible types" in report["skipped"]["sessions/date=2026-04-01"]
    # The failed partition: no manifest rewritten, no compacted file written for it.
    for i in range(3):
        assert lake.current_manifest(f"a{i}").compacted.get("sessions") is None
    assert all(lake.store.read_bytes(f"lake/_manifests/a{i}/v1.json") != manifests_before[f"a{i}"]
               for i in range(3))  # their strides partition did compact...
    new_parts = [k for k in lake.store.list("lake") if "/part-" in k and k not in parts_before]
    assert not any(k.startswith("lake/sessions/date=2026-04-01/") for k in new_parts)
    # ...and the other partitions compacted; every row still reads.
    assert report["partitions"] == 3
    con = lake.connect()
    assert con.execute("select count(*) from sessions").fetchone()[0] == 6
    assert con.execute("select count(*) from strides").fetchone()[0] == 12


def test_the_cli_names_a_partition_it_left_alone(settings, capsys):
    from gaitlake.cli import main

    lake = Lake(ObjectStore.from_settings(settings))
    for i in range(2):
        lake.write_session(f"c{i}", "v1", "h", {"sessions": pa.table({"x": [1.5] if i else ["text"]})},
                           date="2026-04-01")
    assert main(["compact", "--min-files", "2", "--grace-s", "0"]) == 1
    out = capsys.readouterr().out
    assert "not compacted sessions/date=2026-04-01 (left as it was)" in out and "incompatible types" in out
