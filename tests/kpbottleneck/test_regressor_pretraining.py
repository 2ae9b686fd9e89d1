import math

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from kpbottleneck import RegressorPretraining
from kpbottleneck.losses import keypoint_mse
from kpbottleneck.nonfinite import NonFiniteError
from tests.helpers import cpu_trainer


def test_pretraining_learns_to_invert_the_renderer(tmp_path):
    pl.seed_everything(0)
    model = RegressorPretraining(
        skeleton="synthetic", image_size=32, regressor_channels=8, regressor_depth=2, lr=3e-3
    )
    angles = torch.arange(17) * 2 * math.pi / 17
    ring = 0.5 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1)
    poses = ring + 0.05 * torch.randn(64, 17, 2)
    train = DataLoader([{"prior_keypoints": p} for p in poses], batch_size=8, shuffle=True)
    val = DataLoader([{"keypoints": p} for p in poses[:8]], batch_size=8)

    def error():
        with torch.no_grad():
            return keypoint_mse(model(model.renderer(poses[:16])), poses[:16]).item()

    start = error()
    trainer = cpu_trainer(tmp_path, max_steps=60, limit_val_batches=1)
    trainer.fit(model, train, val)
    assert error() < 0.2 * start
    assert "val/regressor_error" in trainer.callback_metrics


def test_jitter_is_applied_in_training(monkeypatch):
    model = RegressorPretraining(skeleton="synthetic", image_size=32, regressor_channels=4, regressor_depth=2)
    seen = {}
    monkeypatch.setattr(model, "log", lambda *a, **k: None)

    def spy(skeleton_image):
        seen["y"] = skeleton_image
        return torch.zeros(1, 17, 2)

    monkeypatch.setattr(model.regressor, "forward", spy)
    poses = torch.zeros(1, 17, 2)
    poses[0, :, 0] = torch.linspace(-0.5, 0.5, 17)
    model.training_step({"prior_keypoints": poses}, 0)
    assert not torch.allclose(seen["y"], model.renderer(poses))


def test_lr_decay_reaches_zero_at_the_last_step(tmp_path):
    model = RegressorPretraining(
        skeleton="synthetic", image_size=32, regressor_channels=4, regressor_depth=2, lr_decay=0.5
    )
    poses = torch.rand(16, 17, 2) - 0.5
    seen = []

    class Record(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    trainer = cpu_trainer(tmp_path, max_steps=4, callbacks=[Record()])
    trainer.fit(model, DataLoader([{"prior_keypoints": p} for p in poses], batch_size=4))
    assert seen == [1e-3, 1e-3, 1e-3, 5e-4]
    assert trainer.optimizers[0].param_groups[0]["lr"] == 0.0


def test_a_nan_regressor_loss_stops_pre_training_with_a_clear_error(tmp_path, monkeypatch):
    regressor = RegressorPretraining(image_size=32, regressor_channels=4, regressor_depth=2)
    monkeypatch.setattr(
        "kpbottleneck.regressor_pretraining.keypoint_mse", lambda *args: keypoint_mse(*args) * float("inf")
    )
    trainer = cpu_trainer(tmp_path, max_steps=3, limit_val_batches=0, log_every_n_steps=1)
    with pytest.raises(NonFiniteError, match="regressor loss was NaN or infinite at training step 0"):
        trainer.fit(regressor, DataLoader([{"prior_keypoints": torch.rand(17, 2) - 0.5}] * 8, batch_size=2))


def test_compiled_regressor_trains_like_the_eager_one_and_keeps_its_checkpoint_keys(tmp_path):
    poses = torch.rand(4, 17, 2) - 0.5
    trained = {}
    for compile in (False, True):
        pl.seed_everything(0)
        model = RegressorPretraining(image_size=32, regressor_channels=4, regressor_depth=2, compile=compile)
        loader = DataLoader([{"prior_keypoints": pose} for pose in poses], batch_size=2)
        cpu_trainer(tmp_path, max_steps=2).fit(model, loader)
        trained[compile] = model
    assert trained[True].regressor._compiled_call_impl is not None
    assert list(trained[True].state_dict()) == list(trained[False].state_dict())  # no "_orig_mod." in keys
    # (weights are not compared: a bias before a normalisation has a zero gradient up to rounding, which
    # Adam turns into steps of ±lr either way; the function the network computes is what must agree)
    with torch.no_grad():
        eager = trained[False](trained[False].renderer(poses))
        compiled = trained[True](trained[True].renderer(poses))
    torch.testing.assert_close(compiled, eager, atol=1e-4, rtol=1e-4)


def test_the_old_name_still_builds_the_same_module_and_warns(tmp_path):
    from kpbottleneck import KeypointRegressor

    with pytest.warns(DeprecationWarning, match="use kpbottleneck.RegressorPretraining"):
        old = KeypointRegressor(skeleton="synthetic", image_size=32, regressor_channels=4, regressor_depth=2)
    new = RegressorPretraining(skeleton="synthetic", image_size=32, regressor_channels=4, regressor_depth=2)
    assert isinstance(old, RegressorPretraining) and dict(old.hparams) == dict(new.hparams)
    assert old.state_dict().keys() == new.state_dict().keys()


def test_the_old_config_names_are_the_new_configs():
    from pathlib import Path

    experiments = Path(__file__).resolve().parents[2] / "experiments"
    old = sorted(experiments.glob("*_regressor.yaml"))
    assert old and all(path.is_symlink() for path in old)
    for path in old:
        new = path.with_name(path.name.replace("_regressor.yaml", "_pretrain.yaml"))
        assert path.resolve() == new.resolve() and "kpbottleneck.RegressorPretraining" in new.read_text()
