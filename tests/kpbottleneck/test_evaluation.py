import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from datamodules import RandomDataModule
from kpbottleneck import KeypointGAN
from kpbottleneck.evaluation import KeypointEvaluation
from kpbottleneck.metrics import ImageSizeNormalizedError
from tests.helpers import cpu_trainer

ROOT = Path(__file__).resolve().parents[2]
SMOKE = str(ROOT / "experiments" / "smoke.yaml")


def _test(model, data, callback, tmp_path):
    trainer = cpu_trainer(tmp_path, callbacks=[callback])
    trainer.test(model, data, verbose=False)
    return {name: float(value) for name, value in trainer.callback_metrics.items()}


def _errors_by_hand(model, data, keypoint_fn):
    """Image-size errors (%) per activity, computed directly from the dataset, no callback involved."""
    data.setup("test")
    per_activity: dict[int, list[float]] = {}
    with torch.no_grad():
        for sample in data.datasets["test"]:
            predicted = keypoint_fn(sample["image"][None])[0]
            error = ((predicted - sample["keypoints"]) / 2).norm(dim=-1).mean().item() * 100
            per_activity.setdefault(int(sample["activity"]), []).append(error)
    return {activity: sum(errors) / len(errors) for activity, errors in per_activity.items()}


def test_logged_errors_match_a_hand_computation(tmp_path, tiny_gan_kwargs, capsys):
    model = KeypointGAN(**tiny_gan_kwargs).eval()
    data = RandomDataModule(image_size=32, batch_size=3, num_val=7, num_activities=2)
    logged = _test(model, data, KeypointEvaluation(), tmp_path)

    by_activity = _errors_by_hand(model, data, model)
    assert logged["test/keypoint_error/activity0"] == pytest.approx(by_activity[0], rel=1e-5)
    assert logged["test/keypoint_error/activity1"] == pytest.approx(by_activity[1], rel=1e-5)
    assert logged["test/keypoint_error"] == pytest.approx((by_activity[0] + by_activity[1]) / 2, rel=1e-5)

    mean_pose = data.mean_prior_pose()
    baseline = _errors_by_hand(model, data, lambda images: mean_pose[None])
    assert logged["test/mean_pose_error"] == pytest.approx(sum(baseline.values()) / 2, rel=1e-5)
    assert logged["test/keypoint_error_flip_tolerant"] <= logged["test/keypoint_error"] + 1e-6
    assert 0.0 <= logged["test/flip_accuracy"] <= 1.0

    table = capsys.readouterr().out
    assert "KeypointGAN" in table and "mean prior pose (baseline)" in table and "activity1" in table


def test_post_processing_fits_on_the_labelled_training_split(tmp_path, tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs).eval()
    # RandomDataModule's post_processing split is its test split: 6 samples, 35 inputs → an exact fit
    data = RandomDataModule(image_size=32, batch_size=2, num_val=6)
    logged = _test(model, data, KeypointEvaluation(post_processing=True), tmp_path)
    assert logged["test/keypoint_error_post_processed"] < 0.05 * logged["test/keypoint_error"]


def test_validation_during_fit_logs_the_error(tmp_path, tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs)
    trainer = cpu_trainer(
        tmp_path,
        max_epochs=1,
        limit_train_batches=1,
        limit_val_batches=2,
    )
    trainer.fit(model, RandomDataModule(image_size=32, batch_size=2))
    assert math.isfinite(float(trainer.callback_metrics["val/keypoint_error"]))
    # the model's default callback was added once
    assert sum(isinstance(c, KeypointEvaluation) for c in trainer.callbacks) == 1


class _CountingPrior(RandomDataModule):
    """A data module that counts how often its prior's mean pose is asked for."""

    calls = 0

    def mean_prior_pose(self):
        type(self).calls += 1
        return super().mean_prior_pose()


