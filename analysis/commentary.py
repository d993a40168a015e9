"""Rule-based coaching commentary: deterministic, offline, grounded in the session's numbers.

Every text names the session's own values (in the requested units), compares
them with a published reference range, and gives advice only where the metric
supports it; a null metric yields "could not be assessed" with the reason.
Each block also returns its structured :class:`Finding` list, which the
optional LLM engine (``tasks/llm.py``) is given as ground truth.

Blocks (the thread endpoints of the running-sessions API):

* summary (``measurement_system`` metric|imperial): performance, mechanics,
  balance_posture, distance_duration, overall (the API's threads name them after its
  summary document's blocks)
* form: contact_angle, push_angle, knee_ankle, general_form_recommendation
* recommendation (gait): {left,right}_{posture,hip,knee,ankle}_angle

Split by job: the session's numbers and the returned types in
:mod:`analysis.commentary_facts`, the reference ranges (each constant cites its
source; where the literature gives a typical range but no clinical cut-off, the
thresholds are ours and say so) and one assessment per quantity in
:mod:`analysis.commentary_rules`; the text of every block here. Advice is phrased
as a coach would ("consider", "try"), never as a diagnosis.

Pure: numbers and dicts in, text out. No I/O.
"""
from __future__ import annotations

from typing import Iterable

from analysis.commentary_facts import Comment, Finding, SessionFacts, Units, as_number
from analysis.commentary_rules import (ASYMMETRY_DEG, DUTY_RUNNING_MAX, FOOTSTRIKE_NOTE, KNEE_AT_IC_TYPICAL,
                                       KNEE_SWING_LOW, SHANK_AT_IC_TARGET, VARIABILITY_DEG, assess_balance,
                                       assess_cadence, assess_contact, assess_contact_angle, assess_hip_extension,
                                       assess_knee_stance, assess_oscillation, assess_shank, assess_trunk,
                                       cadence_target)
from analysis.vocabulary import (FORM_THREAD_BLOCKS, GAIT_THREAD_BLOCKS, SIDES, SUMMARY_TOPICS, THREAD_BLOCKS,
                                 angle_key)

__all__ = [
    "SUMMARY_BLOCKS", "FORM_BLOCKS", "GAIT_BLOCKS", "KINDS", "Comment", "Finding", "SessionFacts",
    "Units", "cadence_target", "comment", "comments_for", "blocks_of",
]

SUMMARY_BLOCKS = SUMMARY_TOPICS
FORM_BLOCKS = FORM_THREAD_BLOCKS
GAIT_BLOCKS = GAIT_THREAD_BLOCKS
KINDS = THREAD_BLOCKS


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{x:.1f} %"


def _join(parts: Iterable[str]) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def _cant(what: str, facts: SessionFacts) -> str:
    return f"{what} could not be assessed in this recording. {facts.why_missing()}"


def _cant_joint(what: str, joint: str, facts: SessionFacts) -> str:
    """Why an angle of ``joint`` is missing: not selected at upload, or :func:`_cant`'s reason."""
    if facts.selected(joint):
        return _cant(what, facts)
    chosen = ", ".join(facts.quality.selected_joints()) or "none"
    return f"{what} was not measured: the {joint} was not selected for this session (selected: {chosen})."


