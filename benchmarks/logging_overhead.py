"""Training speed with and without the W&B / picture logging of the synthetic main job.

    WANDB_MODE=offline python benchmarks/logging_overhead.py --batches 60 --every 20

Trains the same small KeypointGAN on the synthetic videos for ``--batches`` batches, three times: no
logger; CSV logger + ``TrainingSamples``; offline ``WandbLogger`` + ``TrainingSamples`` (pictures every
``--every`` batches, scalars every 10). Prints one JSON line per setting with batches per second.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.loggers import CSVLogger, WandbLogger

from datamodules import SyntheticDataModule
from kpbottleneck import KeypointGAN
from kpbottleneck.callbacks import TrainingSamples
from kpbottleneck.evaluation import KeypointEvaluation

MODEL = dict(
    image_size=64,
    generator_channels=8,
    regressor_channels=8,
    discriminator_channels=16,
    perceptual_layers=["pixels", "conv1_2", "conv2_2"],
)


def run(setting: str, batches: int, every: int, root: Path) -> float:
    loggers = {
        "none": False,
        "csv": CSVLogger(root / "csv"),
        "wandb": WandbLogger(project="kpbottleneck-benchmark", save_dir=str(root), offline=True),
    }
    callbacks = [KeypointEvaluation(mean_pose_baseline=False)]
    if setting != "none":
        callbacks.append(TrainingSamples(every_n_batches=every, num_samples=4))
    pl.seed_everything(0)
    trainer = pl.Trainer(
        accelerator="auto",
        max_steps=2 * batches,  # two optimiser steps per batch
        logger=loggers[setting],
        log_every_n_steps=10,
        callbacks=callbacks,
        limit_val_batches=0,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=root,
    )
    model, data = KeypointGAN(**MODEL), SyntheticDataModule(batch_size=8)
    start = time.perf_counter()
    trainer.fit(model, data)
    seconds = time.perf_counter() - start
    if setting == "wandb":
        loggers["wandb"].experiment.finish()
    return batches / seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--every", type=int, default=20, help="batches between two pictures")
    args = parser.parse_args()
    os.environ.setdefault("WANDB_MODE", "offline")
    root = Path(tempfile.mkdtemp(prefix="kpbottleneck-logging-"))
    for setting in ("none", "csv", "wandb"):
        speed = run(setting, args.batches, args.every, root)
        print(
            json.dumps(
                {
                    "logging": setting,
                    "batches": args.batches,
                    "picture_every": args.every,
                    "batches_per_s": round(speed, 3),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
