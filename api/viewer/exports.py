"""File formats other tools open: CSV, Parquet, OpenSim TRC and MOT, a one-file PDF report.

Pure writers (tables/arrays in, bytes or text out) plus readers for TRC and
MOT, so what is written can be parsed back (the tests do). Conventions are
documented in docs/viewer.md.

TRC (``PathFileType 4 (X/Y/Z)``, as Sports2D/Pose2Sim write 2D results):
the 17 COCO keypoints in metres, named as Pose2Sim's COCO_17 skeleton
(``Nose``, ``LShoulder``, ``RKnee``...), plus, where the foot stage measured them,
heel and toe as HALPE_26's ``LHeel``/``RHeel``/``LBigToe``/``RBigToe`` with the floor
moved down to the sole (:func:`sole_floor_offset_m`). Axes follow OpenSim's ground frame:
**X** = direction of travel (forward, whatever way the runner faces in the
image), **Y** = up, height above the fitted floor line, **Z** = 0 (one camera
sees no depth). Origin: X at the pelvis's first measured position, Y on the
floor line. Leg keypoints use their own leg's image scale (the lake's
``<kp>_x_m``/``<kp>_y_m``). A sample missing either coordinate is three empty fields
(OpenSim reads them as NaN). ``Frame#`` is the 0-based video frame index and ``Time`` is in s.

MOT (OpenSim storage, ``inDegrees=yes``): ``time`` then one column per joint
angle of the lake (``lkne_angle``, ``posture_angle``...), degrees, as defined in
docs/analysis.md; missing samples are ``nan``.
"""
from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from analysis.keypoints import KEYPOINT_NAMES
from analysis.vocabulary import POSTURE_KEY, SIDES, angle_key

__all__ = [
    "TRC_MARKERS", "TRC_FOOT_MARKERS", "sole_floor_offset_m", "table_csv", "table_parquet", "trc_text", "parse_trc", "mot_text", "parse_mot",
    "report_pdf", "frame_rate",
]

#: Lake keypoint name -> Pose2Sim/Sports2D COCO_17 marker name.
TRC_MARKERS: dict[str, str] = {
    "nose": "Nose", "left_eye": "LEye", "right_eye": "REye", "left_ear": "LEar", "right_ear": "REar",
    "left_shoulder": "LShoulder", "right_shoulder": "RShoulder", "left_elbow": "LElbow", "right_elbow": "RElbow",
    "left_wrist": "LWrist", "right_wrist": "RWrist", "left_hip": "LHip", "right_hip": "RHip",
    "left_knee": "LKnee", "right_knee": "RKnee", "left_ankle": "LAnkle", "right_ankle": "RAnkle",
}
#: The foot stage's points (lake ``{side}_{heel,toe}_*``) -> Pose2Sim's HALPE_26 marker names
#: (BlazePose's foot index is the tip of the shoe, HALPE's big toe).
TRC_FOOT_MARKERS: dict[str, str] = {"left_heel": "LHeel", "right_heel": "RHeel",
                                    "left_toe": "LBigToe", "right_toe": "RBigToe"}


def sole_floor_offset_m(frames: pa.Table) -> float:
    """Height (m) of the sole above the lake's floor line: the median, over each leg's contact
    frames (``{side}_contact``), of the lower of that leg's heel and toe; 0 without the foot
    stage's columns. Subtracted from every Y, it puts the TRC's floor at the sole, not the ankle."""
    lows = []
    for side in ("left", "right"):
        cols = [f"{side}_heel_y_m", f"{side}_toe_y_m", f"{side}_contact"]
        if not all(c in frames.column_names for c in cols):
            return 0.0
        with np.errstate(all="ignore"):
            low = np.fmin(_column(frames, cols[0]), _column(frames, cols[1]))
        lows.append(low[_column(frames, cols[2]) > 0.5])
    low = np.concatenate(lows)
    low = low[np.isfinite(low)]
    return float(np.median(low)) if low.size else 0.0


def table_csv(table: pa.Table) -> bytes:
    """RFC 4180 CSV with a header row; nulls are empty fields, nested values are not expected."""
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=True))
    return buf.getvalue()


def table_parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def _column(table: pa.Table, name: str) -> np.ndarray:
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=float)


def frame_rate(time_s: np.ndarray, fallback: float = 30.0) -> float:
    """Frames per second from a time column (Sports2D: (n - 1) / (t_last - t_first))."""
    t = np.asarray(time_s, dtype=float)
    t = t[np.isfinite(t)]
    if len(t) >= 2 and t[-1] > t[0]:
        return (len(t) - 1) / (t[-1] - t[0])
    return fallback