# ---------------------------------------------------------------------------
# Summary blocks
# ---------------------------------------------------------------------------
def _performance(f: SessionFacts, u: Units) -> Comment:
    speed, pace, cad = f.get("speed_mps"), f.get("pace_min_per_km"), f.get("cadence_spm")
    power, npower = f.get("power_w"), f.get("normalized_power_w_per_kg")
    cf = assess_cadence(cad)
    parts, findings = [], [cf]
    if speed is not None:
        s = f"You ran at {u.speed(speed)}"
        s += f", a pace of {u.pace(pace)}." if pace is not None else "."
        if "speed_mps" in f.spread:
            lo, hi = f.spread["speed_mps"]
            if hi - lo > 0.15 * speed:
                s += (f" Speed measured stride by stride ranged from {u.speed(lo)} to {u.speed(hi)}; on a treadmill "
                      "that swing comes from the foot speeding up and slowing down within each step, not from the belt.")
        parts.append(s)
        findings.append(Finding("speed", "info", speed, "m/s"))
    else:
        parts.append(_cant("Speed", f))
    if cad is not None:
        s = f"Your cadence averaged {cad:.0f} steps/min"
        if cf.status == "typical":
            s += f", right in the {cf.reference} that experienced runners typically use — keep it."
        elif cf.status in ("low", "slightly_low"):
            s += (f", {'just ' if cf.status == 'slightly_low' else ''}below the {cf.reference} that experienced runners typically use. Research shows that raising step rate by 5-10 % reduces "
                  f"loading at the knee and hip; {cf.advice}.")
        else:
            s += f", above the usual {cf.reference}; {cf.advice}."
        if "cadence_spm" in f.spread:
            lo, hi = f.spread["cadence_spm"]
            if hi - lo > 15:
                s += (f" Step to step it varied from {lo:.0f} to {hi:.0f} steps/min, partly the ±1-frame timing "
                      "resolution of the video, partly an uneven rhythm.")
        parts.append(s)
    else:
        parts.append(_cant("Cadence", f))
    if power is not None:
        s = f"Estimated metabolic power was {power:.0f} W"
        s += f" ({npower:.1f} W/kg)." if npower is not None else "."
        parts.append(s + " That is the energy cost of running at this speed and incline (Minetti et al. 2002), "
                         "not mechanical power at the pedals of a bike; it tracks speed.")
        findings.append(Finding("power", "info", power, "W"))
    elif npower is not None:
        parts.append(f"Estimated metabolic power was {npower:.1f} W/kg (add your weight for watts).")
    return Comment("summary", "performance", _join(parts), tuple(findings), u.system)


def _mechanics(f: SessionFacts, u: Units) -> Comment:
    ct, ft, st, sl = (f.get(k) for k in ("contact_time_s", "flight_time_s", "stride_time_s", "stride_length_m"))
    fc = assess_contact(ct)
    findings = [fc]
    parts = []
    if ct is None:
        parts.append(_cant("Ground contact time", f))
    else:
        s = f"Each foot stayed on the ground for {u.ms(ct)} on average"
        if fc.status == "typical":
            s += f", within the typical range for recreational runners, {fc.reference}."
        elif fc.status == "high":
            s += f", longer than the typical range for recreational runners, {fc.reference}: {fc.advice}."
        else:
            s += f", shorter than most recreational runners ({fc.reference}) — a quick, reactive contact."
        parts.append(s)
    if ft is not None:
        parts.append(f"Flight time was {u.ms(ft)} between steps.")
    duty = f.get("duty_factor")
    if duty is not None and st is not None:
        findings.append(Finding("duty_factor", "typical" if duty <= 0.40 else "info" if duty < DUTY_RUNNING_MAX
                                else "high", duty, ""))
        if duty >= DUTY_RUNNING_MAX:
            parts.append(f"Contact takes {duty:.0%} of the stride, more than the 50 % that separates running "
                         "from walking (Alexander 1989): the stride has little or no flight.")
        else:
            parts.append(f"Contact takes {duty:.0%} of each {st:.2f} s stride (duty factor; endurance running "
                         "is typically 30-40 %, Folland 2017)"
                         + (", so a lot of each stride is spent on the ground." if duty > 0.40 else "."))
    if sl is not None:
        s = f"Stride length (same foot to same foot) was {u.length(sl)}"
        h = as_number(f.profile.get("height_cm"))
        if h:
            s += f", {sl / (h / 100):.2f} times your height"
        parts.append(s + ". Speed is cadence times step length, so any cadence increase at the same speed "
                         "naturally shortens it a little — that is the goal, not a loss.")
    fs = f.metrics.get("footstrike")
    if isinstance(fs, str) and fs:
        parts.append(f"The foot-strike estimate (from the shin angle at landing, a proxy) is {fs}. {FOOTSTRIKE_NOTE}")
    return Comment("summary", "mechanics", _join(parts), tuple(findings), u.system)


