import pytest
import torch
from torch.utils.data import DataLoader

from datamodules.synthetic import _PARTS, ANGLE_LIMITS, SyntheticDataModule, SyntheticVideos, figure_keypoints
from kpbottleneck.coordinates import pixel_centre_grid
from kpbottleneck.rendering import project_to_segments
from kpbottleneck.skeletons import SYNTHETIC


def small(**kwargs):
    defaults = dict(
        image_size=32,
        batch_size=4,
        num_train_videos=3,
        num_prior_videos=3,
        num_val_videos=2,
        num_test_videos=2,
        frames_per_video=20,
        window=(2, 5),
        eval_frame_stride=5,
    )
    defaults.update(kwargs)
    return SyntheticDataModule(**defaults)


def test_rest_pose_is_upright_and_frontal():
    bones = {
        name: torch.tensor(1.0)
        for name in ("torso", "head", "shoulder", "hip", "upper_arm", "forearm", "thigh", "shin", "foot")
    }
    keypoints = figure_keypoints(torch.zeros(1, len(ANGLE_LIMITS)), bones)[0]
    name = SYNTHETIC.index
    torch.testing.assert_close(keypoints[name("neck")], torch.tensor([0.0, -1.0]))
    torch.testing.assert_close(keypoints[name("head_top")], torch.tensor([0.0, -2.0]))
    assert keypoints[name("right_shoulder"), 0] < 0 < keypoints[name("left_shoulder"), 0]
    torch.testing.assert_close(keypoints[name("right_ankle")], torch.tensor([-1.0, 2.0]))


def test_deterministic_and_in_frame():
    a = SyntheticVideos(0, 2, frames_per_video=10, image_size=32, seed=1)
    b = SyntheticVideos(0, 2, frames_per_video=10, image_size=32, seed=1)
    torch.testing.assert_close(a.frame(1, 4), b.frame(1, 4))
    torch.testing.assert_close(a.keypoints(1, 4), b.keypoints(1, 4))
    assert not torch.equal(a.frame(1, 4), SyntheticVideos(0, 2, 10, 32, seed=2).frame(1, 4))
    image = a.frame(0, 0)
    assert image.shape == (3, 32, 32) and image.min() >= 0 and image.max() <= 1
    assert a.all_keypoints().abs().max() < 1.0


def test_a_frame_is_a_function_of_seed_video_of_the_data_set_and_frame_only():
    # video 5 of the data set, seen from a collection starting at 0 and from one starting at 5 (as the
    # splits are): the same frame, its pixel noise included
    whole, split = SyntheticVideos(0, 6, 10, 32, seed=3), SyntheticVideos(5, 1, 10, 32, seed=3)
    torch.testing.assert_close(whole.frame(5, 4), split.frame(0, 4))
    # and every (seed, video of the data set, frame) has noise of its own
    seeds = {
        SyntheticVideos(first, 3, 10, 32, seed=seed).noise_seed(video, t)
        for seed in (0, 1)
        for first in (0, 3)
        for video in range(3)
        for t in range(10)
    }
    assert len(seeds) == 2 * 6 * 10


def test_a_frame_is_the_capsules_of_its_keypoints_drawn_over_the_background():
    # the frame by its definition, with distances from the dense projection of every pixel onto every part
    videos = SyntheticVideos(0, 3, 12, 32, seed=5)
    data, t = videos._video(2), 7
    keypoints = data["keypoints"][t]
    starts = keypoints[[p[0] for p in _PARTS]][:, None, None]
    ends = keypoints[[p[1] for p in _PARTS]][:, None, None]
    _, residual = project_to_segments(pixel_centre_grid((32, 32)), starts, ends)
    radius = torch.tensor([p[2] for p in _PARTS])[:, None, None] * data["scale"]
    alpha = torch.sigmoid((radius - residual.norm(dim=-1)) * 32)
    image = data["background"]
    for index, part in enumerate(_PARTS):
        image = image + alpha[index] * (data[f"colour_{part[3]}"][:, None, None] * data["texture"] - image)
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(videos.noise_seed(2, t))) * 0.02
    torch.testing.assert_close(videos.frame(2, t), (image * data["lighting"][t] + noise).clamp(0, 1))


def test_frames_are_images_not_skeletons_and_move_smoothly():
    videos = SyntheticVideos(0, 1, frames_per_video=30, image_size=64)
    step = (videos.keypoints(0, 1) - videos.keypoints(0, 0)).norm(dim=-1).max()
    jump = (videos.keypoints(0, 25) - videos.keypoints(0, 0)).norm(dim=-1).max()
    assert step < 0.1 and jump > step
    image = videos.frame(0, 0)
    assert image.std(dim=(1, 2)).min() > 0.02  # textured colours, not a binary drawing


def test_splits_are_disjoint_and_batches_have_the_documented_keys():
    data = small()
    data.setup("fit")
    train = data._videos("train").all_keypoints()
    prior = data.datasets["prior"].keypoints
    assert not any(torch.equal(p, t) for p in prior[:20] for t in train)
    batch = next(iter(data.train_dataloader()))
    assert set(batch) == {"image", "appearance_image", "prior_keypoints", "prior_visibility"}
    assert batch["image"].shape == (4, 3, 32, 32) and batch["prior_keypoints"].shape == (4, 17, 2)
    val = next(iter(data.val_dataloader()))
    assert set(val) == {"image", "keypoints", "visibility"} and len(data.datasets["val"]) == 2 * 4


def test_pairs_come_from_one_video_within_the_window():
    data = small()
    data.setup("fit")
    pairs = data.datasets["pairs"]
    videos = pairs.videos
    for index in (0, 7, 19, 25):
        video, t = pairs.index[index]
        sample = pairs[index]
        distances = [(sample["appearance_image"] - videos.frame(video, s)).abs().max() for s in range(20)]
        other = int(torch.stack(distances).argmin())
        assert 2 <= abs(other - t) <= 5


def test_prior_cap_and_shift():
    capped = small(max_prior_samples=7)
    assert len(capped.prior_dataset()) == 7
    same = small().prior_dataset().keypoints
    shifted = small(prior_angle_scale=0.5).prior_dataset().keypoints
    assert shifted.shape == same.shape and not torch.allclose(shifted, same)


@pytest.mark.slow
def test_works_with_worker_processes():
    data = small(num_workers=2)
    data.setup("fit")
    batches = list(DataLoader(data.datasets["test"], batch_size=4, num_workers=2))
    single = list(DataLoader(data.datasets["test"], batch_size=4))
    torch.testing.assert_close(batches[0]["image"], single[0]["image"])
