"""Stage 9 of ``analysis.engine.analyze``: the quality flags, which summary metrics are
null and why (:data:`MISSING_REASONS`), and the quality notes on joint angles."""
from __future__ import annotations

import math

from analysis.event_stage import DetectedEvents
from analysis.geometry_stage import CleanedKeypoints, SceneGeometry
from analysis.params import CheckedInput, RunnerProfile
from analysis.results import angle_keys
from analysis.session_report import Quality, Summary
from analysis.stride_stage import MIN_STRIDES, MeasuredStrides, SessionMeans
from analysis.timing import TimingJudgement
from analysis.vocabulary import JOINT_PREFIX, POSTURE_KEY, SIDES


#: Why a summary metric is null: code -> sentence (``quality.missing`` maps metric -> code).
MISSING_REASONS = {
    "low_frame_rate": "The frame rate is too low to time steps.",
    "too_few_steps": "Fewer than four alternating contacts were found, so there is no step time.",
    "too_few_strides": f"Fewer than {MIN_STRIDES} complete strides per side were found.",
    "no_scale": "The image scale could not be estimated, so lengths and speeds are not measured.",
    "no_weight": "The runner's weight is unknown, so metabolic power in watts is not given.",
    "needs_rear_view": "It needs a frontal or rear view of the foot; a side view cannot show it.",
    "not_side_view": "The camera does not look at the runner from the side.",
    "not_measured": "No stride gave a value for it.",
    # the measured foot strike (analysis.feet): why no contact could be measured
    "foot_undetected": "The foot model found no heel or toe at the contacts.",
    "foot_cut_off": "The foot is cut off by the frame edge at the contacts.",
    "foot_hidden": "The heel or toe is hidden at the contacts (the foot model marks it not visible).",
    "foot_too_small": "The foot is too small in the image (heel to toe under 40 px) to read its angle.",
    "floor_line_unknown": "The foot was never seen flat on the ground, so there is no floor line.",
}


#: Notes in plain words (a coach reads them on the page and in the PDF; no field names).
EVERSION_NOTE = "Eversion velocity is not measured: it needs a view of the foot from behind or in front, not the side."
#: The shank-angle foot strike; the foot stage (``analysis.feet``) replaces it when it measures the feet.
PROXY_NOTE = ("Foot strike and ankle angle are proxies here, read from the shin's angle: the pose model has no "
              "heel or toe points.")


_LENGTH_KEYS = ("stride_length_m", "speed_mps", "pace_min_per_km", "power_w", "normalized_power_w_per_kg",
                "total_distance_m", "com_oscillation_m", "mean_h_m")


def missing_metrics(summary: Summary, *, enough: bool, has_steps: bool, low_fps: bool, scale_ok: bool,
                    weight_known: bool, side_view: bool) -> dict[str, str]:
    """``{summary key: reason code}`` (:data:`MISSING_REASONS`) for every null summary metric,
    the first cause that applies in the order of the table."""
    out = {}
    for k, v in summary.to_dict().items():
        if v is not None:
            continue
        if k == "eversion_velocity_deg_per_s":
            out[k] = "needs_rear_view"
        elif low_fps:
            out[k] = "low_frame_rate"
        elif k in ("cadence_spm", "step_time_s") and not has_steps:
            out[k] = "too_few_steps"
        elif not enough:
            out[k] = "too_few_strides"
        elif k == "power_w" and not weight_known:
            out[k] = "no_weight"
        elif k in _LENGTH_KEYS and not scale_ok:
            out[k] = "no_scale"
        elif not side_view:
            out[k] = "not_side_view"
        else:
            out[k] = "not_measured"
    return out


#: An angle shown in fewer than this share of frames gets its own quality note.
ANGLE_NOTE_BELOW_SHARE = 0.8


