"""Table 4 / Table 5 on the synthetic data: the full model, its ablations and the mean-pose baseline.

    python benchmarks/ablations.py --seeds 0 [--variants full no_bottleneck] [--prior-samples 50]

Every run gets the main job's settings (read from ``experiments/synthetic_pretrain.yaml`` and
``experiments/synthetic.yaml``: networks, λ, learning rates and schedules, batch sizes, step budgets),
its own η pre-training per seed and prior cap, and the same seed. Prints one JSON line per run with the
test keypoint error (% of the image size, Simplified Human3.6M protocol). The baseline always predicts
the mean pose of the prior.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import yaml

from datamodules import SyntheticDataModule
from kpbottleneck import KeypointGAN, RegressorPretraining
from kpbottleneck.hardware import accelerator_device, default_precision

VARIANTS = {
    "full": {},
    "no_bottleneck": {"bottleneck": False},
    "unconditional": {"conditional": False},
    "second_cycle": {"second_cycle": True},
}
EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def main_job_settings(name: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(model init_args, data init_args, trainer)`` of the main job's config ``name``; the data's
    ``image_size`` is the model's, as the CLI links them."""
    config = yaml.safe_load((EXPERIMENTS / name).read_text())
    model = {k: v for k, v in config["model"]["init_args"].items() if k != "regressor_checkpoint"}
    data = {**config["data"]["init_args"], "image_size": model["image_size"]}
    return model, data, config["trainer"]


def _trainer(root: Path, steps: int, precision: str | None) -> pl.Trainer:
    """A Trainer as the CLI makes one from the config: an unset precision is the machine's."""
    return pl.Trainer(
        accelerator="auto",
        precision=precision or default_precision(accelerator_device("auto")).precision,
        max_steps=steps,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=root,
        limit_val_batches=0,
    )


def main() -> None:
    gan, gan_data, gan_trainer = main_job_settings("synthetic.yaml")
    eta, eta_data, eta_trainer = main_job_settings("synthetic_pretrain.yaml")
    gan_steps, eta_steps = gan_trainer["max_steps"], eta_trainer["max_steps"]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--steps", type=int, default=gan_steps, help="optimiser steps of KeypointGAN (2 per batch)"
    )
    parser.add_argument("--regressor-steps", type=int, default=eta_steps)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--prior-samples", type=int, default=None, help="cap the prior (Table 5)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kpbottleneck-ablations-"))
    for seed in args.seeds:
        common = {"seed": seed, "prior_samples": args.prior_samples}
        data = {"max_prior_samples": args.prior_samples, "seed": seed}
        pl.seed_everything(seed)
        regressor = RegressorPretraining(**eta)
        trainer = _trainer(root, args.regressor_steps, eta_trainer.get("precision"))
        trainer.fit(regressor, SyntheticDataModule(**eta_data, **data))
        eta_path = root / f"eta-{seed}.ckpt"
        trainer.save_checkpoint(eta_path)
        for variant in args.variants:
            pl.seed_everything(seed)
            model = KeypointGAN(**gan, regressor_checkpoint=str(eta_path), **VARIANTS[variant])
            start = time.perf_counter()
            trainer = _trainer(root, args.steps, gan_trainer.get("precision"))
            images = SyntheticDataModule(**gan_data, **data)
            trainer.fit(model, images)
            seconds = time.perf_counter() - start
            results = trainer.test(model, images, verbose=False)[0]
            if variant == args.variants[0]:  # logged beside every run by KeypointEvaluation
                baseline = round(results["test/mean_pose_error"], 3)
                print(json.dumps({"run": "mean_pose_baseline", **common, "test_error": baseline}))
            error = results["test/keypoint_error"]
            print(
                json.dumps(
                    {
                        "run": variant,
                        **common,
                        "steps": args.steps,
                        "train_s": round(seconds, 1),
                        "test_error": round(error, 3),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
