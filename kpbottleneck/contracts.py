"""What the library's parts promise each other: the batches the data modules make, and what the callbacks
need of a LightningModule and of a data module.

Batches are dicts of tensors (Lightning moves them to the device as they are); their keys are written here
once, one key per concept, as ``TypedDict``\\ s. Shapes: ``B`` samples, ``S`` the model's input side, ``K``
keypoints; keypoints are normalised (``docs/conventions.md``), a ``box`` is ``(x0, y0, x1, y1)`` in the
original frame's pixels, the square that the input ``image`` shows (crop or letterbox).

The callbacks accept any LightningModule and data module that have what their ``Protocol`` lists
(:func:`keypoint_model`, :func:`keypoint_data` check it and say what is missing).

Example:
    >>> import torch
    >>> batch: LabelledBatch = {"image": torch.zeros(2, 3, 64, 64), "keypoints": torch.zeros(2, 17, 2)}
    >>> sorted(batch)
    ['image', 'keypoints']
"""

import sys
from typing import Protocol, cast, runtime_checkable

import pytorch_lightning as pl
from torch import Tensor
from torch.utils.data import DataLoader

# no `from __future__ import annotations` here: TypedDict reads NotRequired from evaluated annotations only
if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # typing_extensions comes with torch
    from typing_extensions import NotRequired, TypedDict

from kpbottleneck.skeletons import Skeleton


class PriorBatch(TypedDict):
    """η's pre-training: unpaired prior poses alone."""

    prior_keypoints: Tensor  #: (B, K, 2) prior poses p̄
    prior_visibility: NotRequired[Tensor]  #: (B, K) bool


class PairBatch(PriorBatch):
    """KeypointGAN's training: a frame, a second frame of the same video, and unpaired prior poses."""

    image: Tensor  #: (B, 3, S, S) the frame x
    appearance_image: Tensor  #: (B, 3, S, S) x′, another frame of the video or a second warp of x


class LabelledBatch(TypedDict):
    """Validation, test and post-processing frames; the labels where the data has them."""

    image: Tensor  #: (B, 3, S, S)
    keypoints: NotRequired[Tensor]  #: (B, K, 2) ground truth
    visibility: NotRequired[Tensor]  #: (B, K) bool
    activity: NotRequired[Tensor]  #: (B,) activity / category id, an index into the data's ``activities``
    box: NotRequired[Tensor]  #: (B, 4) the frame's square in the original's pixels


class MediaBatch(TypedDict):
    """``predict`` on files (:class:`datamodules.MediaDataModule`): letterboxed frames and their originals."""

    image: Tensor  #: (B, 3, S, S)
    box: Tensor  #: (B, 4) the letterbox square in the original's pixels
    original: list[Tensor]  #: B frames (3, H, W) as read
    source: list[str]  #: the file of each frame
    frame: Tensor  #: (B,) index in its video (0 for a still image)
    fps: Tensor  #: (B,) the video's frame rate (0 for a still image)


@runtime_checkable
class KeypointModel(Protocol):
    """What the evaluation, plotting and writing callbacks need of a LightningModule: its keypoint set,
    and ``model(images)`` → keypoints ``(B, K, 2)``."""

    skeleton: Skeleton

    def __call__(self, images: Tensor) -> Tensor: ...


@runtime_checkable
class KeypointData(Protocol):
    """What :class:`~kpbottleneck.evaluation.KeypointEvaluation` asks of a data module: the names of the
    activity ids its batches carry (``()``: none), the prior's mean pose (the baseline) and, for the
    post-processing, a loader of labelled training frames."""

    activities: tuple[str, ...]

    def mean_prior_pose(self) -> Tensor: ...

    def post_processing_dataloader(self) -> DataLoader: ...


def keypoint_model(module: pl.LightningModule, user: str) -> KeypointModel:
    """``module`` as a :class:`KeypointModel`; a ``TypeError`` naming ``user`` (the callback) if it has no
    ``skeleton``."""
    if not isinstance(getattr(module, "skeleton", None), Skeleton):
        raise TypeError(
            f"{user} needs a LightningModule with a `skeleton` (a kpbottleneck Skeleton) whose forward maps "
            f"images (B, 3, S, S) to keypoints (B, K, 2); {type(module).__name__} has none"
        )
    return cast(KeypointModel, module)  # (a LightningModule is callable: only the skeleton is checked)


def keypoint_data(trainer: pl.Trainer) -> KeypointData | None:
    """The trainer's data module if it is a :class:`KeypointData` (it has every member), else ``None``
    (loaders passed to the Trainer directly, or a data module of another library)."""
    data = getattr(trainer, "datamodule", None)
    return data if isinstance(data, KeypointData) else None
