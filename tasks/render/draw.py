"""Drawing primitives on BGR pictures with plain OpenCV: the skeleton, an angle with its arc
and label, legible text and number formatting (Ultralytics' plotting fetches a font, which
fails offline).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from analysis.keypoints import KEYPOINT_NAMES, KP

#: BGR colours. Left blue, right orange-red (the usual convention in gait labs),
#: the foot in contact green, trunk/head white.
COLOR = {"left": (235, 140, 40), "right": (40, 90, 245), "contact": (60, 220, 60),
         "center": (235, 235, 235), "text": (255, 255, 255), "event": (0, 230, 255),
         "angle": (0, 230, 255)}

#: Skeleton edges (COCO-17 indices) with the side that colours them.
EDGES: tuple[tuple[int, int, str], ...] = (
    (KP.LEFT_SHOULDER, KP.LEFT_ELBOW, "left"), (KP.LEFT_ELBOW, KP.LEFT_WRIST, "left"),
    (KP.RIGHT_SHOULDER, KP.RIGHT_ELBOW, "right"), (KP.RIGHT_ELBOW, KP.RIGHT_WRIST, "right"),
    (KP.LEFT_HIP, KP.LEFT_KNEE, "left"), (KP.LEFT_KNEE, KP.LEFT_ANKLE, "left"),
    (KP.RIGHT_HIP, KP.RIGHT_KNEE, "right"), (KP.RIGHT_KNEE, KP.RIGHT_ANKLE, "right"),
    (KP.LEFT_SHOULDER, KP.RIGHT_SHOULDER, "center"), (KP.LEFT_HIP, KP.RIGHT_HIP, "center"),
    (KP.LEFT_SHOULDER, KP.LEFT_HIP, "left"), (KP.RIGHT_SHOULDER, KP.RIGHT_HIP, "right"),
)
#: Keypoints drawn as dots (face points beyond the nose are noise at running distance).
DOTS = (KP.NOSE, KP.LEFT_SHOULDER, KP.RIGHT_SHOULDER, KP.LEFT_ELBOW, KP.RIGHT_ELBOW,
        KP.LEFT_WRIST, KP.RIGHT_WRIST, KP.LEFT_HIP, KP.RIGHT_HIP, KP.LEFT_KNEE,
        KP.RIGHT_KNEE, KP.LEFT_ANKLE, KP.RIGHT_ANKLE)
_SIDE_OF = {i: ("left" if n.startswith("left") else "right" if n.startswith("right") else "center")
            for i, n in enumerate(KEYPOINT_NAMES)}


def pixel(p: np.ndarray, scale: float) -> tuple[int, int] | None:
    if p is None or not np.isfinite(p).all():
        return None
    return int(round(p[0] * scale)), int(round(p[1] * scale))


_OUTLINE = ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1))


def put_text(img: np.ndarray, text: str, org: tuple[int, int], size: float, color=COLOR["text"],
          thickness: int = 1, bg: bool = True) -> None:
    """Legible text: the same glyphs in black around the colour, 1 px each way.

    The outline uses the very font, scale and thickness of the text: Hershey glyph
    advances grow with the thickness, so a thicker shadow drifts right letter by
    letter and labels read doubled ("knee flexion 17 7deg g").
    """
    font = cv2.FONT_HERSHEY_SIMPLEX
    if bg:
        step = max(1, int(round(size)))
        for dx, dy in _OUTLINE:
            cv2.putText(img, text, (org[0] + dx * step, org[1] + dy * step), font, size, (0, 0, 0), thickness,
                        cv2.LINE_AA)
    cv2.putText(img, text, org, font, size, color, thickness, cv2.LINE_AA)


def draw_skeleton(img: np.ndarray, xy: np.ndarray, scale: float, contact: dict[str, bool] | None = None,
                  thickness: int = 3, low: np.ndarray | None = None) -> None:
    """Draw one runner's skeleton (keypoints in source pixels, scaled by ``scale``).

    The shank of a foot in contact is drawn in the contact colour and its ankle
    gets a filled disc, so stance is visible at a glance. Points flagged in
    ``low`` (17 bools, :func:`low_confidence_mask`) are drawn hollow and their
    segments thin, so a guess never looks like a measurement.
    """
    contact = contact or {}
    low = np.zeros(len(xy), bool) if low is None else np.asarray(low, bool)
    r = max(3, thickness + 1)
    thin = max(1, thickness // 2)
    for a, b, side in EDGES:
        pa_, pb = pixel(xy[a], scale), pixel(xy[b], scale)
        if pa_ and pb:
            cv2.line(img, pa_, pb, COLOR[side], thin if low[a] or low[b] else thickness, cv2.LINE_AA)
    for side, knee, ank in (("left", KP.LEFT_KNEE, KP.LEFT_ANKLE), ("right", KP.RIGHT_KNEE, KP.RIGHT_ANKLE)):
        if contact.get(side):
            pk, pa_ = pixel(xy[knee], scale), pixel(xy[ank], scale)
            if pk and pa_:
                cv2.line(img, pk, pa_, COLOR["contact"], thin if low[knee] or low[ank] else thickness + 2,
                         cv2.LINE_AA)
            if pa_:
                cv2.circle(img, pa_, 3 * r, COLOR["contact"], thin if low[ank] else -1, cv2.LINE_AA)
    for i in DOTS:
        p = pixel(xy[i], scale)
        if not p:
            continue
        if low[i]:  # hollow: a ring in the side's colour around a dark one
            cv2.circle(img, p, r + 1, (0, 0, 0), thin + 2, cv2.LINE_AA)
            cv2.circle(img, p, r + 1, COLOR[_SIDE_OF[i]], thin, cv2.LINE_AA)
        else:
            cv2.circle(img, p, r, COLOR[_SIDE_OF[i]], -1, cv2.LINE_AA)
            cv2.circle(img, p, r, (0, 0, 0), 1, cv2.LINE_AA)


#: A heel or toe below this confidence is not drawn (analysis.feet.MIN_POINT_CONF: the same rule
#: that keeps it out of the foot-strike angle).
MIN_FOOT_CONF = 0.5


def draw_foot(img: np.ndarray, heel_toe: np.ndarray, scale: float, color, thickness: int = 3) -> bool:
    """The sole line heel -> toe with both points, from ``heel_toe`` ``(2, 3)`` (x px, y px, confidence);
    nothing when either point is missing or below :data:`MIN_FOOT_CONF`. True when drawn."""
    if not np.isfinite(heel_toe).all() or (heel_toe[:, 2] < MIN_FOOT_CONF).any():
        return False
    heel, toe = pixel(heel_toe[0, :2], scale), pixel(heel_toe[1, :2], scale)
    cv2.line(img, heel, toe, color, thickness, cv2.LINE_AA)
    r = max(3, thickness + 1)
    for p in (heel, toe):
        cv2.circle(img, p, r, color, -1, cv2.LINE_AA)
        cv2.circle(img, p, r, (0, 0, 0), 1, cv2.LINE_AA)
    return True


def draw_angle(img: np.ndarray, vertex, p1, p2, label: str, scale: float, color=COLOR["angle"],
               thickness: int = 2, radius: int | None = None) -> None:
    """Two rays from ``vertex`` to ``p1`` and ``p2`` with the arc between them and ``label``.

    Points are in source pixels; ``p2`` may be a direction reference such as a
    point straight below the vertex (for angles against the vertical).
    """
    v, a, b = pixel(np.asarray(vertex, float), scale), pixel(np.asarray(p1, float), scale), pixel(np.asarray(p2, float), scale)
    if not (v and a and b):
        return
    cv2.line(img, v, a, color, thickness, cv2.LINE_AA)
    cv2.line(img, v, b, color, max(1, thickness - 1), cv2.LINE_AA)
    la = math.hypot(a[0] - v[0], a[1] - v[1])
    lb = math.hypot(b[0] - v[0], b[1] - v[1])
    if la < 1 or lb < 1:
        return
    rad = radius or int(max(12, 0.35 * min(la, lb)))
    t1 = math.degrees(math.atan2(a[1] - v[1], a[0] - v[0]))
    t2 = math.degrees(math.atan2(b[1] - v[1], b[0] - v[0]))
    d = (t2 - t1 + 180.0) % 360.0 - 180.0
    cv2.ellipse(img, v, (rad, rad), 0.0, t1, t1 + d, color, thickness, cv2.LINE_AA)
    mid = math.radians(t1 + d / 2.0)
    org = (int(v[0] + (rad + 8) * math.cos(mid)), int(v[1] + (rad + 8) * math.sin(mid)))
    size = max(0.5, img.shape[0] / 1600.0)
    width = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, size, max(1, thickness - 1))[0][0]
    x = org[0] if math.cos(mid) >= 0 else org[0] - width
    x = int(min(max(2, x), img.shape[1] - width - 3))  # the whole label stays inside the picture
    put_text(img, label, (x, org[1]), size, color, max(1, thickness - 1))


def fmt_value(value: float | None, fmt: str, unit: str = "") -> str:
    """``fmt.format(value) + unit``; ``--`` when unknown; a value that rounds to zero has no sign
    (``trunk 0``, not ``trunk -0`` or ``+0``)."""
    if value is None or not np.isfinite(value):
        return "--"
    text = fmt.format(value)
    if text.lstrip("+-").replace("0", "").replace(".", "") == "":
        text = text.lstrip("+-")
    return text + unit
