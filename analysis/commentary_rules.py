"""The commentary's rules: the published reference ranges (each constant cites its source;
where the literature gives a typical range but no clinical cut-off, the thresholds are ours
and say so) and one assessment per quantity (value -> :class:`Finding`, with the advice a
coach would give).

Pure: numbers in, findings out. No I/O.
"""
from __future__ import annotations

from analysis.commentary_facts import Finding


# ---------------------------------------------------------------------------
# Reference ranges
# ---------------------------------------------------------------------------
#: Cadence (steps/min). Experienced/elite distance runners mostly run at
#: 170-180+ spm (Daniels 2005; Heiderscheit et al. 2011, Med Sci Sports Exerc
#: 43:296-302, who showed that +5-10 % step rate cuts hip and knee loading and
#: shortens the reach of the foot). Recreational runners at easy pace often sit
#: at 155-170. Thresholds below 160 / 170 and above 190 are ours.
CADENCE_TYPICAL = (170.0, 180.0)
CADENCE_LOW = 160.0
CADENCE_HIGH = 190.0
CADENCE_INCREASE = (0.05, 0.10)  # Heiderscheit 2011
#: Ground contact time (s). Recreational runners at 3-4 m/s: ~0.22-0.30 s;
#: elite distance runners ~0.16-0.20 s (Nummela et al. 2007, Eur J Appl Physiol
#: 101:417; Di Michele & Merni 2014, J Sports Sci 32:1229; Folland et al. 2017,
#: Med Sci Sports Exerc 49:1412). Above 0.30 s we call it long (ours).
CONTACT_TYPICAL = (0.20, 0.30)
#: Duty factor (contact / stride time): < 0.5 with a flight phase is running
#: (Alexander 1989); typical endurance running 0.30-0.40 (Folland 2017).
DUTY_RUNNING_MAX = 0.5
#: Ground-contact-time balance (% left). 49-51 % is the symmetric band used by
#: running-dynamics devices (Garmin Running Dynamics); asymmetries over ~2-3 %
#: are worth watching in runners returning from injury (Zifchock et al. 2008
#: symmetry-index work). Bands are ours above 51/below 49.
BALANCE_SYMMETRIC = (49.0, 51.0)
BALANCE_NOTABLE = 2.0  # % off 50 beyond which we call it a clear asymmetry (ours)
#: Trunk lean (deg forward of vertical). Typical endurance running ~2-10 deg;
#: a little forward lean moves load from knee to hip (Teng & Powers 2014, J Orthop
#: Sports Phys Ther 44:785; 2015, Med Sci Sports Exerc 47:625); > 15 deg is excessive (ours).
TRUNK_LEAN_TYPICAL = (2.0, 10.0)
TRUNK_LEAN_EXCESSIVE = 15.0
#: Contact angle (leg hip->ankle vs vertical at initial contact, ankle ahead).
#: Landing with the foot far ahead of the hip (overstriding) raises braking
#: forces and loading (Lieberman et al. 2015, J Exp Biol 218:3406; Heiderscheit
#: 2011). No published cut-off exists for this 2D angle: <= 15 compact,
#: 15-22 moderate, > 22 reaching are ours.
CONTACT_ANGLE_COMPACT = 15.0
CONTACT_ANGLE_REACHING = 22.0
#: Shank angle at initial contact (deg, + = ankle ahead of knee); near-vertical
#: shank (0-8 deg) at landing is the usual retraining target (Souza 2016, Phys
#: Med Rehabil Clin N Am 27:217; Wille et al. 2014, JOSPT 44:825).
SHANK_AT_IC_TARGET = (0.0, 8.0)
#: Peak stance knee flexion (deg): ~40-45 in running (Novacheck 1998, Gait
#: Posture 7:77). < 35 stiff, > 50 deep (ours).
KNEE_STANCE_TYPICAL = (35.0, 50.0)
#: Knee flexion at initial contact: ~15-25 deg (Novacheck 1998); < 10 nearly straight.
KNEE_AT_IC_TYPICAL = (10.0, 25.0)
#: Peak knee flexion in swing: ~90-130 deg at running speeds (Novacheck 1998);
#: 2D video of the far leg under-reads it, so we only comment below 75 deg.
KNEE_SWING_LOW = 75.0
#: Hip extension at toe-off (thigh behind the trunk line, deg): ~10-20 deg in
#: running (Novacheck 1998; Schache et al. 1999, Gait Posture 10:30), measured
#: here against the trunk line (a backward trunk adds to it). < 8 limited, > 25 large (ours).
HIP_EXT_TYPICAL = (8.0, 25.0)
#: Vertical oscillation of the pelvis (m): ~0.06-0.10 m typical (Moore 2016,
#: Sports Med 46:793; Folland 2017). > 0.10 bouncy (ours).
OSCILLATION_TYPICAL = (0.05, 0.10)
#: Left/right difference in a joint angle at the same phase worth mentioning (deg, ours).
ASYMMETRY_DEG = 5.0
#: Mean stride-to-stride SD of a joint curve above which a side is called variable (deg, ours).
VARIABILITY_DEG = 5.0

