import numpy as np
import pytest
import torch
from torchvision.utils import save_image

from datamodules.custom import VideoFolderDataModule
from datamodules.image_augmentation import ColourJitter
from kpbottleneck.coordinates import normalized_to_box_pixels
from kpbottleneck.skeletons import SYNTHETIC
from tests.real_formats import write_video


@pytest.fixture
def folder(tmp_path):
    write_video(tmp_path / "videos" / "walk.mp4", 10, 48, 64)
    (tmp_path / "videos" / "jump").mkdir()
    for t in range(5):
        save_image(torch.rand(3, 30, 30), tmp_path / "videos" / "jump" / f"{t:04d}.jpg")
    np.save(tmp_path / "poses.npy", (20 + torch.rand(8, 17, 2) * 40).numpy())
    names = SYNTHETIC.keypoint_names
    header = ["source", "frame", *(f"{n}_{a}" for n in names for a in "xy")]
    truth = (10 + torch.rand(2, 17, 2) * 30).tolist()
    rows = [["videos/walk.mp4", "3", *(c for p in truth[0] for c in p)],
            ["videos/jump/0002.jpg", "0", *(c for p in truth[1] for c in p)]]  # fmt: skip
    (tmp_path / "labels.csv").write_text("\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n")
    return tmp_path, torch.tensor(truth)


def test_videos_and_frame_folders_make_pairs_and_the_prior_is_boxed(folder):
    root, _ = folder
    data = VideoFolderDataModule(str(root / "videos"), str(root / "poses.npy"), "synthetic", image_size=32,
                                 batch_size=2, window=(1, 2))  # fmt: skip
    data.setup("fit")
    assert len(data.datasets["pairs"]) == 15  # 10 video frames + 5 folder frames
    batch = next(iter(data.train_dataloader()))
    assert batch["image"].shape == (2, 3, 32, 32) and batch["prior_keypoints"].shape == (2, 17, 2)
    prior = data.datasets["prior"].keypoints
    assert prior.abs().max() < 1 and prior[:, :, 0].min() < -0.6 < 0.6 < prior[:, :, 0].max()
    assert "val" not in data.datasets


def test_labels_give_validation_frames_in_original_pixels(folder):
    root, truth = folder
    data = VideoFolderDataModule(str(root / "videos"), str(root / "poses.npy"), "synthetic",
                                 labels=str(root / "labels.csv"), image_size=32)  # fmt: skip
    data.setup("validate")
    video_frame, still = data.datasets["val"][0], data.datasets["val"][1]
    assert video_frame["box"].tolist() == [0.0, -8.0, 64.0, 56.0]  # 48 × 64 video, letterboxed
    for sample, expected in ((video_frame, truth[0]), (still, truth[1])):
        pixels = normalized_to_box_pixels(sample["keypoints"][None], sample["box"][None])[0]
        assert torch.allclose(pixels, expected, atol=1e-4)


def test_bad_inputs_are_named(folder, tmp_path):
    root, _ = folder
    np.save(root / "wrong.npy", np.zeros((3, 13, 2)))
    data = VideoFolderDataModule(str(root / "videos"), str(root / "wrong.npy"), "synthetic")
    with pytest.raises(
        ValueError, match=r"wrong\.npy holds an array of shape \(3, 13, 2\); expected \(N, 17, 2\)"
    ):
        data.setup("fit")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no video file and no folder of frames"):
        VideoFolderDataModule(str(tmp_path / "empty"), str(root / "poses.npy"), "synthetic").setup("fit")
    with pytest.raises(ValueError, match="prior_units must be"):
        VideoFolderDataModule(str(root), str(root / "poses.npy"), "synthetic", prior_units="metres")


def test_prior_margin_sets_the_scale_of_pixel_poses(folder):
    root, _ = folder
    extents = {}
    for margin in (1.25, 1.6):
        data = VideoFolderDataModule(str(root / "videos"), str(root / "poses.npy"), "synthetic",
                                     prior_margin=margin)  # fmt: skip
        poses, _ = data.prior_poses()
        extents[margin] = (poses.amax(1) - poses.amin(1)).amax(-1)  # longer side of each pose, of 2
    # the box side is margin × extent, so the normalised extent is 2 / margin (integer pixel boxes aside)
    torch.testing.assert_close(extents[1.25], torch.full_like(extents[1.25], 2 / 1.25), atol=0.05, rtol=0)
    torch.testing.assert_close(extents[1.6], torch.full_like(extents[1.6], 2 / 1.6), atol=0.05, rtol=0)
    with pytest.raises(ValueError, match="prior_margin must be >= 1"):
        VideoFolderDataModule(str(root / "videos"), str(root / "poses.npy"), "synthetic", prior_margin=0.8)


def test_labelled_training_frames_feed_the_post_processing_split(folder):
    root, truth = folder
    videos, poses, labels = str(root / "videos"), str(root / "poses.npy"), str(root / "labels.csv")
    data = VideoFolderDataModule(
        videos, poses, "synthetic", image_size=32, labels=labels, train_labels=labels
    )
    data.setup("test")
    post_processing = data.datasets["post_processing"]
    assert len(post_processing) == 2
    sample = post_processing[0]
    pixels = normalized_to_box_pixels(sample["keypoints"][None], sample["box"][None])[0]
    torch.testing.assert_close(pixels, truth[0], atol=1e-3, rtol=0)
    without = VideoFolderDataModule(videos, poses, "synthetic", labels=labels)
    assert "post_processing" not in without.build_datasets("test")


def test_colour_jitter_is_drawn_once_per_pair_of_video_frames(folder):
    root, _ = folder
    data = VideoFolderDataModule(str(root / "videos"), str(root / "poses.npy"), "synthetic", jitter=0.5)
    pairs = data.build_datasets("fit")["pairs"]
    assert pairs.augment.__func__ is ColourJitter.same and pairs.videos.jitter is None


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_tps_fraction_makes_pairs_of_one_frame(folder, fraction):
    root, _ = folder
    data = VideoFolderDataModule(str(root / "videos"), str(root / "poses.npy"), "synthetic", image_size=32,
                                 window=(1, 1), tps_fraction=fraction)  # fmt: skip
    pairs = data.build_datasets("fit")["pairs"]
    video, t = pairs.index[2]
    read, frame = [], pairs.videos.frame
    pairs.videos.frame = lambda v, s: read.append((v, s)) or frame(v, s)
    torch.manual_seed(0)
    sample = pairs[2]
    if fraction == 0.0:  # a video pair: the frame as it is and a neighbour
        assert read[0] == (video, t) and read[1] in ((video, t - 1), (video, t + 1)) and len(read) == 2
        torch.testing.assert_close(sample["image"], frame(video, t))
    else:  # a TPS pair: two warps of the frame, no other frame read
        assert read == [(video, t)]
        assert not torch.allclose(sample["image"], frame(video, t))
        assert not torch.allclose(sample["image"], sample["appearance_image"])
