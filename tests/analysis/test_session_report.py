"""The typed summary and quality (analysis/session_report.py) keep the lake's shape.

On the shared treadmill clip's stored detections (and its stored foot points): the dicts
``Summary.to_dict`` / ``Quality.to_dict`` give, which the lake writer stores as the sessions
row's scalar columns and ``quality_doc``, have the keys the engine wrote as plain dicts
before they were typed, in the same order, with the snapshot's values; they read back into
equal objects; and what later stages add keeps its place.
"""
from __future__ import annotations

import json

import pytest

from analysis.session_report import Quality, Summary
from tests.engine_params import ENGINE_PARAMS
from tests.analysis.treadmill_snapshot import (FPS, FRAME_SIZE, HEIGHT_M, META, SNAPSHOT, WEIGHT_KG, differences,
                                               load_track)

#: ``SessionAnalysis.summary``'s keys as the engine wrote the dict, in order (before it was typed).
OLD_SUMMARY_KEYS = [
    "cadence_spm", "step_time_s", "contact_time_s", "flight_time_s", "stride_time_s", "stride_length_m", "speed_mps",
    "pace_min_per_km", "power_w", "normalized_power_w_per_kg", "balance_pct", "contact_angle_deg", "footstrike",
    "total_distance_m", "total_time_s", "incline_deg", "duty_factor", "knee_flexion_deg", "ankle_angle_deg",
    "posture_angle_deg", "com_oscillation_m", "stride_angle_deg", "mean_h_m", "eversion_velocity_deg_per_s",
    "px_per_m", "facing", "mode"]
#: ``SessionAnalysis.quality``'s keys as the engine wrote the dict, in order.
OLD_QUALITY_KEYS = [
    "missing", "short_clip", "runner_share", "mean_confidence", "swaps_repaired", "outliers_rejected", "strides_used",
    "strides_left", "strides_right", "side_view", "side_view_score", "gait", "implausible_timing",
    "suggested_capture_fps", "estimated_capture_fps", "estimated_capture_fps_uncertainty", "capture_fps_flights",
    "mode", "default_height_used", "flight_share", "fps_used", "frame_size", "px_per_m_left", "px_per_m_right",
    "near_leg", "stance_speed_left_mps", "stance_speed_right_mps", "angle_shown_share", "frame_time_s", "joints",
    "reasons"]
#: ... and after ``analysis.footage.analyze_footage`` and the foot stage (``analysis.feet.with_feet``).
OLD_PIPELINE_QUALITY_KEYS = OLD_QUALITY_KEYS + [
    "segments", "cuts", "segments_detail", "camera", "camera_speed_box_heights_per_s", "frame_times",
    "footstrike_source", "foot_model", "footstrike_share", "footstrike_contacts", "footstrike_excluded",
    "footstrike_left", "footstrike_right", "foot_sides_swapped_frames", "footstrike_model",
    "footstrike_floor"]   # the floor rule under moving cameras, added on main beside this change


@pytest.fixture(scope="module")
def treadmill():
    from analysis.engine import RunnerProfile, analyze

    track = load_track()
    return track, analyze(track.keypoints, FPS, RunnerProfile(height_m=HEIGHT_M, weight_kg=WEIGHT_KG),
                          frame_size=FRAME_SIZE, params=ENGINE_PARAMS)


def _json(value):
    from tasks.results import to_json

    return json.loads(to_json(value))


def test_engine_dicts_have_the_old_keys_in_order_and_the_snapshot_values(treadmill):
    _, result = treadmill
    assert isinstance(result.summary, Summary) and isinstance(result.quality, Quality)
    summary, quality = result.summary.to_dict(), result.quality.to_dict()
    assert list(summary) == OLD_SUMMARY_KEYS and list(quality) == OLD_QUALITY_KEYS
    expected = json.loads(SNAPSHOT.read_text())
    assert not differences(expected["summary"], _json(summary))
    assert not differences(expected["quality"], _json(quality))
    assert isinstance(quality["joints"], list) and isinstance(quality["frame_size"], list)


