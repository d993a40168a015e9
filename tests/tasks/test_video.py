import cv2
import numpy as np
import pytest

from tasks.video import VideoError, iter_frame_chunks, probe_video, resize_long_side


def write_video(path, n_frames=12, size=(160, 120), fps=29.97):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(n_frames):
        writer.write(np.full((size[1], size[0], 3), i * 10 % 255, np.uint8))
    writer.release()
    return path


def test_probe_keeps_fractional_fps_and_counts_by_demuxing(tmp_path):
    info = probe_video(write_video(tmp_path / "a.mp4"))
    assert info.fps == pytest.approx(29.97, abs=1e-3)
    assert (info.width, info.height) == (160, 120)
    assert info.packet_frames == 12


def test_truncated_file_counts_what_decodes(tmp_path):
    path = write_video(tmp_path / "a.mp4", n_frames=60)
    data = path.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    try:
        info = probe_video(tmp_path / "cut.mp4")
    except VideoError:
        return  # refusing a truncated file outright is acceptable
    decoded = sum(len(c) for c in iter_frame_chunks(tmp_path / "cut.mp4", 16))
    assert decoded <= info.packet_frames <= 60


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.mp4", b"", "empty"),
        ("text.mp4", b"this is not a video\n" * 50, "not a readable video"),
        ("random.mp4", bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), "not a readable video"),
    ],
)
def test_bad_files_are_refused_in_one_sentence(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(VideoError, match=message):
        probe_video(path)


def test_oversized_frames_are_refused_before_decoding(tmp_path):
    with pytest.raises(VideoError, match="larger than"):
        probe_video(write_video(tmp_path / "a.mp4"), max_side_px=100)


def test_chunks_cover_every_frame_in_order(tmp_path):
    chunks = list(iter_frame_chunks(write_video(tmp_path / "a.mp4", n_frames=12), 5))
    assert [len(c) for c in chunks] == [5, 5, 2]


def test_resize_long_side():
    frame = np.zeros((1920, 1080, 3), np.uint8)
    small, scale = resize_long_side(frame, 640)
    assert small.shape[:2] == (640, 360) and scale == pytest.approx(1 / 3)
    same, one = resize_long_side(np.zeros((100, 50, 3), np.uint8), 640)
    assert same.shape == (100, 50, 3) and one == 1.0


# --- frame times and declared capture rates (issue 24) ----------------------------------
SHARED_CLIP = __import__("pathlib").Path(__file__).resolve().parents[2].parent / "shared" / "videos" \
    / "treadmill-side-60fps.mp4"


def write_timed_video(path, frames, pts_600: list[int], metadata: dict | None = None):
    """An H.264 MP4 whose frame ``k`` is shown at ``pts_600[k] / 600`` s (variable rate when the
    steps differ), with container ``metadata`` written as MP4 tags (as phones write them)."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w", options={"movflags": "use_metadata_tags"}) as out:
        for k, v in (metadata or {}).items():
            out.metadata[k] = v
        stream = out.add_stream("libx264", rate=60)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 600)
        for frame, pts in zip(frames, pts_600):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:, :, ::-1]), format="rgb24")
            vf.pts, vf.time_base = pts, Fraction(1, 600)
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def shared_frames():
    if not SHARED_CLIP.exists():
        pytest.skip("shared video not found")
    return [cv2.resize(f, (136, 240)) for chunk in iter_frame_chunks(SHARED_CLIP, 64, 160) for f in chunk]


def test_variable_frame_rate_file_keeps_each_frames_timestamp(tmp_path, shared_frames):
    """The shared clip's first 160 frames, every frame up to 100 and every other one after
    (a phone halving its rate): the probe gives each frame's time, not the average rate's."""
    keep = [i for i in range(len(shared_frames)) if i < 100 or i % 2 == 0]
    path = write_timed_video(tmp_path / "vfr.mp4", [shared_frames[i] for i in keep], [10 * i for i in keep])
    info = probe_video(path)
    assert info.variable_frame_rate and info.packet_frames == len(keep)
    assert np.allclose(info.frame_times_s, (np.array(keep) - keep[0]) / 60.0, atol=1e-3)
    assert info.timestamp_fps == pytest.approx((len(keep) - 1) / ((keep[-1] - keep[0]) / 60.0), rel=1e-3)
    assert info.declared_capture_fps is None
    decoded = sum(len(c) for c in iter_frame_chunks(path, 64))
    assert decoded == len(info.frame_times_s)            # one time per decoded frame


def test_constant_rate_file_stores_no_times_and_declared_capture_rate_is_read(tmp_path, shared_frames):
    frames = shared_frames[:40]
    path = write_timed_video(tmp_path / "slomo.mp4", frames, [20 * i for i in range(len(frames))],
                             {"com.android.capture.fps": "240.000000"})
    info = probe_video(path)
    assert not info.variable_frame_rate and info.frame_times_s is None
    assert info.timestamp_fps == pytest.approx(30.0, rel=1e-3)
    assert info.declared_capture_fps == 240.0
