"""The chart report (``report.png``, and the charts of the PDF): joint angles over the
normalised stride, contact and flight per stride, cadence and speed, with the session's
headline numbers and which leg is near the camera. matplotlib ``Figure`` objects, no pyplot
global state: the PNG on the Agg canvas, the PDF as vectors on its own page.
"""
from __future__ import annotations

import contextlib
import io
import math
import os

import numpy as np

from analysis.catalogue import by_name
from analysis.session_report import Quality
from analysis.vocabulary import SIDES, angle_key
from tasks.render.data import RenderData

#: Angle panels: title, joint (``analysis.vocabulary.angle_key``; ``posture`` is the trunk).
CHART_JOINTS = (("knee flexion", "knee"), ("hip flexion (+) / extension (-)", "hip"),
                ("ankle (shank proxy, + ankle ahead of knee)", "ankle"), ("trunk lean (+ forward)", "posture"))
_MPL = {"left": "#2a7de1", "right": "#e4572e"}
#: A stride's cadence this far (fraction) from the session's median is drawn as an outlier
#: (hollow, left out of the line and the axis range): one mislocated strike makes a step of
#: a few frames, whose cadence (229 steps/min on the walking clip) is no runner's.
CADENCE_OUTLIER_FRACTION = 0.3
#: Smallest y range of an angle panel (deg), so a steady angle reads as one.
MIN_ANGLE_SPAN_DEG = 10.0
#: Smallest y range of the cadence axis (steps/min): 0.6 steps/min of quantisation noise
#: must not fill the panel.
MIN_CADENCE_SPAN_SPM = 10.0
#: Smallest y range of the speed axis (m/s): a few cm/s of stride-to-stride noise must not read
#: as dips across the whole panel.
MIN_SPEED_SPAN_MPS = 1.0
#: Share of each axis' range added on top of the cadence panel so its legend has room above the points.
LEGEND_ROOM = 0.35
LANDSCAPE_SIZE_IN = (15.0, 9.5)
PORTRAIT_SIZE_IN = (8.27, 11.69)        # A4
#: matplotlib settings under which every string is drawn as it is: a session name or a coach's note
#: such as ``Treadmill run $\foo$`` is text, never mathtext (which draws it differently or raises
#: on an unknown symbol) nor LaTeX. Text objects read these when they are created.
LITERAL_TEXT = {"text.parse_math": False, "text.usetex": False}


def literal_text() -> contextlib.AbstractContextManager:
    """A context in which the figures made draw all their text literally (:data:`LITERAL_TEXT`);
    the chart report and the PDF report are made in one."""
    import matplotlib

    return matplotlib.rc_context(LITERAL_TEXT)


def render_report_png(data: RenderData, title: str = "", dpi: int = 110) -> bytes:
    """The session chart report (:func:`report_figure`) as PNG bytes."""
    fig = report_figure(data, title, dpi=dpi)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def report_figure(data: RenderData, title: str = "", dpi: int = 110, portrait: bool = False):
    """The session chart report as a matplotlib ``Figure`` on the Agg canvas (no pyplot):
    landscape (the PNG) or A4 portrait (:func:`draw_report`). ``title`` (the user's session
    name) and every other text are drawn literally (:func:`literal_text`)."""
    with literal_text():
        return _report_figure(data, title, dpi, portrait)