def _balance_posture(f: SessionFacts, u: Units) -> Comment:
    bal, ca, lean = f.get("balance_pct"), f.get("contact_angle_deg"), f.get("posture_angle_deg")
    fb, fa, ft = assess_balance(bal), assess_contact_angle(ca), assess_trunk(lean)
    parts = []
    if bal is None:
        parts.append(_cant("Left/right balance", f))
    elif fb.status == "typical":
        parts.append(f"Your ground-contact balance was {_pct(bal)} left / {_pct(100 - bal)} right, inside the "
                     f"{fb.reference}: both legs share the work evenly.")
    else:
        parts.append(f"Your ground-contact balance was {_pct(bal)} left / {_pct(100 - bal)} right, outside the "
                     f"{fb.reference}: {fb.advice}.")
    if ca is None:
        parts.append(_cant("The contact angle", f))
    else:
        s = f"At landing your leg was {ca:.1f}° from vertical (hip to ankle)"
        if fa.status == "high":
            s += f", which means the foot lands well ahead of the hip (overstriding); {fa.advice}."
        elif fa.status == "moderate":
            s += ", a moderate reach in front of the body; keep an eye on it as you speed up."
        else:
            s += ", a compact landing with the foot close under the body."
        parts.append(s)
    if lean is None:
        parts.append(_cant("Trunk lean", f))
    else:
        s = f"Your trunk leaned {lean:+.1f}° from vertical (+ = forward)"
        if ft.status == "typical":
            s += f", within the typical {ft.reference}."
        elif ft.status == "low":
            s += f", very upright or slightly back compared with the usual {ft.reference}; {ft.advice}."
        else:
            s += f", more than the usual {ft.reference}; {ft.advice}."
        parts.append(s)
    return Comment("summary", "balance_posture", _join(parts), (fb, fa, ft), u.system)


def _distance_duration(f: SessionFacts, u: Units) -> Comment:
    d, t = f.get("total_distance_m"), f.get("total_time_s")
    n_left, n_right = f.quality.strides_left, f.quality.strides_right
    if t is None:
        return Comment("summary", "distance_duration", _cant("Distance and duration", f),
                       (Finding("duration", "unknown"),), u.system)
    s = f"The analysed recording covers {u.duration(t)}"
    s += f" and {u.distance(d)} at the measured speed" if d is not None else ""
    s += (f" ({n_left} complete left and {n_right} complete right strides)."
          if f.quality.strides_used and n_left is not None and n_right is not None else ".")
    if t < 60:
        s += (" That is a short snapshot: it describes your form at this moment well, but says nothing about "
              "how it holds up with fatigue. Film again near the end of a longer run to compare.")
    elif t < 600:
        s += " Long enough for stable averages; for fatigue effects compare a clip from the end of a run."
    else:
        s += " A long recording: compare its first and last minutes to see how form changes with fatigue."
    return Comment("summary", "distance_duration", s, (Finding("duration", "info", t, "s"),), u.system)


SEVERITY = {"high": 3, "low": 3, "asymmetric": 3, "slightly_low": 2, "slightly_high": 2,
            "slightly_asymmetric": 1, "moderate": 1}


def _priorities(findings: Iterable[Finding]) -> list[Finding]:
    fs = [x for x in findings if x.advice and x.status in SEVERITY]
    return sorted(fs, key=lambda x: -SEVERITY[x.status])


