"""Every experiment config parses and runs a `fast_dev_run` fit on a tiny copy of its data set, written in
the data set's real on-disk format (smaller images and batches than the paper's, same everything else)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import tests.real_formats as rf
from datamodules.prepare import main as prepare_main
from kpbottleneck.cli import KeypointCLI


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("datasets")
    videos = base / "my_videos"
    rf.write_video(videos / "clip.mp4", 12, 48, 64)
    np.save(base / "poses.npy", (torch.rand(10, 17, 2) * 60).numpy())
    return {
        "simplified_h36m": rf.write_simplified_h36m(base / "simplified_h36m"),
        "h36m": rf.write_h36m(base / "h36m"),
        "mpi_inf_3dhp": rf.write_mpi_inf_3dhp(base / "mpi_inf_3dhp"),
        "penn_action": rf.write_penn_action(base / "penn_action"),
        "voxceleb2": rf.write_voxceleb2(base / "voxceleb2"),
        "multipie": rf.write_multipie(base / "multipie"),
        "300w": rf.write_300w(base / "300w"),
        "cats": rf.write_cat_heads(base / "cats"),
        "my_videos": videos,
        "poses": base / "poses.npy",
    }


def data_options(name, roots):
    """``--data.*`` options pointing a config at the tiny copies (fewer subjects than the real sets)."""
    h36m = ["--data.root", roots["h36m"], "--data.train_subjects=[1, 5]", "--data.test_subjects=[9]"]
    return {
        "simplified_h36m": ["--data.root", roots["simplified_h36m"], "--data.train_subjects=[1, 9]"],
        "h36m": h36m,
        "h36m_3dhp_prior": [*h36m, "--data.mpi_inf_3dhp_root", roots["mpi_inf_3dhp"],
                            "--data.mpi_inf_3dhp_subjects=[1, 2]"],
        "penn_action": ["--data.root", roots["penn_action"]],
        "voxceleb2_multipie": ["--data.root", roots["voxceleb2"], "--data.multipie_root", roots["multipie"],
                               "--data.w300_root", roots["300w"]],
        "300w": ["--data.root", roots["300w"], "--data.multipie_root", roots["multipie"]],
        "cat_heads": ["--data.root", roots["cats"]],
        "my_videos": ["--data.root", roots["my_videos"], "--data.prior", roots["poses"]],
    }[name]  # fmt: skip


GAN_CONFIGS = [
    "simplified_h36m", "h36m", "h36m_3dhp_prior", "penn_action", "voxceleb2_multipie", "300w", "cat_heads",
    "my_videos",
]  # fmt: skip
REGRESSOR_CONFIGS = [name for name in GAN_CONFIGS if name != "300w"]


EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path, monkeypatch):
    """The configs write checkpoints under ``outputs/``: run in an empty folder, not in the repository."""
    monkeypatch.chdir(tmp_path)


def run_fast_dev(config, options, model_options):
    small = ["--data.batch_size", "2", "--data.num_workers", "0"]  # image_size: the model's (linked)
    if "--data.window" not in options and "cat_heads" not in config and "300w" not in config:
        small += ["--data.window=[1, 2]"]
    KeypointCLI(
        args=[
            "fit", "--config", str(EXPERIMENTS / f"{config}.yaml"), *map(str, options), *small,
            "--model.init_args.image_size", "32", *model_options,
            "--trainer.fast_dev_run", "true", "--trainer.accelerator", "cpu",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        ]
    )  # fmt: skip


WIDTHS = {"generator_channels": 4, "regressor_channels": 4, "discriminator_channels": 4, "unet_depth": 2,
          "discriminator_layers": 2}  # fmt: skip
TINY_GAN = [f"--model.init_args.{key}={value}" for key, value in WIDTHS.items()] + [
    "--model.init_args.regressor_checkpoint", "null", "--model.init_args.init_checkpoint", "null"
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", GAN_CONFIGS)
def test_gan_config_runs_on_its_data_format(name, roots):
    run_fast_dev(name, data_options(name, roots), TINY_GAN)


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name in GAN_CONFIGS if name != "h36m_3dhp_prior"])  # (h36m's data)
def test_gan_config_trains_from_its_prepared_frames(name, roots, tmp_path, capsys):
    """``python -m datamodules.prepare`` with the training command's arguments, then the fit from them."""
    options = [*data_options(name, roots), "--data.init_args.prepared", str(tmp_path / "prepared")]
    prepare_main(["--config", str(EXPERIMENTS / f"{name}.yaml"), *map(str, options),
                  "--model.init_args.image_size", "32", *TINY_GAN])  # fmt: skip
    splits = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert splits[0]["split"] == "train" and all(split["frames"] > 0 for split in splits)
    run_fast_dev(name, options, TINY_GAN)


