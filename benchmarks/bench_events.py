"""Event-timing accuracy of every IC/TO method under degraded capture (issue 12).

``python -m benchmarks events`` prints one JSON line and a Markdown table
(docs/analysis.md "Event timing"). No pose is run: the shared treadmill
clip's stored YOLO11n-pose detections (tests/analysis/data) go through the
runner selection, then ``analysis.synthetic.degrade_keypoints`` makes worse
copies of them (smaller runner = more keypoint noise and a coarser grid, 25/30
fps, a swaying camera, motion blur), and each copy is analysed with each
``analysis.events.EVENT_METHODS`` entry against the clip's hand annotation.
Synthetic runs (``analysis.synthetic.make_session``, exact events) cover
120 and 240 fps and an overground runner under a panning camera. Issue 24 adds a
hand-held camera (with and without camera compensation), synthetic edits
(:func:`synthetic_edit`, exact events next to every cut; also at 30 fps with a runner half
as tall, as a phone's edit), an edit of four pieces
of the clip (with and without segments; contact and flight against the annotated pairs
inside one piece, :func:`within_piece_means`) and the second shared clip (garage, 30 fps).
Issue 23 adds the ``foot`` method (heel and toe against the floor line,
``analysis.foot_events``), run where foot points exist: the shared clips' stored foot-stage
points and the synthetic runs' exact heel and toe (undegraded conditions only).

Per condition and method: share of annotated IC and TO matched by a
detected event within one frame (of that frame rate), mean absolute event
error (ms), and the errors of the mean contact and flight time (ms) against
the truth; ``ok`` = contact and flight within max(1 frame, 10 ms) and >= 80 %
of IC and of TO within one frame (issue 12's targets).
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.common import ENGINE_PARAMS, emit

REPO = Path(__file__).resolve().parents[1]
GT_FILE = REPO.parent / "shared" / "videos" / "ground-truth.json"
DETECTIONS = REPO / "tests" / "analysis" / "data" / "treadmill-side-60fps.detections.npz"
FOOT_SIDE = {"near": "right", "far": "left"}
#: Source px per model-input px on the shared clip (1920 px long side, imgsz 640).
MODEL_PX = 3.0

#: name -> degrade_keypoints options. "runner N px": the runner N px tall in the
#: model input (394 px on the shared clip; 180 px = a 640x360 frame, feet ~27 px).
CLIP_CONDITIONS: dict[str, dict] = {
    "shared clip 60 fps": {},
    "runner 180 px (640x360)": {"scale": 394 / 180},
    "runner 90 px (320x180)": {"scale": 394 / 90},
    "30 fps": {"fps_out": 30.0},
    "30 fps, phase 1/2": {"fps_out": 30.0, "phase": 0.5},
    "25 fps": {"fps_out": 25.0},
    "panning camera": {"pan_px": 250.0},
    "motion blur 20 %": {"blur_share": 0.2},
    "640x360, 30 fps, pan, blur": {"scale": 394 / 180, "fps_out": 30.0, "pan_px": 250.0, "blur_share": 0.2},
    "320x180, 25 fps, pan, blur": {"scale": 394 / 90, "fps_out": 25.0, "pan_px": 250.0, "blur_share": 0.2},
}
#: name -> make_session options (+ degrade options after "|").
SYNTHETIC_CONDITIONS: dict[str, tuple[dict, dict]] = {
    "synthetic 240 fps treadmill": ({"fps": 240.0, "noise_px": 1.5}, {}),
    "synthetic 60 fps treadmill": ({"fps": 60.0, "noise_px": 1.5}, {}),
    "synthetic 120 fps overground, pan": ({"fps": 120.0, "noise_px": 1.5, "mode": "overground"}, {"pan_px": 250.0}),
    "synthetic 25 fps, small runner": ({"fps": 25.0, "noise_px": 1.5, "px_per_m": 120.0}, {"scale": 2.0}),
}


def clip_keypoints() -> np.ndarray:
    from analysis.tracking import select_runner
    from tasks.detect import Detections

    boxes, kps = Detections.from_bytes(DETECTIONS.read_bytes()).per_frame()
    return select_runner(boxes, kps).keypoints.astype(float)


def stored_feet(clip: str) -> np.ndarray | None:
    """The foot stage's stored points (T, 6, 3) of a shared clip (tests/analysis/data), for the
    ``foot`` event method; None where they are not stored."""
    from tasks.feet import FootTrack

    path = REPO / "tests" / "analysis" / "data" / f"{clip}.feet.npz"
    return FootTrack.from_bytes(path.read_bytes()).points if path.exists() else None


def _score(sa, truth_events: list[tuple[str, str, float]], fps: float, contact_s: float, flight_s: float) -> dict:
    """``truth_events``: (side, kind, true instant in s)."""
    within, errs = {"IC": [], "TO": []}, {"IC": [], "TO": []}
    for side, kind, t in truth_events:
        det = np.array([e.time_s for e in sa.events if e.kind == kind and e.side == side])
        frames = np.array([e.frame for e in sa.events if e.kind == kind and e.side == side])
        if det.size == 0:
            within[kind].append(False)
            continue
        j = int(np.argmin(np.abs(det - t)))
        true_frame = math.ceil(t * fps - 1e-9)
        within[kind].append(abs(int(frames[j]) - true_frame) <= 1)
        errs[kind].append(1000.0 * (det[j] - t))
    S = sa.summary
    ct = None if S.contact_time_s is None else 1000.0 * (S.contact_time_s - contact_s)
    ft = None if S.flight_time_s is None else 1000.0 * (S.flight_time_s - flight_s)
    tol = max(1000.0 / fps, 10.0)
    out = {
        "ic_within_1_frame": float(np.mean(within["IC"])), "to_within_1_frame": float(np.mean(within["TO"])),
        "ic_mae_ms": float(np.mean(np.abs(errs["IC"]))) if errs["IC"] else None,
        "to_mae_ms": float(np.mean(np.abs(errs["TO"]))) if errs["TO"] else None,
        "ic_bias_ms": float(np.mean(errs["IC"])) if errs["IC"] else None,
        "to_bias_ms": float(np.mean(errs["TO"])) if errs["TO"] else None,
        "contact_err_ms": ct, "flight_err_ms": ft,
        "cadence_spm": S.cadence_spm,
    }
    out["ok"] = bool(ct is not None and ft is not None and abs(ct) <= tol and abs(ft) <= tol
                     and out["ic_within_1_frame"] >= 0.8 and out["to_within_1_frame"] >= 0.8)
    return out


def evaluate(methods: tuple[str, ...] | None = None, seeds: tuple[int, ...] = (0, 1, 2)) -> dict:
    """{condition: {method: scores}} (random conditions averaged over ``seeds``)."""
    from analysis.engine import RunnerProfile, analyze
    from analysis.events import EVENT_METHODS
    from analysis.synthetic import degrade_keypoints, make_session

    methods = methods or EVENT_METHODS
    gt = json.loads(GT_FILE.read_text())["treadmill-side-60fps.mp4"]
    truth = [(FOOT_SIDE[e["foot"]], e["event"], (e["frame"] - 0.5) / 60.0) for e in gt["events"]]
    d = gt["derived"]
    kp0 = clip_keypoints()
    results: dict[str, dict] = {}

    def run(cond: str, kp: np.ndarray, fps: float, tr, contact_s, flight_s, shift_s=0.0, analyse=None, feet=None):
        for m in methods:
            if m == "foot" and (feet is None or analyse is not None):
                continue                   # "foot" reads the foot stage's points: only where they exist
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    if analyse is None:
                        sa = analyze(kp, fps, RunnerProfile(), params=replace(ENGINE_PARAMS, event_method=m), foot_points=feet)
                    else:
                        sa = analyse(kp, fps, replace(ENGINE_PARAMS, event_method=m))
                except Exception as exc:  # noqa: BLE001 - a failing method is a result
                    results.setdefault(cond, {}).setdefault(m, []).append({"error": str(exc)})
                    continue
            ev = [(s, k, t - shift_s) for s, k, t in tr]
            results.setdefault(cond, {}).setdefault(m, []).append(_score(sa, ev, fps, contact_s, flight_s))

    for cond, opts in CLIP_CONDITIONS.items():
        random = any(k in opts for k in ("scale", "blur_share"))
        for seed in (seeds if random else seeds[:1]):
            kp, fps = degrade_keypoints(kp0, 60.0, model_px=MODEL_PX, seed=seed, **opts)
            shift = opts.get("phase", 0.0) / opts["fps_out"] if "fps_out" in opts else 0.0
            run(cond, kp, fps, truth, d["mean_contact_time_s"], d["mean_flight_time_s"], shift,
                feet=None if opts else stored_feet("treadmill-side-60fps"))
    for cond, (sopts, dopts) in SYNTHETIC_CONDITIONS.items():
        for seed in seeds:
            s = make_session(duration_s=8.0, seed=seed, **sopts)
            kp, fps = degrade_keypoints(s.keypoints, s.fps, model_px=1.0, seed=seed, **dopts)
            # exact instants: first frame in contact k -> instant in ((k-1)/fps, k/fps]; use k - 0.5
            tr = [(side, kind, (f - 0.5) / s.fps) for side in ("left", "right") for kind in ("IC", "TO")
                  for f in s.events[side][kind] if 0.3 * s.fps <= f < kp.shape[0] - 0.3 * s.fps]
            run(cond, kp, fps, tr, s.truth["contact_time_s"], s.truth["flight_time_s"],
                feet=None if dopts else s.foot_points)
    footage_conditions(run, kp0, truth, d, seeds)
    out = {}
    for cond, per in results.items():
        out[cond] = {}
        for m, rows in per.items():
            good = [r for r in rows if "error" not in r]
            if not good:
                out[cond][m] = {"error": rows[0]["error"]}
                continue
            agg = {}
            for k in good[0]:
                vals = [r[k] for r in good if r[k] is not None]
                if k == "ok":
                    agg[k] = all(vals) and len(good) == len(rows)
                elif k in ("contact_err_ms", "flight_err_ms", "ic_bias_ms", "to_bias_ms"):
                    agg[k] = float(np.mean(vals)) if vals else None
                    if k in ("contact_err_ms", "flight_err_ms") and vals:
                        agg[k + "_worst"] = float(max(vals, key=abs))
                else:
                    agg[k] = float(np.mean(vals)) if vals else None
            out[cond][m] = agg
    return out


#: The edit of the footage conditions: (first, end) frames of the shared clip's pieces, joined.
EDIT_PIECES = ((0, 130), (150, 280), (40, 190), (250, 388))
GARAGE_TRUTH = REPO.parent / "shared" / "videos" / "treadmill-garage-30fps.truth.json"
GARAGE_DETECTIONS = REPO / "tests" / "analysis" / "data" / "treadmill-garage-30fps.detections.npz"


def shaken(kp: np.ndarray, fps: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``kp`` seen by a hand-held phone (a random-walk aim, 1.5 px/frame, and a 2.3 / 3.1 Hz
    sway of 30 / 21 px, in the band of the steps), and the tile shifts (T, 4, 2, 2) and
    responses a background would give (the camera's shift plus 0.15 px noise per tile)."""
    rng = np.random.default_rng(seed)
    t = np.arange(len(kp)) / fps
    camera = np.cumsum(rng.normal(0, 1.5, (len(kp), 2)), axis=0) + np.stack(
        [30 * np.sin(2 * np.pi * 2.3 * t), 21 * np.sin(2 * np.pi * 3.1 * t + 1)], axis=1)
    out = kp.copy()
    out[..., :2] -= camera[:, None, :]
    step = np.diff(camera, axis=0, prepend=camera[:1])
    shift = -step[:, None, None, :] + rng.normal(0, 0.15, (len(kp), 4, 2, 2))
    shift[0] = np.nan
    return out, shift, np.full((len(kp), 4, 2), 0.5)


