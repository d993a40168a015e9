"""The export writers against synthetic truth, read back by their own parsers."""
from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest
from viewer_support import FPS, TRUTH, synthetic_analysis

from api.viewer.exports import TRC_MARKERS, mot_text, parse_mot, parse_trc, report_pdf, trc_text
from tasks.results import frames_table
from tests.engine_params import ENGINE_PARAMS


@pytest.fixture(scope="module")
def frames() -> pa.Table:
    result, track, _ = synthetic_analysis()
    return frames_table(track, float(FPS), result.frame_series)


def col(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_pylist(), dtype=float)


def test_trc_round_trips_the_lake_keypoints_in_metres(frames):
    trc = parse_trc(trc_text(frames, "run.trc"))
    h = trc["header"]
    assert (h["DataRate"], h["CameraRate"], h["OrigDataRate"]) == (30.0, 30.0, 30.0)
    assert (h["NumFrames"], h["NumMarkers"], h["Units"], h["OrigDataStartFrame"]) == (frames.num_rows, 17, "m", 0)
    assert trc["markers"] == list(TRC_MARKERS.values())
    assert trc["frame"].tolist() == list(range(frames.num_rows))
    assert trc["time"] == pytest.approx(col(frames, "time_s"), abs=1e-6)
    for kp, marker in TRC_MARKERS.items():
        xyz = trc["xyz"][:, trc["markers"].index(marker)]
        assert xyz[:, 0] == pytest.approx(col(frames, f"{kp}_x_m"), abs=1e-6, nan_ok=True)
        assert xyz[:, 1] == pytest.approx(col(frames, f"{kp}_y_m"), abs=1e-6, nan_ok=True)
        assert np.all(xyz[:, 2][np.isfinite(xyz[:, 2])] == 0.0)


def test_trc_axes_x_forward_y_up_from_the_floor(frames):
    """Y up: nose above hip above knee above ankle; a stance foot sits on the floor (Y ~ 0) and, on a
    treadmill, moves backwards (-X) at the belt speed of the synthetic truth."""
    trc = parse_trc(trc_text(frames))
    m = {name: trc["xyz"][:, i] for i, name in enumerate(trc["markers"])}
    heights = [np.nanmean(m[k][:, 1]) for k in ("Nose", "RHip", "RKnee", "RAnkle")]
    assert heights == sorted(heights, reverse=True) and heights[0] > 1.4
    stance = col(frames, "right_contact") > 0.5
    assert np.nanmax(np.abs(m["RAnkle"][stance, 1])) < 0.12
    vx = np.gradient(m["RAnkle"][:, 0], trc["time"])
    inner = stance & np.roll(stance, 1) & np.roll(stance, -1)     # not the first/last contact frame
    assert np.nanmedian(vx[inner]) == pytest.approx(-TRUTH["speed_mps"], rel=0.12)


def test_trc_missing_samples_are_empty_fields(frames):
    x = col(frames, "left_knee_x_m")
    x[5] = np.nan
    holed = frames.set_column(frames.column_names.index("left_knee_x_m"), "left_knee_x_m", pa.array(x))
    text = trc_text(holed)
    row = text.splitlines()[5 + 5].split("\t")
    i = 2 + 3 * list(TRC_MARKERS.values()).index("LKnee")
    assert row[i] == "" and row[i + 2] == ""
    assert np.isnan(parse_trc(text)["xyz"][5, list(TRC_MARKERS.values()).index("LKnee")]).all()


def test_mot_round_trips_joint_angles_in_degrees(frames):
    names = [c for c in frames.column_names if c.endswith("_angle")]
    assert {"lkne_angle", "rhip_angle", "posture_angle"} <= set(names)
    angles = {n: frames.column(n).to_pylist() for n in names}
    angles["lkne_angle"][3] = None
    mot = parse_mot(mot_text(frames.column("time_s").to_pylist(), angles, "run"))
    assert mot["header"]["inDegrees"] == "yes" and mot["header"]["version"] == "1"
    assert int(mot["header"]["nRows"]) == frames.num_rows and int(mot["header"]["nColumns"]) == len(names) + 1
    assert mot["columns"] == ["time", *names]
    assert mot["data"][:, 0] == pytest.approx(col(frames, "time_s"), abs=1e-6)
    for j, n in enumerate(names, start=1):
        want = np.asarray([np.nan if v is None else v for v in angles[n]], float)
        assert mot["data"][:, j] == pytest.approx(want, abs=1e-4, nan_ok=True)
    assert np.isnan(mot["data"][3, 1 + names.index("lkne_angle")])


def test_parsers_refuse_what_is_not_trc_or_mot():
    with pytest.raises(ValueError):
        parse_trc("time\tx\n0\t1\n")
    with pytest.raises(ValueError):
        parse_mot("Coordinates\nversion=1\n")
    good = mot_text([0.0, 0.1], {"a": [1.0, 2.0]})
    with pytest.raises(ValueError):
        parse_mot(good.replace("nRows=2", "nRows=3"))
    with pytest.raises(ValueError):
        mot_text([0.0, 0.1], {"a": [1.0]})


