"""The chart report (``report.png``): joint angles over the normalised stride, contact and
flight per stride, cadence and speed, with the session's headline numbers. matplotlib on the
Agg canvas (no pyplot global state).
"""
from __future__ import annotations

import contextlib
import io
import math
import os

import numpy as np

from analysis.vocabulary import SIDES, angle_key
from tasks.render.data import RenderData

#: Angle panels: title, joint (``analysis.vocabulary.angle_key``; ``posture`` is the trunk).
CHART_JOINTS = (("knee", "knee"), ("hip", "hip"), ("ankle (shank proxy)", "ankle"), ("trunk lean", "posture"))
_MPL = {"left": "#2a7de1", "right": "#e4572e"}
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
    """The session chart report as PNG bytes.

    Panels: knee, hip, ankle-proxy and trunk angle over the normalised stride
    (mean +/- SD across strides, left vs right, from the gait-analysis
    document), contact and flight time per stride, cadence and speed over time. ``title``
    (the user's session name) and every other text are drawn literally (:func:`literal_text`).
    """
    with literal_text():
        return _render_report_png(data, title, dpi)


def _render_report_png(data: RenderData, title: str, dpi: int) -> bytes:
    os.environ.setdefault("MPLBACKEND", "Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 9.5), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    flat = list(axes.flat)
    for ax, (label, joint) in zip(flat[:4], CHART_JOINTS):
        any_curve = False
        for side in SIDES:
            curves = (data.gait_doc.get(side) or {}).get("angles") or {}
            c = curves.get(angle_key(side, joint))
            if not c or not c.get("current"):
                continue
            cur = np.array([np.nan if v is None else v for v in c["current"]], float)
            sd = np.array([np.nan if v is None else v for v in (c.get("std_dev") or [0] * len(cur))], float)
            xx = np.linspace(0, 100, len(cur))
            ax.plot(xx, cur, color=_MPL[side], lw=2, label=f"{side} (mean)")
            ax.fill_between(xx, cur - sd, cur + sd, color=_MPL[side], alpha=0.2, lw=0, label=f"{side} ±SD")
            to = ((data.gait_doc.get(side) or {}).get("phases") or {}).get("takeoff")
            if to and to.get("graph_phase") is not None:
                ax.axvline(to["graph_phase"], color=_MPL[side], ls=":", lw=1)
            any_curve = True
        ax.set_title(f"{label} angle over the stride")
        ax.set_xlabel("% of stride (0 = strike; dotted = toe-off)")
        ax.set_ylabel("deg")
        ax.set_xlim(0, 100)
        if any_curve:
            ax.legend(fontsize=8, loc="best")
        else:
            ax.text(0.5, 0.5, "not enough strides", ha="center", va="center", transform=ax.transAxes)
    # contact / flight per stride
    ax = flat[4]
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
        ax.set_xlabel("strike time (s)   (blue = left, red = right)")
        ax.set_ylabel("ms")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no complete strides", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("contact (solid) + flight (hatched) per stride")
    # cadence and speed over time
    ax = flat[5]
    rows = sorted((r for r in data.strides if r.get("ic_time_s") is not None), key=lambda r: r["ic_time_s"])
    if rows:
        t = np.array([r["ic_time_s"] for r in rows], float)
        cad = np.array([np.nan if r.get("cadence_spm") is None else r["cadence_spm"] for r in rows], float)
        spd = np.array([np.nan if r.get("speed_mps") is None else r["speed_mps"] for r in rows], float)
        ax.plot(t, cad, "o-", color="#333333", label="cadence")
        ax.set_ylabel("cadence (steps/min)")
        ax.set_xlabel("time (s)")
        ax2 = ax.twinx()
        ax2.plot(t, spd, "s--", color="#2a9d8f", label="speed")
        ax2.set_ylabel("speed (m/s)", color="#2a9d8f")
        lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax.legend(lines, ["cadence", "speed"], fontsize=8, loc="lower right")
    else:
        ax.text(0.5, 0.5, "no complete strides", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("cadence and speed per stride")
    s = data.summary
    head = title or "gaitlake session report"
    facts = []
    for key, fmt in (("cadence_spm", "cadence {:.0f} spm"), ("contact_time_s", "contact {:.3f} s"),
                     ("flight_time_s", "flight {:.3f} s"), ("speed_mps", "speed {:.2f} m/s"),
                     ("balance_pct", "balance L {:.1f} %"), ("contact_angle_deg", "contact angle {:.1f} deg")):
        v = s.get(key)
        if isinstance(v, (int, float)) and math.isfinite(v):
            facts.append(fmt.format(v))
    fig.suptitle(head + ("\n" + " · ".join(facts) if facts else ""), fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
