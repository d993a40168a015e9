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
    """A gait-phase image: skeleton, and for ``side`` the knee, hip and trunk angles drawn with
    values (a joint the session did not select is named as such, never measured)."""
    img, i, xy, thick = _snapshot_base(frame, data, frame_index, scale)
    hip, knee, ank = _kp(xy, side, "hip"), _kp(xy, side, "knee"), _kp(xy, side, "ankle")
    sho = _kp(xy, side, "shoulder")
    knee_v, hip_v = _angle_at(data, angle_key(side, "knee"), i), _angle_at(data, angle_key(side, "hip"), i)
    post_v = _angle_at(data, POSTURE_KEY, i)
    thigh = float(np.linalg.norm(knee - hip)) if np.isfinite(knee - hip).all() else 80.0
    q = doubt_mark(data, i, side)
    lines = []
    if data.quality.selected("knee"):
        draw_angle(img, knee, hip, ank, f"knee {fmt_value(knee_v, '{:.0f}')}{q}", scale, thickness=thick)
        lines.append(f"knee flexion {fmt_value(knee_v, '{:.0f}', ' deg')}")
    else:
        lines.append("knee: not selected")
    if data.quality.selected("hip"):
        draw_angle(img, hip, knee, sho, f"hip {fmt_value(hip_v, '{:+.0f}')}{q}", scale, thickness=thick)
        lines.append(f"hip {fmt_value(hip_v, '{:+.0f}', ' deg')} (+ flexion)")
    else:
        lines.append("hip: not selected")
    mid_hip = np.nanmean([xy[KP.LEFT_HIP], xy[KP.RIGHT_HIP]], axis=0)
    mid_sho = np.nanmean([xy[KP.LEFT_SHOULDER], xy[KP.RIGHT_SHOULDER]], axis=0)
    draw_angle(img, mid_hip, mid_sho, _above(mid_hip, thigh), f"trunk {fmt_value(post_v, '{:+.0f}')}", scale,
               color=COLOR["center"], thickness=max(1, thick - 1))
    lines.append(f"trunk lean {fmt_value(post_v, '{:+.0f}', ' deg')} (+ forward)")
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
                                         f"session mean {fmt_value(data.metrics.contact_angle_deg, '{:.1f}', ' deg')}"]
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
        title, lines = "KNEE & ANKLE AT STRIKE", []
        if data.quality.selected("knee"):
            draw_angle(img, knee, hip, ank, f"knee {fmt_value(kv, '{:.0f}')}{q}", scale, thickness=thick + 1)
            lines.append(f"knee flexion {fmt_value(kv, '{:.0f}', ' deg')}")
        else:
            lines.append("knee: not selected")
        if data.quality.selected("ankle"):
            draw_angle(img, knee, ank, _below(knee, seg), f"shank {fmt_value(av_, '{:+.0f}')}{q}", scale,
                       color=COLOR["contact"], thickness=thick)
            lines.append(f"shank vs vertical {fmt_value(av_, '{:+.0f}', ' deg')} (ankle proxy)")
        else:
            lines.append("ankle: not selected")
        mid_hip = np.nanmean([xy[KP.LEFT_HIP], xy[KP.RIGHT_HIP]], axis=0)
        mid_sho = np.nanmean([xy[KP.LEFT_SHOULDER], xy[KP.RIGHT_SHOULDER]], axis=0)
        draw_angle(img, mid_hip, mid_sho, _above(mid_hip, seg), f"trunk {fmt_value(pv, '{:+.0f}')}", scale,
                   color=COLOR["center"], thickness=thick)
        lines.append(f"trunk lean {fmt_value(pv, '{:+.0f}', ' deg')} (+ forward)")
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
    has_phases = {side: bool(data.phases.side(side).marks) for side in SIDES}
    near = data.quality.near_leg
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


#: Fewest frames between the takeoff and flight snapshots: one frame apart they show the
#: same picture.
MIN_FLIGHT_GAP_FRAMES = 2
#: Leg separation (share of the median thigh length) above which two legs read apart.
CLEAN_SEPARATION_SHARE = 0.5
#: Weight of the mid-stance frame in a stride's clean-view score: there the swing leg
#: passes the stance leg, and the two merge most often.
MID_STANCE_WEIGHT = 2.0


def clean_view_score(data: RenderData, frame: int) -> float:
    """How clean the legs look in ``frame`` (0..2): the share of the four knee and ankle
    points drawn solid (:func:`tasks.render.data.low_confidence_mask`: confident and not
    collapsed onto the other leg), plus the knees' and ankles' smaller separation as a
    share of the median thigh length, capped at :data:`CLEAN_SEPARATION_SHARE` and scaled to 1."""
    i = min(max(frame, 0), data.n_frames - 1)
    legs = [KP.LEFT_KNEE, KP.RIGHT_KNEE, KP.LEFT_ANKLE, KP.RIGHT_ANKLE]
    solid = 1.0 - float(data.low_confidence[i, legs].mean())
    xy = data.xy[i]
    with np.errstate(invalid="ignore"):
        sep = np.nanmin([np.linalg.norm(xy[KP.LEFT_KNEE] - xy[KP.RIGHT_KNEE]),
                         np.linalg.norm(xy[KP.LEFT_ANKLE] - xy[KP.RIGHT_ANKLE])])
    thigh = _median_thigh_px(data)
    share = float(sep / thigh) if np.isfinite(sep) and thigh > 0 else 0.0
    return solid + min(share, CLEAN_SEPARATION_SHARE) / CLEAN_SEPARATION_SHARE


