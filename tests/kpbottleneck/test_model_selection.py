import pytest
import torch

from kpbottleneck.coordinates import pixel_centre_grid
from kpbottleneck.equivariance import random_similarities, transform_keypoints
from kpbottleneck.model_selection import equivariance_error, pose_set_distance

SIZE = 48


def blobs(keypoints: torch.Tensor, sigma: float = 0.06) -> torch.Tensor:
    """``(N, 1, SIZE, SIZE)`` images of a Gaussian blob at each image's one keypoint ``(N, 1, 2)``."""
    grid = pixel_centre_grid((SIZE, SIZE))  # (H, W, 2) normalised pixel centres
    squared = ((grid[None] - keypoints[:, :, None, None, :]) ** 2).sum(-1)
    return torch.exp(-squared / (2 * sigma**2))


def centroid(images: torch.Tensor) -> torch.Tensor:
    """The intensity-weighted mean position ``(N, 1, 2)`` of each image's (only) blob: a detector that
    follows the image exactly."""
    grid = pixel_centre_grid((SIZE, SIZE))
    weights = images[:, 0] / images[:, 0].sum(dim=(1, 2), keepdim=True)
    return (weights[..., None] * grid).sum(dim=(1, 2))[:, None]


def test_a_detector_that_follows_the_image_is_equivariant_and_a_constant_one_is_not():
    torch.manual_seed(0)
    keypoints = torch.rand(16, 1, 2) * 0.8 - 0.4
    images = blobs(keypoints)
    following = equivariance_error(centroid, images)
    constant = equivariance_error(lambda x: torch.zeros(x.shape[0], 1, 2), images)
    assert following < 0.5
    # the constant detector misses by exactly how far each warp moves the image centre (% of the side)
    matrix = random_similarities(16, SIZE)
    moved = transform_keypoints(torch.zeros(16, 1, 2), matrix, SIZE)
    inside = moved.abs().amax(-1) < 1
    assert constant == pytest.approx(float(moved[inside].norm(dim=-1).mean() / 2 * 100), rel=1e-4)
    assert constant > 2.0


def test_a_collapsed_set_of_poses_is_far_from_a_prior_that_spreads():
    torch.manual_seed(0)
    prior = torch.rand(32, 5, 2) * 1.2 - 0.6
    assert pose_set_distance(prior, prior) == 0
    collapsed = prior.mean(dim=0, keepdim=True).expand(32, 5, 2)
    assert pose_set_distance(collapsed, prior) > pose_set_distance(prior + 0.02, prior)
    assert pose_set_distance(collapsed, prior) == pytest.approx(float(pose_set_distance(prior, collapsed)))


def test_the_checkpoint_monitoring_the_score_holds_the_best_scored_weights(tmp_path, tiny_gan_kwargs):
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    from datamodules import RandomDataModule
    from kpbottleneck import KeypointGAN
    from kpbottleneck.detector import KeypointDetector
    from kpbottleneck.model_selection import SCORES, LabelFreeScore, selection_frames
    from tests.helpers import cpu_trainer

    def fit(callbacks):
        pl.seed_everything(0)
        model = KeypointGAN(**tiny_gan_kwargs)
        data = RandomDataModule(image_size=32, batch_size=2, num_train=12, num_prior=16)
        trainer = cpu_trainer(
            tmp_path, max_epochs=1, limit_val_batches=0, callbacks=callbacks, enable_checkpointing=True
        )
        trainer.fit(model, data)
        return model

    score = LabelFreeScore("prior_distance", every_n_batches=2, count=6)
    every = ModelCheckpoint(tmp_path / "all", filename="{step}", every_n_train_steps=4, save_top_k=-1)
    best = ModelCheckpoint(
        tmp_path, monitor="select/prior_distance", filename="best", every_n_train_steps=4, save_top_k=1
    )
    model = fit([score, every, best])
    plain = fit([])
    for (name, a), b in zip(model.state_dict().items(), plain.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=name)  # scoring leaves training's random state alone

    frames = score.frames
    # the frames a script draws afterwards, from the same data without a Trainer, are the fit's
    data = RandomDataModule(image_size=32, batch_size=2, num_train=12, num_prior=16)
    data.setup("fit")
    for key, value in selection_frames(data, 6).items():
        torch.testing.assert_close(value, frames[key], msg=key)
    assert frames["image"].shape == (6, 3, 32, 32) and frames["prior_keypoints"].shape[0] == 6
    scores = {
        path.name: float(SCORES["prior_distance"](KeypointDetector.from_checkpoint(path).eval(), frames))
        for path in sorted((tmp_path / "all").glob("*.ckpt"))
    }
    assert sorted(scores) == ["step=12.ckpt", "step=4.ckpt", "step=8.ckpt"]  # batches 2, 4, 6
    assert best.best_model_score == pytest.approx(min(scores.values()), rel=1e-5)
    chosen = float(
        SCORES["prior_distance"](KeypointDetector.from_checkpoint(tmp_path / "best.ckpt").eval(), frames)
    )
    assert chosen == pytest.approx(min(scores.values()), rel=1e-5)


def test_an_unknown_score_is_refused():
    from kpbottleneck.model_selection import LabelFreeScore

    with pytest.raises(ValueError, match=r"score='sharpness'.*equivariance"):
        LabelFreeScore("sharpness")
