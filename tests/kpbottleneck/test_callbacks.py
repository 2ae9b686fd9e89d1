import random

import numpy as np
import pytorch_lightning as pl
import torch

from datamodules import RandomDataModule
from kpbottleneck import KeypointGAN
from kpbottleneck.callbacks import collect_random_state, pipeline_images, restore_random_state
from tests.helpers import cpu_trainer


def _trainer(tmp_path, epochs):
    return cpu_trainer(tmp_path, max_epochs=epochs, limit_val_batches=0)


def test_resume_from_checkpoint_reproduces_the_uninterrupted_run(tmp_path, tiny_gan_kwargs):
    # a history of 4 fills in the first epoch and swaps at random in the second; the perceptual loss's
    # running means move every step: both must come back from the checkpoint
    tiny_gan_kwargs = dict(tiny_gan_kwargs, discriminator_history=4)

    def data():
        return RandomDataModule(image_size=32, batch_size=2, num_train=6, num_prior=16)

    pl.seed_everything(0)
    straight = KeypointGAN(**tiny_gan_kwargs)
    _trainer(tmp_path, 2).fit(straight, data())

    pl.seed_everything(0)
    first = KeypointGAN(**tiny_gan_kwargs)
    trainer = _trainer(tmp_path, 1)
    trainer.fit(first, data())
    trainer.save_checkpoint(tmp_path / "epoch1.ckpt")
    torch.manual_seed(12345)  # a crash and a new process: the random state is lost
    resumed = KeypointGAN(**tiny_gan_kwargs)
    _trainer(tmp_path, 2).fit(resumed, data(), ckpt_path=tmp_path / "epoch1.ckpt")

    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=name)
    assert straight.image_pool.filled == 4 and (straight.perceptual_loss.running_means > 0).all()


def test_random_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    pl.seed_everything(3)
    torch.save(collect_random_state(), tmp_path / "state.pt")
    expected = (torch.rand(3), np.random.rand(3), random.random())
    pl.seed_everything(99)
    restore_random_state(torch.load(tmp_path / "state.pt", weights_only=True))
    torch.testing.assert_close(torch.rand(3), expected[0])
    np.testing.assert_array_equal(np.random.rand(3), expected[1])
    assert random.random() == expected[2]


def test_prediction_plot_writes_predictions_over_test_images(tmp_path, tiny_gan_kwargs):
    from PIL import Image

    from kpbottleneck.callbacks import PredictionPlot

    model = KeypointGAN(**tiny_gan_kwargs)
    trainer = cpu_trainer(tmp_path, callbacks=[PredictionPlot(num_images=5)])
    trainer.test(model, RandomDataModule(image_size=32, batch_size=2, num_val=8), verbose=False)
    picture = Image.open(tmp_path / "test_predictions.png")
    # 5 images, each beside its ground truth: 10 panels of 64 px (2x), 8 a row → 2 rows
    assert picture.size == (8 * 66 + 2, 2 * 66 + 2)  # (width, height)


def test_training_samples_log_the_whole_pipeline_every_n_batches(tmp_path, tiny_gan_kwargs):
    from PIL import Image
    from pytorch_lightning.loggers import CSVLogger

    from kpbottleneck.callbacks import TrainingSamples

    trainer = cpu_trainer(
        tmp_path,
        logger=CSVLogger(tmp_path),
        max_epochs=1,
        limit_train_batches=5,
        limit_val_batches=0,
        callbacks=[TrainingSamples(every_n_batches=2, num_samples=3)],
    )
    trainer.fit(KeypointGAN(**tiny_gan_kwargs), RandomDataModule(image_size=32, batch_size=4, num_train=20))
    pictures = sorted((tmp_path / "lightning_logs").rglob("images/train_samples_*.png"))
    assert [p.name for p in pictures] == [  # batches 0, 2, 4 (two optimiser steps per batch)
        "train_samples_0000002.png",
        "train_samples_0000006.png",
        "train_samples_0000010.png",
    ]
    # 3 samples × 7 panels (x, x′, Φ(x), β(η(Φ(x))), x̂, ȳ, keypoints) of 32 px, 2 px padding
    assert Image.open(pictures[0]).size == (7 * 34 + 2, 3 * 34 + 2)


def test_pipeline_images_are_rgb_in_unit_range(tiny_gan_kwargs):
    from tests.helpers import make_batch

    panels = pipeline_images(KeypointGAN(**tiny_gan_kwargs).detector, make_batch())
    assert list(panels) == ["x", "x′", "Φ(x)", "β(η(Φ(x)))", "x̂", "ȳ", "keypoints"]
    for name, image in panels.items():
        assert image.shape == (2, 3, 32, 32), name
        assert image.min() >= 0.0 and image.max() <= 1.0, name
