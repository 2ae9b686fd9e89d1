"""The DataModule base every data source shares, and the dataset that pairs frames with prior poses.

Batches (dicts of tensors):

* training: ``image`` ``(B, 3, H, W)`` the target frame x, ``appearance_image`` ``(B, 3, H, W)`` another
  frame x′ of the same video (or a second warp of the same still image), ``prior_keypoints``
  ``(B, K, 2)`` unpaired prior poses p̄ (normalised, docs/conventions.md) and ``prior_visibility``
  ``(B, K)`` bool;
* validation / test / predict: ``image`` and, where ground truth exists, ``keypoints`` ``(B, K, 2)``,
  ``visibility`` ``(B, K)`` and optionally ``activity`` (an integer category id).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sized
from typing import Any, Literal

import pytorch_lightning as pl
import torch
from lightning_fabric.utilities import AttributeDict
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, default_collate

from datamodules.poses import PoseDataset
from datamodules.sampling import ResumableDataLoader, ResumableSampler, SeededSamples
from kpbottleneck.skeletons import Skeleton, get_skeleton

OnCorrupt = Literal["skip", "raise"]


def _length(dataset: Dataset) -> int:
    """The number of samples of a map-style dataset (every dataset of the data modules is one)."""
    if not isinstance(dataset, Sized):
        raise TypeError(f"{type(dataset).__name__} has no length: the data modules need map-style datasets")
    return len(dataset)


def loader_workers(requested: int | None, trainer: pl.Trainer | None) -> int:
    """Loader processes per training process: ``requested``, or for ``None`` sized to the machine.

    ``None`` gives none when the model runs on the CPU — the step's intra-op threads already use every
    core, and a loader process competing with them slows the step more than it saves (the synthetic main
    job on 2 cores: docs/performance.md) — and otherwise one per spare core of this process's share of
    the machine, at most 4 (a GPU step leaves the cores idle, and frames must arrive as fast as it goes).

    Example:
        >>> loader_workers(2, None), loader_workers(None, None)
        (2, 0)
    """
    if requested is not None:
        if requested < 0:
            raise ValueError(f"data.num_workers must be >= 0 (null: sized to the machine), got {requested}")
        return requested
    if trainer is None or trainer.strategy.root_device.type == "cpu":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(0, min(4, cores // max(trainer.num_devices, 1) - 1))


class PairsWithPriorDataset(Dataset):
    """Training samples: frame pair ``i`` of ``pairs`` plus one prior pose drawn at random from ``prior``.

    The prior pose is drawn with torch's generator, which the training loader seeds per sample
    (:mod:`datamodules.sampling`); image and pose are never related.

    A frame pair that cannot be read (a corrupt image or video) is, with ``on_corrupt="skip"``, left out
    of its batch (see :func:`collate_skipping`) with one warning naming it; ``"raise"`` stops training.
    """

    def __init__(self, pairs: Dataset, prior: Dataset, on_corrupt: OnCorrupt = "skip") -> None:
        if len(prior) == 0:  # type: ignore[arg-type]
            raise ValueError("the prior pose dataset is empty; at least one pose is needed")
        if on_corrupt not in ("skip", "raise"):
            raise ValueError(f"on_corrupt must be 'skip' or 'raise', got {on_corrupt!r}")
        self.pairs = pairs
        self.prior = prior
        self.on_corrupt = on_corrupt
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return len(self.pairs)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        try:
            sample = dict(self.pairs[index])
        except (ValueError, OSError) as error:  # the readers name the file in their messages
            if self.on_corrupt == "raise":
                raise
            if str(error) not in self._warned:
                self._warned.add(str(error))
                warnings.warn(f"skipping corrupt training sample {index}: {error}", stacklevel=2)
            return None
        sample.update(self.prior[int(torch.randint(len(self.prior), ()))])  # type: ignore[arg-type]
        return sample


def collate_skipping(samples: list[dict[str, Any] | None]) -> dict[str, Any]:
    """Default collation of the samples that are not ``None`` (corrupt ones, already warned about)."""
    kept = [sample for sample in samples if sample is not None]
    if not kept:
        raise RuntimeError("every sample of a training batch was corrupt (see the warnings above)")
    return default_collate(kept)


class UnrepeatedDistributedSampler(DistributedSampler):
    """Evaluation sampler for DDP: rank ``r`` of ``n`` gets indices ``r, r + n, r + 2n, …``, so every sample
    is seen exactly once (the last ranks get one fewer when ``len(dataset)`` is not divisible by ``n``).

    Lightning's default ``DistributedSampler`` pads every rank to the same length by repeating samples,
    which would count them twice in the metrics; being a ``DistributedSampler`` itself, this one is kept.
    """

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False)

    def __iter__(self):
        return iter(range(self.rank, len(self.dataset), self.num_replicas))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.num_replicas))  # type: ignore[arg-type]


class KeypointDataModule(pl.LightningDataModule):
    """Base of the data modules: owns batching and loaders; subclasses build the datasets.

    Subclasses implement :meth:`build_datasets`, returning a mapping with any of the keys ``pairs``
    and ``prior`` (training; ``prior`` a :class:`PoseDataset`), ``val``, ``test``, ``predict`` and
    ``post_processing`` (labelled training images for the supervised post-processing only). A subclass whose
    evaluation data has activities / categories names them in ``activities`` (batches carry the ids).

    Args:
        skeleton: the keypoint set of the data (name of a built-in or a :class:`Skeleton`).
        image_size: side of the square images fed to the model.
        batch_size: samples per batch and per process.
        num_workers: DataLoader worker processes; ``None``: sized to the machine (:func:`loader_workers`).
        on_corrupt: a training sample that cannot be read is skipped with a warning (``"skip"``) or
            stops training (``"raise"``).
        prior_only: training batches carry prior poses alone (``prior_keypoints``, ``prior_visibility``),
            drawn with replacement, as many per epoch as there are frame pairs: η's pre-training
            (:class:`~kpbottleneck.regressor_pretraining.RegressorPretraining`) never looks at an image, and
            this way no frame is decoded or rendered for it.

    Training batches come in an order and with per-sample randomness that are functions of a seed
    (``torch.initial_seed()``, which ``seed_everything`` sets), the epoch and the position
    (:mod:`datamodules.sampling`); the seed is kept in checkpoints, and a run resumed from a checkpoint
    written mid-epoch continues that epoch at the batch after the last one trained on, with the samples of
    the uninterrupted run.
    """

    activities: tuple[str, ...] = ()

    def __init__(
        self,
        skeleton: str | Skeleton,
        image_size: int = 64,
        batch_size: int = 16,
        num_workers: int | None = 0,
        on_corrupt: OnCorrupt = "skip",
        prior_only: bool = False,
    ) -> None:
        super().__init__()
        self.skeleton = get_skeleton(skeleton)
        self.image_size = image_size
        self.batch_size = batch_size
        # (a count is checked now, not when the first loader is made)
        self.num_workers = num_workers if num_workers is None else loader_workers(num_workers, None)
        self.on_corrupt = on_corrupt
        self.prior_only = prior_only
        self.datasets: dict[str, Dataset] = {}

    @property
    def hparams(self) -> AttributeDict:
        """The settings a subclass saved with ``save_hyperparameters`` (Lightning's, read by attribute)."""
        hparams = super().hparams
        assert isinstance(hparams, AttributeDict)
        return hparams

    def build_datasets(self, stage: str) -> Mapping[str, Dataset]:
        raise NotImplementedError(f"{type(self).__name__} must implement build_datasets(stage)")

    def setup(self, stage: str) -> None:
        self.datasets.update(self.build_datasets(stage))

    def _loader(
        self,
        name: str,
        drop_last: bool = False,
        collate_fn: Any = None,
        sampler: Sampler | None = None,
    ) -> DataLoader:
        if name not in self.datasets:
            raise RuntimeError(f"{type(self).__name__} provides no {name!r} dataset")
        dataset = self.datasets[name]
        if sampler is None and self.trainer is not None and self.trainer.world_size > 1:
            sampler = UnrepeatedDistributedSampler(dataset, self.trainer.world_size, self.trainer.global_rank)
        resumable = isinstance(sampler, ResumableSampler)
        seed = sampler.seed if isinstance(sampler, ResumableSampler) else 0
        workers = loader_workers(self.num_workers, self.trainer)
        # A generator for every loader: each new iterator draws its workers' base seed from it (else from
        # torch's global generator, the training step's stream), so no validation or test loader shifts the
        # training's random draws, and a seed trains the same model whatever the validation schedule or
        # the number of loader processes (whose iterators are made once per run or once per pass).
        return (ResumableDataLoader if resumable else DataLoader)(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=workers,
            persistent_workers=workers > 0,
            collate_fn=collate_fn,
            generator=torch.Generator().manual_seed(seed),
        )

    def train_dataloader(self) -> DataLoader:
        if self.prior_only:  # poses drawn with replacement, as many an epoch as there are frame pairs
            source, samples, collate = self.datasets["prior"], _length(self.datasets["pairs"]), None
        else:
            pairs = PairsWithPriorDataset(self.datasets["pairs"], self.datasets["prior"], self.on_corrupt)
            source, samples, collate = pairs, len(pairs), collate_skipping
        trainer = self.trainer
        ranks, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        seed = torch.initial_seed() % 2**62  # (a resumed run's loader gets the checkpoint's back)
        sampler = ResumableSampler(
            _length(source), samples, seed, self.prior_only, num_replicas=ranks, rank=rank
        )
        if trainer is not None:
            # Lightning draws the first iterator before it sets the sampler's epoch: set it here
            sampler.set_epoch(trainer.current_epoch)
            if trainer.fit_loop.restarting:  # skip the epoch's batches trained on before the checkpoint
                # (typed as its base class, the tracker counts processed batches too)
                progress = trainer.fit_loop.epoch_loop.batch_progress.current
                done = getattr(progress, "processed") * self.batch_size  # noqa: B009
                if 0 < done < sampler.num_samples:
                    sampler.resume(trainer.current_epoch, done)
        self.datasets["train"] = SeededSamples(source)
        return self._loader("train", drop_last=True, collate_fn=collate, sampler=sampler)

    def val_dataloader(self) -> DataLoader | list:
        """The validation loader, or none (``[]``) for data without labelled validation frames."""
        return self._loader("val") if "val" in self.datasets else []

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def post_processing_dataloader(self) -> DataLoader:
        """Labelled training images, for the supervised post-processing of
        :class:`~kpbottleneck.evaluation.KeypointEvaluation` (never used to train the model)."""
        return self._loader("post_processing")

    def regression_dataloader(self) -> DataLoader:
        """Deprecated name of :meth:`post_processing_dataloader` (until 0.3)."""
        warnings.warn(
            "regression_dataloader() is now post_processing_dataloader()", DeprecationWarning, stacklevel=2
        )
        return self.post_processing_dataloader()

    def mean_prior_pose(self) -> torch.Tensor:
        """Mean pose ``(K, 2)`` of the unpaired prior: the "always predict the mean pose" baseline."""
        prior = self.datasets.get("prior") or self.build_datasets("fit").get("prior")
        if not isinstance(prior, PoseDataset):
            raise RuntimeError(f"{type(self).__name__} has no prior PoseDataset to take a mean pose from")
        return prior.mean_pose()

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict" if "predict" in self.datasets else "test")