def random_pieces(n_frames: int, fps: float, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``[first, end)`` frames of an edit's pieces of a ``n_frames`` record: 2.2-2.5 s each,
    0.1-0.6 s apart, from 0.3 s on, so that each starts and ends at a random phase of the
    stride (often mid-stance, or just after the legs cross)."""
    pieces, t = [], int(0.3 * fps)
    while True:
        n = int(rng.uniform(2.2, 2.5) * fps)
        t += int(rng.uniform(0.1, 0.6) * fps)
        if t + n > n_frames:
            return pieces
        pieces.append((t, t + n))
        t += n


def synthetic_edit(seed: int, fps: float = 60.0):
    """A synthetic runner (20 s, 1.5 px noise, exact events) cut into :func:`random_pieces`
    and joined: ``(session, pieces, edit keypoints, cuts)``."""
    from analysis.synthetic import make_session

    s = make_session(duration_s=20.0, fps=fps, noise_px=1.5, seed=seed)
    pieces = random_pieces(s.keypoints.shape[0], fps, np.random.default_rng(seed))
    edit = np.concatenate([s.keypoints[a:b] for a, b in pieces])
    return s, pieces, edit, np.cumsum([b - a for a, b in pieces])[:-1]


def within_piece_means(truth: list[tuple[str, str, float]], pieces: tuple[tuple[int, int], ...], fps: float
                       ) -> tuple[float, float]:
    """Mean contact (an IC to the same foot's next TO) and flight (a TO to the other foot's
    next IC) time (s) over the annotated pairs that lie inside one piece ``[first, end)``
    of an edit (each piece counted as often as it appears). ``truth``: (side, kind,
    instant in s) of the whole clip."""
    frames = [(side, kind, round(t * fps + 0.5)) for side, kind, t in truth]
    contacts, flights = [], []
    for a, b in pieces:
        inside = sorted((f, side, kind) for side, kind, f in frames if a <= f < b)
        for i, (f, side, kind) in enumerate(inside):
            later = inside[i + 1:]
            if kind == "IC":
                nxt = next(((g, k) for g, sd, k in later if sd == side and k in ("IC", "TO")), None)
                if nxt and nxt[1] == "TO":
                    contacts.append((nxt[0] - f) / fps)
            else:
                nxt = next(((g, sd) for g, sd, k in later if k == "IC"), None)
                if nxt and nxt[1] != side:
                    flights.append((nxt[0] - f) / fps)
    return float(np.mean(contacts)), float(np.mean(flights))


def _boxes(kp: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xy = kp[..., :2]
        return np.stack([np.nanmin(xy[..., 0], 1), np.nanmin(xy[..., 1], 1),
                         np.nanmax(xy[..., 0], 1), np.nanmax(xy[..., 1], 1)], axis=1)


def footage_conditions(run, kp0: np.ndarray, truth: list, derived: dict, seeds: tuple[int, ...]) -> None:
    """Issue 24's conditions: a hand-held camera (with and without camera compensation,
    ``analysis.footage.analyze_footage``), an edit of four pieces of the clip (cuts; with
    and without ``analysis.segments.analyze_segments``) and the second shared clip
    (garage, 30 fps, its own annotation)."""
    from analysis.engine import RunnerProfile
    from analysis.footage import analyze_footage
    from analysis.segments import analyze_segments
    from analysis.synthetic import degrade_keypoints
    from analysis.tracking import select_runner
    from tasks.detect import Detections

    contact, flight = derived["mean_contact_time_s"], derived["mean_flight_time_s"]
    for seed in seeds:
        kp, shift, resp = shaken(kp0, 60.0, seed)
        run("hand-held shake, uncompensated", kp, 60.0, truth, contact, flight)
        run("hand-held shake, camera-compensated", kp, 60.0, truth, contact, flight,
            analyse=lambda k, f, p, s=shift, r=resp: analyze_footage(k, _boxes(k), f, [], s, r, RunnerProfile(),
                                                                     (1080, 1920), params=p))
    pieces = [kp0[a:b] for a, b in EDIT_PIECES]
    cuts = np.cumsum([len(p) for p in pieces])[:-1]
    starts = np.r_[0, cuts]
    edit_truth = [(side, kind, (f_edit - 0.5) / 60.0)
                  for (a, b), start in zip(EDIT_PIECES, starts)
                  for side, kind, t in truth
                  for f_edit in [round(t * 60.0 + 0.5) - a + start] if a <= round(t * 60.0 + 0.5) < b]
    edit = np.concatenate(pieces)
    # the edit's own contacts and flights (an annotated IC/TO pair inside one piece): the
    # pieces repeat some of the clip's strides and leave others out, so the clip's mean is
    # not the truth of the strides that the edit shows
    edit_contact, edit_flight = within_piece_means(truth, EDIT_PIECES, 60.0)
    run("edit of 4 pieces (3 cuts), one analysis", edit, 60.0, edit_truth, edit_contact, edit_flight)
    run("edit of 4 pieces (3 cuts), segments", edit, 60.0, edit_truth, edit_contact, edit_flight,
        analyse=lambda k, f, p: analyze_segments(k, f, cuts, RunnerProfile(), None, params=p))
    for cond, fps, scale in (("synthetic edit, 2.2-2.5 s pieces at random phases, segments", 60.0, 1.0),
                             ("synthetic edit at 30 fps, runner 2x smaller, segments", 30.0, 2.0)):
        for seed in seeds:
            s, sp, kp, scuts = synthetic_edit(seed, fps)
            if scale > 1.0:
                kp, _ = degrade_keypoints(kp, fps, model_px=1.0, scale=scale, seed=seed)
            starts = np.r_[0, scuts]
            tr = [(side, kind, (f - a + start - 0.5) / s.fps) for (a, b), start in zip(sp, starts)
                  for side in ("left", "right") for kind in ("IC", "TO") for f in s.events[side][kind] if a < f < b]
            run(cond, kp, s.fps, tr, s.truth["contact_time_s"], s.truth["flight_time_s"],
                analyse=lambda k, f, p, c=scuts: analyze_segments(k, f, c, RunnerProfile(), None, params=p))
    if GARAGE_TRUTH.exists():
        garage = json.loads(GARAGE_TRUTH.read_text())
        boxes, kps = Detections.from_bytes(GARAGE_DETECTIONS.read_bytes()).per_frame()
        kp = select_runner(boxes, kps).keypoints.astype(float)
        tr = [(e["side"], e["event"], (e["frame"] - 0.5) / 30.0) for e in garage["events"]]
        g = garage["derived"]
        run("garage clip 30 fps", kp, 30.0, tr, g["mean_contact_time_s"], g["mean_flight_time_s"],
            feet=stored_feet("treadmill-garage-30fps"))


def markdown(res: dict) -> str:
    lines = ["| condition | method | IC ≤1 frame | TO ≤1 frame | IC / TO bias (ms) | contact err (ms) | flight err (ms) | ok |",
             "|---|---|---|---|---|---|---|---|"]

    def f(x, fmt="{:+.0f}"):
        return "–" if x is None else fmt.format(x)
    for cond, per in res.items():
        for m, r in per.items():
            if "error" in r:
                lines.append(f"| {cond} | {m} | error: {r['error']} | | | | | |")
                continue
            lines.append(
                f"| {cond} | {m} | {r['ic_within_1_frame']:.0%} | {r['to_within_1_frame']:.0%} | "
                f"{f(r['ic_bias_ms'])} / {f(r['to_bias_ms'])} | {f(r['contact_err_ms'])} "
                f"({f(r.get('contact_err_ms_worst'))}) | {f(r['flight_err_ms'])} ({f(r.get('flight_err_ms_worst'))}) | "
                f"{'yes' if r['ok'] else 'no'} |")
    return "\n".join(lines)


def run(args) -> dict:
    res = evaluate()
    print(markdown(res))
    summary = {m: sum(bool(per.get(m, {}).get("ok")) for per in res.values())
               for m in next(iter(res.values()))}
    return emit({"benchmark": "events", "conditions": len(res), "conditions_ok": summary, "results": res}, args.out)


if __name__ == "__main__":       # python -m benchmarks.bench_events [--out DIR]
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_events", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="directory for bench-events.json (default: $OUT when set)")
    run(p.parse_args())