def _num(value: float, digits: int = 6) -> str:
    return "" if not math.isfinite(value) else f"{value:.{digits}f}"


def trc_text(frames: pa.Table, name: str = "keypoints.trc", fps: float | None = None) -> str:
    """An OpenSim TRC of the lake's metric keypoints (see the module docstring for the axes)."""
    n = frames.num_rows
    time = _column(frames, "time_s") if "time_s" in frames.column_names else np.arange(n) / (fps or 30.0)
    index = _column(frames, "frame_index") if "frame_index" in frames.column_names else np.arange(n)
    rate = fps or frame_rate(time)
    markers = [(kp, TRC_MARKERS[kp]) for kp in KEYPOINT_NAMES if kp in TRC_MARKERS]
    markers += [(p, m) for p, m in TRC_FOOT_MARKERS.items()
                if f"{p}_x_m" in frames.column_names and f"{p}_y_m" in frames.column_names]
    floor = sole_floor_offset_m(frames)
    coords = [(_column(frames, f"{kp}_x_m"), _column(frames, f"{kp}_y_m") - floor) for kp, _ in markers]
    rate_s = f"{rate:.6g}"
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        "\t".join([rate_s, rate_s, str(n), str(len(markers)), "m", rate_s, "0", str(n)]),
        "Frame#\tTime\t" + "\t\t\t".join(m for _, m in markers) + "\t\t",
        "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, len(markers) + 1)),
    ]
    for i in range(n):
        row = [str(int(index[i])) if math.isfinite(index[i]) else str(i), _num(time[i])]
        for x, y in coords:
            if math.isfinite(x[i]) and math.isfinite(y[i]):
                row += [_num(x[i]), _num(y[i]), "0.000000"]
            else:  # a marker sample is whole or missing
                row += ["", "", ""]
        lines.append("\t".join(row))
    return "\n".join(lines) + "\n"


def parse_trc(text: str) -> dict[str, Any]:
    """Read a TRC back: ``{"header": {...}, "markers": [...], "frame": array, "time": array,
    "xyz": array (frames, markers, 3) with NaN for empty fields}``."""
    lines = text.splitlines()
    if len(lines) < 5 or not lines[0].startswith("PathFileType\t4"):
        raise ValueError("not a TRC file (PathFileType 4 expected)")
    keys, values = lines[1].split("\t"), lines[2].split("\t")
    header: dict[str, Any] = dict(zip(keys, values))
    for k in ("DataRate", "CameraRate", "OrigDataRate"):
        header[k] = float(header[k])
    for k in ("NumFrames", "NumMarkers", "OrigDataStartFrame", "OrigNumFrames"):
        header[k] = int(header[k])
    names = [m for m in lines[3].split("\t")[2:] if m]
    if len(names) != header["NumMarkers"]:
        raise ValueError(f"{len(names)} marker names for NumMarkers {header['NumMarkers']}")
    sub = lines[4].split("\t")[2:]
    expected = [f"{a}{i}" for i in range(1, len(names) + 1) for a in "XYZ"]
    if sub[:len(expected)] != expected:
        raise ValueError("coordinate labels are not X1 Y1 Z1 ...")
    rows = [line.split("\t") for line in lines[5:] if line.strip()]
    if len(rows) != header["NumFrames"]:
        raise ValueError(f"{len(rows)} data rows for NumFrames {header['NumFrames']}")
    width = 2 + 3 * len(names)
    data = np.full((len(rows), width), np.nan)
    for r, fields in enumerate(rows):
        if len(fields) != width:
            raise ValueError(f"data row {r} has {len(fields)} fields, {width} expected")
        data[r] = [float(f) if f.strip() else np.nan for f in fields]
    return {"header": header, "markers": names, "frame": data[:, 0], "time": data[:, 1],
            "xyz": data[:, 2:].reshape(len(rows), len(names), 3)}


def mot_text(time_s: Sequence[float], angles: Mapping[str, Sequence[float | None]], name: str = "angles") -> str:
    """An OpenSim motion (.mot) file of joint angles in degrees (Sports2D's header)."""
    t = np.asarray(time_s, dtype=float)
    names = list(angles)
    cols = [np.asarray([np.nan if v is None else v for v in angles[k]], dtype=float) for k in names]
    for k, c in zip(names, cols):
        if len(c) != len(t):
            raise ValueError(f"angle {k} has {len(c)} samples for {len(t)} times")
    lines = [
        name, "version=1", f"nRows={len(t)}", f"nColumns={len(names) + 1}", "inDegrees=yes", "",
        "Units are S.I. units (second, meters, Newtons, ...)",
        "If the header above contains a line with 'inDegrees', this indicates whether rotational values "
        "are in degrees (yes) or radians (no).", "", "endheader",
        "\t".join(["time", *names]),
    ]
    for i in range(len(t)):
        lines.append("\t".join([f"{t[i]:.6f}", *(f"{c[i]:.4f}" if math.isfinite(c[i]) else "nan" for c in cols)]))
    return "\n".join(lines) + "\n"


