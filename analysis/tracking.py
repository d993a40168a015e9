"""Keeping one person: the runner's track across frames.

Three steps:

1. :func:`link_tracks` links detections frame to frame into tracks
   (Hungarian assignment on centre distance in units of box height, gated; a
   track survives short gaps, predicted with a constant velocity).
2. :func:`split_at_crossings` cuts tracks where two people's boxes overlap
   (IoU >= 0.3): there the frame-to-frame assignment may swap identities, so
   the pieces before, during and after a crossing become separate fragments.
3. :func:`select_runner` scores every fragment for gait (long-lived, large,
   ankles alternating front/back: the horizontal ankle separation oscillates;
   a person standing or jumping with both feet has a flat separation signal)
   and grows a chain from the best fragments forward and backward in time by
   :func:`link_cost`: after a miss, an occlusion or an identity switch the
   next fragment must continue the chain's position (extrapolated with the
   chain's own mean velocity: about zero on a treadmill, the running speed
   overground), size, velocity and ankle-swing amplitude (gait periodicity).
   The chain with the largest total score is the runner; the number of links
   is reported as ``fragments_joined``.

Before linking, :func:`suppress_duplicates` keeps one box per person and frame (a pose
model's duplicate would start a second track that shares the runner's frames).

In an edited clip (hard cuts between shots) tracking restarts at every cut:
:func:`select_runner` with ``cuts`` selects the runner in each continuous segment on
its own (no track or chain link crosses a cut, where the runner jumps in the frame).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from analysis.keypoints import KP, N_KEYPOINTS

_UNMATCHED = 1e6


@dataclass
class Track:
    track_id: int
    frames: list[int] = field(default_factory=list)
    detections: list[int] = field(default_factory=list)  # index of the detection within its frame
    last_center: np.ndarray | None = None
    last_height: float = 1.0
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # px per frame

    def predict(self, frame_index: int) -> np.ndarray:
        return self.last_center + self.velocity * (frame_index - self.frames[-1])

    def update(self, frame_index: int, detection: int, center: np.ndarray, height: float) -> None:
        gap = frame_index - self.frames[-1]
        # Smoothed constant-velocity model: bridging a gap predicts where the person went.
        self.velocity = 0.7 * self.velocity + 0.3 * (center - self.last_center) / gap
        self.frames.append(frame_index)
        self.detections.append(detection)
        self.last_center, self.last_height = center, height


@dataclass(frozen=True)
class RunnerTrack:
    """The runner's keypoints and boxes for every frame (NaN where not found)."""

    keypoints: np.ndarray  # (T, 17, 3)
    boxes: np.ndarray      # (T, 5)
    found: np.ndarray      # (T,) bool
    n_tracks: int
    track_scores: dict[int, float]
    fragments_joined: int = 0   # links in the runner's chain of fragments (0: one unbroken track)
    n_fragments: int = 0        # fragments after cutting the tracks at crossings

    @property
    def found_share(self) -> float:
        return float(self.found.mean()) if len(self.found) else 0.0