def test_the_lake_row_and_quality_doc_are_the_dicts(treadmill):
    from tasks.results import session_documents, session_tables

    track, result = treadmill
    tables = session_tables({**META, "effective_fps": result.fps}, result, result.quality, track, FPS)
    row = tables["sessions"].to_pylist()[0]
    summary = result.summary.to_dict()
    scalars = [k for k in row if k in summary]
    assert sorted(scalars) == sorted(OLD_SUMMARY_KEYS)          # the summary's columns (the schema orders them)
    assert not differences(_json(summary), {k: row[k] for k in scalars})
    stored = session_documents(row)["quality_doc"]
    assert list(stored) == OLD_QUALITY_KEYS and stored == _json(result.quality.to_dict())
    # the lake's forms read back into equal objects
    assert Quality.from_dict(stored).to_dict() == stored
    assert Summary.from_dict(row) == Summary.from_dict(_json(summary))


def test_footage_and_the_foot_stage_keep_the_old_keys_in_order(treadmill):
    import analysis.feet as F
    from analysis.engine import RunnerProfile
    from analysis.footage import analyze_footage
    from tasks.feet import FootTrack
    from tests.analysis.conftest import DATA

    track, engine = treadmill
    sa = analyze_footage(track.keypoints, track.boxes, FPS, [], None, None,
                         RunnerProfile(height_m=HEIGHT_M, weight_kg=WEIGHT_KG), FRAME_SIZE, params=ENGINE_PARAMS)
    feet = FootTrack.from_bytes((DATA / "treadmill-side-60fps.feet.npz").read_bytes())
    out = F.with_feet(sa, feet.points, FRAME_SIZE, feet.model)
    quality = out.quality.to_dict()
    assert list(quality) == OLD_PIPELINE_QUALITY_KEYS and list(out.summary.to_dict()) == OLD_SUMMARY_KEYS
    assert out.quality.segments == 1 and out.quality.cuts == [] and out.quality.feet_measured
    assert out.summary.footstrike in ("rearfoot", "midfoot", "forefoot")
    assert quality["footstrike_model"] == feet.model == quality["foot_model"]
    # the engine's flags the later stages did not touch are the engine's
    assert out.quality.strides_used == engine.quality.strides_used and out.quality.near_leg == engine.quality.near_leg
    assert Quality.from_dict(_json(quality)).to_dict() == _json(quality)


def test_later_keys_keep_their_place_and_engine_flags_are_fields():
    q = Quality(strides_used=4, reasons=("a",)).with_added(segments=1, cuts=[])
    q = q.with_added(segments=2, frame_times="constant").with_reasons(before=["first"], after=["last"])
    assert list(q.to_dict())[-3:] == ["segments", "cuts", "frame_times"] and q.segments == 2
    assert q.reasons == ("first", "a", "last")
    with pytest.raises(ValueError, match="strides_used"):
        q.with_added(strides_used=5)
    assert Quality.from_dict({"strides_used": 3, "decoded_frames": 9}).decoded_frames == 9
    assert Quality.from_dict({}).joints is None and Quality.from_dict({}).selected("hip")   # before joints were kept
    assert not Quality(joints=("knee",)).selected("hip") and Quality(joints=("knee",)).selected("posture")


def test_summary_values_by_name_include_computed_metrics():
    s = Summary(cadence_spm=170.0, computed={"swing_time_s": 0.45}, px_per_m=300.0)
    assert s.value("cadence_spm") == 170.0 and s.value("swing_time_s") == 0.45 and s.value("no_such") is None
    d = s.to_dict()
    assert list(d)[-5:] == ["eversion_velocity_deg_per_s", "swing_time_s", "px_per_m", "facing", "mode"]
    assert s.with_values({"swing_time_s": 0.5}).value("swing_time_s") == 0.5
    with pytest.raises(TypeError):
        s.computed["swing_time_s"] = 1.0      # frozen all the way down