def parse_mot(text: str) -> dict[str, Any]:
    """Read a .mot back: ``{"header": {...}, "columns": [...], "data": array (rows, columns)}``."""
    lines = text.splitlines()
    try:
        end = lines.index("endheader")
    except ValueError:
        raise ValueError("not a MOT file (no endheader line)") from None
    header: dict[str, Any] = {"name": lines[0]}
    for line in lines[1:end]:
        key, sep, value = line.partition("=")
        if sep and key.strip() and " " not in key.strip():
            header[key.strip()] = value.strip()
    columns = lines[end + 1].split("\t")
    rows = [line.split("\t") for line in lines[end + 2:] if line.strip()]
    data = np.array([[float(v) for v in row] for row in rows], dtype=float).reshape(len(rows), len(columns))
    if int(header.get("nRows", -1)) != len(rows) or int(header.get("nColumns", -1)) != len(columns):
        raise ValueError("nRows/nColumns do not match the data")
    return {"header": header, "columns": columns, "data": data}


# -- the one-file PDF report ------------------------------------------------------
#: Subplots of the curves page: title, (left key, right key) of the gait document's curves.
CURVE_JOINTS = (("Trunk lean", (POSTURE_KEY,)),) + tuple(
    (title, tuple(angle_key(side, joint) for side in SIDES))
    for title, joint in (("Hip", "hip"), ("Knee", "knee"), ("Ankle (shank)", "ankle"), ("Shoulder", "shoulder"),
                         ("Elbow", "elbow")))


def _page(pdf, draw) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.27, 11.69))  # A4 portrait
    draw(fig)
    pdf.savefig(fig)


#: Line heights of the summary page (fraction of the A4 page height).
_ROW_STEP = 0.0165
_NOTE_STEP = 0.016


def _summary_page(fig, title: str, subtitle: str, cards: Sequence[Mapping[str, Any]], notes: Sequence[str],
                  references: Sequence[str] = ()) -> None:
    """Page 1: the metrics as a three-column table (metric, value, what to keep in mind: the
    card's ``reference`` sentence, then its quality ``notes``, in sentences) with the numbered quality notes right below it, then the sources of the normal
    ranges (``references``), each line placed as it comes (no fixed block, so no blank gap).
    Text that does not fit wraps within its column."""
    fig.text(0.07, 0.95, title, fontsize=18, weight="bold", va="top")
    fig.text(0.07, 0.915, subtitle, fontsize=10, color="#444", va="top")
    columns = (0.07, 0.33, 0.55)
    y = 0.88
    for x, head in zip(columns, ("Metric", "Value", "Keep in mind")):
        fig.text(x, y, head, fontsize=9, weight="bold", va="top")
    y -= _ROW_STEP
    fig.add_artist(_rule(fig, y + 0.004))
    for card in cards:
        # the normal range in ink (a fact), then the quality sentences in the warning colour
        keep = [(line, "#1d2127") for line in textwrap.wrap(card.get("reference") or "", 58)]
        keep += [(line, "#8a5a00") for line in textwrap.wrap("; ".join(card.get("notes") or []), 58)]
        value = textwrap.wrap(str(card["text"]), 26) or [""]
        for i in range(max(len(keep), len(value))):
            if i == 0:
                fig.text(columns[0], y, card["label"], fontsize=8.5, va="top")
            if i < len(value):
                fig.text(columns[1], y, value[i], fontsize=8.5, va="top")
            if i < len(keep):
                fig.text(columns[2], y, keep[i][0], fontsize=8, va="top", color=keep[i][1])
            y -= _ROW_STEP
    y = _listed(fig, y, "Quality notes", notes, numbered=True)
    _listed(fig, y, "Normal ranges: sources and the runners they hold for", references, numbered=False)


def _listed(fig, y: float, head: str, items: Sequence[str], numbered: bool) -> float:
    """``items`` under ``head`` from ``y`` down (numbered, or as bullets); the ``y`` below them."""
    if not items:
        return y
    y -= 0.02
    fig.text(0.07, y, head, fontsize=12, weight="bold", va="top")
    y -= 0.024
    for number, item in enumerate(items, 1):
        for k, line in enumerate(textwrap.wrap(item, 105)):
            fig.text(0.07, y, (f"{number}." if numbered else "\u2022") if k == 0 else "", fontsize=8.5, va="top")
            fig.text(0.10, y, line, fontsize=8.5, va="top")
            y -= _NOTE_STEP
        y -= 0.004
    return y


