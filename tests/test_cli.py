import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kpbottleneck import KeypointGAN
from kpbottleneck.cli import KeypointCLI, main

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(ROOT / "experiments" / "smoke.yaml")
SMOKE_REGRESSOR = str(ROOT / "experiments" / "smoke_regressor.yaml")


def _run(*args, timeout=300):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def _last_checkpoint(root: Path) -> Path:
    checkpoints = sorted(root.rglob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    assert checkpoints, f"no checkpoint under {root}"
    return checkpoints[-1]


def test_regressor_then_gan_then_test_through_the_cli(tmp_path):
    main(["fit", "--config", SMOKE_REGRESSOR, "--trainer.default_root_dir", str(tmp_path / "eta")])
    regressor = _last_checkpoint(tmp_path / "eta")
    main(
        [
            "fit",
            "--config",
            SMOKE,
            "--trainer.default_root_dir",
            str(tmp_path / "gan"),
            "--model.init_args.regressor_checkpoint",
            str(regressor),
            "--model.init_args.lambda_adv",
            "5.0",
            "--model.init_args.second_cycle",
            "true",
        ]
    )
    checkpoint = _last_checkpoint(tmp_path / "gan")
    model = KeypointGAN.load_from_checkpoint(checkpoint)
    assert model.hparams.lambda_adv == 5.0 and model.hparams.second_cycle is True
    config = next((tmp_path / "gan").rglob("config.yaml")).read_text()
    assert "lambda_adv: 5.0" in config
    tested = KeypointCLI(
        args=["test", "--config", SMOKE, "--trainer.default_root_dir", str(tmp_path / "gan"),
              "--ckpt_path", str(checkpoint)]
    )  # fmt: skip
    assert 0 < float(tested.trainer.callback_metrics["test/keypoint_error"]) < 100
    predicted = KeypointCLI(
        args=["predict", "--config", SMOKE, "--trainer.default_root_dir", str(tmp_path / "gan"),
              "--ckpt_path", str(checkpoint)]
    )  # fmt: skip
    batches = predicted.trainer.predict_loop.predictions
    assert batches and all(batch["keypoints"].shape[1:] == (17, 2) for batch in batches)
    # the predictions are the checkpoint's model's: the same keypoints as loading it by hand
    images = next(iter(predicted.datamodule.predict_dataloader()))["image"]
    torch.testing.assert_close(batches[0]["keypoints"], model.eval()(images))


def test_help_lists_documented_options():
    result = _run(sys.executable, "-m", "kpbottleneck", "fit", "--help")
    assert result.returncode == 0, result.stderr
    assert "--model" in result.stdout and "--data" in result.stdout and "--config" in result.stdout
    result = _run(sys.executable, "-m", "kpbottleneck", "fit", "--model.help", "kpbottleneck.KeypointGAN")
    assert result.returncode == 0, result.stderr
    for option in ("lambda_adv", "regressor_checkpoint", "bottleneck", "second_cycle", "falloff"):
        assert f"--model.{option}" in result.stdout


def test_console_scripts_are_the_same_program():
    bindir = Path(sys.executable).parent
    for script in ("kpbottleneck", "lightning"):
        path = bindir / script
        if not path.exists():
            pytest.skip(f"{script} console script not installed (install the package with pip)")
        result = _run(str(path), "--help")
        assert result.returncode == 0 and "{fit,validate,test,predict}" in result.stdout


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path):
    result = _run(
        sys.executable,
        "-m",
        "kpbottleneck",
        "fit",
        "--config",
        SMOKE,
        "--trainer.devices",
        "2",
        "--trainer.strategy",
        "ddp_find_unused_parameters_true",
        "--trainer.max_steps",
        "4",
        "--trainer.default_root_dir",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    checkpoint = torch.load(_last_checkpoint(tmp_path), map_location="cpu", weights_only=False)
    assert checkpoint["global_step"] > 0
    assert "distributed_backend=gloo" in result.stderr + result.stdout
