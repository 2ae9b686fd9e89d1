"""Table 4 / Table 5 on the synthetic data: the full model, its ablations and the mean-pose baseline.

    python benchmarks/ablations.py --steps 1600 --regressor-steps 300 --seeds 0 [--prior-samples 50]

Every run gets the same data, η pre-training, step budget and seed. Prints one JSON line per run with
the test keypoint error (% of the image size, Simplified Human3.6M protocol). The baseline always
predicts the mean pose of the prior.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl

from datamodules import SyntheticDataModule
from kpbottleneck import KeypointGAN, KeypointRegressor

VARIANTS = {
    "full": {},
    "no_bottleneck": {"bottleneck": False},
    "unconditional": {"conditional": False},
    "second_cycle": {"second_cycle": True},
}
NETWORK = dict(image_size=64, regressor_channels=16, unet_depth=4)
GAN = dict(
    generator_channels=16,
    discriminator_channels=32,
    perceptual_layers=["pixels", "relu1_2", "relu2_2", "relu3_2"],
    lambda_adv=0.01,  # as experiments/synthetic.yaml (see the comment there)
)


def _trainer(root: Path, steps: int) -> pl.Trainer:
    return pl.Trainer(
        accelerator="auto",
        max_steps=steps,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=root,
        limit_val_batches=0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--steps", type=int, default=1600, help="optimiser steps of KeypointGAN (2 per batch)"
    )
    parser.add_argument("--regressor-steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--prior-samples", type=int, default=None, help="cap the prior (Table 5)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kpbottleneck-ablations-"))
    for seed in args.seeds:
        data = SyntheticDataModule(
            batch_size=args.batch_size, max_prior_samples=args.prior_samples, seed=seed
        )
        common = {"seed": seed, "prior_samples": args.prior_samples}
        pl.seed_everything(seed)
        regressor = KeypointRegressor(skeleton="synthetic", **NETWORK)
        trainer = _trainer(root, args.regressor_steps)
        trainer.fit(
            regressor, SyntheticDataModule(batch_size=16, max_prior_samples=args.prior_samples, seed=seed)
        )
        eta = root / f"eta-{seed}.ckpt"
        trainer.save_checkpoint(eta)
        for variant in args.variants:
            pl.seed_everything(seed)
            model = KeypointGAN(
                skeleton="synthetic", **NETWORK, **GAN, regressor_checkpoint=str(eta), **VARIANTS[variant]
            )
            start = time.perf_counter()
            trainer = _trainer(root, args.steps)
            trainer.fit(model, data)
            seconds = time.perf_counter() - start
            results = trainer.test(model, data, verbose=False)[0]
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