def test_pdf_report_is_one_file_with_a_page_per_part():
    cards = [{"label": "Cadence", "text": "170 spm", "notes": []}, {"label": "Foot strike", "text": "midfoot", "notes": ["proxy"]}]
    curve = {"mean": list(np.sin(np.linspace(0, 6, 101)) * 30 + 40), "sd": [2.0] * 101}
    pdf = report_pdf("Run", "Runner", cards, ["a quality note"], [("summary", "text")], None,
                     {"left": {"lkne_angle": curve}, "right": {"rkne_angle": curve}})
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 3   # metrics, curves, commentary (no charts given)
    long = [(f"block {i}", "word " * 400) for i in range(6)]      # ~110 lines: the commentary takes 3 pages
    pdf = report_pdf("Run", "Runner", cards, [], long, None, None)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1 + 3


def test_pdf_curves_name_and_dash_the_far_leg():
    """Page 3 of the PDF labels the legs near/far and dashes the far one (issue 25, item 14)."""
    from matplotlib.figure import Figure

    from api.viewer.exports import _curves_page

    curve = {"mean": list(np.linspace(0, 40, 101)), "sd": [2.0] * 101}
    fig = Figure(figsize=(8.27, 11.69))
    _curves_page(fig, {"left": {"lkne_angle": curve}, "right": {"rkne_angle": curve}}, "The left leg is near.", "left")
    ax = fig.axes[0]
    styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
    assert styles == {"left (near)": "-", "right (far)": "--"}
    assert "The left leg is near." in fig._suptitle.get_text()


def _pdf_text_runs(pdf: bytes) -> list[str]:
    """The strings matplotlib's PDF backend shows (each ``[...] TJ`` array joined), from the
    deflated content streams: what a reader sees, without a PDF library."""
    import zlib

    runs = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        for array in re.findall(rb"\[(.*?)\]\s*TJ", content, re.S):
            parts = re.findall(rb"\(((?:\\.|[^\\)])*)\)", array)
            runs.append(b"".join(re.sub(rb"\\(.)", rb"\1", p) for p in parts).decode("latin-1"))
    return runs


def test_pdf_report_draws_user_text_literally():
    """Issue 25 item 19: a session name, runner name, note or comment that matplotlib would read as
    mathtext is printed as typed (it raised, and report.pdf answered 500)."""
    title, runner, note, text = r"Treadmill run $\foo$", "Runner $x^2$", r"note $\alpha$", "costs $5 and $10"
    cards = [{"label": "Cadence", "text": "170 spm", "notes": ["$proxy$"]}]
    pdf = report_pdf(title, runner, cards, [note], [("summary", text)], None, None)
    runs = _pdf_text_runs(pdf)
    for typed in (title, runner, note, text, "$proxy$"):
        assert typed in runs, (typed, runs)


def test_trc_gains_heel_and_toe_and_puts_the_floor_at_the_sole():
    """The shared treadmill clip with its stored foot points: HALPE_26 heel/toe markers; in stance the
    lower of heel and toe sits on the floor (Y ~ 0) and the ankle above it, not on it."""
    from pathlib import Path

    import analysis.feet as feet
    from analysis.engine import analyze
    from analysis.tracking import select_runner
    from api.viewer.exports import TRC_FOOT_MARKERS
    from tasks.feet import FootTrack
    from tests.analysis.conftest import DATA, load_detections

    track = select_runner(*load_detections(DATA / "treadmill-side-60fps.detections.npz"))
    result = analyze(track.keypoints.astype(float), 60.0, frame_size=(1080, 1920), params=ENGINE_PARAMS)
    stored = FootTrack.from_bytes(Path(DATA / "treadmill-side-60fps.feet.npz").read_bytes())
    measured = feet.with_feet(result, stored.points, (1080, 1920), stored.model)
    table = frames_table(track, 60.0, measured.frame_series)
    trc = parse_trc(trc_text(table))
    assert trc["markers"] == list(TRC_MARKERS.values()) + list(TRC_FOOT_MARKERS.values())
    m = {name: trc["xyz"][:, i] for i, name in enumerate(trc["markers"])}
    stance = col(table, "right_contact") > 0.5
    sole = np.fmin(m["RHeel"][stance, 1], m["RBigToe"][stance, 1])
    assert abs(np.nanmedian(sole)) < 0.03                              # m: the sole on the floor
    assert 0.04 < np.nanmedian(m["RAnkle"][stance, 1]) < 0.2           # the ankle above it
    # without the foot stage the TRC is as before: 17 markers, floor at the lake's line
    assert parse_trc(trc_text(frames_table(track, 60.0, result.frame_series)))["markers"] == list(TRC_MARKERS.values())
