"""The foot stage's points given to the engine's legs: a leaf module, so that both the foot-strike
measure (``analysis.feet``) and the foot event method (``analysis.foot_events``, which the engine's
event stage imports) read them without importing each other's callers."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FOOT_POINTS", "MIN_POINT_CONF", "FootSides", "assign_feet"]

#: The foot stage's points per frame, in order (``tasks.feet.FOOT_POINTS``).
FOOT_POINTS = ("left_ankle", "right_ankle", "left_heel", "right_heel", "left_toe", "right_toe")
#: A heel or toe the model gives a lower visibility x presence probability than this is not used.
MIN_POINT_CONF = 0.5


@dataclass(frozen=True)
class FootSides:
    """Heel and toe per engine side, ``(T, 3)`` each: x px, y px, confidence (NaN/0 where unknown).

    ``swapped``: frames where the model's left/right labels were exchanged to match the engine's legs.
    """

    heel: dict[str, np.ndarray]
    toe: dict[str, np.ndarray]
    swapped: np.ndarray


def assign_feet(points: np.ndarray, left_ankle_xy: np.ndarray, right_ankle_xy: np.ndarray) -> FootSides:
    """Give each model foot to the engine leg whose ankle it sits on.

    ``points``: ``(T, 6, 3)`` in :data:`FOOT_POINTS` order; ``*_ankle_xy``:
    ``(T, 2)`` the engine's side-repaired ankles (px). Where an engine ankle is
    missing the model's labels stand.

    The pairing with the smaller summed *squared* ankle distance, which reduces to the
    sign of ``(model left - model right) . (engine left - engine right)``: it depends
    only on each pair's left-to-right vector, so a common offset does not change it
    (summed plain distances gave sides at random once the engine's ankles were in scene
    coordinates and the model's in the image's, before ``analysis.footage.on_image``).
    Its limit: where YOLO puts both ankles on the stance foot at mid-stance (ankles a few
    px apart), the sign is noise (``tests/gaitlake/test_moving_camera_e2e.py``).
    """
    p = np.asarray(points, dtype=np.float64)
    la, ra = np.asarray(left_ankle_xy, dtype=np.float64), np.asarray(right_ankle_xy, dtype=np.float64)
    agreement = np.sum((p[:, 0, :2] - p[:, 1, :2]) * (la - ra), axis=1)
    swapped = np.isfinite(agreement) & (agreement < 0)
    heel = {"left": np.where(swapped[:, None], p[:, 3], p[:, 2]), "right": np.where(swapped[:, None], p[:, 2], p[:, 3])}
    toe = {"left": np.where(swapped[:, None], p[:, 5], p[:, 4]), "right": np.where(swapped[:, None], p[:, 4], p[:, 5])}
    return FootSides(heel, toe, swapped)
