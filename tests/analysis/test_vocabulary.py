"""analysis.vocabulary: the shared names and the one joint-selection parser."""
from __future__ import annotations

import pytest

from analysis.vocabulary import (GAIT_THREAD_BLOCKS, JOINT_PREFIX, JOINTS, THREAD_BLOCKS, UnknownJointError,
                                 angle_key, joints_text, parse_joints)


@pytest.mark.parametrize("value, expected", [
    (None, JOINTS), ("", JOINTS), ("all", JOINTS), (" ALL ", JOINTS), ("knee,all", JOINTS), ([], JOINTS),
    ("knee", ("knee",)), ("Hip, knee", ("hip", "knee")), ("knee,hip,knee", ("hip", "knee")),
    ('["ankle", "elbow"]', ("elbow", "ankle")), (("ankle", "shoulder"), ("shoulder", "ankle")),
    (" knee , , hip ", ("hip", "knee")),
])
def test_parse_joints(value, expected):
    assert parse_joints(value) == expected


@pytest.mark.parametrize("value, unknown", [("knees", ["knees"]), ("knee,wrist,toe", ["toe", "wrist"]),
                                            (["hip", "neck"], ["neck"])])
def test_unknown_joints_are_named(value, unknown):
    with pytest.raises(UnknownJointError) as info:
        parse_joints(value)
    assert info.value.unknown == unknown
    assert all(u in str(info.value) for u in unknown) and "choose from" in str(info.value)


def test_joints_text_is_the_stored_form():
    assert joints_text(["knee", "hip"]) == "hip,knee"
    assert joints_text(JOINTS) == "all" and joints_text([]) == "all"


def test_angle_keys():
    assert angle_key("left", "knee") == "lkne_angle" and angle_key("right", "shoulder") == "rsho_angle"
    assert angle_key("right", "posture") == "posture_angle"
    assert set(JOINT_PREFIX) == set(JOINTS) and len(set(JOINT_PREFIX.values())) == len(JOINTS)
    assert GAIT_THREAD_BLOCKS[0] == "left_posture_angle" and len(GAIT_THREAD_BLOCKS) == 8
    assert set(THREAD_BLOCKS) == {"summary", "form", "recommendation"}
