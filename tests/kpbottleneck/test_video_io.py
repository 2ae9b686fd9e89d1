import pickle
from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from kpbottleneck import video_io
from kpbottleneck.video_io import VideoReader, VideoWriter, index_video


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
    assert copy.index == reader.index
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


def _encode(path, codec, container_format=None, frames=60, variable_rate=False):
    """A 64x48 video of ``frames`` distinct frames, with B-frames (2 between references, a key frame every
    12); ``variable_rate``: frame durations of 20, 40 or 70 ms in turn (millisecond timestamps)."""
    output = av.open(str(path), "w", format=container_format)
    stream = output.add_stream(codec, rate=25)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    stream.codec_context.max_b_frames, stream.codec_context.gop_size = 2, 12
    if variable_rate:
        stream.codec_context.time_base = Fraction(1, 1000)
    time = 0
    for index in range(frames):
        pixels = np.zeros((48, 64, 3), np.uint8)
        pixels[..., 0] = index * 4  # each frame its own colour, and a square that moves
        pixels[:8, (index % 8) * 8 : (index % 8) * 8 + 8] = 255
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        if variable_rate:
            frame.pts, frame.time_base = time, Fraction(1, 1000)
            time += (20, 40, 70)[index % 3]
        output.mux(stream.encode(frame))
    output.mux(stream.encode(None))
    output.close()
    return path


@pytest.mark.parametrize(
    ("name", "codec", "container_format", "variable_rate"),
    [
        ("h264.mp4", "libx264", None, False),
        ("mpeg4_b_frames.avi", "mpeg4", "avi", False),
        ("mpeg4_variable_rate.mp4", "mpeg4", None, True),
        ("h264_variable_rate.mkv", "libx264", None, True),
    ],
)
def test_every_index_is_the_frame_of_a_sequential_decode(
    tmp_path, name, codec, container_format, variable_rate
):
    """B-frames (decode order differs from display order) and variable frame rates, in order and at random."""
    path = _encode(tmp_path / name, codec, container_format, variable_rate=variable_rate)
    with av.open(str(path)) as container:
        expected = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    reader = VideoReader(path)
    assert reader.num_frames == len(expected) == 60
    assert reader.index.method == "packets"
    order = [*range(60), *torch.randperm(60, generator=torch.Generator().manual_seed(0)).tolist(), 59, 0]
    for index in order:
        got = (reader.frame(index) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(got, expected[index], err_msg=f"{name}: frame {index}")


def test_opening_a_video_reads_its_packets_and_decodes_nothing(tmp_path, monkeypatch):
    path = _encode(tmp_path / "h264.mp4", "libx264")
    with av.open(str(path)) as container:
        decoded = [(t, frame.pts) for t, frame in enumerate(container.decode(video=0)) if frame.key_frame]

    def no_decoding(*args):
        raise AssertionError("the video was decoded to index it")

    monkeypatch.setattr(video_io, "_decoded_key_frames", no_decoding)
    index = index_video(path)
    assert index.num_frames == 60 and index.method == "packets" and index.size == (48, 64)
    assert list(index.key_frames) == decoded and len(decoded) > 2  # positions in decode output, timestamps


def test_packets_that_cannot_give_the_order_fall_back_to_decoding_and_say_so(tmp_path, monkeypatch):
    path = _encode(tmp_path / "mpeg4_b_frames.avi", "mpeg4", "avi")
    expected = index_video(path)
    monkeypatch.setattr(video_io, "_packet_key_frames", lambda container, stream: None)
    with pytest.warns(UserWarning, match=r"mpeg4_b_frames\.avi: its packets do not give the frame order"):
        reader = VideoReader(path)
    assert reader.index.method == "decoding"
    assert (reader.num_frames, reader.index.key_frames) == (expected.num_frames, expected.key_frames)
    assert torch.equal(reader.frame(40), VideoReader(path, expected).frame(40))