def _report_figure(data: RenderData, title: str, dpi: int, portrait: bool):
    os.environ.setdefault("MPLBACKEND", "Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=PORTRAIT_SIZE_IN if portrait else LANDSCAPE_SIZE_IN, dpi=dpi)
    FigureCanvasAgg(fig)
    draw_report(fig, data, title, portrait=portrait)
    return fig


def near_far_text(quality: Quality) -> str:
    """Which leg is near the camera, for the charts' legend and caption."""
    near = quality.near_leg
    if near not in SIDES:
        return "Which leg is near the camera is not known: both legs' points are read alike."
    far = "left" if near == "right" else "right"
    return (f"The {near} leg is near the camera; the {far} leg is partly hidden behind the body, "
            f"so its points and curves are less reliable.")


def _side_label(side: str, quality: Quality) -> str:
    near = quality.near_leg
    return f"{side} ({'near' if side == near else 'far'})" if near in SIDES else side


def draw_report(fig, data: RenderData, title: str = "", portrait: bool = False) -> None:
    """Draw the chart report on ``fig``.

    Panels: knee, hip, ankle-proxy and trunk angle over the normalised stride
    (mean +/- SD across strides, left vs right, each leg labelled near or far,
    from the gait-analysis document), contact and flight time per stride,
    cadence and speed per stride. A joint the session did not select says so
    instead of a curve. ``portrait``: 3 x 2 panels for an A4 page, else 2 x 3.
    """
    quality = data.quality
    axes = fig.subplots(3, 2) if portrait else fig.subplots(2, 3)
    flat = list(axes.flat)
    small = 7 if portrait else 8
    for ax, (label, joint) in zip(flat[:4], CHART_JOINTS):
        any_curve = False
        for side in SIDES:
            block = data.phases.side(side)
            c = block.angle_curves.get(angle_key(side, joint))
            if c is None or not c.mean.size:
                continue
            cur = c.mean
            sd = c.sd if c.sd.size else np.zeros(cur.size)
            xx = np.linspace(0, 100, len(cur))
            far = quality.near_leg in SIDES and side != quality.near_leg
            ax.plot(xx, cur, color=_MPL[side], lw=2, ls="--" if far else "-",
                    label=f"{_side_label(side, quality)} mean ± SD")
            ax.fill_between(xx, cur - sd, cur + sd, color=_MPL[side], alpha=0.2, lw=0)
            to = block.marks.get("takeoff")
            if to is not None:
                ax.axvline(to.percent_of_stride, color=_MPL[side], ls=":", lw=1)
            any_curve = True
        ax.set_title(f"{label}", fontsize=small + 2)
        ax.set_xlabel("% of stride (0 = strike; dotted = toe-off)", fontsize=small)
        ax.set_ylabel("deg", fontsize=small)
        ax.tick_params(labelsize=small)
        ax.set_xlim(0, 100)
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        lo, hi = ax.get_ylim()
        if any_curve and hi - lo < MIN_ANGLE_SPAN_DEG:        # a steady angle: a flat line, not noise
            mid = 0.5 * (lo + hi)
            ax.set_ylim(mid - MIN_ANGLE_SPAN_DEG / 2, mid + MIN_ANGLE_SPAN_DEG / 2)
        if any_curve:
            ax.legend(fontsize=small, loc="best")
        else:
            why = "not enough clean strides" if quality.selected(joint) else "not selected for this session"
            ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
    _contact_panel(flat[4], data, small)
    _cadence_panel(flat[5], data, small)
    s = data.metrics
    head = title or "gaitlake session report"
    facts = []
    for key, fmt in (("cadence_spm", "cadence {:.0f} spm"), ("contact_time_s", "contact {:.3f} s"),
                     ("flight_time_s", "flight {:.3f} s"), ("speed_mps", "speed {:.2f} m/s"),
                     ("balance_pct", "balance L {:.1f} %"), ("contact_angle_deg", "contact angle {:.1f} deg")):
        v = s.value(key)
        if isinstance(v, (int, float)) and math.isfinite(v):
            facts.append(fmt.format(v))
    lines = [head, " · ".join(facts), near_far_text(quality)]
    fig.suptitle("\n".join(x for x in lines if x), fontsize=10 if portrait else 12)
    fig.tight_layout(rect=(0, 0, 1, 0.95 if portrait else 0.92))


def _contact_panel(ax, data: RenderData, small: int) -> None:
    """Contact (solid) and flight (hatched) per stride, stacked; the y range holds every bar
    with room for the legend above them."""
    rows = sorted((r for r in data.strides if r.get("contact_time_s") is not None),
                  key=lambda r: r.get("ic_time_s") or 0)
    if rows:
        t = np.array([r.get("ic_time_s") or 0 for r in rows], float)
        ct = np.array([r["contact_time_s"] for r in rows], float) * 1000
        ft = np.array([np.nan if r.get("flight_time_s") is None else r["flight_time_s"] for r in rows], float) * 1000
        colors = [_MPL[r["side"]] for r in rows]
        width = max(0.05, 0.35 * float(np.median(np.diff(t))) if len(t) > 1 else 0.1)
        ax.bar(t, ct, width=width, color=colors, label="contact")
        ax.bar(t, np.nan_to_num(ft), width=width, bottom=ct, color=colors, alpha=0.35, hatch="//",
               label="flight")
        top = float(np.nanmax(ct + np.nan_to_num(ft)))
        ax.set_ylim(0, top * 1.3)                      # every bar inside, the legend above them
        ax.set_xlim(t.min() - width, t.max() + width)
        reference_band(ax, "contact_time_s", data.metrics.speed_mps, scale=1000)
        near = data.quality.near_leg
        ax.set_xlabel("strike time (s)   (blue = left, red = right"
                      + (f"; {near} near)" if near in SIDES else ")"), fontsize=small)
        ax.set_ylabel("ms", fontsize=small)
        ax.legend(fontsize=small, loc="upper left", ncol=2)
    else:
        ax.text(0.5, 0.5, "no complete strides", ha="center", va="center", transform=ax.transAxes)
    ax.tick_params(labelsize=small)
    ax.set_title("contact (solid) + flight (hatched) per stride", fontsize=small + 2)


#: Colour of the normal-range band (the page's ``.ref-band``).
REFERENCE_COLOR = "#2b8a3e"


def reference_band(ax, name: str, speed_mps, scale: float = 1.0):
    """Shade the catalogue's normal range of metric ``name`` (:mod:`analysis.catalogue`; times
    ``scale``, the axis's unit per SI unit) across ``ax``, behind the data, labelled with the
    range and its source for the legend. A range the axis overlaps widens it to show the whole
    band (where the runner sits in it); one clear of the axis leaves it fitting the runner (a
    walk at 100 steps/min is not squashed under a 160-180 band) and the label says where the
    range lies. Nothing where the metric has no range, or none at ``speed_mps``. Returns the
    band (gid ``reference:<name>``) or None."""
    ref = by_name(name).reference
    speed = float(speed_mps) if isinstance(speed_mps, (int, float)) and math.isfinite(speed_mps) else None
    if ref is None or not ref.applies(speed):
        return None
    low, high = ref.low * scale, ref.high * scale
    lo, hi = ax.get_ylim()
    where = " (above this axis)" if low >= hi else " (below this axis)" if high <= lo else ""
    band = ax.axhspan(low, high, color=REFERENCE_COLOR, alpha=0.14, lw=0, zorder=0, gid=f"reference:{name}",
                      label=f"normal {low:g}\u2013{high:g}{where}, {ref.short_source}")
    pad = 0.1 * (high - low)
    ax.set_ylim((lo, hi) if where else (min(lo, low - pad), max(hi, high + pad)))
    return band


def cadence_outliers(cadence_spm: np.ndarray) -> np.ndarray:
    """Strides whose cadence is more than :data:`CADENCE_OUTLIER_FRACTION` from the median."""
    c = np.asarray(cadence_spm, float)
    ok = np.isfinite(c)
    if not ok.any():
        return np.zeros(c.shape, bool)
    med = float(np.median(c[ok]))
    with np.errstate(invalid="ignore"):
        return ok & (np.abs(c / med - 1.0) > CADENCE_OUTLIER_FRACTION)


def _cadence_panel(ax, data: RenderData, small: int) -> None:
    """Cadence and speed per stride; a stride with an outlying cadence is drawn hollow on
    the axis edge and named, never as a point of the line."""
    rows = sorted((r for r in data.strides if r.get("ic_time_s") is not None), key=lambda r: r["ic_time_s"])
    if rows:
        t = np.array([r["ic_time_s"] for r in rows], float)
        cad = np.array([np.nan if r.get("cadence_spm") is None else r["cadence_spm"] for r in rows], float)
        spd = np.array([np.nan if r.get("speed_mps") is None else r["speed_mps"] for r in rows], float)
        out = cadence_outliers(cad)
        shown = np.where(out, np.nan, cad)
        ax.plot(t, shown, "o-", color="#333333", label="cadence")
        if out.any() and np.isfinite(shown).any():
            lo, hi = float(np.nanmin(shown)), float(np.nanmax(shown))
            pad = max(2.0, 0.15 * (hi - lo))
            ax.set_ylim(lo - pad, hi + pad)
            edge = np.where(cad[out] > hi, hi + pad, lo - pad)
            ax.plot(t[out], edge, "o", mfc="none", color="#999999", clip_on=False)
            ax.text(0.02, 0.02, "hollow: " + ", ".join(f"{v:.0f}" for v in cad[out])
                    + " steps/min: over 30 % from the median, left out", transform=ax.transAxes, fontsize=small,
                    color="#666666")
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        lo, hi = ax.get_ylim()
        if hi - lo < MIN_CADENCE_SPAN_SPM and not out.any():   # a steady cadence reads steady
            mid = 0.5 * (lo + hi)
            ax.set_ylim(mid - MIN_CADENCE_SPAN_SPM / 2, mid + MIN_CADENCE_SPAN_SPM / 2)
        band = reference_band(ax, "cadence_spm", data.metrics.speed_mps)
        ax.set_ylabel("cadence (steps/min)", fontsize=small)
        ax.set_xlabel("time (s)", fontsize=small)
        ax2 = ax.twinx()
        ax2.plot(t, spd, "s--", color="#2a9d8f", label="speed")
        ax2.set_ylabel("speed (m/s)", color="#2a9d8f", fontsize=small)
        ax2.tick_params(labelsize=small)
        lo2, hi2 = ax2.get_ylim()
        if hi2 - lo2 < MIN_SPEED_SPAN_MPS:                   # a steady speed reads steady
            mid = 0.5 * (lo2 + hi2)
            lo2, hi2 = mid - MIN_SPEED_SPAN_MPS / 2, mid + MIN_SPEED_SPAN_MPS / 2
        for axis, (a, b) in ((ax, ax.get_ylim()), (ax2, (lo2, hi2))):
            axis.set_ylim(a, b + LEGEND_ROOM * (b - a))      # the legend above both lines, not on them
        lines = ax.get_lines()[:1] + ax2.get_legend_handles_labels()[0] + ([band] if band else [])
        ax.legend(lines, ["cadence", "speed"] + ([band.get_label()] if band else []), fontsize=small, loc="upper right")
    else:
        ax.text(0.5, 0.5, "no complete strides", ha="center", va="center", transform=ax.transAxes)
    ax.tick_params(labelsize=small)
    ax.set_title("cadence and speed per stride", fontsize=small + 2)
