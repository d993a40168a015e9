"""Foot-strike accuracy on the shared clips: ``python -m tests.analysis.feet_accuracy``.

One JSON line per clip and side, from the stored foot points (the fixtures the
tests read): contacts in the truth, measured, left out (by reason), the RMSE of
the touchdown angle's distance outside the hand-measured bracket [IC, IC-1],
the side's mean against the bracket's mean, and the pattern agreement on the
contacts the truth marks with high confidence; then per clip the engine's IC
and TO (the configured event method) within one frame of the event truth.
docs/analysis.md quotes it.
"""
from __future__ import annotations

import json

import numpy as np

from tests.analysis.test_feet import CLIPS, VIDEOS, _measured, _outside, _scored


def event_truth(name: str) -> list[tuple[str, str, int]]:
    """(side, IC/TO, frame) of a clip's hand-annotated events."""
    if name == "treadmill-side-60fps":
        d = json.loads((VIDEOS / "ground-truth.json").read_text())["treadmill-side-60fps.mp4"]
        sides = {"near": d["near_leg"], "far": "left" if d["near_leg"] == "right" else "right"}
        return [(sides[e["foot"]], e["event"], e["frame"]) for e in d["events"]]
    d = json.loads((VIDEOS / f"{name}.truth.json").read_text())
    return [(e["side"], e["event"], e["frame"]) for e in d["events"]]


def foot_height_events(result, points: np.ndarray, clearance: float = 0.08) -> list[tuple[str, str, int]]:
    """Exploratory foot events (not an engine method): a foot is on the ground while the lower of its
    heel and toe is within ``clearance`` x foot length of its floor level (the 80th percentile of that
    point's image height: a foot is in stance ~40 % of the time); IC/TO = the edges of that state."""
    import analysis.feet as F

    fs = result.frame_series
    sides = F.assign_feet(points, np.stack([fs["left_ankle_x_px"], fs["left_ankle_y_px"]], 1),
                          np.stack([fs["right_ankle_x_px"], fs["right_ankle_y_px"]], 1))
    found = []
    for side in ("left", "right"):
        heel, toe = sides.heel[side], sides.toe[side]
        low = np.fmax(heel[:, 1], toe[:, 1])                  # image y grows downwards
        length = np.nanmedian(np.hypot(*(toe[:, :2] - heel[:, :2]).T))
        on = (low >= np.nanpercentile(low, 80) - clearance * length).astype(int)
        found += [(side, "IC", int(f)) for f in np.flatnonzero(np.diff(on) == 1) + 1]
        found += [(side, "TO", int(f)) for f in np.flatnonzero(np.diff(on) == -1) + 1]
    return found


def within_one_frame(found: list[tuple[str, str, int]], truth: list[tuple[str, str, int]], kind: str) -> float:
    """Share of the truth's ``kind`` events with a found event of the same side and kind within one frame."""
    want = [t for t in truth if t[1] == kind]
    hit = sum(1 for side, _, f in want if any(s == side and k == kind and abs(x - f) <= 1 for s, k, x in found))
    return hit / len(want)


def main() -> None:
    for name in CLIPS:
        scored, truth = _scored(name)
        for side in ("left", "right"):
            rows = scored[side]
            ok = [r for r in rows if np.isfinite(r[0])]
            n_truth = sum(1 for c in truth["contacts"] if c["side"] == side)
            high = [r for r in ok if r[4] == "high" and r[5] is not None]
            print(json.dumps({
                "clip": name, "side": side, "near": truth.get("near_side") == side,
                "truth_contacts": n_truth, "matched": len(rows), "measured": len(ok),
                "rmse_outside_bracket_deg": round(float(np.sqrt(np.mean([_outside(*r[:3]) ** 2 for r in ok]))), 2)
                if ok else None,
                "mean_deg": round(float(np.mean([r[0] for r in ok])), 2) if ok else None,
                "bracket_mean_deg": round(float(np.mean([(r[1] + r[2]) / 2 for r in rows])), 2) if rows else None,
                "high_conf_pattern_agree": f"{sum(r[3] == r[5] for r in high)}/{len(high)}",
            }))
        result, _, feet = _measured(name)
        truth_events = event_truth(name)
        for method, found in (("engine", [(e.side, e.kind, e.frame) for e in result.events]),
                              ("foot height (exploratory)", foot_height_events(result, feet.points))):
            print(json.dumps({"clip": name, "events": method, "found": len(found), "truth_events": len(truth_events),
                              "IC_within_1_frame": round(within_one_frame(found, truth_events, "IC"), 3),
                              "TO_within_1_frame": round(within_one_frame(found, truth_events, "TO"), 3)}))


if __name__ == "__main__":
    main()
