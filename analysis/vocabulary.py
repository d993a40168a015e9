"""The names gaitlake's outputs share: joints, angle keys, sides, gait phases, form images and
commentary thread blocks, and the one parser of a joint selection.

Every module that names one of these imports it from here (the engine, the commentary, the
lake tables, the API, the renderer), so a name changes in one place. Pure: no I/O.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "FORM_IMAGES", "FORM_THREAD_BLOCKS", "GAIT_PHASES", "GAIT_THREAD_BLOCKS", "JOINTS", "JOINT_PREFIX",
    "ANGLE_KEYS", "POSTURE_KEY", "SIDES", "SUMMARY_TOPICS", "THREAD_BLOCKS",
    "UnknownJointError", "angle_key", "joint_selected", "joints_text", "parse_joints", "selected_joints",
]

#: Joints whose angles the engine measures, in the order their series are reported.
JOINTS: tuple[str, ...] = ("shoulder", "elbow", "hip", "knee", "ankle")
#: The three-letter code of each joint in angle keys (``lkne_angle``).
JOINT_PREFIX: dict[str, str] = {"shoulder": "sho", "elbow": "elb", "hip": "hip", "knee": "kne", "ankle": "ank"}
SIDES: tuple[str, ...] = ("left", "right")
#: The trunk-lean series, reported with every joint selection.
POSTURE_KEY = "posture_angle"
#: Phases of the gait-analysis report, in stride order (docs/analysis.md "Gait-analysis report").
GAIT_PHASES: tuple[str, ...] = ("strike", "mid_stance", "takeoff", "flight", "new_strike")
#: Form-analysis snapshots, one per form block.
FORM_IMAGES: tuple[str, ...] = ("contact_angle", "push_angle", "knee_ankle")
#: Topics of the summary commentary: performance, running mechanics, balance and posture,
#: distance and duration, and an overall verdict. The API names their threads after its
#: summary document's blocks (``api.documents.THREAD_TOPICS`` maps them).
SUMMARY_TOPICS: tuple[str, ...] = ("performance", "mechanics", "balance_posture", "distance_duration", "overall")
#: Form and gait commentary blocks: the form images and joint angles they discuss (the API's
#: thread blocks of those kinds bear the same names).
FORM_THREAD_BLOCKS: tuple[str, ...] = FORM_IMAGES + ("general_form_recommendation",)
GAIT_THREAD_BLOCKS: tuple[str, ...] = tuple(f"{side}_{joint}_angle" for side in SIDES
                                            for joint in ("posture", "hip", "knee", "ankle"))
#: The commentary's blocks of each thread kind.
THREAD_BLOCKS: dict[str, tuple[str, ...]] = {"summary": SUMMARY_TOPICS, "form": FORM_THREAD_BLOCKS,
                                             "recommendation": GAIT_THREAD_BLOCKS}


def angle_key(side: str, joint: str) -> str:
    """The angle series of one side's joint (``('left', 'knee')`` -> ``'lkne_angle'``);
    ``joint='posture'`` is the trunk, which has no side."""
    if joint == "posture":
        return POSTURE_KEY
    return f"{side[0]}{JOINT_PREFIX[joint]}_angle"


#: Every angle series the engine reports: posture, then each joint's left and right.
ANGLE_KEYS: tuple[str, ...] = (POSTURE_KEY,) + tuple(angle_key(side, j) for j in JOINTS for side in SIDES)


class UnknownJointError(ValueError):
    """A joint selection names something that is not a joint; the message lists what."""

    def __init__(self, unknown: list[str]):
        self.unknown = sorted(set(unknown))
        super().__init__(f"unknown joint(s): {', '.join(self.unknown)[:200]}; "
                         f"choose from {', '.join(JOINTS)} or all")


def parse_joints(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """The joints a selection names, in :data:`JOINTS` order.

    ``value`` is comma-separated text (``"knee, Hip"``; quotes and brackets around names,
    as a JSON-ish list, are tolerated) or names; ``None``, blank or one ``all`` selects
    every joint. Raises :class:`UnknownJointError` for anything else.
    """
    if value is None:
        return JOINTS
    parts = value.split(",") if isinstance(value, str) else list(value)
    names = [str(p).strip().strip("'\"[]").strip().lower() for p in parts]
    names = [n for n in names if n]
    if not names or "all" in names:
        return JOINTS
    unknown = [n for n in names if n not in JOINT_PREFIX]
    if unknown:
        raise UnknownJointError(unknown)
    return tuple(j for j in JOINTS if j in names)


def selected_joints(joints: Iterable[str] | None) -> tuple[str, ...]:
    """The joints a session selected, from its quality's ``joints`` (the engine writes it);
    every joint for a document written before it was kept (None)."""
    if joints is None:
        return JOINTS
    try:
        return parse_joints(list(joints)) if joints else ()
    except UnknownJointError:
        return JOINTS


def joint_selected(joints: Iterable[str] | None, joint: str) -> bool:
    """Whether ``joint`` was selected among ``joints`` (:func:`selected_joints`; the trunk,
    ``posture``, always is)."""
    return joint == "posture" or joint in selected_joints(joints)


def joints_text(joints: Iterable[str]) -> str:
    """The stored form of a selection: ``'all'`` or its joints comma-separated (JOINTS order)."""
    js = parse_joints(list(joints))
    return "all" if js == JOINTS else ",".join(js)
