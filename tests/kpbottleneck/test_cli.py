import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from kpbottleneck import KeypointGAN
from kpbottleneck.cli import KeypointCLI, main
from kpbottleneck.hardware import default_precision

ROOT = Path(__file__).resolve().parents[2]
SMOKE = str(ROOT / "experiments" / "smoke.yaml")
SMOKE_REGRESSOR = str(ROOT / "experiments" / "smoke_pretrain.yaml")
FIT_SMOKE = [sys.executable, "-m", "kpbottleneck", "fit", "--config", SMOKE]


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
        *FIT_SMOKE,
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


@pytest.mark.slow
def test_torchrun_launches_the_same_ddp_fit(tmp_path):
    """docs/distributed.md's torchrun command on localhost: torchrun starts the processes, Lightning joins."""
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "kpbottleneck", "fit", "--config", str(ROOT / "experiments" / "smoke.yaml"),
         "--trainer.devices", "2", "--trainer.strategy", "ddp_find_unused_parameters_true",
         "--trainer.max_steps", "4", "--trainer.default_root_dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    checkpoint = torch.load(_last_checkpoint(tmp_path), map_location="cpu", weights_only=False)
    assert checkpoint["global_step"] > 0
    assert "distributed_backend=gloo" in result.stderr + result.stdout


TINY_SYNTHETIC = [
    *(f"--model.init_args.{key}={value}" for key, value in {
        "image_size": 32, "unet_depth": 2, "generator_channels": 4, "regressor_channels": 4,
        "discriminator_channels": 4, "discriminator_layers": 2, "perceptual_layers": "[pixels, conv1_2]",
        "regressor_checkpoint": "null"}.items()),
    *(f"--data.init_args.{key}={value}" for key, value in {
        "batch_size": 2, "num_workers": 0, "num_train_videos": 2, "num_prior_videos": 2,
        "num_val_videos": 2, "num_test_videos": 2, "frames_per_video": 8, "window": "[1, 2]",
        "eval_frame_stride": 2}.items()),
    "--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.strategy=ddp_find_unused_parameters_true",
    "--trainer.enable_progress_bar=false",
]  # fmt: skip


@pytest.mark.slow
def test_ddp_fit_and_test_with_every_callback_of_the_shipped_configs(tmp_path):
    """The main job's callbacks (checkpoints, evaluation with post-processing, prediction picture) and the
    pipeline pictures, under 2-process DDP, for fit and then test: every rank must join each collective."""
    config = tmp_path / "synthetic.yaml"  # the main job's config, writing into tmp_path
    config.write_text(
        (ROOT / "experiments/synthetic.yaml").read_text().replace("outputs/synthetic/gan", str(tmp_path))
    )
    configs = ["--config", str(config), "--config", str(ROOT / "experiments/samples.yaml"), *TINY_SYNTHETIC]
    short = ["--trainer.max_steps=4", "--trainer.val_check_interval=1", "--trainer.limit_val_batches=1"]
    fit = _run(sys.executable, "-m", "kpbottleneck", "fit", *configs, *short)
    assert fit.returncode == 0, fit.stdout[-3000:] + fit.stderr[-3000:]
    test = _run(
        sys.executable, "-m", "kpbottleneck", "test", *configs, "--ckpt_path", str(tmp_path / "last.ckpt")
    )
    assert test.returncode == 0, test.stdout[-3000:] + test.stderr[-3000:]
    assert "test/keypoint_error" in test.stdout and list(tmp_path.rglob("test_predictions.png"))