def _final(f: SessionFacts, u: Units) -> Comment:
    blocks = [_performance(f, u), _mechanics(f, u), _balance_posture(f, u)]
    findings = [x for c in blocks for x in c.findings]
    findings += [assess_knee_stance(f.get("knee_flexion_deg")), assess_oscillation(f.get("com_oscillation_m"))]
    known = [x for x in findings if x.status != "unknown" and x.value is not None]
    if not known:
        return Comment("summary", "overall", _cant("Your running form", f), tuple(findings), u.system)
    names = {"cadence": "cadence", "contact_time": "ground contact time", "balance": "left/right balance",
             "contact_angle": "landing position", "trunk_lean": "trunk posture", "knee_flexion": "knee bend in stance",
             "vertical_oscillation": "vertical bounce", "duty_factor": "time on the ground"}
    good = [names[x.topic] for x in known if x.status == "typical" and x.topic in names]
    prio = _priorities(known)
    parts = []
    spd, cad = f.get("speed_mps"), f.get("cadence_spm")
    lead = "Overall"
    if spd is not None:
        lead += f", at {u.speed(spd)}"
    if cad is not None:
        lead += f" and {cad:.0f} steps/min"
    if good:
        parts.append(f"{lead}, your strengths are your {', '.join(good[:-1]) + ' and ' + good[-1] if len(good) > 1 else good[0]}.")
    else:
        parts.append(f"{lead}, there is room to work on several parts of your form.")
    if prio:
        top = prio[:2]
        items = []
        for x in top:
            val = (f"{x.value:.0f} steps/min" if x.topic == "cadence" else
                   u.ms(x.value) if x.topic == "contact_time" else
                   f"{x.value:.1f} % left" if x.topic == "balance" else
                   u.small(x.value) if x.topic == "vertical_oscillation" else f"{x.value:.0f}°")
            items.append(f"{names.get(x.topic, x.topic)} ({val}): {x.advice}")
        parts.append("The most useful thing to work on is " + items[0] + "."
                     + (f" Next, {items[1]}." if len(items) > 1 else ""))
        parts.append("Change one thing at a time, on easy runs, and re-film in 4-6 weeks to compare.")
    else:
        parts.append("Nothing measured here stands out against the reference ranges; keep training consistently "
                     "and re-film every couple of months to catch changes early.")
    return Comment("summary", "overall", _join(parts), tuple(findings), u.system)


# ---------------------------------------------------------------------------
# Form blocks
# ---------------------------------------------------------------------------
def _best_side(f: SessionFacts) -> str | None:
    for joint in ("hip", "knee"):
        for s in SIDES:
            if f.curve(s, angle_key(s, joint)) is not None:
                return s
    return None


def _hip_extension(f: SessionFacts, side: str) -> float | None:
    """Hip extension at toe-off (deg, + = thigh behind the trunk line)."""
    v = f.at_phase(side, angle_key(side, "hip"), "takeoff")
    return -v if v is not None else None


def _form_contact(f: SessionFacts, u: Units) -> Comment:
    ca, shank, cad = f.get("contact_angle_deg"), f.get("ankle_angle_deg"), f.get("cadence_spm")
    fa, fs = assess_contact_angle(ca), assess_shank(shank)
    if ca is None:
        return Comment("form", "contact_angle", _cant("The contact angle", f), (fa,), u.system)
    parts = [f"Your leg meets the ground at {ca:.1f}° from vertical (hip to ankle, averaged over all landings)."]
    if "contact_angle_deg" in f.spread:
        lo, hi = f.spread["contact_angle_deg"]
        parts.append(f"Landing to landing it ranged from {lo:.0f}° to {hi:.0f}°.")
    if fa.status == "high":
        parts.append("That is a long reach in front of the body: the foot lands ahead of the hip and acts as a brake "
                     "each step (Lieberman et al. 2015).")
        if cad is not None:
            parts.append(f"The simplest fix is cadence: at {cad:.0f} steps/min, stepping about 5 % quicker "
                         f"({cadence_target(cad)} steps/min) pulls the landing back under you (Heiderscheit et al. 2011).")
        parts.append("Cue: 'land under your hips, push the ground behind you'.")
    elif fa.status == "moderate":
        parts.append("That is a moderate reach, typical of easy running; it should not grow as you speed up.")
    else:
        parts.append("That is a compact landing close under the body — good.")
    if shank is not None:
        parts.append(f"Your shin was {shank:+.0f}° from vertical at landing (+ = foot ahead of the knee; a proxy since "
                     f"the model sees no heel or toe)"
                     + ("; a shin closer to vertical usually goes with a softer landing." if fs.status == "high" else "."))
    return Comment("form", "contact_angle", _join(parts), (fa, fs), u.system)


