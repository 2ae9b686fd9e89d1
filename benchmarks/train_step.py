"""Time one training step (KeypointGAN's, or η's) inside ``Trainer.fit``, and count what it launches.

    python benchmarks/train_step.py                                  # the main job's step, as it trains here
    python benchmarks/train_step.py --precision bf16-mixed --no-channels-last
    python benchmarks/train_step.py --size paper --device cuda --channels-last --compile
    python benchmarks/train_step.py --model regressor
    python benchmarks/train_step.py --original-perceptual-loss     # Γ to conv5_2, as real-data configs
    python benchmarks/train_step.py --precision bf16-mixed --data synthetic --workers 0

Sizes: ``main`` is the synthetic main job's (its configs: 64 px, batch 8, the synthetic skeleton, narrow
networks); ``paper`` is the paper's human setting (128 px, batch 16, Simplified Human3.6M's 32 keypoints,
the module's default widths). ``--channels-last`` defaults to the model's (the machine's choice: on with bf16
where bf16 is native). Batches are random data made once, on the device (so the step alone is timed, not the
loading); with ``--data synthetic`` they come from the main job's data module instead (the synthetic
videos, ``--workers`` loader processes, default the config's), and the time per batch includes the wait
for each batch. One KeypointGAN batch is its generator step and its discriminator step.

Prints one JSON line: milliseconds per batch (median, p10, p90 over ``--batches`` batches after
``--warmup``), peak memory, and from ``torch.profiler`` over ``--profile-batches`` batches: ATen operators
per batch (top-level calls, the backward's included) and, on CUDA, kernel launches per batch; on CUDA also
host synchronisations per batch (``torch.cuda.set_sync_debug_mode``). FLOPs: ``gflop_per_batch`` counted
by ``torch.utils.flop_counter.FlopCounterMode`` over one more batch (forward and backward, convolutions and
matrix products), ``gflop_per_s`` that over the median time, and ``matmul_gflop_per_s``, what one large
matrix product reaches on the same device and precision (the practical peak), with the fraction reached.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
import warnings
from typing import Any

import pytorch_lightning as pl
import torch
from ablations import main_job_settings  # benchmarks/ablations.py, beside this script
from result_files import save_result
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from datamodules import SyntheticDataModule
from datamodules.base import loader_workers
from kpbottleneck import KeypointGAN, RegressorPretraining
from kpbottleneck.hardware import default_precision, machine_kind
from kpbottleneck.profiling import OperatorCounter
from kpbottleneck.skeletons import get_skeleton

PAPER = {"skeleton": "simplified_h36m", "image_size": 128}
PAPER_BATCH = 16


def settings(model: str, size: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model init_args, data init_args)`` of the main job's config or of the paper's setting."""
    config = "synthetic.yaml" if model == "gan" else "synthetic_pretrain.yaml"
    init_args, data, _ = main_job_settings(config)  # (model, data, trainer)
    if size == "main":
        return init_args, data
    return PAPER, {**data, "batch_size": PAPER_BATCH, "image_size": PAPER["image_size"]}


def random_batch(skeleton: str, image_size: int, batch_size: int, device: str) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    keypoints = get_skeleton(skeleton).num_keypoints
    batch = {
        "image": torch.rand(batch_size, 3, image_size, image_size, generator=generator),
        "appearance_image": torch.rand(batch_size, 3, image_size, image_size, generator=generator),
        "prior_keypoints": torch.rand(batch_size, keypoints, 2, generator=generator) * 1.6 - 0.8,
    }
    return {key: value.to(device) for key, value in batch.items()}


def matmul_gflop_per_s(device: str, precision: str, size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of ``size x size`` matrix products on ``device`` in the precision's dtype (bf16 for the bf16
    precisions): what the hardware reaches on the friendliest work, to read a step's rate against."""
    dtype = torch.bfloat16 if precision.startswith("bf16") else torch.float32
    a, b = (torch.rand(size, size, device=device, dtype=dtype) for _ in range(2))
    a @ b  # warm up
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


