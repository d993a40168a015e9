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
