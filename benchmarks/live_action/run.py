"""The live-action benchmark: KeypointGAN on real footage shipped inside packages, against pseudo labels.

    python benchmarks/live_action/run.py                              # every clip, seeds 0 1 2
    python benchmarks/live_action/run.py --clips carphone --seeds 0 --budget 3
    python benchmarks/live_action/run.py --smoke --out /tmp/la        # a few steps (CI's test)

Clips (``clips.json``: each file's package, version, path in the package, checksum and licence) and their
pseudo ground truth (``labels/<clip>.csv``, made offline by ``label.py`` in its own environment) are
committed. For each clip and seed this script

1. crops every frame to the square of the frame's height (176×144 → 144×144, 640×360 → 360×360) centred
   on the mean x of all the clip's landmarks (one fixed box per clip, as a data set's person box; the body
   clip's 128×128 frames, person boxes already (``cut_body.py``), stay whole);
2. splits the frames in time into blocks of ``block_frames`` (about one second), dealt out in turns of five:
   three training blocks, one prior block, one test block (the paper's protocol: training frames, prior
   poses and test frames from disjoint parts of the footage; a pair's two frames never leave their block);
3. trains as a user does with their own videos (docs/training.md): ``kpbottleneck fit`` with
   ``experiments/my_videos_pretrain.yaml`` (η on the prior poses) and ``experiments/my_videos.yaml``
   (KeypointGAN), then ``kpbottleneck test``, each with a generated second ``--config`` that holds the clip's
   paths and keypoint set and the main job's budget as the committed results were measured (``BUDGET``:
   ``experiments/synthetic*.yaml`` up to commit 78f9b0f — image size, network widths, learning rates and
   schedules, η's steps and KeypointGAN's batches, the latter times ``--budget``), and that job's
   perceptual loss (Γ to conv2_2: the original's, to conv5_2, costs
   three times the main job's batch at 64 px, 1.35 s against 0.4 on 2 cores, so 1,000 batches do not fit
   the budget); ``--original-perceptual-loss`` takes the original's layers (the module's default, which
   ``experiments/my_videos.yaml`` keeps), and the paper's D (``discriminator_shift`` 0, which
   ``experiments/my_videos.yaml`` sets to 0.1: ``--set model.init_args.discriminator_shift=0.1``);
4. reports the test error (% of the crop's side, the flip-tolerant one beside it), the mean-pose
   baseline (the prior's mean pose), their ratio, the validation error at each interval (the test frames:
   for reading a run's course, never for choosing its checkpoint) and the label-noise floor: the
   error of the second labeller against the first on the same test frames.

Writes ``<out>/results.json`` (every run, with its commands) and ``<out>/results.md`` (the table) after
each run, keeping the runs of earlier invocations into the same ``--out`` (a run done again replaces its
row); the committed results are ``benchmarks/results/live_action.{json,md}``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from PIL import Image

from kpbottleneck.coordinates import pixels_to_normalized
from kpbottleneck.hardware import accelerator_device, default_precision
from kpbottleneck.metrics import ImageSizeNormalizedError
from kpbottleneck.skeletons import get_skeleton
from kpbottleneck.video_io import VideoReader

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXPERIMENTS = REPO / "experiments"
ROLES = ("train", "train", "train", "prior", "test")  # of consecutive blocks, in turn
# a clip's keypoint set: clips.json's "skeleton" names a file beside this script (Skeleton's fields; the
# "right" of a name is the subject's right); label.py reads the same file
SKELETONS = {name: json.loads((HERE / f"{name}.json").read_text()) for name in ("face19", "body13")}
FACE19 = SKELETONS["face19"]


def read_manifest() -> dict[str, dict[str, Any]]:
    """``clips.json``, each clip's file checked against its checksum."""
    clips = json.loads((HERE / "clips.json").read_text())
    for name, clip in clips.items():
        path = HERE / clip["file"]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != clip["sha256"]:
            raise ValueError(
                f"{path}: sha256 {digest}, but clips.json field {name}.sha256 says {clip['sha256']}"
            )
    return clips


def read_landmarks(path: Path, labeller: str, names: list[str]) -> np.ndarray:
    """``(T, K, 2)`` pixel landmarks of ``labeller`` in a ``label.py`` CSV (NaN where none was found)."""
    with path.open(newline="") as file:
        rows = [row for row in csv.DictReader(file) if row["labeller"] == labeller]
    if not rows:
        raise ValueError(f"labels file {path}: no row of labeller {labeller!r}")
    columns = [f"{name}_{axis}" for name in names for axis in "xy"]
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise ValueError(f"labels file {path}: columns {missing} missing (expected {names}'s _x/_y)")
    rows.sort(key=lambda row: int(row["frame"]))
    values = [[float(row[c]) if row[c] else np.nan for c in columns] for row in rows]
    return np.asarray(values, dtype=np.float64).reshape(len(rows), len(names), 2)