def test_the_prior_mean_pose_is_computed_once_and_travels_in_the_checkpoint(tmp_path, tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs)
    callbacks = [KeypointEvaluation()]
    trainer = cpu_trainer(
        tmp_path, max_steps=4, val_check_interval=1, limit_val_batches=1, callbacks=callbacks
    )
    trainer.fit(model, _CountingPrior(image_size=32, batch_size=2, num_train=4))
    assert _CountingPrior.calls == 1  # two validations, one computation
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    expected = trainer.callback_metrics["val/mean_pose_error"]

    _CountingPrior.calls = 0  # a new process: test from the checkpoint
    tester = cpu_trainer(tmp_path, callbacks=[KeypointEvaluation()])
    data = _CountingPrior(image_size=32, batch_size=2, num_train=4)
    tester.test(KeypointGAN(**tiny_gan_kwargs), data, ckpt_path=tmp_path / "model.ckpt", verbose=False)
    assert _CountingPrior.calls == 0
    mean_pose = data.mean_prior_pose()
    stored = torch.load(tmp_path / "model.ckpt", weights_only=True)["callbacks"]["KeypointEvaluation"]
    torch.testing.assert_close(stored["mean_prior_pose"], mean_pose)
    assert math.isfinite(float(expected)) and "test/mean_pose_error" in tester.callback_metrics


def test_a_configured_callback_replaces_the_models_default(tmp_path, tiny_gan_kwargs):
    mine = KeypointEvaluation(flip_tolerant=False, mean_pose_baseline=False)
    trainer = cpu_trainer(tmp_path, callbacks=[mine])
    trainer.test(KeypointGAN(**tiny_gan_kwargs), RandomDataModule(image_size=32, batch_size=2), verbose=False)
    assert [c for c in trainer.callbacks if isinstance(c, KeypointEvaluation)] == [mine]
    assert "test/mean_pose_error" not in trainer.callback_metrics


def test_inter_ocular_needs_a_normaliser(tmp_path, tiny_gan_kwargs):
    with pytest.raises(ValueError, match="has no normalizer"):
        _test(
            KeypointGAN(**tiny_gan_kwargs),
            RandomDataModule(image_size=32),
            KeypointEvaluation(error="inter_ocular"),
            tmp_path,
        )


def test_unknown_error_kind_is_refused():
    with pytest.raises(ValueError, match="error must be"):
        KeypointEvaluation(error="pck")


def test_metric_module_is_importable_alone():
    assert ImageSizeNormalizedError().higher_is_better is False


def _cli_test(tmp_path, name, devices):
    """``kpbottleneck test`` of the smoke model (seeded initial weights) on 7 images, 3 activities."""
    root = tmp_path / name
    extra = tmp_path / "evaluation.yaml"
    extra.write_text(
        "trainer:\n"
        "  callbacks:\n"
        "    - class_path: kpbottleneck.evaluation.KeypointEvaluation\n"
        "      init_args: {post_processing: true}\n"
        "data:\n"
        "  init_args: {num_val: 7, batch_size: 2, num_activities: 3}\n"
    )
    strategy = ["--trainer.strategy", "ddp"] if devices > 1 else []
    command = [
        sys.executable,
        "-m",
        "kpbottleneck",
        "test",
        "--config",
        SMOKE,
        "--config",
        str(extra),
        "--trainer.devices",
        str(devices),
        *strategy,
        "--trainer.default_root_dir",
        str(root),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = list(csv.DictReader(next(root.rglob("metrics.csv")).open()))
    return {
        key: float(value) for row in rows for key, value in row.items() if value and key.startswith("test/")
    }


@pytest.mark.slow
def test_ddp_gives_the_single_process_numbers_without_counting_padding_twice(tmp_path):
    # 7 images over 2 processes × batch 2: Lightning's default sampler would repeat one image
    single = _cli_test(tmp_path, "single", 1)
    ddp = _cli_test(tmp_path, "ddp", 2)
    expected = {
        "test/keypoint_error",
        "test/keypoint_error/activity0",
        "test/keypoint_error/activity2",
        "test/mean_pose_error",
        "test/keypoint_error_flip_tolerant",
        "test/flip_accuracy",
        "test/keypoint_error_post_processed",
    }
    assert expected <= set(single)
    assert set(ddp) == set(single)
    for key, value in single.items():
        assert ddp[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