def _centers_heights(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centers = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    heights = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    return centers, heights


def link_tracks(boxes_per_frame: list[np.ndarray], max_jump_box_heights: float = 0.75,
                max_gap_frames: int = 15) -> list[Track]:
    """Link per-frame boxes ``(n_i, >=4)`` into tracks."""
    tracks: list[Track] = []
    active: list[Track] = []
    for frame_index, boxes in enumerate(boxes_per_frame):
        active = [t for t in active if frame_index - t.frames[-1] <= max_gap_frames + 1]
        if len(boxes) == 0:
            continue
        centers, heights = _centers_heights(np.asarray(boxes, dtype=np.float64))
        matched_detections: set[int] = set()
        if active:
            cost = np.full((len(active), len(boxes)), _UNMATCHED)
            for i, track in enumerate(active):
                gap = frame_index - track.frames[-1]
                distance = np.linalg.norm(centers - track.predict(frame_index), axis=1) / track.last_height
                size_change = np.abs(np.log(heights / track.last_height))
                # The gate widens slowly with the gap: a lost person may have changed pace,
                # but must not teleport onto someone else across the frame.
                gate = max_jump_box_heights * (1.0 + 0.1 * (gap - 1))
                allowed = (distance <= gate) & (size_change < 0.7)
                cost[i, allowed] = distance[allowed] + size_change[allowed]
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if cost[r, c] >= _UNMATCHED:
                    continue
                active[r].update(frame_index, int(c), centers[c], float(heights[c]))
                matched_detections.add(int(c))
        for c in range(len(boxes)):
            if c not in matched_detections:
                track = Track(len(tracks), [frame_index], [c], centers[c], float(heights[c]))
                tracks.append(track)
                active.append(track)
    return tracks


def gait_evidence(keypoints: np.ndarray, heights: np.ndarray) -> float:
    """Spread of the horizontal ankle separation, in box heights (0 for no alternation).

    Uses the 5th-95th percentile range so single mis-detections do not count.
    """
    separation = (keypoints[:, KP.LEFT_ANKLE, 0] - keypoints[:, KP.RIGHT_ANKLE, 0]) / heights
    separation = separation[np.isfinite(separation)]
    if len(separation) < 5:
        return 0.0
    low, high = np.percentile(separation, [5, 95])
    return float(high - low)


@dataclass
class Fragment:
    """A piece of one track: frames, detection indices and per-frame geometry."""

    frames: np.ndarray    # (n,) int, increasing
    dets: np.ndarray      # (n,) detection index within each frame
    centers: np.ndarray   # (n, 2) px
    heights: np.ndarray   # (n,) px
    score: float = 0.0
    swing: float = 0.0    # ankle-separation spread (box heights), NaN when too short to tell

    @property
    def start(self) -> int:
        return int(self.frames[0])

    @property
    def end(self) -> int:
        return int(self.frames[-1])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def split_at_crossings(tracks: list[Track], boxes_per_frame: list[np.ndarray],
                       min_iou: float = 0.3) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cut tracks where their box overlaps another person's (IoU >= ``min_iou``).

    Returns ``(frames, detection indices)`` per fragment. A track is cut at
    the first and after the last frame of each run of overlapping frames, so
    an identity swap during a crossing stays inside a short fragment that the
    chain may take or leave.
    """
    n_frames = len(boxes_per_frame)
    owner = [dict() for _ in range(n_frames)]          # frame -> {detection: track index}
    for ti, t in enumerate(tracks):
        for f, d in zip(t.frames, t.detections):
            owner[f][d] = ti
    out = []
    for ti, t in enumerate(tracks):
        frames = np.asarray(t.frames)
        dets = np.asarray(t.detections)
        crowded = np.zeros(frames.size, dtype=bool)
        for k, (f, d) in enumerate(zip(t.frames, t.detections)):
            bx = boxes_per_frame[f]
            crowded[k] = any(_iou(bx[d], bx[e]) >= min_iou for e in owner[f] if e != d)
        cuts = np.flatnonzero(np.diff(crowded.astype(np.int8)) != 0) + 1
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, frames.size]):
            out.append((frames[a:b], dets[a:b]))
    return out


def _velocity(frames: np.ndarray, centers: np.ndarray) -> np.ndarray | None:
    """Mean velocity (px/frame) by a least-squares line through the centres; None if < 10 frames.

    Fewer frames do not average out the centre's in-stride oscillation (nor a
    box clipped at the frame edge)."""
    if frames.size < 10 or frames[-1] == frames[0]:
        return None
    t = frames - frames.mean()
    return (t @ (centers - centers.mean(0))) / (t @ t)


#: Frames of the chain's end (or a fragment's start) that its velocity is fitted over.
VELOCITY_WINDOW = 30


#: Frames at a fragment's end whose median centre and height stand for that end.
ANCHOR_FRAMES = 9


def _anchor(frag: Fragment, end: int) -> tuple[float, np.ndarray, float]:
    """(frame, centre, height) medians of the first (``end=0``) or last (``-1``)
    :data:`ANCHOR_FRAMES` frames: one partial or displaced box at a fragment's
    end (legs missed, a mis-detection) must not decide the link."""
    sl = slice(0, ANCHOR_FRAMES) if end == 0 else slice(-ANCHOR_FRAMES, None)
    return (float(np.median(frag.frames[sl])), np.median(frag.centers[sl], axis=0),
            float(np.median(frag.heights[sl])))


def link_cost(chain: Fragment, cand: Fragment, forward: bool, max_gap_frames: int = 300,
              max_jump_box_heights: float = 0.75) -> float:
    """Cost of continuing ``chain`` with ``cand`` (inf when implausible), in box heights.

    ``forward``: ``cand`` starts after the chain ends (else it ends before the
    chain starts). Terms, each in box heights of the chain's end:

    * position: distance from the chain's end extrapolated over the gap with
      its own mean velocity (:data:`VELOCITY_WINDOW` frames) to the candidate's
      first centre (both ends as :func:`_anchor` medians); gated at
      ``max_jump_box_heights * (1 + 0.02 * gap)`` (the runner may change pace
      while unseen, but not teleport);
    * velocity: the two mean velocities' difference over
      :data:`VELOCITY_WINDOW` frames, when both are known; gated at 0.5 (a
      passer-by moves differently from a treadmill runner: 1.4 m/s is 0.8 box
      heights per 30 frames at 30 fps);
    * size: ``|log(height ratio)|``, gated at 0.5;
    * gait: ``|log(swing ratio)|`` of the ankle-separation spreads when both
      are known (gated at log 2.5): the runner's stride amplitude persists;
    * gap: ``gap / 60`` so a nearer continuation wins over a later one.
    """
    if forward:
        gap = cand.start - chain.end
        sel = chain.frames >= chain.end - VELOCITY_WINDOW
        sel2 = cand.frames <= cand.start + VELOCITY_WINDOW
        (f_end, c_end, h_end), (f_new, c_new, h_new) = _anchor(chain, -1), _anchor(cand, 0)
    else:
        gap = chain.start - cand.end
        sel = chain.frames <= chain.start + VELOCITY_WINDOW
        sel2 = cand.frames >= cand.end - VELOCITY_WINDOW
        (f_end, c_end, h_end), (f_new, c_new, h_new) = _anchor(chain, 0), _anchor(cand, -1)
    if gap < 1 or gap > max_gap_frames:
        return float("inf")
    v_chain = _velocity(chain.frames[sel], chain.centers[sel])
    v_cand = _velocity(cand.frames[sel2], cand.centers[sel2])
    step = (v_chain if v_chain is not None else np.zeros(2)) * (f_new - f_end)
    distance = float(np.linalg.norm(c_new - (c_end + step)) / h_end)
    if distance > max_jump_box_heights * (1.0 + 0.02 * (gap - 1)):
        return float("inf")
    size = abs(float(np.log(h_new / h_end)))
    if size > 0.5:
        return float("inf")
    cost = distance + size + gap / 60.0
    if v_chain is not None and v_cand is not None:
        dv = float(np.linalg.norm(v_cand - v_chain)) * VELOCITY_WINDOW / h_end
        if dv > 0.5:
            return float("inf")
        cost += dv
    if np.isfinite(chain.swing) and np.isfinite(cand.swing) and min(chain.swing, cand.swing) > 0:
        g = abs(float(np.log(cand.swing / chain.swing)))
        if g > np.log(2.5):
            return float("inf")
        cost += g
    return cost


def _merge(a: Fragment, b: Fragment) -> Fragment:
    """``a`` then ``b`` (``b`` starts after ``a`` ends) as one fragment."""
    swing = np.nanmax([a.swing, b.swing]) if np.isfinite([a.swing, b.swing]).any() else float("nan")
    n_a, n_b = a.frames.size, b.frames.size
    if np.isfinite(a.swing) and np.isfinite(b.swing):
        swing = (a.swing * n_a + b.swing * n_b) / (n_a + n_b)
    return Fragment(np.r_[a.frames, b.frames], np.r_[a.dets, b.dets], np.r_[a.centers, b.centers],
                    np.r_[a.heights, b.heights], a.score + b.score, float(swing))


def grow_chain(seed: int, fragments: list[Fragment], max_gap_frames: int = 300,
               max_jump_box_heights: float = 0.75) -> list[int]:
    """Fragment indices of the chain grown from ``seed``: each step forward (then backward)
    takes the lowest-:func:`link_cost` fragment among those beyond the chain's end."""
    chain = [seed]
    cur = fragments[seed]
    for forward in (True, False):
        while True:
            best, best_cost = -1, float("inf")
            for j, cand in enumerate(fragments):
                if j in chain or (forward and cand.start <= cur.end) or (not forward and cand.end >= cur.start):
                    continue
                c = link_cost(cur, cand, forward, max_gap_frames, max_jump_box_heights)
                if c < best_cost:
                    best, best_cost = j, c
            if best < 0:
                break
            chain.append(best)
            cur = _merge(cur, fragments[best]) if forward else _merge(fragments[best], cur)
    return sorted(chain, key=lambda j: fragments[j].start)


