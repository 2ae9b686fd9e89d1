from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from datamodules import RandomDataModule
from kpbottleneck import KeypointGAN, RegressorPretraining
from kpbottleneck.detector import KeypointDetector
from kpbottleneck.skeletons import Skeleton
from tests.helpers import cpu_trainer

# A KeypointGAN checkpoint written by main before KeypointGAN held a detector (commit 6a237ad: the tiny
# networks of tests.helpers.TINY_GAN, 4 training steps), and the pixel keypoints that main's
# predict_keypoints gave for three 40x48 images.
FIXTURES = Path(__file__).parents[1] / "data" / "checkpoints"
OLD_CHECKPOINT = FIXTURES / "keypoint_gan_2026-12-03.ckpt"
OLD_EXPECTED = FIXTURES / "keypoint_gan_2026-12-03.expected.pt"


@pytest.fixture(scope="module")
def expected():
    return torch.load(OLD_EXPECTED, weights_only=True)


def test_a_checkpoint_from_before_the_detector_loads_and_predicts_the_same_keypoints(expected):
    old_keys = torch.load(OLD_CHECKPOINT, weights_only=True)["state_dict"]
    assert "encoder.net.head.weight" in old_keys  # (the old names, without "detector.")
    model = KeypointGAN.load_from_checkpoint(OLD_CHECKPOINT, map_location="cpu")
    torch.testing.assert_close(model.predict_keypoints(expected["images"]), expected["keypoints"])
    detector = KeypointDetector.from_checkpoint(OLD_CHECKPOINT)
    torch.testing.assert_close(detector.predict_keypoints(expected["images"]), expected["keypoints"])


def test_from_checkpoint_reads_the_architecture_and_the_detector_networks_only(expected):
    detector = KeypointDetector.from_checkpoint(OLD_CHECKPOINT)
    assert not detector.training and detector.image_size == 32 and detector.skeleton.name == "synthetic"
    assert {name for name, _ in detector.named_children()} == {"renderer", "encoder", "regressor", "decoder"}
    state = torch.load(OLD_CHECKPOINT, weights_only=True)["state_dict"]
    for key, value in detector.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_a_new_checkpoint_names_the_detector_and_loads_both_ways(tmp_path, tiny_gan_kwargs):
    pl.seed_everything(0)
    model = KeypointGAN(**tiny_gan_kwargs)
    trainer = cpu_trainer(tmp_path, max_steps=2, limit_val_batches=0, precision="32-true")
    trainer.fit(model, RandomDataModule(image_size=32, batch_size=2, num_train=4, num_prior=4, num_val=2))
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    keys = torch.load(path, weights_only=True)["state_dict"]
    assert "detector.encoder.net.head.weight" in keys and "encoder.net.head.weight" not in keys
    images = torch.rand(3, 3, 50, 30)
    expected = model.predict_keypoints(images)
    torch.testing.assert_close(KeypointDetector.from_checkpoint(path).predict_keypoints(images), expected)
    reloaded = KeypointGAN.load_from_checkpoint(path, map_location="cpu")
    torch.testing.assert_close(reloaded.predict_keypoints(images), expected)
    fresh = KeypointGAN(**tiny_gan_kwargs)  # a GAN checkpoint initialises another model's networks
    fresh.load_networks(path)
    torch.testing.assert_close(fresh.predict_keypoints(images), expected)


def test_a_keypoint_set_given_as_a_mapping_builds_the_gan_and_its_detector(tiny_gan_kwargs):
    # LightningCLI hands the module its hyper-parameters with the config's mapping, not a Skeleton
    fields = {"name": "arm", "keypoint_names": ["hand", "elbow", "shoulder"], "edges": [[0, 1], [1, 2]]}
    model = KeypointGAN(**{**tiny_gan_kwargs, "skeleton": fields})
    detector = KeypointDetector.from_hyperparameters({**model.hparams, "skeleton": fields})
    assert (
        model.skeleton
        == detector.skeleton
        == Skeleton("arm", ("hand", "elbow", "shoulder"), ((0, 1), (1, 2)))
    )
    assert model.predict_keypoints(torch.rand(2, 3, 32, 32)).shape == (2, 3, 2)


def test_the_gan_and_its_detector_share_networks_and_layout(tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs)
    assert model.encoder is model.detector.encoder and model.renderer is model.detector.renderer
    model.channels_last = True
    assert model.detector.channels_last
    images = torch.rand(2, 3, 32, 32)
    assert model.detector.check_images(images).is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match=r"\(model.image_size=32\): set data.init_args.image_size to 32"):
        model.detector(torch.rand(2, 3, 16, 16))


def test_from_checkpoint_names_a_missing_file_and_a_checkpoint_without_a_detector(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.ckpt"):
        KeypointDetector.from_checkpoint(tmp_path / "nothing.ckpt")
    regressor = RegressorPretraining(image_size=32, regressor_channels=4, regressor_depth=2)
    path = tmp_path / "eta.ckpt"
    torch.save({"state_dict": regressor.state_dict(), "hyper_parameters": dict(regressor.hparams)}, path)
    with pytest.raises(ValueError, match=r"eta.ckpt.*lacks the detector's weights.*encoder"):
        KeypointDetector.from_checkpoint(path)
    torch.save({"weights": torch.ones(1)}, path)
    with pytest.raises(ValueError, match="not a Lightning checkpoint"):
        KeypointDetector.from_checkpoint(path)


def test_the_old_from_model_still_gives_the_models_detector_and_warns(tiny_gan_kwargs):
    from kpbottleneck.export import KeypointDetector as ExportedName  # the old import path

    model = KeypointGAN(**tiny_gan_kwargs)
    with pytest.warns(DeprecationWarning, match="use model.detector"):
        detector = ExportedName.from_model(model)
    assert detector is model.detector and not detector.training


def test_held_detector_is_the_modules_and_a_module_without_one_is_named(tiny_gan_kwargs):
    from torch import nn

    from kpbottleneck import KeypointGAN
    from kpbottleneck.detector import held_detector

    model = KeypointGAN(**tiny_gan_kwargs)
    assert held_detector(model, "TrainingSamples") is model.detector
    with pytest.raises(TypeError, match=r"LabelFreeScore needs .* `detector`.*Linear has none"):
        held_detector(nn.Linear(1, 1), "LabelFreeScore")