def crop_box(landmarks: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int]:
    """``(x0, y0, side)``: the square of the frame's shorter side, centred on the landmarks' mean."""
    height, width = size
    side = min(height, width)
    centre = np.nanmean(landmarks.reshape(-1, 2), axis=0)
    x0 = round(min(max(centre[0] - side / 2, 0), width - side))
    y0 = round(min(max(centre[1] - side / 2, 0), height - side))
    return x0, y0, side


def frame_roles(num_frames: int, block_frames: int) -> list[str]:
    """Each frame's part of the footage (``ROLES``, dealt out per block).

    Example:
        >>> frame_roles(6, 1)
        ['train', 'train', 'train', 'prior', 'test', 'train']
    """
    return [ROLES[(t // block_frames) % len(ROLES)] for t in range(num_frames)]


def training_minus_prior(labels: np.ndarray, roles: list[str]) -> np.ndarray:
    """Where the prior's subject sits: the training frames' mean keypoint position less the prior frames'
    ``(x, y)``, from labels ``(T, K, 2)`` (frames without a label left out), in the labels' units."""
    labelled = ~np.isnan(labels).any(axis=(1, 2))
    part = np.asarray(roles)
    train, prior = labels[labelled & (part == "train")], labels[labelled & (part == "prior")]
    return train.mean(axis=(0, 1)) - prior.mean(axis=(0, 1))


def label_error(
    prediction: np.ndarray, target: np.ndarray, side: int, flip_permutation: list[int] | None = None
) -> float:
    """The library's test error (% of the image side, :class:`kpbottleneck.metrics.ImageSizeNormalizedError`)
    of pixel keypoints ``(N, K, 2)`` on a ``side``-pixel square image; flip-tolerant with
    ``flip_permutation`` (each image's error the smaller against the target and its left/right swap)."""
    metric = ImageSizeNormalizedError(flip_permutation)
    metric.update(*(pixels_to_normalized(torch.as_tensor(p), (side, side)) for p in (prediction, target)))
    return float(metric.compute())


def prepare_clip(name: str, clip: dict[str, Any], out: Path) -> dict[str, Any]:
    """Write the clip's training frame folders, prior, test frames and ``labels.csv`` under ``out``."""
    skeleton = SKELETONS[clip["skeleton"]]
    names = skeleton["keypoint_names"]
    labels = HERE / "labels" / f"{name}.csv"
    ground_truth, second_labeller = clip["labellers"]  # label.py's: the ground truth, the noise floor's
    truth = read_landmarks(labels, ground_truth, names)
    second = read_landmarks(labels, second_labeller, names)
    video = VideoReader(HERE / clip["file"])
    if len(truth) != video.num_frames:
        raise ValueError(
            f"labels file {labels}: {len(truth)} frames of {ground_truth}, the video {video.num_frames}"
        )
    x0, y0, side = crop_box(truth, video.size)
    # label.py's pixels have the top-left pixel's centre at (0.5, 0.5); the library's at (0, 0) in the crop
    shift = np.array([x0 + 0.5, y0 + 0.5])
    roles = frame_roles(video.num_frames, clip["block_frames"])
    labelled = ~np.isnan(truth).any(axis=(1, 2))
    prior, test_rows, test_frames = [], [], []
    for t in range(video.num_frames):
        role = roles[t]
        if role == "prior":
            if labelled[t]:
                prior.append(truth[t] - shift)
            continue
        if role == "test" and not labelled[t]:
            continue
        folder = out / (
            "train" / Path(f"block{t // clip['block_frames']:04d}") if role == "train" else "test"
        )
        folder.mkdir(parents=True, exist_ok=True)
        pixels = video.frame(t)[:, y0 : y0 + side, x0 : x0 + side]
        image = (pixels.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        Image.fromarray(image).save(folder / f"{t:06d}.png")
        if role == "test":
            points = truth[t] - shift
            test_rows.append([f"test/{t:06d}.png", 0, *points.reshape(-1).round(2).tolist()])
            test_frames.append(t)
    video.close()
    header = ["source", "frame"] + [f"{n}_{axis}" for n in names for axis in "xy"]
    with (out / "labels.csv").open("w", newline="") as file:
        csv.writer(file).writerows([header, *test_rows])
    prior_normalized = pixels_to_normalized(torch.as_tensor(np.stack(prior)), (side, side))
    np.save(out / "prior.npy", prior_normalized.float().numpy())
    # --align-prior's oracle: the prior poses moved so that their mean keypoint position is the training
    # frames' (pseudo labels), taking away where the prior's subject sits and nothing else
    offset = training_minus_prior(truth, roles)
    aligned = pixels_to_normalized(torch.as_tensor(np.stack(prior) + offset), (side, side))
    np.save(out / "prior_aligned.npy", aligned.float().numpy())
    both = [t for t in test_frames if not np.isnan(second[t]).any()]
    floor = label_error(second[both], truth[both], side)
    # the mean-pose baseline as the flip-tolerant error measures it (the model's is in its test log)
    mean_pose = np.repeat(np.mean(prior, axis=0)[None], len(test_frames), axis=0)
    swap = list(get_skeleton(skeleton).flip_permutation)
    baseline_flip_tolerant = label_error(mean_pose, truth[test_frames] - shift, side, swap)
    return {
        "crop": {"x0": x0, "y0": y0, "side": side},
        "window": list(clip["window"]),
        "frames": {r: roles.count(r) for r in ("train", "prior", "test")},
        "prior_poses": len(prior),
        "test_frames": len(test_frames),
        "label_noise_floor": round(floor, 3),
        "mean_pose_baseline_flip_tolerant": round(baseline_flip_tolerant, 3),
    }


#: The main job's settings that every committed live-action result was trained with: its two configs,
#: ``experiments/synthetic_pretrain.yaml`` and ``experiments/synthetic.yaml``, up to commit 78f9b0f (the main
#: job has moved on since to D of width 16, Γ to conv2_1, η 500 steps and 1,200 batches: docs/results.md).
#: Kept here, in those configs' shape, so that this script gives the committed table again.
BUDGET = {
    "eta": {
        "trainer": {"max_steps": 600},
        "model": {"init_args": {"image_size": 64, "regressor_channels": 16, "regressor_depth": 3,
                                "lr": 1e-3, "lr_decay": 0.5}},
        "data": {"init_args": {"batch_size": 32}},
    },
    "gan": {
        "trainer": {"max_steps": 2000, "val_check_interval": 250, "log_every_n_steps": 25},
        "model": {"init_args": {"image_size": 64, "generator_channels": 8, "regressor_channels": 16,
                                "regressor_depth": 3, "unet_depth": 4, "discriminator_channels": 32,
                                "lr": 1e-3, "lr_decay": 0.5,
                                "perceptual_layers": ["pixels", "conv1_2", "conv2_2"]}},
        "data": {"init_args": {"batch_size": 8}},
    },
}  # fmt: skip
#: How a run's record names the main job's settings it took: :data:`BUDGET`'s, or today's configs'.
BUDGET_MAIN_JOB, CURRENT_MAIN_JOB = "78f9b0f", "current"


def budget_configs(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(η, KeypointGAN)`` settings of the main job that a live-action run takes: its budget and sizes, from
    :data:`BUDGET` or, with ``--current-main-job``, from today's ``experiments/synthetic*.yaml``."""
    eta, gan = BUDGET["eta"], BUDGET["gan"]
    if args.current_main_job:
        eta = yaml.safe_load((EXPERIMENTS / "synthetic_pretrain.yaml").read_text())
        gan = yaml.safe_load((EXPERIMENTS / "synthetic.yaml").read_text())
    eta_model = {
        k: eta["model"]["init_args"][k] for k in ("image_size", "regressor_channels", "regressor_depth")
    }
    eta_model |= {k: eta["model"]["init_args"][k] for k in ("lr", "lr_decay")}
    sizes = ("image_size", "generator_channels", "regressor_channels", "regressor_depth", "unet_depth")
    settings = (*sizes, "discriminator_channels", "lr", "lr_decay")
    if not args.original_perceptual_loss:
        settings += ("perceptual_layers",)
    gan_model = {k: gan["model"]["init_args"][k] for k in settings}
    # the paper's D, as the rows without --set were measured; experiments/my_videos.yaml's own D shift is
    # measured with --set model.init_args.discriminator_shift=0.1 (docs/live_action.md, "D's view")
    gan_model["discriminator_shift"] = 0.0
    steps = gan["trainer"]["max_steps"] * args.budget
    interval = gan["trainer"]["val_check_interval"]
    eta_steps = eta["trainer"]["max_steps"]
    if args.smoke:  # a few steps of tiny networks on 32-px images: the pipeline, not the numbers
        eta_model |= {"image_size": 32, "regressor_channels": 4, "regressor_depth": 2}
        tiny = {"generator_channels": 4, "regressor_channels": 4, "regressor_depth": 2, "unet_depth": 2}
        tiny |= {
            "discriminator_channels": 4,
            "discriminator_layers": 2,
            "perceptual_layers": ["pixels", "conv1_2"],
        }
        gan_model |= {"image_size": 32, **tiny}
        steps, interval, eta_steps = 8, 2, 4
    eta_config = {
        "trainer": {"max_steps": eta_steps, "limit_val_batches": 0, "enable_progress_bar": False},
        "model": {"init_args": eta_model},
        "data": {"init_args": {"batch_size": eta["data"]["init_args"]["batch_size"], "num_workers": 0}},
    }
    gan_config = {
        "trainer": {
            "max_steps": steps,
            "val_check_interval": interval,
            "log_every_n_steps": gan["trainer"]["log_every_n_steps"],
            "enable_progress_bar": False,
        },
        "model": {"init_args": gan_model},
        "data": {"init_args": {"batch_size": gan["data"]["init_args"]["batch_size"], "num_workers": None}},
    }
    for key, value in overrides(args).items():
        *parents, leaf = key.split(".")
        node = gan_config
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    # η regresses the skeleton images KeypointGAN renders: it takes KeypointGAN's image size (--set
    # model.init_args.image_size=128 changes both stages)
    eta_config["model"]["init_args"]["image_size"] = gan_config["model"]["init_args"]["image_size"]
    return eta_config, gan_config


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``--set``'s ``KEY=VALUE`` pairs, each VALUE read as YAML."""
    pairs = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE, e.g. model.init_args.lr_decay=0")
        pairs[key] = yaml.safe_load(value)
    return pairs


def run_config(
    base: dict[str, Any], clip: dict[str, Any], data: Path, stage: Path, seed: int, prior: str
) -> dict[str, Any]:
    """The second ``--config`` of one command: ``base`` plus the clip's paths (``prior``: the file of the
    prior poses in ``data``), keypoint set and seed."""
    skeleton = SKELETONS[clip["skeleton"]]
    config = json.loads(json.dumps(base))
    config["seed_everything"] = seed
    config["trainer"] |= {"default_root_dir": str(stage)}
    config["model"]["init_args"] |= {"skeleton": skeleton}
    config["data"]["init_args"] |= {
        "root": str(data / "train"),
        "prior": str(data / prior),
        "prior_units": "normalized",
        "labels": str(data / "labels.csv"),
        "skeleton": skeleton,
        "window": clip["window"],
    }
    return config


def checkpoint_callback(dirpath: Path, **init_args: Any) -> dict[str, Any]:
    return {
        "class_path": "pytorch_lightning.callbacks.ModelCheckpoint",
        "init_args": {"dirpath": str(dirpath), "enable_version_counter": False, **init_args},
    }


def run(command: list[str], log: Path) -> float:
    """Run a CLI command, its output into ``log``; its seconds."""
    start = time.perf_counter()
    with log.open("w") as file:
        done = subprocess.run(command, stdout=file, stderr=subprocess.STDOUT, cwd=REPO, env=os.environ.copy())
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}); its output: {log}")
    return time.perf_counter() - start


def test_metrics(log: Path) -> dict[str, float]:
    """The ``test/...`` numbers of Lightning's printed table in ``log``."""
    found = re.findall(r"(test/\S+)\s+([0-9.]+(?:e-?\d+)?)\s*$", log.read_text(), flags=re.M)
    return {key: float(value) for key, value in found}


def validation_errors(stage: Path) -> list[float]:
    rows = csv.DictReader((stage / "lightning_logs" / "version_0" / "metrics.csv").open())
    return [round(float(row["val/keypoint_error"]), 2) for row in rows if row.get("val/keypoint_error")]


def train_and_test(
    name: str, clip: dict[str, Any], data: Path, run_dir: Path, seed: int, args
) -> dict[str, Any]:
    """η, KeypointGAN and the test for one clip and seed, by the CLI; their numbers and commands."""
    eta_base, gan_base = budget_configs(args)
    prior = "prior_aligned.npy" if args.align_prior else "prior.npy"
    eta = run_config(eta_base, clip, data, run_dir / "regressor", seed, prior)
    eta["trainer"]["callbacks"] = [checkpoint_callback(run_dir / "regressor", filename="eta")]
    gan = run_config(gan_base, clip, data, run_dir / "gan", seed, prior)
    # the weights twice per validation interval (every_n_train_steps counts optimiser steps: two a batch),
    # for reading a run's course afterwards (checkpoint choice, diagnose.py)
    every = gan["trainer"]["val_check_interval"]
    gan["trainer"]["callbacks"] = [
        checkpoint_callback(run_dir / "gan", save_last=True),
        checkpoint_callback(
            run_dir / "gan" / "course",
            filename="{step:06d}",
            every_n_train_steps=every,
            save_top_k=-1,
            save_weights_only=True,
        ),
    ]
    gan["model"]["init_args"]["regressor_checkpoint"] = str(run_dir / "regressor" / "eta.ckpt")
    for stage, config in (("regressor", eta), ("gan", gan)):
        (run_dir / f"{stage}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    cli = [sys.executable, "-m", "kpbottleneck"]
    eta_configs = [
        "--config",
        "experiments/my_videos_pretrain.yaml",
        "--config",
        str(run_dir / "regressor.yaml"),
    ]
    gan_configs = ["--config", "experiments/my_videos.yaml", "--config", str(run_dir / "gan.yaml")]
    commands = {
        "eta": [*cli, "fit", *eta_configs],
        "gan": [*cli, "fit", *gan_configs],
        "test": [*cli, "test", *gan_configs, "--ckpt_path", str(run_dir / "gan" / "last.ckpt")],
    }
    seconds = {stage: round(run(command, run_dir / f"{stage}.log"), 1) for stage, command in commands.items()}
    metrics = test_metrics(run_dir / "test.log")
    error, baseline = metrics["test/keypoint_error"], metrics["test/mean_pose_error"]
    return {
        "clip": name,
        "seed": seed,
        "budget": args.budget,
        "perceptual": "original" if args.original_perceptual_loss else "main job's",
        "main_job": CURRENT_MAIN_JOB if args.current_main_job else BUDGET_MAIN_JOB,
        "window": list(clip["window"]),
        "prior_aligned": args.align_prior,
        "precision": default_precision(accelerator_device("auto")).precision,  # the CLI's choice here
        "overrides": overrides(args),
        "test_error": round(error, 3),
        "flip_tolerant": round(metrics["test/keypoint_error_flip_tolerant"], 3),
        "mean_pose_baseline": round(baseline, 3),
        "ratio": round(error / baseline, 3),
        "validation": validation_errors(run_dir / "gan"),
        "seconds": seconds,
        "minutes": round(sum(seconds.values()) / 60, 2),
        "commands": {stage: " ".join(c).replace(sys.executable, "python") for stage, c in commands.items()},
    }


def run_key(run_: dict[str, Any]) -> tuple[str, str, str, int, str, tuple[int, int], int]:
    """What tells runs apart: clip, the main job's settings, ``--set``'s and the prior's, precision, budget,
    perceptual loss, window, seed."""
    settings = run_["main_job"] + "".join(f", {k}={v}" for k, v in run_["overrides"].items())
    settings += ", prior aligned" if run_["prior_aligned"] else ""
    window = tuple(run_["window"])
    return run_["clip"], settings, run_["precision"], run_["budget"], run_["perceptual"], window, run_["seed"]


def setting(run_: dict[str, Any], clip_window: list[int]) -> str:
    """The table's name of a run's budget, perceptual loss and (where not the clip's) window."""
    name = f"{run_['budget']}×" + (", Γ to conv5_2" if run_["perceptual"] == "original" else "")
    name += ", today's main job" if run_["main_job"] == CURRENT_MAIN_JOB else ""
    name += "" if run_["window"] == clip_window else f", window {run_['window']}"
    name += "".join(f", {key.split('.')[-1]}={value}" for key, value in run_["overrides"].items())
    name += ", prior aligned (oracle)" if run_["prior_aligned"] else ""
    return f"{name}, {run_['precision']}"


def variant_folder(args: argparse.Namespace, clip: dict[str, Any]) -> str:
    """The folder of a run's setting under its clip's, e.g. ``budget1``, ``budget1_window12-23``."""
    folder = f"budget{args.budget}" + ("_original_perceptual" if args.original_perceptual_loss else "")
    folder += "_current_main_job" if args.current_main_job else ""
    folder += f"_window{clip['window'][0]}-{clip['window'][1]}" if args.window else ""
    folder += "_prior_aligned" if args.align_prior else ""
    return folder + "".join(f"_{key.split('.')[-1]}{value}" for key, value in overrides(args).items())


def table(prepared: dict[str, dict[str, Any]], runs: list[dict[str, Any]]) -> str:
    """The results as Markdown: one row per run, a median row per clip and setting. The flip-tolerant ratio
    is the flip-tolerant error over the mean pose's flip-tolerant error (the clip's)."""
    lines = [
        "| clip | budget | seed | test error (%) | flip-tolerant (%) | mean-pose baseline (%) | ratio | "
        "flip-tolerant ratio | label-noise floor (%) | validation error at each interval (%) | minutes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for run_ in runs:
        clip = prepared[run_["clip"]]
        name = setting(run_, clip["window"])
        flip_ratio = run_["flip_tolerant"] / clip["mean_pose_baseline_flip_tolerant"]
        groups.setdefault((run_["clip"], name), []).append((run_["ratio"], flip_ratio))
        lines.append(
            f"| {run_['clip']} | {name} | {run_['seed']} | {run_['test_error']:.2f} | "
            f"{run_['flip_tolerant']:.2f} | {run_['mean_pose_baseline']:.2f} | {run_['ratio']:.3f} | "
            f"{flip_ratio:.3f} | {clip['label_noise_floor']:.2f} | "
            f"{' / '.join(f'{v:.2f}' for v in run_['validation'])} | {run_['minutes']:.1f} |"
        )
    for (clip, name), ratios in groups.items():
        median, flip_median = (statistics.median(r) for r in zip(*ratios, strict=True))
        row = f"| {clip} | {name} | median of {len(ratios)} | | | | **{median:.3f}** | {flip_median:.3f} |"
        lines.append(row + " | | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", nargs="+", default=None, help="names in clips.json (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=int, default=1, help="KeypointGAN's batches, times the main job's")
    parser.add_argument(
        "--original-perceptual-loss", action="store_true", help="Γ over the original's layers (to conv5_2)"
    )
    parser.add_argument(
        "--window", type=int, nargs=2, default=None, help="frame gaps of a pair (default: each clip's)"
    )
    parser.add_argument(
        "--current-main-job",
        action="store_true",
        help="the main job's settings of today's experiments/synthetic*.yaml instead of BUDGET's",
    )
    parser.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="KeypointGAN settings on top of the budget's, e.g. model.init_args.lr_decay=0 "
        "data.init_args.max_prior_samples=48 (VALUE read as YAML; --set may be repeated; image_size sets η's "
        "too); the run's record, row and folder say so",
    )
    parser.add_argument(
        "--align-prior",
        action="store_true",
        help="an oracle ablation: the prior poses moved so that their mean keypoint position is the training "
        "frames' (pseudo labels)",
    )
    parser.add_argument("--smoke", action="store_true", help="a few steps of tiny networks (CI)")
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "live_action")
    args = parser.parse_args()
    manifest = read_manifest()
    names = args.clips or list(manifest)
    unknown = sorted(set(names) - set(manifest))
    if unknown:
        raise SystemExit(f"--clips: {unknown} not in {HERE / 'clips.json'} (there: {list(manifest)})")
    # results of earlier invocations into the same --out are kept; a run done again replaces its row
    results = args.out / "results.json"
    earlier = json.loads(results.read_text()) if results.is_file() else {"clips": {}, "runs": []}
    prepared, runs = earlier["clips"], earlier["runs"]
    for name in names:
        data = args.out / name / "data"
        prepared[name] = prepare_clip(name, manifest[name], data)
        print(json.dumps({"clip": name, **prepared[name]}), flush=True)
        for seed in args.seeds:
            clip = {**manifest[name], "window": args.window or manifest[name]["window"]}
            run_dir = args.out / name / variant_folder(args, clip) / f"seed{seed}"
            run_dir.mkdir(parents=True, exist_ok=True)
            done = train_and_test(name, clip, data, run_dir, seed, args)
            runs = [r for r in runs if run_key(r) != run_key(done)]
            runs = sorted([*runs, done], key=lambda r: (list(prepared).index(r["clip"]), *run_key(r)[1:]))
            print(json.dumps({k: v for k, v in done.items() if k != "commands"}), flush=True)
            results.write_text(json.dumps({"clips": prepared, "runs": runs}, indent=1) + "\n")
            (args.out / "results.md").write_text(table(prepared, runs))
    print(table(prepared, runs))


if __name__ == "__main__":
    main()