@pytest.mark.parametrize("name", REGRESSOR_CONFIGS)
def test_regressor_config_runs_on_its_data_format(name, roots):
    networks = ["--model.init_args.regressor_channels=4", "--model.init_args.regressor_depth=2"]
    run_fast_dev(f"{name}_pretrain", data_options(name, roots), networks)


@pytest.mark.slow
@pytest.mark.parametrize("config", ["my_videos_pretrain", "my_videos"])
def test_own_videos_with_the_shipped_human_prior(config, roots):
    """docs/training.md, "Your own videos": ``--data.prior mocap`` with the h36m17 skeleton, steps 1 and 2."""
    human = ["--data.prior", "mocap", "--data.skeleton", "h36m17", "--model.init_args.skeleton", "h36m17"]
    networks = ["--model.init_args.regressor_channels=4", "--model.init_args.regressor_depth=2"]
    if config == "my_videos":
        gan = {"generator_channels": 4, "unet_depth": 2, "discriminator_channels": 4,
               "discriminator_layers": 2, "regressor_checkpoint": "null"}  # fmt: skip
        networks += [f"--model.init_args.{key}={value}" for key, value in gan.items()]
    run_fast_dev(config, ["--data.root", roots["my_videos"], *human], networks)


@pytest.mark.parametrize("name", GAN_CONFIGS)
def test_long_runs_keep_a_last_checkpoint_that_the_final_step_also_writes(name):
    """A crash loses at most ``every_n_train_steps`` steps (resumed from ``last.ckpt``), and ``max_steps`` is
    a multiple of it, so the last checkpoint holds the final weights."""
    trainer = yaml.safe_load((EXPERIMENTS / f"{name}.yaml").read_text())["trainer"]
    checkpoints = [
        c["init_args"] for c in trainer["callbacks"] if c["class_path"].endswith(".ModelCheckpoint")
    ]
    (saving,) = [c for c in checkpoints if c.get("save_last")]
    assert saving["every_n_train_steps"] > 0
    assert trainer["max_steps"] % saving["every_n_train_steps"] == 0


@pytest.mark.parametrize("name", GAN_CONFIGS)
def test_a_label_free_choice_judges_each_checkpoint_by_its_own_score(name):
    """Where a config chooses its checkpoint by a :class:`LabelFreeScore`, the ModelCheckpoint that monitors
    that score saves at the batches it is computed (two optimiser steps a batch)."""
    callbacks = yaml.safe_load((EXPERIMENTS / f"{name}.yaml").read_text())["trainer"]["callbacks"]
    scores = [c["init_args"] for c in callbacks if c["class_path"].endswith(".LabelFreeScore")]
    monitors = [c["init_args"] for c in callbacks if "monitor" in c.get("init_args", {})]
    assert len(scores) == len(monitors) <= 1
    for score, monitor in zip(scores, monitors, strict=True):
        assert monitor["monitor"] == f"select/{score['score']}" and monitor["mode"] == "min"
        assert monitor["every_n_train_steps"] == 2 * score["every_n_batches"]
