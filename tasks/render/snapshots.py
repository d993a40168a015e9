"""Gait-phase and form snapshots: one clean source frame per image, the skeleton and the
angles of the moment drawn on it, JPEG-encoded. Which frame and leg each image shows is
:func:`snapshot_plan`'s decision, from the gait-analysis document.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from analysis.keypoints import KP
from analysis.vocabulary import GAIT_PHASES, POSTURE_KEY, SIDES, angle_key
from tasks.render.data import LOW_CONF, RenderData, doubt_mark
from tasks.render.draw import COLOR, DOTS, draw_angle, draw_foot, draw_skeleton, fmt_value, put_text


def _kp(xy: np.ndarray, side: str, joint: str) -> np.ndarray:
    return xy[KP[f"{side.upper()}_{joint.upper()}"]]


def _below(p: np.ndarray, length: float) -> np.ndarray:
    return np.asarray(p, float) + np.array([0.0, length])


def _above(p: np.ndarray, length: float) -> np.ndarray:
    return np.asarray(p, float) - np.array([0.0, length])


def _angle_at(data: RenderData, key: str, frame: int) -> float | None:
    a = data.angles.get(key)
    if a is None or frame >= len(a) or not np.isfinite(a[frame]):
        return None
    return float(a[frame])


def _leg_vs_vertical(hip: np.ndarray, ank: np.ndarray) -> float | None:
    if not (np.isfinite(hip).all() and np.isfinite(ank).all()):
        return None
    return float(abs(math.degrees(math.atan2(ank[0] - hip[0], ank[1] - hip[1]))))


def _annotate_common(img, xy, side, scale, title, lines):
    u = max(0.6, img.shape[0] / 1300.0)
    put_text(img, title, (int(14 * u), int(40 * u)), 1.0 * u, COLOR[side], 2)
    for k, line in enumerate(lines):
        put_text(img, line, (int(14 * u), int(40 * u) + int(34 * u) * (k + 1)), 0.75 * u)


def _snapshot_base(frame: np.ndarray, data: RenderData, frame_index: int,
                   scale: float) -> tuple[np.ndarray, int, np.ndarray, int]:
    """The scaled frame with the skeleton drawn, the frame index, its keypoints and a line width."""
    img = frame if scale == 1.0 else cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    img = np.ascontiguousarray(img)
    i = min(frame_index, data.n_frames - 1)
    xy = data.xy[i]
    thick = max(2, int(round(img.shape[0] / 400)))
    draw_skeleton(img, xy, scale, {s: bool(data.contact[s][i]) for s in SIDES}, thick, data.low_confidence[i])
    return img, i, xy, thick


def draw_phase_snapshot(frame: np.ndarray, data: RenderData, frame_index: int, side: str, phase: str,
                        scale: float) -> np.ndarray:
    """A gait-phase image: skeleton, and for ``side`` the knee, hip and trunk angles drawn with values."""
    img, i, xy, thick = _snapshot_base(frame, data, frame_index, scale)
    hip, knee, ank = _kp(xy, side, "hip"), _kp(xy, side, "knee"), _kp(xy, side, "ankle")
    sho = _kp(xy, side, "shoulder")
    knee_v, hip_v = _angle_at(data, angle_key(side, "knee"), i), _angle_at(data, angle_key(side, "hip"), i)
    post_v = _angle_at(data, POSTURE_KEY, i)
    thigh = float(np.linalg.norm(knee - hip)) if np.isfinite(knee - hip).all() else 80.0
    q = doubt_mark(data, i, side)
    draw_angle(img, knee, hip, ank, f"knee {fmt_value(knee_v, '{:.0f}')}{q}", scale, thickness=thick)
    draw_angle(img, hip, knee, sho, f"hip {fmt_value(hip_v, '{:+.0f}')}{q}", scale, thickness=thick)
    mid_hip = np.nanmean([xy[KP.LEFT_HIP], xy[KP.RIGHT_HIP]], axis=0)
    mid_sho = np.nanmean([xy[KP.LEFT_SHOULDER], xy[KP.RIGHT_SHOULDER]], axis=0)
    draw_angle(img, mid_hip, mid_sho, _above(mid_hip, thigh), f"trunk {fmt_value(post_v, '{:+.0f}')}", scale,
               color=COLOR["center"], thickness=max(1, thick - 1))
    lines = [f"knee flexion {fmt_value(knee_v, '{:.0f}', ' deg')}", f"hip {fmt_value(hip_v, '{:+.0f}', ' deg')} (+ flexion)",
             f"trunk lean {fmt_value(post_v, '{:+.0f}', ' deg')}"]
    if phase in ("strike", "new_strike"):
        ca = _leg_vs_vertical(hip, ank)
        draw_angle(img, hip, ank, _below(hip, thigh * 1.8), f"{fmt_value(ca, '{:.0f}')}{q}", scale,
                   color=COLOR["contact"], thickness=thick)
        lines.append(f"leg vs vertical {fmt_value(ca, '{:.0f}', ' deg')}")
        lines += _foot_strike_lines(img, data, i, side, scale, thick)
    t = data.time_s[i] if i < len(data.time_s) else float("nan")
    _annotate_common(img, xy, side, scale, f"{side.upper()} {phase.replace('_', ' ').upper()}",
                     lines + [f"frame {frame_index}  t={fmt_value(t, '{:.2f}', ' s')}"] + _low_note(data, i))
    return img


def _foot_strike_lines(img: np.ndarray, data: RenderData, i: int, side: str, scale: float, thick: int) -> list[str]:
    """On a strike image of a session with the foot stage: the sole line drawn, and the contact's
    measured touchdown angle and pattern (the strides row whose IC is this frame, +-1)."""
    if data.feet is None:
        return []
    draw_foot(img, data.feet[side][i], scale, COLOR["contact"], thick + 1)
    rows = [r for r in data.strides if r.get("side") == side and r.get("ic_frame") is not None
            and abs(int(r["ic_frame"]) - i) <= 1]
    angle = rows[0].get("footstrike_angle_deg") if rows else None
    if angle is None:
        return ["foot strike not measured"]
    return [f"foot strike {fmt_value(angle, '{:+.0f}', ' deg')} ({rows[0].get('footstrike') or '--'})"]


def draw_form_snapshot(frame: np.ndarray, data: RenderData, frame_index: int, side: str, kind: str,
                       scale: float) -> np.ndarray:
    """Form images: ``contact_angle`` (leg vs vertical at strike), ``push_angle`` (hip
    extension at toe-off: thigh vs trunk line), ``knee_ankle`` (knee angle and shank vs
    vertical at strike, with trunk lean)."""
    img, i, xy, thick = _snapshot_base(frame, data, frame_index, scale)
    q = doubt_mark(data, i, side)
    hip, knee, ank, sho = (_kp(xy, side, j) for j in ("hip", "knee", "ankle", "shoulder"))
    seg = float(np.linalg.norm(knee - hip)) if np.isfinite(knee - hip).all() else 80.0
    if kind == "contact_angle":
        ca = _leg_vs_vertical(hip, ank)
        draw_angle(img, hip, ank, _below(hip, seg * 2.0), f"{fmt_value(ca, '{:.1f}')} deg{q}", scale,
                   color=COLOR["contact"], thickness=thick + 1)
        title, lines = "CONTACT ANGLE", [f"leg vs vertical at strike: {fmt_value(ca, '{:.1f}', ' deg')}",
                                         f"session mean {fmt_value(data.summary.get('contact_angle_deg'), '{:.1f}', ' deg')}"]
    elif kind == "push_angle":
        hv = _angle_at(data, angle_key(side, "hip"), i)
        ext = -hv if hv is not None else None
        draw_angle(img, hip, knee, 2 * hip - sho, f"{fmt_value(ext, '{:.0f}')} deg{q}", scale,
                   color=COLOR["angle"], thickness=thick + 1)
        title, lines = "PUSH ANGLE", [f"hip extension at toe-off: {fmt_value(ext, '{:.0f}', ' deg')}",
                                      "(thigh behind the trunk line)"]
    else:
        kv, av_ = _angle_at(data, angle_key(side, "knee"), i), _angle_at(data, angle_key(side, "ankle"), i)
        pv = _angle_at(data, POSTURE_KEY, i)
        draw_angle(img, knee, hip, ank, f"knee {fmt_value(kv, '{:.0f}')}{q}", scale, thickness=thick + 1)
        draw_angle(img, knee, ank, _below(knee, seg), f"shank {fmt_value(av_, '{:+.0f}')}{q}", scale,
                   color=COLOR["contact"], thickness=thick)
        mid_hip = np.nanmean([xy[KP.LEFT_HIP], xy[KP.RIGHT_HIP]], axis=0)
        mid_sho = np.nanmean([xy[KP.LEFT_SHOULDER], xy[KP.RIGHT_SHOULDER]], axis=0)
        draw_angle(img, mid_hip, mid_sho, _above(mid_hip, seg), f"trunk {fmt_value(pv, '{:+.0f}')}", scale,
                   color=COLOR["center"], thickness=thick)
        title, lines = "KNEE & ANKLE AT STRIKE", [f"knee flexion {fmt_value(kv, '{:.0f}', ' deg')}",
                                                  f"shank vs vertical {fmt_value(av_, '{:+.0f}', ' deg')} (proxy)",
                                                  f"trunk lean {fmt_value(pv, '{:+.0f}', ' deg')}"]
    _, why = form_side_and_reason(data)
    _annotate_common(img, xy, side, scale, f"{title} ({side}: {why})", lines + [f"frame {frame_index}"]
                     + _low_note(data, i))
    return img



def _low_note(data: RenderData, i: int) -> list[str]:
    """A caption line when the frame has hollow (low-confidence) points."""
    low = data.low_confidence[i]
    if not low[list(DOTS)].any():
        return []
    legs = [KP.LEFT_KNEE, KP.RIGHT_KNEE, KP.LEFT_ANKLE, KP.RIGHT_ANKLE]
    collapsed = bool(low[legs].all()) and data.conf is not None and bool(
        (np.nan_to_num(data.conf[i, legs]) >= LOW_CONF).all())
    return ["hollow points: low confidence" + (" (both legs detected on one)" if collapsed else "")]


def form_side(data: RenderData) -> str:
    """The side shown in form snapshots (see :func:`form_side_and_reason`)."""
    return form_side_and_reason(data)[0]


def form_side_and_reason(data: RenderData) -> tuple[str, str]:
    """The leg the form snapshots show, and why, for their caption.

    The near leg (``quality.near_leg``: the one the camera sees unoccluded, whose
    keypoints the engine trusts) when it has complete strides; otherwise the leg
    with the most trusted knee/ankle points.
    """
    has_phases = {side: bool((data.gait_doc.get(side) or {}).get("phases")) for side in SIDES}
    near = data.quality.get("near_leg")
    if near in SIDES and has_phases[near]:
        return near, "near leg"
    low = data.low_confidence
    best, score = None, -1.0
    for side in SIDES:
        if not has_phases[side]:
            continue
        idx = [KP[f"{side.upper()}_KNEE"], KP[f"{side.upper()}_ANKLE"]]
        s = float((np.isfinite(data.xy[:, idx, 0]) & ~low[:, idx]).mean())
        if s > score:
            best, score = side, s
    if best is None:
        return "left", "no complete stride on either leg"
    if near in SIDES:
        return best, f"the near ({near}) leg has no complete stride"
    return best, "the leg seen best; the near leg is not known"


def snapshot_plan(data: RenderData) -> dict[str, tuple[int, str, str, str]]:
    """``name -> (frame, side, kind, what)``; names ``gait/<side>_<phase>``, ``form/<image>``."""
    plan: dict[str, tuple[int, str, str, str]] = {}
    for side in SIDES:
        phases = (data.gait_doc.get(side) or {}).get("phases") or {}
        for phase in GAIT_PHASES:
            ph = phases.get(phase)
            if ph and ph.get("video_frame") is not None:
                plan[f"gait/{side}_{phase}"] = (int(ph["video_frame"]), side, "gait", phase)
    side, _ = form_side_and_reason(data)
    phases = (data.gait_doc.get(side) or {}).get("phases") or {}
    if phases:
        plan["form/contact_angle"] = (int(phases["strike"]["video_frame"]), side, "form", "contact_angle")
        plan["form/push_angle"] = (int(phases["takeoff"]["video_frame"]), side, "form", "push_angle")
        plan["form/knee_ankle"] = (int(phases["strike"]["video_frame"]), side, "form", "knee_ankle")
    return plan


def render_snapshots(frames: dict[int, np.ndarray], data: RenderData, plan: dict, max_side: int = 1280
                     ) -> dict[str, bytes]:
    """JPEG bytes per snapshot name from clean source frames keyed by index."""
    out = {}
    for name, (f, side, what, kind) in plan.items():
        frame = frames.get(f)
        if frame is None:
            continue
        H, W = frame.shape[:2]
        scale = min(1.0, max_side / max(H, W))
        if what == "gait":
            img = draw_phase_snapshot(frame, data, f, side, kind, scale)
        else:
            img = draw_form_snapshot(frame, data, f, side, kind, scale)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if ok:
            out[name] = buf.tobytes()
    return out