#: Two boxes of one frame whose intersection covers this share of the smaller one are one
#: person found twice (a pose model's duplicate: one box with the swinging leg, one without).
DUPLICATE_COVER = 0.85


def suppress_duplicates(boxes_per_frame: list[np.ndarray], keypoints_per_frame: list[np.ndarray],
                        cover: float = DUPLICATE_COVER) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per frame, drop a box that another box of that frame covers (intersection >= ``cover``
    of the smaller box's area), keeping the larger: the covered one is a part of the
    person the larger one holds whole (a leg or the head cut off).

    Why: a duplicate starts a second track on the same runner; the two then share the
    runner's frames between them (each frame's one detection goes to one or the other),
    and neither can be chained to the other because they overlap in time. On the shared
    garage clip 12 such duplicates cost 7.5 % of the frames."""
    out_boxes, out_kps = [], []
    for boxes, kps in zip(boxes_per_frame, keypoints_per_frame):
        if len(boxes) < 2:
            out_boxes.append(boxes)
            out_kps.append(kps)
            continue
        b = np.asarray(boxes, dtype=np.float64)
        order = np.argsort(-(b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), kind="stable")
        keep: list[int] = []
        for i in order:
            area_i = max((b[i, 2] - b[i, 0]) * (b[i, 3] - b[i, 1]), 1e-9)
            dup = False
            for j in keep:
                w = min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0])
                h = min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1])
                area_j = max((b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1]), 1e-9)
                if w > 0 and h > 0 and w * h >= cover * min(area_i, area_j):
                    dup = True
                    break
            if not dup:
                keep.append(int(i))
        keep.sort()
        out_boxes.append(boxes[keep])
        out_kps.append(kps[keep])
    return out_boxes, out_kps


def select_runner(boxes_per_frame: list[np.ndarray], keypoints_per_frame: list[np.ndarray],
                  max_jump_box_heights: float = 0.75, max_gap_frames: int = 15,
                  max_link_gap_frames: int = 300, n_seeds: int = 3, cuts=()) -> RunnerTrack:
    """Pick the runner's chain of track fragments and lay it out over every frame.

    Fragment score = frames present x median box height x (0.05 + ankle
    alternation): presence and size break ties, alternation tells a runner
    from a bystander. Chains are grown (:func:`grow_chain`) from the
    ``n_seeds`` best fragments; the chain with the largest total score wins.
    ``max_link_gap_frames`` bounds the gap (frames) a link may bridge.
    ``cuts``: first frames of new shots; tracking restarts at each (every
    continuous segment selects its runner on its own, then they are joined).
    """
    n_frames = len(boxes_per_frame)
    edges = sorted({0, n_frames, *(int(c) for c in cuts if 0 < int(c) < n_frames)})
    if len(edges) > 2:
        parts = [select_runner(boxes_per_frame[a:b], keypoints_per_frame[a:b], max_jump_box_heights,
                               max_gap_frames, max_link_gap_frames, n_seeds) for a, b in zip(edges[:-1], edges[1:])]
        scores = {k * 1000 + j: v for k, p in enumerate(parts) for j, v in p.track_scores.items()}
        return RunnerTrack(np.concatenate([p.keypoints for p in parts]), np.concatenate([p.boxes for p in parts]),
                           np.concatenate([p.found for p in parts]), sum(p.n_tracks for p in parts), scores,
                           fragments_joined=sum(p.fragments_joined for p in parts),
                           n_fragments=sum(p.n_fragments for p in parts))
    boxes_per_frame, keypoints_per_frame = suppress_duplicates(boxes_per_frame, keypoints_per_frame)
    keypoints = np.full((n_frames, N_KEYPOINTS, 3), np.nan, np.float32)
    keypoints[..., 2] = 0.0
    boxes = np.full((n_frames, 5), np.nan, np.float32)
    tracks = link_tracks(boxes_per_frame, max_jump_box_heights, max_gap_frames)
    fragments: list[Fragment] = []
    for frames, dets in split_at_crossings(tracks, boxes_per_frame):
        kp = np.stack([keypoints_per_frame[f][d] for f, d in zip(frames, dets)]).astype(np.float64)
        bx = np.stack([boxes_per_frame[f][d] for f, d in zip(frames, dets)]).astype(np.float64)
        centers, heights = _centers_heights(bx)
        swing = gait_evidence(kp, heights)
        score = len(frames) * float(np.median(heights)) * (0.05 + swing)
        fragments.append(Fragment(frames, dets, centers, heights, score,
                                  swing if frames.size >= 20 else float("nan")))
    # per raw track: the best score among its fragments' chains is reported below
    scores: dict[int, float] = {}
    chain: list[int] = []
    if fragments:
        order = np.argsort([-f.score for f in fragments], kind="stable")[:n_seeds]
        chains = [grow_chain(int(s), fragments, max_link_gap_frames, max_jump_box_heights) for s in order]
        totals = [sum(fragments[j].score for j in c) for c in chains]
        chain = chains[int(np.argmax(totals))]
        for k, c in enumerate(chains):
            scores[k] = totals[k]
        for j in chain:
            for f, d in zip(fragments[j].frames, fragments[j].dets):
                keypoints[f] = keypoints_per_frame[f][d]
                boxes[f] = boxes_per_frame[f][d][:5]
    found = np.isfinite(boxes[:, 0])
    return RunnerTrack(keypoints, boxes, found, len(tracks), scores,
                       fragments_joined=max(len(chain) - 1, 0), n_fragments=len(fragments))