@pytest.mark.parametrize("layer", [False, True])
def test_the_data_module_gets_the_model_s_image_size(tmp_path, monkeypatch, layer):
    """One setting: ``model.init_args.image_size`` reaches the data module (the predict layer included),
    so a 128-px model is never fed 64-px images."""
    monkeypatch.chdir(tmp_path)
    predict = (ROOT / "experiments" / "predict.yaml").read_text()
    (tmp_path / "predict.yaml").write_text(predict.replace("return_predictions: false", ""))  # (predict only)
    extra = ["--config", "predict.yaml", "--data.path=."] if layer else []
    args = [
        "--config",
        str(ROOT / "experiments" / "synthetic.yaml"),
        *extra,
        "--model.init_args.image_size=128",
    ]
    cli = KeypointCLI(args=[*args, "--model.init_args.regressor_checkpoint=null"], run=False)
    assert cli.model.hparams.image_size == 128 and cli.datamodule.image_size == 128


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--data=datamodules.H36MDataModule", "--data.root=missing"], r"missing"),
        (["--model.init_args.skeleton=no_such_skeleton"], r"Unknown skeleton 'no_such_skeleton'"),
        (
            ["--model.init_args.image_size=30"],
            r"model.image_size=30 must be a multiple of 2\*\*model.unet_depth",
        ),
        (
            ["--model.init_args.skeleton=simplified_h36m"],
            r"poses are of skeleton 'synthetic' \(17 keypoints\)",
        ),
    ],
)
def test_bad_settings_are_clear_errors_before_training(tmp_path, monkeypatch, capsys, options, message):
    """Each mistake is reported, naming the setting, before the first training batch."""
    monkeypatch.chdir(tmp_path)
    started = []
    monkeypatch.setattr(KeypointGAN, "on_train_start", lambda self: started.append(1))
    tiny_gan = [option for option in TINY_SYNTHETIC if option.startswith("--model")]
    args = ["fit", "--config", str(ROOT / "experiments" / "synthetic.yaml"), *tiny_gan, *options]
    with pytest.raises((ValueError, FileNotFoundError, SystemExit)) as error:
        main([*args, "--trainer.max_steps=2", "--trainer.limit_train_batches=1", "--trainer.logger=false"])
    assert re.search(message, str(error.value) + capsys.readouterr().err)
    assert not started


