"""Real time of a clip: frame timestamps, declared capture rates and the slow-motion rate search.

Three questions about time, each answered from evidence in order of trust:

1. When was each frame shown? The presentation timestamps (PTS) the container
   stores, not the nominal rate: phones write variable-frame-rate video (the
   interval stretches in low light, frames drop under load).
   :func:`frame_timing` summarises them; a :class:`TimeGrid` puts keypoints onto an
   evenly spaced grid in real time so the filters and the event detector (which
   assume even sampling) see true time, and maps the results' frames back.
2. When was each frame *captured*? Slow motion plays back slower than it was
   filmed; phones write the capture rate into the container (Android's
   ``com.android.capture.fps``). :func:`declared_capture_fps` reads it.
3. Without a declared rate: the free fall of the body in flight
   (``analysis.timing._ballistic_capture_fps``) measured at a rate that agrees with
   itself (:func:`self_consistent_capture_fps`).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

#: A frame whose timestamp is further than this share of the median interval from an evenly
#: spaced grid makes the clip "variable frame rate" (encoders round PTS to the time base,
#: a few percent of an interval; a dropped or stretched frame is 50 % or more).
VARIABLE_RATE_TOLERANCE = 0.25

#: Container metadata keys that carry the capture rate of slow-motion video (lower case).
#: ``com.android.capture.fps``: written by Android's MediaRecorder/MPEG4Writer for
#: high-speed recordings (``MediaFormat.KEY_CAPTURE_RATE``); the others are the names
#: other recorders and editors use for the same fact.
CAPTURE_RATE_KEYS = ("com.android.capture.fps", "com.apple.quicktime.capture.fps", "capture_fps",
                     "capture.fps", "com.samsung.android.capture.fps")
_CAPTURE_KEY_PATTERN = re.compile(r"capture[._ -]?(fps|frame[._ -]?rate|rate)$")


@dataclass(frozen=True)
class FrameTiming:
    """What a clip's presentation timestamps say.

    ``mean_fps``: frames per second of real playback time, ``(n - 1) / (t_last -
    t_first)``; ``median_interval_s``; ``variable``: some frame lies more than
    :data:`VARIABLE_RATE_TOLERANCE` of an interval off the evenly spaced grid from
    the first to the last frame; ``max_offset_frames``: that largest offset, in
    intervals; ``long_intervals``: intervals longer than 1.5 median ones (dropped
    or stretched frames)."""

    mean_fps: float
    median_interval_s: float
    variable: bool
    max_offset_frames: float
    long_intervals: int
    min_interval_s: float = float("nan")
    max_interval_s: float = float("nan")


def frame_timing(times_s: np.ndarray) -> FrameTiming:
    """:class:`FrameTiming` of presentation timestamps ``times_s`` (s, one per decoded frame,
    in presentation order). Raises ``ValueError`` for fewer than two or non-increasing times."""
    t = np.asarray(times_s, dtype=np.float64)
    if t.ndim != 1 or t.size < 2 or not np.isfinite(t).all():
        raise ValueError("frame timestamps need at least two finite times")
    dt = np.diff(t)
    if (dt <= 0).any():
        raise ValueError("frame timestamps must increase strictly")
    median = float(np.median(dt))
    mean_fps = (t.size - 1) / float(t[-1] - t[0])
    grid = t[0] + np.arange(t.size) / mean_fps
    offset = float(np.max(np.abs(t - grid)) * mean_fps)
    return FrameTiming(mean_fps=mean_fps, median_interval_s=median,
                       variable=offset > VARIABLE_RATE_TOLERANCE,
                       max_offset_frames=offset, long_intervals=int((dt > 1.5 * median).sum()),
                       min_interval_s=float(dt.min()), max_interval_s=float(dt.max()))


def resample_at(values: np.ndarray, times_s: np.ndarray, instants_s: np.ndarray) -> np.ndarray:
    """``values`` (T, ...) sampled at increasing ``times_s`` at the ``instants_s`` (within them).

    Linear interpolation per channel between the two frames around each instant; an
    instant next to a missing (NaN) sample stays NaN (a gap is not bridged here: the
    engine's gap filling decides that), unless it falls exactly on a finite sample."""
    v = np.asarray(values, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64)
    if v.shape[0] != t.size:
        raise ValueError(f"{v.shape[0]} samples but {t.size} timestamps")
    at = np.asarray(instants_s, dtype=np.float64)
    j = np.clip(np.searchsorted(t, at, side="right") - 1, 0, t.size - 2)
    w = ((at - t[j]) / (t[j + 1] - t[j])).clip(0.0, 1.0)
    shape = (-1,) + (1,) * (v.ndim - 1)
    out = v[j] * (1.0 - w.reshape(shape)) + v[j + 1] * w.reshape(shape)
    # a sample that contributes nothing (weight 0) must not poison the instant with its NaN
    exact_lo, exact_hi = (w == 0.0).reshape(shape), (w == 1.0).reshape(shape)
    return np.where(exact_lo, v[j], np.where(exact_hi, v[j + 1], out))


def declared_capture_fps(metadata: Mapping[str, str], playback_fps: float) -> float | None:
    """The capture rate (frames/s) a container declares for slow motion, or None.

    ``metadata``: the container's and the video stream's tags (PyAV ``.metadata``).
    Known keys (:data:`CAPTURE_RATE_KEYS`) first, then any key ending in
    ``capture fps`` / ``capture frame rate`` / ``capture rate``. A declared rate
    equal to the playback rate (within 2 %: a real-time clip that states it) or
    outside 1-10000 frames/s is not slow motion and gives None."""
    lowered = {str(k).lower(): v for k, v in metadata.items()}
    keys = [k for k in CAPTURE_RATE_KEYS if k in lowered]
    keys += sorted(k for k in lowered if k not in keys and _CAPTURE_KEY_PATTERN.search(k))
    for key in keys:
        try:
            rate = float(str(lowered[key]).strip().split()[0])
        except (ValueError, IndexError):
            continue
        if not (math.isfinite(rate) and 1.0 <= rate <= 10_000.0):
            continue
        if abs(rate / playback_fps - 1.0) <= 0.02:
            return None
        return rate
    return None


#: The self-consistent rate search stops when the flight-based estimate agrees with the
#: rate the clip was analysed at within this share.
RATE_AGREEMENT = 0.03
#: Most re-analyses the search spends (each is one analysis of the clip).
MAX_RATE_TRIES = 7


def self_consistent_capture_fps(estimate_at: Callable[[float], float | None], guess: float,
                                max_tries: int = MAX_RATE_TRIES) -> tuple[float | None, float | None]:
    """The capture rate ``r`` at which the clip's own flight-based estimate agrees with
    ``r`` (``estimate_at(r) ~= r``), searched from ``guess``; returns ``(rate analysed
    at, estimate there)`` of the best try, ``(None, None)`` when no try gives an estimate.

    Why a search: the estimate is *not* independent of the rate the clip is analysed
    at, although ``fps * sqrt(9.81 / g)`` would be for an exact parabola. The keypoint
    filter's cut-off and the stance rules are set in real time, so at a rate r times too
    low the filter passes r times more of the pose jitter and the flights are cut
    differently: on the shared clip slowed 8x (truth 240 fps) an analysis at 170
    estimates 341 and at 120 estimates 785 (the 498-for-240 symptom of issue 24: a
    cadence-based first guess below the truth), while at 240 it gives 227 and at 340
    gives 235. The fixed point is where the analysis rate and the estimate agree.

    The search works on ``log(estimate / rate)``, which falls with the rate: it keeps
    a bracket (the highest rate found too low, the lowest found too high), steps to
    the estimate (at most 2x per step) and bisects geometrically when a step would
    leave the bracket. A try without an estimate (no flights survive: the rate is far
    too high, the filter flattens them) counts as too high above the guess and as too
    low below it."""
    if not (guess and math.isfinite(guess) and guess > 0):
        return None, None
    lo, hi = 0.0, math.inf
    rate, best = float(guess), (None, None, math.inf)
    for _ in range(max_tries):
        est = estimate_at(rate)
        if est is not None and math.isfinite(est) and est > 0:
            misfit = math.log(est / rate)
            if abs(misfit) < best[2]:
                best = (rate, est, abs(misfit))
            if abs(misfit) <= math.log1p(RATE_AGREEMENT):
                break
            if misfit > 0:
                lo = max(lo, rate)
            else:
                hi = min(hi, rate)
            step = rate * math.exp(max(-math.log(2.0), min(math.log(2.0), misfit)))
        else:
            if rate >= guess:
                hi = min(hi, rate)
                step = rate / 2.0
            else:
                lo = max(lo, rate)
                step = rate * 2.0
        if not (lo < step < hi):
            step = hi / 2.0 if lo == 0.0 else (2.0 * lo if math.isinf(hi) else math.sqrt(lo * hi))
        if abs(math.log(step / rate)) < 1e-3:
            break
        rate = step
    return (best[0], best[1]) if best[0] is not None else (None, None)


@dataclass(frozen=True)
class TimeGrid:
    """The decoded frames' presentation times and the evenly spaced grid the engine runs on.

    The grid runs from the first frame's time at ``rate``, ``n`` frames to the last frame's
    time: grid frame ``k`` is at ``t0 + k / rate``. :func:`time_grid` takes the
    timestamps' mean rate and as many frames as were decoded (measured on the shared
    clip switching 60 -> 30 fps with real pose: a 60 fps grid, linear interpolation
    in the 30 fps part, read cadence 167.5 for 168.6 and 168.3, the mean rate 168.5
    and 168.1, with the same events within a frame). Values per decoded frame go onto the grid
    (:meth:`to_grid`, linear in time), frame numbers both ways (:meth:`grid_frames`,
    :meth:`decoded_frames`), so the results are given back on the decoded frames
    (``analysis.footage.on_decoded_frames``)."""

    decoded_s: np.ndarray
    rate: float
    n: int

    @property
    def grid_s(self) -> np.ndarray:
        return self.decoded_s[0] + np.arange(self.n) / self.rate

    def to_grid(self, values: np.ndarray) -> np.ndarray:
        """``values`` (T, ...) per decoded frame at the grid's instants (:func:`resample_at`)."""
        return resample_at(values, self.decoded_s, np.minimum(self.grid_s, self.decoded_s[-1]))

    def grid_frames(self, decoded: np.ndarray) -> np.ndarray:
        """The grid frame nearest in time to each decoded frame index."""
        t = self.decoded_s[np.asarray(decoded, dtype=np.int64)] - self.decoded_s[0]
        return np.clip(np.rint(t * self.rate), 0, self.n - 1).astype(np.int64)

    def decoded_frames(self, instants_s: np.ndarray, first_at_or_after: bool = True) -> np.ndarray:
        """Decoded frame of each instant (s from the first frame): the first frame shown at or
        after it (an IC or TO: the first frame in contact / off the ground), or the nearest."""
        t = np.asarray(instants_s, dtype=np.float64) + self.decoded_s[0]
        n = self.decoded_s.size
        if first_at_or_after:
            return np.clip(np.searchsorted(self.decoded_s, t - 1e-9, side="left"), 0, n - 1).astype(np.int64)
        j = np.clip(np.searchsorted(self.decoded_s, t), 1, n - 1)
        nearer_left = (t - self.decoded_s[j - 1]) <= (self.decoded_s[j] - t)
        return np.where(nearer_left, j - 1, j).astype(np.int64)


def time_grid(frame_times_s: list[float] | None, n_frames: int) -> TimeGrid | None:
    """The :class:`TimeGrid` of a variable-frame-rate clip's first ``n_frames`` timestamps; None
    for a constant rate or without (enough) timestamps."""
    if not frame_times_s or len(frame_times_s) < n_frames or n_frames < 2:
        return None
    times = np.asarray(frame_times_s[:n_frames], dtype=np.float64)
    timing = frame_timing(times)
    if not timing.variable:
        return None
    return TimeGrid(times, timing.mean_fps, n_frames)


def variable_rate_note(grid: TimeGrid) -> str:
    """The quality note of a clip timed by its timestamps."""
    timing = frame_timing(grid.decoded_s)
    return (f"Variable frame rate: frame intervals ranged from {1000 * timing.min_interval_s:.1f} to "
            f"{1000 * timing.max_interval_s:.1f} ms (median {1000 * timing.median_interval_s:.1f} ms, "
            f"{timing.long_intervals} dropped or stretched frames); every time is taken from the frames' "
            f"timestamps, not the nominal rate, and every frame number is a decoded frame's.")
