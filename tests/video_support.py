"""PyAV frame conversion for test helpers, without PyAV's per-thread converter cache.

``VideoFrame.reformat`` / ``to_ndarray(format=...)`` keep a swscale converter in a
thread-local for the life of the calling thread. When a later process is forked from
another thread with a ``preexec_fn`` (Ray starting its GCS and raylet inside a Prefect
task thread), the child frees that converter and hangs forever on swscale's slice-thread
condition variable, and the parent with it (``Popen`` waits for the child's exec). Test
helpers run in pytest's main thread, so they convert with a converter of their own.
"""
from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import VideoReformatter


def reformat(frame: av.VideoFrame, **kwargs) -> av.VideoFrame:
    """``frame.reformat(**kwargs)`` with a converter freed on return."""
    return VideoReformatter().reformat(frame, **kwargs)


def to_ndarray(frame: av.VideoFrame, **kwargs) -> np.ndarray:
    """``frame.to_ndarray(**kwargs)`` with a converter freed on return."""
    return reformat(frame, **kwargs).to_ndarray() if kwargs else frame.to_ndarray()