def test_sigterm_writes_a_checkpoint_that_the_run_resumes_from(tmp_path):
    """A pre-empted run (SIGTERM) finishes its batch, writes ``terminated.ckpt`` and exits; ``--ckpt_path``
    continues it to ``max_steps``."""
    root = tmp_path / "run"
    args = [*FIT_SMOKE, "--trainer.default_root_dir", str(root)]
    long = ["--trainer.max_steps=100000", "--trainer.limit_val_batches=0", "--trainer.log_every_n_steps=1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [*args, *long], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    metrics = root / "lightning_logs" / "version_0" / "metrics.csv"
    deadline = time.monotonic() + 120
    while (
        not (metrics.is_file() and len(metrics.read_text().splitlines()) > 2) and time.monotonic() < deadline
    ):
        time.sleep(0.2)  # training has taken a few steps (the logger writes a row per step)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0].decode()
    written = list(root.rglob("terminated.ckpt"))  # in the ModelCheckpoint's folder
    assert len(written) == 1, output[-3000:]
    checkpoint = written[0]
    stopped_at = torch.load(checkpoint, map_location="cpu", weights_only=True)["global_step"]
    assert stopped_at > 0
    resumed = _run(*args, f"--trainer.max_steps={stopped_at + 4}", "--ckpt_path", str(checkpoint))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert (
        torch.load(_last_checkpoint(root), map_location="cpu", weights_only=True)["global_step"]
        == stopped_at + 4
    )


KILLER = """
import os
import signal

from pytorch_lightning import Callback


class KillAfterBatches(Callback):
    def __init__(self, batches: int) -> None:
        self.batches = batches

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.fit_loop.total_batch_idx + 1 == self.batches:
            os.kill(os.getpid(), signal.SIGKILL)  # no clean shutdown, no last checkpoint
"""


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_to_the_uninterrupted_run_s_weights(tmp_path):
    """SIGKILL after batch 9 of 14 (6 a batch epoch; a checkpoint every 2 batches, so the last one is 2
    batches into the second epoch); resumed from ``last.ckpt``, the run ends with the weights of a run
    that was never stopped: same data order, prior poses, D's history draws and worker seeding."""
    (tmp_path / "killer.py").write_text(KILLER)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
    }

    def fit(name: str, *extra: str, kill_after: int | None = None) -> subprocess.CompletedProcess:
        root = tmp_path / name
        saving = {
            "dirpath": str(root),
            "every_n_train_steps": 4,
            "save_last": True,
        }  # 2 optimiser steps a batch
        callbacks = [{"class_path": "pytorch_lightning.callbacks.ModelCheckpoint", "init_args": saving}]
        if kill_after:
            callbacks.append({"class_path": "killer.KillAfterBatches", "init_args": {"batches": kill_after}})
        config = tmp_path / f"{name}.yaml"
        config.write_text(json.dumps({"trainer": {"callbacks": callbacks}}))  # (JSON is YAML)
        settings = [
            "--trainer.max_steps=28", "--trainer.limit_val_batches=0", f"--trainer.default_root_dir={root}",
            "--data.init_args.num_train=12", "--data.init_args.num_workers=1",
            "--model.init_args.discriminator_history=4",  # full after 2 batches: then it swaps at random
        ]  # fmt: skip
        args = [*FIT_SMOKE, "--config", str(config), *settings, *extra]
        return subprocess.run(args, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)

    straight = fit("straight")
    assert straight.returncode == 0, straight.stderr[-3000:]
    killed = fit("resumed", kill_after=9)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    last = tmp_path / "resumed" / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 16
    resumed = fit("resumed", f"--ckpt_path={last}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "not resumable" not in resumed.stderr  # (Lightning's warning for a loader that restarts its epoch)

    expected, got = (
        torch.load(tmp_path / name / "last.ckpt", map_location="cpu", weights_only=True)
        for name in ("straight", "resumed")
    )
    assert expected["global_step"] == got["global_step"] == 28
    for (key, value), other in zip(expected["state_dict"].items(), got["state_dict"].values(), strict=True):
        torch.testing.assert_close(other, value, msg=key, rtol=0, atol=0)


def _pretend_cpu(monkeypatch, native_bf16: bool) -> None:
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512" if native_bf16 else "AVX2")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native_bf16, raising=False)


@pytest.mark.parametrize(("native_bf16", "expected"), [(True, "bf16-mixed"), (False, "32-true")])
def test_an_unset_precision_follows_the_cpu_and_says_so(monkeypatch, caplog, native_bf16, expected):
    _pretend_cpu(monkeypatch, native_bf16)
    with caplog.at_level("INFO"):
        cli = KeypointCLI(args=["--config", SMOKE, "--trainer.precision=null"], run=False)
    assert cli.trainer.precision == expected
    assert cli.config.trainer.precision == expected  # what the saved config.yaml records
    said = [r.getMessage() for r in caplog.records if "trainer.precision: unset" in r.getMessage()]
    assert len(said) == 1 and expected in said[0] and ("CPU with AMX" in said[0]) is native_bf16


def test_an_explicit_precision_wins_over_the_machine(monkeypatch):
    _pretend_cpu(monkeypatch, True)
    cli = KeypointCLI(args=["--config", SMOKE, "--trainer.precision=32-true"], run=False)
    assert cli.trainer.precision == "32-true"
    _pretend_cpu(monkeypatch, False)
    cli = KeypointCLI(args=["--config", SMOKE, "--trainer.precision=bf16-mixed"], run=False)
    assert cli.trainer.precision == "bf16-mixed"


def test_the_main_job_configs_leave_precision_and_layout_to_the_machine():
    for name in ("synthetic.yaml", "synthetic_pretrain.yaml"):
        cli = KeypointCLI(
            args=["--config", str(ROOT / "experiments" / name), "--model.init_args.regressor_checkpoint=null"]
            if name == "synthetic.yaml"
            else ["--config", str(ROOT / "experiments" / name)],
            run=False,
        )
        assert cli.model.hparams.channels_last is None
        assert cli.trainer.precision == default_precision("cpu").precision
