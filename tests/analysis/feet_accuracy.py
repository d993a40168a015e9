"""Foot-strike accuracy on the shared clips: ``python -m tests.analysis.feet_accuracy``.

One JSON line per clip and side, from the stored foot points (the fixtures the
tests read): contacts in the truth, measured, left out (by reason), the RMSE of
the touchdown angle's distance outside the hand-measured bracket [IC, IC-1],
the side's mean against the bracket's mean, and the pattern agreement on the
contacts the truth marks with high confidence, and the same scores with the moving-camera
floor rule (``per_stance_floor``: each stance's own floor line, ``analysis.feet.floor_lines_deg``); then per clip the engine's IC
and TO within one frame of the event truth with the ``velocity`` and ``foot`` event
methods, and the left/right check of the foot model's second opinion
(:func:`side_second_opinion`).
docs/analysis.md quotes it.
"""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from analysis.engine import analyze
from tests.analysis.test_feet import CLIPS, VIDEOS, _outside, _scored
from tests.engine_params import ENGINE_PARAMS


def event_truth(name: str) -> list[tuple[str, str, int]]:
    """(side, IC/TO, frame) of a clip's hand-annotated events."""
    if name == "treadmill-side-60fps":
        d = json.loads((VIDEOS / "ground-truth.json").read_text())["treadmill-side-60fps.mp4"]
        sides = {"near": d["near_leg"], "far": "left" if d["near_leg"] == "right" else "right"}
        return [(sides[e["foot"]], e["event"], e["frame"]) for e in d["events"]]
    d = json.loads((VIDEOS / f"{name}.truth.json").read_text())
    return [(e["side"], e["event"], e["frame"]) for e in d["events"]]


def _clip_input(name: str):
    """A shared clip's runner keypoints (stored detections) and stored foot points."""
    from analysis.tracking import select_runner
    from tasks.feet import FootTrack
    from tests.analysis.conftest import DATA, load_detections

    kp = select_runner(*load_detections(DATA / f"{name}.detections.npz")).keypoints.astype(float)
    return kp, FootTrack.from_bytes((DATA / f"{name}.feet.npz").read_bytes()).points


def leg_ahead_truth(truth: list[tuple[str, str, int]], n_frames: int) -> np.ndarray:
    """Per frame, which leg is ahead by the event truth: +1 left, -1 right, 0 not said.

    From a foot's mid-stance (midway between its IC and TO) to the next foot's, the standing
    foot is behind and the other ahead; the quarter-contact either side of a mid-stance (the
    legs crossing) is left unsaid."""
    tos = {s: sorted(f for ss, k, f in truth if k == "TO" and ss == s) for s in ("left", "right")}
    mids = []
    for f, side in sorted((f, s) for s, k, f in truth if k == "IC"):
        later = [t for t in tos[side] if t > f]
        if later:
            mids.append(((f + later[0]) / 2, later[0] - f, side))
    out = np.zeros(n_frames, dtype=int)
    for (mid, contact, side), nxt in zip(mids, mids[1:] + [None]):
        end = nxt[0] if nxt else n_frames
        a, b = int(np.ceil(mid + 0.25 * contact)), int(np.floor(end - 0.25 * contact))
        out[max(a, 0):min(b + 1, n_frames)] = 1 if side == "right" else -1
    return out


def side_second_opinion(name: str) -> dict:
    """Frames whose leg (which ankle is ahead) is wrong against :func:`leg_ahead_truth`: as YOLO
    labels them, after the engine's swap repair, and after the foot model's second opinion (the
    engine's legs exchanged where ``analysis.feet.assign_feet`` finds the model's feet the other
    way round), and how many frames that opinion changes."""
    from analysis import cleaning, geometry as geo
    from analysis.feet import assign_feet
    from analysis.keypoints import KP
    from analysis.params import RunnerProfile, validated_input

    kp, points = _clip_input(name)
    raw = validated_input(kp, CLIPS[name][0], RunnerProfile(), ENGINE_PARAMS).xy
    repaired, _ = cleaning.repair_swaps(raw, CLIPS[name][0])
    facing = geo.facing_direction(repaired)
    la, ra = KP.LEFT_ANKLE, KP.RIGHT_ANKLE
    ahead = leg_ahead_truth(event_truth(name), len(raw))
    other_way = assign_feet(points, repaired[:, la], repaired[:, ra]).swapped
    labels = {"yolo": np.sign(facing * (raw[:, la, 0] - raw[:, ra, 0])),
              "engine": np.sign(facing * (repaired[:, la, 0] - repaired[:, ra, 0]))}
    labels["engine + foot model"] = np.where(other_way, -labels["engine"], labels["engine"])
    out = {"clip": name, "frames_judged": int((ahead != 0).sum()), "changed_by_foot_model": int(other_way.sum())}
    for key, lab in labels.items():
        judged = (ahead != 0) & np.isfinite(lab)
        out[f"wrong_{key.replace(' + ', '_').replace(' ', '_')}"] = int((lab[judged] != ahead[judged]).sum())
    return out