def _form_push(f: SessionFacts, u: Units) -> Comment:
    sides = {s: _hip_extension(f, s) for s in SIDES}
    known = {s: v for s, v in sides.items() if v is not None}
    if not known:
        return Comment("form", "push_angle", _cant_joint("Hip extension at toe-off (push angle)", "hip", f),
                       (Finding("hip_extension", "unknown"),), u.system)
    mean = sum(known.values()) / len(known)
    fh = assess_hip_extension(mean)
    parts = ["At toe-off your thigh extends "
             + " and ".join(f"{v:.0f}° ({s})" for s, v in known.items())
             + " behind the line of your trunk."]
    if fh.status == "typical":
        parts.append(f"That is a good, full push-off; typical at toe-off is {fh.reference}.")
    else:
        parts.append(f"Typical at toe-off is {fh.reference}; {fh.advice}.")
    findings = [fh]
    if len(known) == 2 and abs(known["left"] - known["right"]) > ASYMMETRY_DEG:
        more = max(known, key=known.get)
        less = "right" if more == "left" else "left"
        parts.append(f"The {more} hip extends {abs(known['left'] - known['right']):.0f}° more than the {less}: "
                     f"hip-flexor mobility and glute work on the {less} side can even it out.")
        findings.append(Finding("hip_extension_asymmetry", "asymmetric", abs(known["left"] - known["right"]), "deg"))
    sa = f.get("stride_angle_deg")
    if sa is not None:
        parts.append(f"The largest angle between your thighs in a stride was {sa:.0f}°.")
    return Comment("form", "push_angle", _join(parts), tuple(findings), u.system)


def _form_knee_ankle(f: SessionFacts, u: Units) -> Comment:
    kf, shank, lean = f.get("knee_flexion_deg"), f.get("ankle_angle_deg"), f.get("posture_angle_deg")
    fk, fs, ft = assess_knee_stance(kf), assess_shank(shank), assess_trunk(lean)
    parts = []
    side = _best_side(f)
    k_ic = f.at_phase(side, angle_key(side, "knee"), "strike") if side else None
    if k_ic is not None:
        parts.append(f"At landing your {side} knee was bent {k_ic:.0f}°"
                     + (" — nearly straight, which with a long reach sends the impact up the leg; let the knee be "
                        "softer at touchdown." if k_ic < KNEE_AT_IC_TYPICAL[0] else
                        " — a soft, ready knee (about 15-25° is typical, Novacheck 1998)."
                        if k_ic <= KNEE_AT_IC_TYPICAL[1] else " — already well bent at touchdown."))
    if kf is None:
        parts.append(_cant("Knee flexion in stance", f))
    else:
        s = f"It then bends to {kf:.0f}° at mid-stance"
        s += (f", close to the typical peak of {fk.reference}." if fk.status == "typical"
              else f", {'more' if fk.status == 'high' else 'less'} than the typical peak of {fk.reference}; {fk.advice}.")
        parts.append(s)
    if shank is not None:
        parts.append(f"Your shin was {shank:+.0f}° from vertical at landing (ankle proxy)"
                     + (f"; {fs.advice}." if fs.advice else ", close to the vertical-shin target."))
    if lean is not None:
        parts.append(f"Trunk lean averaged {lean:+.1f}°" + (f"; {ft.advice}." if ft.advice else ", a good posture."))
    if not parts:
        parts.append(_cant("Knee and ankle position", f))
    return Comment("form", "knee_ankle", _join(parts), (fk, fs, ft), u.system)


def _form_general(f: SessionFacts, u: Units) -> Comment:
    blocks = [_form_contact(f, u), _form_push(f, u), _form_knee_ankle(f, u)]
    findings = [x for c in blocks for x in c.findings] + [assess_cadence(f.get("cadence_spm"))]
    known = [x for x in findings if x.status != "unknown"]
    if not known:
        return Comment("form", "general_form_recommendation", _cant("Your running form", f), tuple(findings), u.system)
    prio = _priorities(known)
    seen, items = set(), []
    for x in prio:
        if x.topic in seen:
            continue
        seen.add(x.topic)
        items.append(x.advice)
    if items:
        parts = ["Priorities for your form, most useful first: "
                 + "; ".join(f"({i + 1}) {a}" for i, a in enumerate(items[:3])) + "."]
        if any(x.topic in ("contact_angle", "cadence") for x in prio[:2]):
            parts.append("Cadence and landing position are linked: work on cadence first, the landing usually follows.")
        parts.append("Practise one cue at a time on easy runs or strides, and re-film in 4-6 weeks.")
    else:
        parts = ["Your landing, push-off and knee and trunk positions are all within typical ranges. "
                 "Keep building volume gradually and add strides or hill sprints to maintain this form."]
    return Comment("form", "general_form_recommendation", _join(parts), tuple(findings), u.system)


