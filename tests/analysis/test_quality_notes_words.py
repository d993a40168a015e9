"""The quality notes are read by coaches on the page, in the PDF and after ``gaitlake process``
(issue 25, items 11 and 14): plain sentences, no field names such as ``power_w`` or
``quality.footstrike_<side>`` and no reason codes such as ``foot_cut_off``."""
from __future__ import annotations

import re
import warnings

import pytest

import analysis.feet as F
from analysis.engine import RunnerProfile
from analysis.footage import analyze_footage
from analysis.tracking import select_runner
from api.viewer.view import quality_notes
from tests.analysis.conftest import DATA, load_detections
from tests.analysis.test_feet import CLIPS
from tests.engine_params import ENGINE_PARAMS

#: snake_case identifiers and dotted field paths
CODE_WORD = re.compile(r"\b[a-z]+(?:_[a-z0-9<>]+)+\b|\b[a-z_]+\.[a-z_<>]+\b")


def _notes(name: str, with_feet: bool):
    from tasks.feet import FootTrack

    fps, size = CLIPS[name]
    track = select_runner(*load_detections(DATA / f"{name}.detections.npz"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa = analyze_footage(track.keypoints.astype(float), track.boxes, fps, [], None, None, RunnerProfile(), size,
                             params=ENGINE_PARAMS)
    if with_feet:
        feet = FootTrack.from_bytes((DATA / f"{name}.feet.npz").read_bytes())
        strike = FootTrack.from_bytes((DATA / f"{name}.strike.npz").read_bytes())
        sa = F.with_feet(sa, feet.points, size, feet.model, strike.points, strike.model)
    return sa.quality


@pytest.mark.parametrize("name", list(CLIPS))
@pytest.mark.parametrize("with_feet", [False, True], ids=["proxy", "feet"])
def test_every_note_is_a_sentence_without_field_names(name, with_feet):
    quality = _notes(name, with_feet)
    assert quality.reasons
    for note in quality.reasons:
        assert not CODE_WORD.findall(note), note
        assert note[0].isupper() and note.endswith("."), note
    if with_feet:   # the contacts left out are counted in words
        assert any(n.startswith("Foot strike:") and "left out: " in n for n in quality.reasons)


def test_the_far_leg_is_said_once_on_the_page():
    notes = quality_notes(_notes("treadmill-side-60fps", True))
    far = [n for n in notes if "far (" in n["text"] or "far leg" in n["text"]]
    assert len(far) == 1, [n["text"] for n in far]