def refined_by_foot(velocity: list[tuple[str, str, int]], foot: list[tuple[str, str, int]],
                    tolerance: int = 1) -> list[tuple[str, str, int]]:
    """A combination measured and not adopted: each velocity IC/TO moved to the foot method's
    event of the same side and kind where one lies within ``tolerance`` frames."""
    out = []
    for side, kind, frame in velocity:
        near = [f for s, k, f in foot if s == side and k == kind and abs(f - frame) <= tolerance]
        out.append((side, kind, min(near, key=lambda f: abs(f - frame)) if near else frame))
    return out


def contact_flight_s(events: list[tuple[str, str, int]], fps: float) -> tuple[float, float]:
    """Mean contact (an IC to the same foot's next TO) and flight (a TO to the other foot's next
    IC) time (s) of (side, kind, frame) events (``benchmarks.bench_events.within_piece_means``
    over one piece: the whole clip)."""
    from benchmarks.bench_events import within_piece_means

    instants = [(side, kind, (frame - 0.5) / fps) for side, kind, frame in events if kind in ("IC", "TO")]
    return within_piece_means(instants, ((0, max(f for *_, f in events) + 1),), fps)


def within_one_frame(found: list[tuple[str, str, int]], truth: list[tuple[str, str, int]], kind: str) -> float:
    """Share of the truth's ``kind`` events with a found event of the same side and kind within one frame."""
    want = [t for t in truth if t[1] == kind]
    hit = sum(1 for side, _, f in want if any(s == side and k == kind and abs(x - f) <= 1 for s, k, x in found))
    return hit / len(want)


def strike_scores(rows: list[tuple]) -> dict:
    """Measured count, RMSE outside the bracket and mean (deg) of :func:`_scored` rows of one side."""
    ok = [r for r in rows if np.isfinite(r[0])]
    return {"measured": len(ok),
            "rmse_outside_bracket_deg": round(float(np.sqrt(np.mean([_outside(*r[:3]) ** 2 for r in ok]))), 2)
            if ok else None,
            "mean_deg": round(float(np.mean([r[0] for r in ok])), 2) if ok else None}


def main() -> None:
    for name in CLIPS:
        scored, truth = _scored(name)
        # the moving-camera floor rule (each stance's own floor) on these static clips: its noise
        per_stance, _ = _scored(name, "hand-held")
        for side in ("left", "right"):
            rows = scored[side]
            ok = [r for r in rows if np.isfinite(r[0])]
            n_truth = sum(1 for c in truth["contacts"] if c["side"] == side)
            high = [r for r in ok if r[4] == "high" and r[5] is not None]
            print(json.dumps({
                "clip": name, "side": side, "near": truth.get("near_side") == side,
                "truth_contacts": n_truth, "matched": len(rows), **strike_scores(rows),
                "bracket_mean_deg": round(float(np.mean([(r[1] + r[2]) / 2 for r in rows])), 2) if rows else None,
                "high_conf_pattern_agree": f"{sum(r[3] == r[5] for r in high)}/{len(high)}",
                "per_stance_floor": strike_scores(per_stance[side]),
            }))
        truth_events = event_truth(name)
        kp, points = _clip_input(name)
        fps = CLIPS[name][0]
        found = {}
        for method in ("velocity", "foot"):
            sa = analyze(kp, fps, frame_size=CLIPS[name][1], params=replace(ENGINE_PARAMS, event_method=method),
                         foot_points=points)
            found[method] = [(e.side, e.kind, e.frame) for e in sa.events if e.kind != "MS"]
        found["velocity refined by foot (1 frame)"] = refined_by_foot(found["velocity"], found["foot"])
        contact, flight = contact_flight_s(truth_events, fps)
        for method, events in found.items():
            c, f = contact_flight_s(events, fps)
            print(json.dumps({"clip": name, "events": method, "found": len(events), "truth_events": len(truth_events),
                              "IC_within_1_frame": round(within_one_frame(events, truth_events, "IC"), 3),
                              "TO_within_1_frame": round(within_one_frame(events, truth_events, "TO"), 3),
                              "contact_err_ms": round(1000 * (c - contact), 1),
                              "flight_err_ms": round(1000 * (f - flight), 1)}))
        print(json.dumps(side_second_opinion(name)))


if __name__ == "__main__":
    main()
