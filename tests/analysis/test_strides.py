"""analysis.strides.StrideTable: validation, rows() (missing values -> None), from_rows round trip."""
from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.strides import COLUMNS, FLOAT_COLUMNS, StrideTable, as_stride_table


def _table(n: int = 3, **over) -> StrideTable:
    cols = {name: np.arange(n, dtype=float) + 0.5 for name in FLOAT_COLUMNS}
    cols.update(side=np.array(["left", "right", "left"][:n]), ic_frame=np.arange(n) * 30,
                to_frame=np.arange(n) * 30 + 10, next_ic_frame=np.arange(n) * 30 + 60,
                contralateral_ic_frame=np.array([30, -1, 90][:n]), has_contralateral_ic=np.array([True, False, True][:n]),
                footstrike=np.array(["midfoot", None, "rearfoot"][:n], dtype=object))
    cols.update(over)
    return StrideTable(**cols)


def test_columns_are_validated():
    with pytest.raises(ValueError, match="differ in length"):
        _table(speed_mps=np.ones(2))
    with pytest.raises(ValueError, match="1-D"):
        _table(speed_mps=np.ones((3, 1)))
    with pytest.raises(ValueError, match="left or right"):
        _table(side=np.array(["left", "up", "left"]))
    with pytest.raises(ValueError, match="-1 where"):
        _table(contralateral_ic_frame=np.array([30, 45, 90]))


def test_arrays_are_read_only_and_typed_without_touching_the_callers():
    speed = np.array([1.0, 2.0, 3.0])
    t = _table(speed_mps=speed)
    assert speed.flags.writeable                       # the caller's array is left as it was
    with pytest.raises(ValueError):
        t.speed_mps[0] = 9.0
    assert t.ic_frame.dtype == np.int64 and t.has_contralateral_ic.dtype == bool
    with pytest.raises(KeyError):
        t.column("has_contralateral_ic")               # a mask, not a column
    assert t.column("speed_mps") is t.speed_mps


def test_rows_give_none_for_every_missing_value():
    t = _table(cadence_spm=np.array([180.0, np.nan, np.inf]))
    rows = t.rows()
    assert [list(r) for r in rows] == [list(COLUMNS)] * 3
    assert [r["cadence_spm"] for r in rows] == [180.0, None, None]
    assert [r["contralateral_ic_frame"] for r in rows] == [30, None, 90]
    assert [r["footstrike"] for r in rows] == ["midfoot", None, "rearfoot"]
    assert [r["side"] for r in rows] == ["left", "right", "left"]
    assert all(type(r["ic_frame"]) is int and type(r["speed_mps"]) is float for r in rows)


def test_from_rows_round_trip_and_lake_rows():
    t = _table(balance_pct=np.array([49.0, np.nan, 51.0]))
    back = StrideTable.from_rows(t.rows())
    assert back.rows() == t.rows()
    assert back.has_contralateral_ic.tolist() == [True, False, True]
    assert back.contralateral_ic_frame.tolist() == [30, -1, 90]
    assert math.isnan(back.balance_pct[1])
    # a lake row: extra stride_index, a column an older run lacks
    lake = [{"stride_index": i, **{k: v for k, v in r.items() if k != "mean_h_m"}} for i, r in enumerate(t.rows())]
    old = StrideTable.from_rows(lake)
    assert np.isnan(old.mean_h_m).all() and old.speed_mps.tolist() == t.speed_mps.tolist()
    assert len(StrideTable.from_rows([])) == 0 and StrideTable.empty().rows() == []
    assert as_stride_table(t) is t and len(as_stride_table(None)) == 0


def test_of_side_and_count():
    t = _table()
    left = t.of_side("left")
    assert len(left) == t.count("left") == 2
    assert left.ic_frame.tolist() == [0, 60] and left.footstrike.tolist() == ["midfoot", "rearfoot"]
    assert t.of_side("right").has_contralateral_ic.tolist() == [False]


def test_rows_written_before_the_foot_stage_read_with_nan_foot_columns():
    """A lake ``strides`` row from before issue 23 has no footstrike_angle_deg/_confidence: it reads,
    the two columns are NaN, and a table built without them (the engine's) has them NaN too."""
    old = {"side": "left", "ic_frame": 10, "to_frame": 27, "next_ic_frame": 53, "contralateral_ic_frame": 31,
           "cadence_spm": 168.0, "footstrike": "rearfoot"}
    table = StrideTable.from_rows([old])
    assert math.isnan(table.footstrike_angle_deg[0]) and math.isnan(table.footstrike_confidence[0])
    assert table.footstrike.tolist() == ["rearfoot"]
    row = table.rows()[0]
    assert row["footstrike_angle_deg"] is None and row["footstrike_confidence"] is None
    assert list(row)[-2:] == ["footstrike_angle_deg", "footstrike_confidence"]
    rebuilt = StrideTable(**{name: getattr(table, name) for name in (
        "side", "ic_frame", "to_frame", "next_ic_frame", "contralateral_ic_frame", "has_contralateral_ic",
        *[c for c in FLOAT_COLUMNS if not c.startswith("footstrike_")], "footstrike")})
    assert math.isnan(rebuilt.footstrike_angle_deg[0])


def test_catalogue_columns_ride_along_with_the_fixed_ones(monkeypatch):
    """A catalogue metric's column (``extra``) is validated, read-only, reached as an attribute and
    through column(), kept by take(), written by rows() after the fixed columns and read back by
    from_rows() for the catalogue's computed metrics."""
    import analysis.catalogue as cat

    extra = np.array([0.4, np.nan, 0.5])
    t = _table(extra={"swing_time_s": extra})
    assert t.swing_time_s is t.column("swing_time_s") and not t.swing_time_s.flags.writeable
    assert t.take(np.array([2, 0])).swing_time_s.tolist() == [0.5, 0.4]
    rows = t.rows()
    assert list(rows[0])[-1] == "swing_time_s" and [r["swing_time_s"] for r in rows] == [0.4, None, 0.5]
    with pytest.raises(ValueError, match="differ in length"):
        _table(extra={"swing_time_s": np.ones(2)})
    with pytest.raises(ValueError, match="repeats a fixed column"):
        _table(extra={"speed_mps": np.ones(3)})
    with pytest.raises(AttributeError):
        t.stance_share_pct
    assert "swing_time_s" not in StrideTable.from_rows(rows).extra    # not in the catalogue: not read back
    entry = cat.Metric("swing_time_s", "swing time", "swing", "s", 3, per_stride=True, computed_by="swing_time_s")
    monkeypatch.setattr(cat, "METRICS", cat.METRICS + (entry,))
    back = StrideTable.from_rows(rows)
    assert np.array_equal(back.swing_time_s, extra, equal_nan=True)
    assert StrideTable.empty().swing_time_s.size == 0
    with pytest.raises(ValueError, match="per-stride"):
        cat.Metric("x", "x", "x", "s", 3, per_stride=False, computed_by="x")


def test_a_table_with_catalogue_columns_pickles_and_copies():
    import copy
    import pickle

    t = _table(extra={"swing_time_s": np.array([0.4, np.nan, 0.5])})
    for back in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):
        assert back.rows() == t.rows() and back.swing_time_s.tolist()[0] == 0.4
        with pytest.raises(TypeError):
            back.extra["other"] = np.zeros(3)       # the mapping stays read-only
