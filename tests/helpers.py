"""Helpers the tests share: tiny network settings, a random batch, a quiet CPU Trainer, a VGG-19 file."""

import pytorch_lightning as pl
import torch
from torchvision.models.vgg import cfgs, make_layers

TINY_GAN = dict(
    skeleton="synthetic",
    image_size=32,
    generator_channels=4,
    regressor_channels=4,
    discriminator_channels=4,
    unet_depth=2,
    regressor_depth=2,
    discriminator_layers=2,
    perceptual_layers=("pixels", "conv1_2"),
)


def make_batch(batch_size=2, size=32, num_keypoints=17, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {
        "image": torch.rand(batch_size, 3, size, size, generator=gen),
        "appearance_image": torch.rand(batch_size, 3, size, size, generator=gen),
        "prior_keypoints": torch.rand(batch_size, num_keypoints, 2, generator=gen) * 1.6 - 0.8,
        "prior_visibility": torch.ones(batch_size, num_keypoints, dtype=torch.bool),
        "keypoints": torch.rand(batch_size, num_keypoints, 2, generator=gen) * 1.6 - 0.8,
    }


def cpu_trainer(tmp_path, **overrides):
    """A quiet CPU Trainer for tests: no logger, progress bar, summary or checkpoints unless asked."""
    settings = dict(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
    )
    return pl.Trainer(**{**settings, **overrides})


def save_torchvision_vgg19(path, seed, prefix="features."):
    """Write a random VGG-19 ``features`` state dict as torchvision would; return the network."""
    torch.manual_seed(seed)
    features = make_layers(cfgs["E"])
    torch.save({prefix + k: v for k, v in features.state_dict().items()}, path)
    return features