# ---------------------------------------------------------------------------
# Gait (joint) blocks
# ---------------------------------------------------------------------------
def _asym(f: SessionFacts, side: str, key_of, phase: str) -> float | None:
    other = "right" if side == "left" else "left"
    a, b = f.at_phase(side, key_of(side), phase), f.at_phase(other, key_of(other), phase)
    return None if a is None or b is None else a - b


def _gait_block(f: SessionFacts, u: Units, side: str, joint: str) -> Comment:
    block = f"{side}_{joint}_angle"

    def key_of(s: str) -> str:
        return angle_key(s, joint)

    key = key_of(side)
    cur = f.curve(side, key)
    if cur is None:
        return Comment("recommendation", block, _cant_joint(f"The {side} {joint} angle", joint, f),
                       (Finding(block, "unknown"),), u.system)
    at = {ph: f.at_phase(side, key, ph) for ph in ("strike", "mid_stance", "takeoff")}
    sd = f.curve_sd(side, key)
    parts, findings = [], []
    if joint == "posture":
        mean = sum(cur) / len(cur)
        ft = assess_trunk(mean)
        findings.append(ft)
        parts.append(f"Over your {side} strides the trunk leaned {mean:+.1f}° on average (+ = forward), moving "
                     f"between {min(cur):+.0f}° and {max(cur):+.0f}° within the stride.")
        parts.append(f"Typical is {ft.reference}." + (f" {ft.advice[0].upper() + ft.advice[1:]}." if ft.advice else
                                                      " Good, stable posture."))
        if max(cur) - min(cur) > 10:
            parts.append("The trunk rocks quite a lot within each stride; core stability work (planks, dead bugs) helps hold it.")
    elif joint == "hip":
        ext = -min(cur)
        fh = assess_hip_extension(-at["takeoff"] if at["takeoff"] is not None else None)
        findings.append(fh)
        parts.append(f"Your {side} hip is flexed {at['strike']:.0f}° at landing and extends to "
                     f"{-at['takeoff']:.0f}° behind the trunk line at toe-off (peak extension {ext:.0f}°, "
                     f"peak flexion {max(cur):.0f}°; range {max(cur) - min(cur):.0f}°).")
        parts.append(f"Typical extension at toe-off is {fh.reference}."
                     + (f" {fh.advice[0].upper() + fh.advice[1:]}." if fh.advice else " A full push-off."))
    elif joint == "knee":
        to_i = f.phase_index(side, "takeoff") or 0
        swing = max(cur[to_i:]) if to_i < len(cur) else None
        fk = assess_knee_stance(at["mid_stance"])
        findings.append(fk)
        parts.append(f"Your {side} knee lands bent {at['strike']:.0f}°, flexes to {at['mid_stance']:.0f}° at "
                     f"mid-stance and extends to {at['takeoff']:.0f}° at toe-off.")
        parts.append(f"Peak stance flexion is typically {fk.reference}."
                     + (f" {fk.advice[0].upper() + fk.advice[1:]}." if fk.advice else " Good shock absorption."))
        if swing is not None:
            if swing < KNEE_SWING_LOW:
                parts.append(f"In swing it folds to only {swing:.0f}° (often 90° or more at running speed, Novacheck "
                             "1998; side-view video can under-read the far leg): a quicker heel recovery toward the "
                             "glutes shortens the leg's pendulum and makes turnover easier.")
                findings.append(Finding("knee_swing_flexion", "low", swing, "deg",
                                        "often > 90° (Novacheck 1998)", "quicker heel recovery"))
            else:
                parts.append(f"In swing it folds to {swing:.0f}°, a good heel recovery.")
    else:  # ankle (shank proxy)
        fs = assess_shank(at["strike"])
        findings.append(fs)
        parts.append(f"Your {side} shin is {at['strike']:+.0f}° from vertical at landing and {at['takeoff']:+.0f}° "
                     "at toe-off (+ = foot ahead of the knee). COCO-17 keypoints have no heel or toe, so this "
                     "shank angle stands in for the ankle.")
        parts.append(f"Target at landing: shin {SHANK_AT_IC_TARGET[0]:.0f}-{SHANK_AT_IC_TARGET[1]:.0f}° ahead of vertical (Souza 2016; Wille 2014)."
                     + (f" {fs.advice[0].upper() + fs.advice[1:]}." if fs.advice else " You land with the shin near vertical — good."))
    more_parts, more_findings = _symmetry_and_consistency(f, side, joint, key_of, sd)
    parts += more_parts
    findings += more_findings
    return Comment("recommendation", block, _join(parts), tuple(findings), u.system)


