"""Where the time of one KeypointGAN training step goes, with the main job's settings.

    python benchmarks/step_time.py --repeats 10 --batches 20

Times forward + backward of each network at the main job's batch size and image size (the parts of a
step), then the whole step inside ``Trainer.fit`` on the synthetic data (median over ``--batches`` batches,
after 3 warm-up batches). Prints one JSON line per part and one for the whole step, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import pytorch_lightning as pl
import torch
from ablations import main_job_settings  # benchmarks/ablations.py, beside this script

from datamodules import SyntheticDataModule
from kpbottleneck import KeypointGAN


def milliseconds(step: Callable[[], None], repeats: int) -> float:
    step()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats * 1000


class BatchTimer(pl.Callback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_batch_start(self, trainer: pl.Trainer, *args: object) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        self.times.append((time.perf_counter() - self.start) * 1000)


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    settings, data_settings, _ = main_job_settings("synthetic.yaml")
    torch.manual_seed(0)
    model = KeypointGAN(**settings)
    data = SyntheticDataModule(**data_settings)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    image, appearance, prior = batch["image"], batch["appearance_image"], batch["prior_keypoints"]
    skeleton = model.renderer(prior)

    def backward_from(make: Callable[[torch.Tensor], object], source: torch.Tensor) -> Callable[[], None]:
        """Forward ``make`` from a copy of ``source`` and back-propagate the sum of its output(s)."""

        def step() -> None:
            out = make(source.detach().clone().requires_grad_())
            torch.stack([o.sum() for o in (out if isinstance(out, list) else [out])]).sum().backward()

        return step

    parts = {
        "encoder": backward_from(model.encoder, image),
        "decoder": backward_from(lambda s: model.decoder(s, appearance), skeleton),
        "perceptual_loss": backward_from(lambda x: model.perceptual_loss(x, image), appearance),
        "regressor": backward_from(model.regressor, skeleton),
        "renderer": backward_from(model.renderer, prior),
        "discriminator": backward_from(model.discriminator, skeleton),
    }
    common = {"batch_size": data_settings["batch_size"], "image_size": settings["image_size"]}
    for name, step in parts.items():
        ms = milliseconds(step, args.repeats)
        print(json.dumps({"part": name, "forward_backward_ms": round(ms, 1), **common}), flush=True)
    timer = BatchTimer()
    trainer = pl.Trainer(
        accelerator="auto",
        max_steps=2 * (args.batches + 3),
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        limit_val_batches=0,
        callbacks=[timer],
    )
    trainer.fit(KeypointGAN(**settings), data)
    step_ms = statistics.median(timer.times[3:])
    print(json.dumps({"part": "whole_step", "median_ms": round(step_ms, 1), **common}), flush=True)


if __name__ == "__main__":
    main()