FOOTSTRIKE_NOTE = ("Most recreational runners land heel first (~75-90 %, Larson et al. 2011, J Sports Sci "
                   "29:1665); the strike pattern itself is not a fault, the reach of the foot is.")




# ---------------------------------------------------------------------------
# Assessments (one per quantity: value -> Finding)
# ---------------------------------------------------------------------------
def cadence_target(v: float, increase: float = CADENCE_INCREASE[0]) -> int:
    """Step rate (steps/min) ``increase`` above the cadence the text shows (``round(v)``):
    the one target every block names."""
    return round(round(v) * (1 + increase))


def assess_cadence(v: float | None) -> Finding:
    ref = f"{CADENCE_TYPICAL[0]:.0f}-{CADENCE_TYPICAL[1]:.0f} steps/min (Heiderscheit et al. 2011)"
    v = round(v) if v is not None else None  # judge the number the text shows
    if v is None:
        return Finding("cadence", "unknown", None, "steps/min", ref)
    lo, hi = cadence_target(v, CADENCE_INCREASE[0]), cadence_target(v, CADENCE_INCREASE[1])
    if v < CADENCE_LOW:
        return Finding("cadence", "low", v, "steps/min", ref,
                       f"raise step rate 5-10 % (about {lo}-{hi} steps/min) with a metronome on easy runs")
    if v < CADENCE_TYPICAL[0]:
        return Finding("cadence", "slightly_low", v, "steps/min", ref,
                       f"a 5 % increase (about {lo} steps/min) would shorten the reach of each step")
    if v > CADENCE_HIGH:
        return Finding("cadence", "high", v, "steps/min", ref,
                       "a very quick turnover is fine if it feels relaxed; check stride length is not cut short")
    return Finding("cadence", "typical", v, "steps/min", ref)


def assess_contact(v: float | None) -> Finding:
    ref = f"{CONTACT_TYPICAL[0]:.2f}-{CONTACT_TYPICAL[1]:.2f} s (Nummela 2007; Di Michele & Merni 2014)"
    v = round(v, 3) if v is not None else None  # judge the number the text shows
    if v is None:
        return Finding("contact_time", "unknown", None, "s", ref)
    if v > CONTACT_TYPICAL[1]:
        return Finding("contact_time", "high", v, "s", ref,
                       "quicker, lighter steps (cadence drills, skipping, pogo hops) shorten ground contact")
    if v < CONTACT_TYPICAL[0]:
        return Finding("contact_time", "low", v, "s", ref)
    return Finding("contact_time", "typical", v, "s", ref)


def assess_balance(v: float | None) -> Finding:
    ref = f"{BALANCE_SYMMETRIC[0]:.0f}-{BALANCE_SYMMETRIC[1]:.0f} % left (Garmin Running Dynamics band)"
    v = round(v, 1) if v is not None else None  # judge the number the text shows
    if v is None:
        return Finding("balance", "unknown", None, "% left", ref)
    if BALANCE_SYMMETRIC[0] <= v <= BALANCE_SYMMETRIC[1]:
        return Finding("balance", "typical", v, "% left", ref)
    longer = "left" if v > 50 else "right"
    status = "asymmetric" if abs(v - 50) > BALANCE_NOTABLE else "slightly_asymmetric"
    return Finding("balance", status, v, "% left", ref,
                   f"the {longer} foot stays down longer; single-leg strength work (step-downs, single-leg "
                   f"calf raises) on the other side and a check for old niggles on the {longer} side help")


def assess_contact_angle(v: float | None) -> Finding:
    ref = "leg vs vertical at landing; <= 15° compact, > 22° reaching (our bands; Lieberman 2015 on overstriding)"
    v = round(v, 1) if v is not None else None  # judge the number the text shows
    if v is None:
        return Finding("contact_angle", "unknown", None, "deg", ref)
    if v > CONTACT_ANGLE_REACHING:
        return Finding("contact_angle", "high", v, "deg", ref,
                       "land with the foot closer under the hip: a 5-10 % higher cadence and 'quiet feet' cues shorten the reach")
    if v > CONTACT_ANGLE_COMPACT:
        return Finding("contact_angle", "moderate", v, "deg", ref)
    return Finding("contact_angle", "typical", v, "deg", ref)