def _symmetry_and_consistency(f: SessionFacts, side: str, joint: str, key_of, sd: float | None
                              ) -> tuple[list[str], list[Finding]]:
    """Sentences and findings on one joint's left/right symmetry at its phase (not for posture)
    and its stride-to-stride consistency (``sd``: the curve's SD across strides, deg)."""
    other = "right" if side == "left" else "left"
    parts, findings = [], []
    if joint != "posture":
        d = _asym(f, side, key_of, "mid_stance" if joint == "knee" else "takeoff" if joint == "hip" else "strike")
        ph = "mid-stance" if joint == "knee" else "toe-off" if joint == "hip" else "landing"
        if joint == "hip" and d is not None:
            d = -d  # compare extensions
        if d is not None and abs(d) > ASYMMETRY_DEG:
            what = "extends" if joint == "hip" else "reads"
            parts.append(f"At {ph} it {what} {abs(d):.0f}° {'more' if d > 0 else 'less'} than your {other} side; "
                         "a difference this size is worth watching.")
            findings.append(Finding(f"{joint}_asymmetry", "asymmetric", d, "deg"))
        elif d is not None:
            close = "to within a degree" if round(abs(d)) < 1 else f"within {abs(d):.0f}°"
            parts.append(f"It matches your {other} side {close} at {ph}.")
    if sd is not None:
        if sd > VARIABILITY_DEG:
            parts.append(f"Stride to stride it varies by about {sd:.0f}° (SD), which is uneven; steady, relaxed "
                         "running at a set pace usually smooths it.")
            findings.append(Finding(f"{joint}_variability", "variable", sd, "deg"))
        else:
            parts.append(f"It repeats consistently from stride to stride (SD about {sd:.0f}°).")
    return parts, findings


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------
_SUMMARY = {"performance": _performance, "mechanics": _mechanics, "balance_posture": _balance_posture,
            "distance_duration": _distance_duration, "overall": _final}
_FORM = {"contact_angle": _form_contact, "push_angle": _form_push, "knee_ankle": _form_knee_ankle,
         "general_form_recommendation": _form_general}


def blocks_of(kind: str) -> tuple[str, ...]:
    if kind not in KINDS:
        raise ValueError(f"unknown commentary kind {kind!r}; use one of {sorted(KINDS)}")
    return KINDS[kind]


def comment(kind: str, block: str, facts: SessionFacts, measurement_system: str = "metric") -> Comment:
    """The rule engine's comment for one block of one session."""
    u = Units(measurement_system)
    if block not in blocks_of(kind):
        raise ValueError(f"unknown {kind} block {block!r}")
    if kind == "summary":
        return _SUMMARY[block](facts, u)
    if kind == "form":
        return _FORM[block](facts, u)
    side, joint, _ = block.split("_")
    return _gait_block(facts, u, side, joint)


def comments_for(kind: str, facts: SessionFacts, measurement_system: str = "metric") -> dict[str, Comment]:
    """Every block of ``kind``."""
    return {b: comment(kind, b, facts, measurement_system) for b in blocks_of(kind)}
