"""Training order that a run killed mid-epoch continues exactly: every sample is a function of
``(seed, epoch, position)``, and the sampler can start an epoch part-way through.

Lightning restores weights, optimisers and loop counters from a checkpoint, but a plain DataLoader
starts its epoch again from the first batch and draws a new order and new per-sample randomness from
the global generator. Here instead:

* :class:`ResumableSampler` draws epoch ``e``'s order from its own generator seeded by ``seed + e``,
  together with one seed per sample, and yields ``(index, sample_seed)`` pairs; told by
  :meth:`ResumableSampler.resume` how many samples of an epoch were trained on, it starts there;
* :class:`SeededSamples` reads ``dataset[index]`` with torch's generator seeded by ``sample_seed``, so
  whatever a dataset draws with torch (the second frame of a pair, the prior pose, a warp, the colour
  jitter) does not depend on which process or worker reads it, nor on what was read before;
* :class:`ResumableDataLoader` is a DataLoader whose state (the sampler's seed) Lightning saves in
  checkpoints and gives back when a run resumes, before its first batch;
* :class:`~datamodules.base.KeypointDataModule` builds them, and on resume tells the sampler the batches
  of the epoch that the checkpoint's loop counters record as trained on.

Being a :class:`~torch.utils.data.DistributedSampler`, the sampler is kept as it is by Lightning under
DDP: each rank reads its share ``rank, rank + n, …`` of the epoch's order (padded by repetition to a
multiple of ``n``, as torch's sampler does).
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any, cast

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

_SEED_RANGE = 2**62


class ResumableSampler(DistributedSampler):
    """Shuffled (or, with ``replacement``, drawn with replacement) training order of ``length`` samples
    per epoch from a dataset of ``population`` items, yielding ``(index, sample_seed)``.

    Args:
        population: number of items to draw from (``len(dataset)``).
        length: samples per epoch over all ranks (default ``population``).
        seed: seed of every epoch's order: epoch ``e`` uses ``seed + e``.
        replacement: draw indices with replacement instead of a permutation (then ``length`` may differ
            from ``population``).
        num_replicas, rank: the DDP share, as :class:`~torch.utils.data.DistributedSampler`'s.

    Example:
        >>> sampler = ResumableSampler(10, seed=0)
        >>> full = list(sampler)
        >>> sampler.resume(epoch=0, samples=4)
        >>> list(sampler) == full[4:], len(sampler)
        (True, 10)
    """

    def __init__(
        self,
        population: int,
        length: int | None = None,
        seed: int = 0,
        replacement: bool = False,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        length = population if length is None else length
        if population <= 0 or length <= 0:
            raise ValueError(f"a training sampler needs items and samples, got {population=} and {length=}")
        if not replacement and length != population:
            raise ValueError(f"a permutation has as many samples as items: {length=} != {population=}")
        # (DistributedSampler only takes the length of its "dataset")
        super().__init__(
            cast(Dataset, range(length)), num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed
        )
        self.population, self.replacement = population, replacement
        self._resume_epoch, self._skip = -1, 0

    def resume(self, epoch: int, samples: int) -> None:
        """Start epoch ``epoch`` after its first ``samples`` samples of this rank (trained on before a
        checkpoint); later epochs start at their beginning. ``len(self)`` stays the epoch's full length,
        as Lightning counts the skipped batches as done."""
        if not 0 <= samples <= self.num_samples:
            raise ValueError(f"cannot resume after {samples} samples of an epoch of {self.num_samples}")
        self._resume_epoch, self._skip = epoch, samples

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        if self.replacement:
            order = torch.randint(self.population, (self.total_size,), generator=generator)
        else:
            order = torch.randperm(self.population, generator=generator)
            order = order.repeat(-(-self.total_size // self.population))[: self.total_size]
        seeds = torch.randint(_SEED_RANGE, (self.total_size,), generator=generator)
        share = slice(self.rank, self.total_size, self.num_replicas)
        start = self._skip if self.epoch == self._resume_epoch else 0
        pairs = zip(order[share].tolist(), seeds[share].tolist(), strict=True)
        return iter(list(pairs)[start:])


class SeededSamples(Dataset):
    """``dataset[index]`` read with torch's (CPU) generator seeded by the key's ``sample_seed``: keys are
    the ``(index, sample_seed)`` pairs of :class:`ResumableSampler`. The caller's generator state is left
    as it was (so reading in the main process, ``num_workers=0``, draws nothing from the training's
    stream)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        if not isinstance(self.dataset, Sized):
            raise TypeError(f"{type(self.dataset).__name__} has no length")
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int] | int) -> Any:
        if isinstance(key, int):  # a plain sampler's index (e.g. Lightning's for ``overfit_batches``)
            return self.dataset[key]
        index, sample_seed = key
        # torch's CPU generator alone, not ``fork_rng`` + ``torch.manual_seed``: those also (re)seed the CUDA
        # generators, which costs ~0.1 ms a sample (a stack trace is kept while CUDA is not initialised)
        # and would reset the training's CUDA random stream at every batch read in the main process.
        generator = torch.default_generator
        state = generator.get_state()
        generator.manual_seed(sample_seed)
        try:
            return self.dataset[index]
        finally:
            generator.set_state(state)


class ResumableDataLoader(DataLoader):
    """A :class:`~torch.utils.data.DataLoader` (same arguments) with the ``state_dict`` /
    ``load_state_dict`` pair by which Lightning saves a loader's state in checkpoints and restores it
    before the first batch of a resumed run: the seed of its :class:`ResumableSampler`.

    Give it a ``generator`` of its own: the (unused) worker seeds it draws at each epoch then take nothing
    from torch's global generator, whose stream the training step's draws must keep.
    """

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.sampler.seed} if isinstance(self.sampler, ResumableSampler) else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "seed" in state_dict and isinstance(self.sampler, ResumableSampler):
            self.sampler.seed = state_dict["seed"]