def _angle_reasons(share: dict[str, float], near: str | None, joints: tuple[str, ...]) -> list[str]:
    """Quality notes on the selected joints' angles: the far side's are less reliable (as
    the far foot is), and each angle blanked in many frames is named with its share."""
    out = []
    share = {k: v for k, v in share.items() if k in angle_keys(joints)}
    if near in SIDES and joints:
        far = "left" if near == "right" else "right"
        out.append(f"Joint angles of the far ({far}) side are read from limbs partly hidden "
                   "behind the body: treat them as less reliable than the near side's.")
    low = [(k, v) for k, v in share.items() if v < ANGLE_NOTE_BELOW_SHARE]
    if low:
        names = ", ".join(f"{angle_label(k)} {100.0 * v:.0f} %" for k, v in low)
        out.append("Some joint angles are left out where their keypoints are unreliable (low "
                   "confidence, a joint bent the impossible way or outside its physiological "
                   f"range); share of frames shown: {names}.")
    return out


def angle_label(key: str) -> str:
    """Words for an angle key (``'lelb_angle'`` -> ``'left elbow'``)."""
    if key == POSTURE_KEY:
        return "trunk lean"
    joint = {v: k for k, v in JOINT_PREFIX.items()}[key[1:4]]
    return f"{'left' if key[0] == 'l' else 'right'} {joint}"


def session_quality(summary: Summary, inp: CheckedInput, cl: CleanedKeypoints, g: SceneGeometry, e: DetectedEvents,
                    s: MeasuredStrides, mn: SessionMeans, tm: TimingJudgement, profile: RunnerProfile,
                    frame_size) -> Quality:
    """Stage 9: the quality flags (``SessionAnalysis.quality``): runner share, confidence,
    repairs, strides, view, gait, timing and capture rate, per-leg scale, which summary
    metrics are null and why (:func:`missing_metrics`), and the notes in ``reasons``."""
    reasons = [*g.reasons, *_angle_reasons(g.reliable_share, g.near, inp.joints), *s.reasons, *mn.reasons,
               *tm.reasons]
    if profile.weight_kg is None:
        reasons.append("Runner weight unknown: power in watts is not given (power per kg still is).")
    reasons.append(EVERSION_NOTE)
    reasons.append(PROXY_NOTE)
    missing = missing_metrics(summary, enough=mn.enough, has_steps=mn.has_steps, low_fps=tm.low_fps,
                              scale_ok=bool(math.isfinite(g.ppm) and g.ppm > 0),
                              weight_known=profile.weight_kg is not None, side_view=g.side_view)
    if not mn.enough:
        reasons.append(f"Short clip: the runner is seen for {inp.n_present / inp.eff_fps:.1f} s with "
                       f"{mn.n_steps} steps; stride statistics need {MIN_STRIDES} complete strides per side.")
    flight_frames = g.valid & ~(e.contact["left"] | e.contact["right"])
    cap = tm.capture
    return Quality(
        missing=missing, short_clip=not mn.enough,
        runner_share=inp.n_present / inp.xy.shape[0], mean_confidence=inp.mean_conf,
        swaps_repaired=cl.n_swaps, outliers_rejected=cl.n_outliers,
        strides_used=len(s.table) if mn.enough else 0,
        strides_left=mn.n_left, strides_right=mn.n_right, side_view=g.side_view,
        side_view_score=g.side_score, gait=tm.gait, implausible_timing=tm.implausible,
        suggested_capture_fps=tm.suggested_fps, estimated_capture_fps=cap["fps"],
        estimated_capture_fps_uncertainty=cap["fps_uncertainty"],
        capture_fps_flights=cap["flights"], mode=g.mode, default_height_used=g.default_h,
        flight_share=float(flight_frames.sum() / max(g.valid.sum(), 1)),
        fps_used=inp.eff_fps, frame_size=tuple(frame_size) if frame_size else None,
        px_per_m_left=g.side_ppm["left"], px_per_m_right=g.side_ppm["right"], near_leg=g.near,
        stance_speed_left_mps=s.foot_speed["left"], stance_speed_right_mps=s.foot_speed["right"],
        angle_shown_share={k: v for k, v in g.reliable_share.items() if k in angle_keys(inp.joints)},
        frame_time_s=1.0 / inp.eff_fps, joints=tuple(inp.joints),
        reasons=tuple(reasons),
    )