class StepTimer(pl.Callback):
    """Wall time of each training batch (with a device synchronisation at both ends on CUDA), the wait for
    it since the previous batch ended included when ``include_loading``, a profile of the batches
    ``profile_from ... profile_from + profile_batches - 1`` and the FLOPs of the batch after them."""

    def __init__(self, device: str, profile_from: int, profile_batches: int, include_loading: bool) -> None:
        self.device, self.profile_from, self.profile_batches = device, profile_from, profile_batches
        self.include_loading = include_loading
        self.times: list[float] = []
        self.counts: dict[str, float] = {}
        self.syncs = 0
        self.end: float | None = None
        self.flops = 0
        self.flop_batch = profile_from + profile_batches

    def _sync(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()

    def on_train_batch_start(
        self, trainer: pl.Trainer, module: pl.LightningModule, batch: Any, index: int
    ) -> None:
        if index == self.flop_batch:
            self.flop_counter = FlopCounterMode(display=False)
            self.flop_counter.__enter__()
        if index == self.profile_from:
            self.profile = OperatorCounter(self.profile_batches).__enter__()
            if self.device == "cuda":
                self._warnings = warnings.catch_warnings(record=True)
                self.caught = self._warnings.__enter__()
                warnings.simplefilter("always")
                torch.cuda.set_sync_debug_mode("warn")
        self._sync()
        now = time.perf_counter()
        self.start = self.end if self.include_loading and self.end is not None else now

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, *args: Any) -> None:
        self._sync()
        index = len(self.times)
        self.end = time.perf_counter()
        self.times.append((self.end - self.start) * 1000)
        if index == self.flop_batch:
            self.flop_counter.__exit__(None, None, None)
            self.flops = self.flop_counter.get_total_flops()
        if index == self.profile_from + self.profile_batches - 1:
            if self.device == "cuda":
                torch.cuda.set_sync_debug_mode(0)
                self.syncs = sum("synchroniz" in str(w.message) for w in self.caught)
                self._warnings.__exit__(None, None, None)
            self.profile.__exit__(None, None, None)
            self.counts = self.profile.per_step


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--model", choices=("gan", "regressor"), default="gan")
    parser.add_argument("--size", choices=("main", "paper"), default="main")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--precision", default=None, help="Trainer precision, e.g. bf16-mixed (default: the machine's)"
    )
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--compile", action="store_true", help="torch.compile the networks")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--profile-batches", type=int, default=3)
    parser.add_argument("--data", choices=("random", "synthetic"), default="random")
    parser.add_argument(
        "--original-perceptual-loss",
        action="store_true",
        help="Γ over the original's layers (to conv5_2) instead of the main job's",
    )
    parser.add_argument("--workers", type=int, default=None, help="loader processes of --data synthetic")
    parser.add_argument(
        "--save",
        action="store_true",
        help="also write it into benchmarks/results/train_step/<machine kind>.jsonl (the docs' tables)",
    )
    args = parser.parse_args()
    args.precision = args.precision or default_precision(args.device).precision
    if args.data == "synthetic" and args.size != "main":
        parser.error("--data synthetic has the main job's size only (its skeleton and image size)")
    init_args, data_args = settings(args.model, args.size)
    if args.original_perceptual_loss:
        init_args = {k: v for k, v in init_args.items() if k != "perceptual_layers"}
    batch_size = data_args["batch_size"]
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(0)
    # (only the options asked for: the script also times commits from before these options)
    options = {"compile": True} if args.compile else {}
    if args.channels_last is not None:
        options["channels_last"] = args.channels_last
    cls = KeypointGAN if args.model == "gan" else RegressorPretraining
    model = cls(**{**init_args, **options})
    profiled = args.warmup + args.batches
    timer = StepTimer(args.device, profiled, args.profile_batches, include_loading=args.data == "synthetic")
    steps_per_batch = 2 if args.model == "gan" else 1
    trainer = pl.Trainer(
        accelerator=args.device,
        devices=1,
        precision=args.precision,
        max_steps=steps_per_batch * (profiled + args.profile_batches + 1),
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        limit_val_batches=0,
        callbacks=[timer],
    )
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    if args.data == "synthetic":
        workers = data_args["num_workers"] if args.workers is None else args.workers
        trainer.fit(model, datamodule=SyntheticDataModule(**{**data_args, "num_workers": workers}))
        workers = loader_workers(workers, trainer)  # (what the config's null gave on this machine)
    else:
        batch = random_batch(model.skeleton.name, model.hparams.image_size, batch_size, args.device)
        batches = DataLoader([batch] * (profiled + args.profile_batches + 1), batch_size=None)  # as they are
        trainer.fit(model, train_dataloaders=batches)
    times = sorted(timer.times[args.warmup : profiled])
    deciles = statistics.quantiles(times, n=10)
    gflop = timer.flops / 1e9
    rate = gflop / (statistics.median(times) / 1000)
    peak_rate = matmul_gflop_per_s(args.device, args.precision)
    if args.device == "cuda":
        peak_mib = torch.cuda.max_memory_allocated() / 2**20
    else:  # the process's peak resident memory
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "model": args.model,
        "size": args.size,
        "batch_size": batch_size,
        "image_size": model.hparams.image_size,
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "precision": args.precision,
        "channels_last": model.channels_last,
        "compile": args.compile,
        "data": args.data if args.data == "random" else f"synthetic, {workers} loader processes",
        "torch": torch.__version__,
        "ms_per_batch": {
            "median": round(statistics.median(times), 2),
            "p10": round(deciles[0], 2),
            "p90": round(deciles[-1], 2),
        },
        "gflop_per_batch": round(gflop, 2),
        "gflop_per_s": round(rate, 1),
        "matmul_gflop_per_s": round(peak_rate, 1),
        "fraction_of_matmul_rate": round(rate / peak_rate, 3),
        "peak_memory_mib": round(peak_mib, 1),
        **{f"{name}_per_batch": round(value, 1) for name, value in timer.counts.items()},
    }
    if args.device == "cuda":
        result["host_syncs_per_batch"] = round(timer.syncs / args.profile_batches, 1)
    print(json.dumps(result), flush=True)
    if args.save:
        result["isa"] = torch.backends.cpu.get_cpu_capability() if args.device == "cpu" else "cuda"
        key = ("model", "size", "precision", "channels_last", "compile", "data", "isa")
        save_result("train_step", result, key, machine_kind(args.device))


if __name__ == "__main__":
    main()