def _median_thigh_px(data: RenderData) -> float:
    t = np.concatenate([np.linalg.norm(data.xy[:, k] - data.xy[:, h], axis=1)
                        for h, k in ((KP.LEFT_HIP, KP.LEFT_KNEE), (KP.RIGHT_HIP, KP.RIGHT_KNEE))])
    t = t[np.isfinite(t)]
    return float(np.median(t)) if t.size else 0.0


def _flight_frame(data: RenderData, takeoff: int, next_strike: int) -> int | None:
    """A frame with both feet off the ground at least :data:`MIN_FLIGHT_GAP_FRAMES` after
    ``takeoff`` (the middle of the stride's flight, or its first such frame), else None."""
    free = [f for f in range(takeoff, min(next_strike, data.n_frames))
            if not any(bool(data.contact[s][f]) for s in SIDES)]
    run = []
    for f in free:                       # the contact-free run that starts at takeoff
        if run and f != run[-1] + 1:
            break
        run.append(f)
    if not run or run[0] != takeoff:
        return None
    f = max(run[len(run) // 2], takeoff + MIN_FLIGHT_GAP_FRAMES)
    return f if f in run else None


def _stride_phase_frames(data: RenderData, side: str) -> list[dict[str, int]]:
    """Each complete stride of ``side``: its strike, mid-stance (the engine's MS event),
    takeoff, flight (:func:`_flight_frame`; missing when there is none) and new-strike frames."""
    ms = sorted(f for f, s, kind in data.events if s == side and kind == "MS")
    out = []
    for r in data.strides:
        if r.get("side") != side or any(r.get(k) is None for k in ("ic_frame", "to_frame", "next_ic_frame")):
            continue
        a, t, b = int(r["ic_frame"]), int(r["to_frame"]), int(r["next_ic_frame"])
        if not (a < t < b <= data.n_frames):
            continue
        mid = next((f for f in ms if a <= f < t), (a + t) // 2)
        frames = {"strike": a, "mid_stance": mid, "takeoff": t, "new_strike": min(b, data.n_frames - 1)}
        fl = _flight_frame(data, t, b)
        if fl is not None:
            frames["flight"] = fl
        out.append(frames)
    return out


def clean_phase_frames(data: RenderData, side: str) -> dict[str, int]:
    """The frames of ``side``'s gait-phase snapshots: one stride, the one that looks
    cleanest (:func:`clean_view_score` over its phases, mid-stance weighted
    :data:`MID_STANCE_WEIGHT`, a real flight frame worth a full point), so no snapshot shows
    merged legs when a stride without them exists and the flight snapshot is a different
    picture from the takeoff's. Falls back to the gait-analysis document's representative
    stride when the strides table is missing."""
    best, best_score = None, -math.inf
    for frames in _stride_phase_frames(data, side):
        score = sum((MID_STANCE_WEIGHT if p == "mid_stance" else 1.0) * clean_view_score(data, f)
                    for p, f in frames.items()) + (1.0 if "flight" in frames else 0.0)
        if score > best_score:
            best, best_score = frames, score
    if best is not None:
        return best
    return {p: mark.frame for p, mark in data.phases.side(side).marks.items()}


def snapshot_plan(data: RenderData) -> dict[str, tuple[int, str, str, str]]:
    """``name -> (frame, side, kind, what)``; names ``gait/<side>_<phase>``, ``form/<image>``;
    frames from :func:`clean_phase_frames` (a phase without a clean frame, such as the
    flight of a walk, has no snapshot)."""
    plan: dict[str, tuple[int, str, str, str]] = {}
    chosen = {}
    for side in SIDES:
        if not data.phases.side(side).marks:
            continue
        chosen[side] = clean_phase_frames(data, side)
        for phase in GAIT_PHASES:
            if phase in chosen[side]:
                plan[f"gait/{side}_{phase}"] = (chosen[side][phase], side, "gait", phase)
    side, _ = form_side_and_reason(data)
    frames = chosen.get(side) or {}
    if "strike" in frames and "takeoff" in frames:
        plan["form/contact_angle"] = (frames["strike"], side, "form", "contact_angle")
        if data.quality.selected("hip"):        # the push angle is a hip angle
            plan["form/push_angle"] = (frames["takeoff"], side, "form", "push_angle")
        if data.quality.selected("knee") or data.quality.selected("ankle"):
            plan["form/knee_ankle"] = (frames["strike"], side, "form", "knee_ankle")
    return plan


def render_snapshots(frames: dict[int, np.ndarray], data: RenderData, plan: dict, max_side: int = 1280,
                     failed: dict[str, str] | None = None) -> dict[str, bytes]:
    """JPEG bytes per snapshot name from clean source frames keyed by index.

    ``failed`` given: a snapshot that cannot be drawn is named there with the reason and left out
    (the others are drawn); without it the first failure raises."""
    out = {}
    for name, (f, side, what, kind) in plan.items():
        frame = frames.get(f)
        if frame is None:
            continue
        try:
            H, W = frame.shape[:2]
            scale = min(1.0, max_side / max(H, W))
            if what == "gait":
                img = draw_phase_snapshot(frame, data, f, side, kind, scale)
            else:
                img = draw_form_snapshot(frame, data, f, side, kind, scale)
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        except Exception as exc:  # noqa: BLE001 - one snapshot is not worth the others
            if failed is None:
                raise
            failed[name] = f"{exc.__class__.__name__}: {str(exc)[:300]}"  # drawing errors name no files
            continue
        if ok:
            out[name] = buf.tobytes()
    return out
