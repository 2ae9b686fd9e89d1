import pytest
import torch

from datamodules.video import FramePairDataset, LabelledFrameDataset


class CountingVideos:
    """Frame t of video v is a constant image of value 100 v + t; keypoints encode (v, t) too."""

    num_videos = 2

    def num_frames(self, video):
        return 10

    def frame(self, video, t):
        return torch.full((3, 2, 2), 100.0 * video + t)

    def keypoints(self, video, t):
        return torch.tensor([[float(video), float(t)]])


def test_pairs_stay_in_the_video_and_window():
    torch.manual_seed(0)
    pairs = FramePairDataset(CountingVideos(), window=(3, 4))
    assert len(pairs) == 20
    for index in range(len(pairs)):
        sample = pairs[index]
        target, other = sample["image"][0, 0, 0].item(), sample["appearance_image"][0, 0, 0].item()
        assert target // 100 == other // 100  # same video
        assert 3 <= abs(target - other) <= 4 or other % 100 in (0, 9)  # clipped only at the ends


def test_zero_window_and_stride():
    pairs = FramePairDataset(CountingVideos(), window=(0, 0), frame_stride=5)
    assert len(pairs) == 4
    sample = pairs[1]
    torch.testing.assert_close(sample["image"], sample["appearance_image"])


def test_bad_window():
    with pytest.raises(ValueError, match="window"):
        FramePairDataset(CountingVideos(), window=(5, 2))


def test_tps_pairs_warp_the_target_frame_twice_in_the_given_share():
    torch.manual_seed(0)
    pairs = FramePairDataset(CountingVideos(), window=(3, 4), tps_fraction=0.5)
    kinds = []
    for index in range(len(pairs)):
        sample = pairs[index]
        target, other = sample["image"][0, 0, 0].item(), sample["appearance_image"][0, 0, 0].item()
        video, t = divmod(index, 10)
        assert target == pytest.approx(100 * video + t, abs=1e-3)  # a warp of a constant frame is the frame
        kinds.append(abs(other - target) < 1e-3)  # a TPS pair: both sides from the target frame
    assert 4 <= sum(kinds) <= 16  # 20 draws of a fair coin
    every = FramePairDataset(CountingVideos(), window=(3, 4), tps_fraction=1.0)
    assert all(torch.allclose(s["image"], s["appearance_image"]) for s in map(every.__getitem__, range(20)))


def test_tps_pairs_differ_in_geometry_only():
    image = torch.zeros(3, 32, 32)
    image[:, 8:24, 12:20] = 1.0

    class OneFrame(CountingVideos):
        def frame(self, video, t):
            return image

    torch.manual_seed(1)
    sample = FramePairDataset(OneFrame(), window=(3, 4), tps_fraction=1.0)[0]
    assert not torch.allclose(sample["image"], sample["appearance_image"], atol=1e-2)
    assert sample["image"].shape == sample["appearance_image"].shape == (3, 32, 32)


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_bad_tps_fraction(fraction):
    with pytest.raises(ValueError, match=r"tps_fraction must be in \[0, 1\]"):
        FramePairDataset(CountingVideos(), tps_fraction=fraction)


def test_labelled_frames():
    dataset = LabelledFrameDataset(CountingVideos(), frame_stride=3)
    sample = dataset[5]  # video 1, frame 3
    torch.testing.assert_close(sample["keypoints"], torch.tensor([[1.0, 3.0]]))
    assert sample["visibility"].all() and sample["image"][0, 0, 0] == 103
