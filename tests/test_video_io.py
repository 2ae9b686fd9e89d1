import pickle

import pytest
import torch

from kpbottleneck.video_io import VideoReader, VideoWriter


def _frames(count=40, height=24, width=32):
    """Frame t is grey level t / count with a white column at x = t (recognisable after compression)."""
    frames = []
    for t in range(count):
        frame = torch.full((3, height, width), 0.2 + 0.5 * t / count)
        frame[:, :, t % width] = 1.0
        frames.append(frame)
    return frames


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps=10) as writer:
        for frame in _frames():
            writer.write(frame)
    return path


def test_reader_knows_the_written_video(video):
    reader = VideoReader(video)
    assert (reader.num_frames, reader.fps, reader.size) == (40, 10.0, (24, 32))


def test_random_access_gives_the_frame_asked_for(video):
    reader = VideoReader(video)
    expected = _frames()
    for t in [0, 1, 2, 31, 5, 39, 17, 18]:  # forward steps, backward seeks, the last frame
        frame = reader.frame(t)
        assert frame.shape == (3, 24, 32)
        assert frame[0].mean(0).argmax() == t % 32
        grey = frame[:, :, (t + 16) % 32].mean()
        assert abs(grey - expected[t][:, :, (t + 16) % 32].mean()) < 0.03
    with pytest.raises(IndexError, match="has 40 frames; frame 40"):
        reader.frame(40)


def test_reader_pickles_for_dataloader_workers(video):
    reader = VideoReader(video)
    reader.frame(3)
    copy = pickle.loads(pickle.dumps(reader))
    assert torch.allclose(copy.frame(7), reader.frame(7))


def test_odd_sizes_are_padded_to_even(tmp_path):
    with VideoWriter(tmp_path / "odd.mp4", fps=5) as writer:
        writer.write(torch.rand(3, 15, 21))
    assert VideoReader(tmp_path / "odd.mp4").size == (16, 22)


def test_bad_video_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing.mp4 does not exist"):
        VideoReader(tmp_path / "nothing.mp4")
    (tmp_path / "garbage.mp4").write_bytes(b"\x00not a video" * 100)
    with pytest.raises(ValueError, match=r"garbage.mp4"):
        VideoReader(tmp_path / "garbage.mp4")