def _rule(fig, y: float):
    from matplotlib.lines import Line2D

    return Line2D([0.07, 0.93], [y, y], transform=fig.transFigure, color="#999", lw=0.6)


def _curves_page(fig, curves: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]], near_far: str = "",
                 near_leg: str | None = None) -> None:
    """Page 3: mean +/- SD angle curves over the stride, both sides, one panel per joint,
    captioned with which leg is near the camera."""
    joints = [(name, keys) for name, keys in CURVE_JOINTS
              if any(k in (curves.get(side) or {}) for side in SIDES for k in keys)]
    for i, (name, keys) in enumerate(joints[:6]):
        ax = fig.add_subplot(3, 2, i + 1)
        for side, color, key in (("left", "#2a6fdb", keys[0]), ("right", "#e8590c", keys[-1])):
            c = (curves.get(side) or {}).get(key)
            if not c:
                continue
            m = np.asarray(c["mean"], float)
            sd = np.asarray(c["sd"], float)
            x = np.linspace(0, 100, len(m))
            far = near_leg in SIDES and side != near_leg
            ax.plot(x, m, color=color, ls="--" if far else "-",
                    label=f"{side} ({'far' if far else 'near'})" if near_leg in SIDES else side)
            ax.fill_between(x, m - sd, m + sd, color=color, alpha=0.2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("% of stride", fontsize=8)
        ax.set_ylabel("deg", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    fig.suptitle("Joint angles over the stride (mean \u00b1 SD across strides)"
                 + ("\n" + "\n".join(textwrap.wrap(near_far, 100)) if near_far else ""), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.94 if near_far else 0.96))


def _commentary_pages(commentary: Sequence[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """The commentary as ``("head" | "body", text)`` lines, laid out on as many pages as it takes."""
    lines: list[tuple[str, str]] = []
    for head, text in commentary:
        lines.append(("head", head))
        lines += [("body", line) for line in textwrap.wrap(text, 115)]
    pages: list[list[tuple[str, str]]] = [[]]
    y = 0.92
    for kind, text in lines:
        step = 0.024 if kind == "head" else 0.016
        if y - step < 0.05:
            pages.append([])
            y = 0.92
        pages[-1].append((kind, text))
        y -= step
    return pages if lines else []


def _commentary_page(fig, chunk: Sequence[tuple[str, str]], first: bool) -> None:
    fig.text(0.07, 0.95, "Commentary" if first else "Commentary (continued)", fontsize=14, weight="bold", va="top")
    y = 0.92
    for kind, text in chunk:
        if kind == "head":
            y -= 0.008
            fig.text(0.07, y, text, fontsize=9.5, weight="bold", va="top")
        else:
            fig.text(0.08, y, text, fontsize=8, va="top")
        y -= 0.016


def report_pdf(title: str, subtitle: str, cards: Sequence[Mapping[str, Any]], notes: Sequence[str],
               commentary: Sequence[tuple[str, str]], charts: Callable[[Any], None] | None,
               curves: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]] | None = None,
               near_far: str = "", near_leg: str | None = None, references: Sequence[str] = ()) -> bytes:
    """A PDF: page 1 metrics table and quality notes; page 2 the charts, drawn by ``charts`` on an
    A4 portrait ``Figure`` (vectors, e.g. :func:`tasks.render.report.draw_report`); page 3 mean
    +/- SD angle curves per side, captioned with ``near_far`` (which leg is near the camera) and
    the far leg (``near_leg``'s other) dashed; ``references``: the normal ranges' sources, under
    page 1's notes;
    then the commentary (as many pages as it takes). Matplotlib's PdfPages on Figure objects
    (no pyplot, no raster images)."""
    from matplotlib.backends.backend_pdf import PdfPages

    from tasks.render.report import literal_text

    buf = io.BytesIO()
    # Titles, names, notes and commentary come from users: drawn literally, never as mathtext.
    with literal_text(), PdfPages(buf, metadata={"Title": title, "Creator": "gaitlake"}) as pdf:
        _page(pdf, lambda fig: _summary_page(fig, title, subtitle, cards, notes, references))
        if charts is not None:
            _page(pdf, charts)
        if curves:
            _page(pdf, lambda fig: _curves_page(fig, curves, near_far, near_leg))
        for number, chunk in enumerate(_commentary_pages(commentary)):
            _page(pdf, lambda fig, chunk=chunk, first=number == 0: _commentary_page(fig, chunk, first))
    return buf.getvalue()