def assess_trunk(v: float | None) -> Finding:
    ref = f"{TRUNK_LEAN_TYPICAL[0]:.0f}-{TRUNK_LEAN_TYPICAL[1]:.0f}° forward (Teng & Powers 2014)"
    v = round(v, 1) if v is not None else None  # judge the number the text shows
    if v is None:
        return Finding("trunk_lean", "unknown", None, "deg", ref)
    if v > TRUNK_LEAN_EXCESSIVE:
        return Finding("trunk_lean", "high", v, "deg", ref,
                       "run taller: lean from the ankles, not the waist; core and hip-extensor strength help")
    if v < TRUNK_LEAN_TYPICAL[0]:
        return Finding("trunk_lean", "low", v, "deg", ref,
                       "a slight forward lean from the ankles (about 5°) shares load from the knees to the hips")
    if v > TRUNK_LEAN_TYPICAL[1]:
        return Finding("trunk_lean", "slightly_high", v, "deg", ref, "keep the lean from the ankles, chest up")
    return Finding("trunk_lean", "typical", v, "deg", ref)


def assess_knee_stance(v: float | None) -> Finding:
    ref = "about 40-45° (Novacheck 1998)"
    v = round(v) if v is not None else None  # judge the number the text shows
    if v is None:
        return Finding("knee_flexion", "unknown", None, "deg", ref)
    if v < KNEE_STANCE_TYPICAL[0]:
        return Finding("knee_flexion", "low", v, "deg", ref,
                       "a stiff-legged stance passes more shock upward; let the knee give a little more on landing")
    if v > KNEE_STANCE_TYPICAL[1]:
        return Finding("knee_flexion", "high", v, "deg", ref,
                       "a deep knee bend in stance ('sitting') costs quadriceps work; hip and quad strength "
                       "(split squats, step-ups) and a slightly quicker cadence help")
    return Finding("knee_flexion", "typical", v, "deg", ref)


def assess_hip_extension(v: float | None) -> Finding:
    ref = "about 10-20° (Novacheck 1998; Schache 1999)"
    v = round(v) if v is not None else None  # judge the number the text shows
    if v is None:
        return Finding("hip_extension", "unknown", None, "deg", ref)
    if v < HIP_EXT_TYPICAL[0]:
        return Finding("hip_extension", "low", v, "deg", ref,
                       "limited push-off: hip-flexor mobility (kneeling lunge stretch) and glute activation "
                       "(bridges, A-skips) open the hip behind you")
    if v > HIP_EXT_TYPICAL[1]:
        return Finding("hip_extension", "high", v, "deg", ref,
                       "a big extension is fine if it comes from the hip; make sure the lower back is not arching to get it")
    return Finding("hip_extension", "typical", v, "deg", ref)


def assess_oscillation(v: float | None) -> Finding:
    ref = f"{OSCILLATION_TYPICAL[0] * 100:.0f}-{OSCILLATION_TYPICAL[1] * 100:.0f} cm (Moore 2016)"
    v = round(v, 3) if v is not None else None  # judge the number the text shows
    if v is None:
        return Finding("vertical_oscillation", "unknown", None, "m", ref)
    if v > OSCILLATION_TYPICAL[1]:
        return Finding("vertical_oscillation", "high", v, "m", ref,
                       "a bouncy stride wastes energy upward; think 'run forward, not up', slightly quicker steps")
    return Finding("vertical_oscillation", "typical", v, "m", ref)


def assess_shank(v: float | None) -> Finding:
    ref = f"shank {SHANK_AT_IC_TARGET[0]:.0f}-{SHANK_AT_IC_TARGET[1]:.0f}° ahead of vertical at landing (Souza 2016; Wille 2014); proxy: COCO-17 has no heel/toe"
    v = round(v) if v is not None else None  # judge the number the text shows
    if v is None:
        return Finding("shank_at_strike", "unknown", None, "deg", ref)
    if v > SHANK_AT_IC_TARGET[1]:
        return Finding("shank_at_strike", "high", v, "deg", ref,
                       "the shin points forward at landing: aim to land with the shin closer to vertical, foot under the knee")
    if v < SHANK_AT_IC_TARGET[0]:
        return Finding("shank_at_strike", "low", v, "deg", ref)
    return Finding("shank_at_strike", "typical", v, "deg", ref)
