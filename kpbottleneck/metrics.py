"""Keypoint-error metrics as torchmetrics ``Metric`` classes, computed as the paper's benchmarks define them.

Every metric keeps per-activity sums (``dist_reduce_fx="sum"``), so under DDP the value is the same as
on one process, provided no sample is seen twice (the data modules' evaluation loaders use
:class:`datamodules.base.UnrepeatedDistributedSampler`: Lightning's default sampler pads by repeating
samples).

``update(prediction (B, K, 2), target (B, K, 2), visibility (B, K) | None, activity (B,) | None)`` with
normalised keypoints (docs/conventions.md). Per image the error is the mean over the *visible* keypoints of a
normalised Euclidean distance; images without a visible keypoint are not counted. ``compute()`` averages
per activity, then takes the mean of the activity means (the Simplified Human3.6M protocol; with one
activity it is the plain mean over images).

* :class:`ImageSizeNormalizedError` — keypoints mapped to [0, 1] by the image size, in % (Table 1);
  with ``flip_permutation`` the per-image error is the smaller of the errors against the target and
  against the left/right-swapped target (the original's "min distance"), and
  :meth:`ImageSizeNormalizedError.flip_accuracy` is the fraction of images whose left/right assignment was
  right.
* :class:`PixelError` — in pixels of the original image, undoing the crop/resize (Table 2).
* :class:`InterOcularNormalizedError` — divided by the distance between the outer eye corners, in %
  (Table 3).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric

from kpbottleneck.coordinates import normalized_to_box_pixels, normalized_to_unit


def mean_visible(values: Tensor, visibility: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Mean over the visible keypoints of ``values`` ``(B, K)``: returns ``(B,)`` means and a ``(B,)`` bool
    telling which images have any visible keypoint (the others' mean is 0 and must not be counted).

    Example: the second image has no visible keypoint.
        >>> visible = torch.tensor([[True, True], [False, False]])
        >>> mean_visible(torch.tensor([[1.0, 3.0], [5.0, 7.0]]), visible)
        (tensor([2., 0.]), tensor([ True, False]))
    """
    if visibility is None:
        return values.mean(-1), torch.ones(values.shape[0], dtype=torch.bool, device=values.device)
    weight = visibility.to(values.dtype)
    count = weight.sum(-1)
    return (values * weight).sum(-1) / count.clamp_min(1.0), count > 0


def per_image_error(
    prediction: Tensor, target: Tensor, visibility: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Mean over visible keypoints of the distance in [0, 1] image units: ``(B, K, 2)`` → ``(B,)``, with
    the ``(B,)`` bool of :func:`mean_visible`.

    Example: two keypoints, off by a tenth of the image width ([-1, 1] distance 0.2) and by nothing.
        >>> target = torch.tensor([[[0.0, 0.0], [0.5, 0.5]]])
        >>> per_image_error(torch.tensor([[[0.2, 0.0], [0.5, 0.5]]]), target)
        (tensor([0.0500]), tensor([True]))
    """
    distance = torch.linalg.vector_norm(normalized_to_unit(prediction) - normalized_to_unit(target), dim=-1)
    return mean_visible(distance, visibility)


class KeypointError(Metric):
    """Base of the keypoint errors: per-activity sums of per-image errors, mean of the activity means.

    Subclasses define :meth:`per_image` and may override ``scale`` (100 for %).

    Args:
        num_activities: number of activity / category ids that ``update`` may receive (``0 … n-1``).
    """

    full_state_update = False
    higher_is_better = False
    is_differentiable = False
    scale = 1.0
    error_sum: Tensor
    count: Tensor

    def __init__(self, num_activities: int = 1, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if num_activities < 1:
            raise ValueError(f"num_activities must be >= 1, got {num_activities}")
        self.num_activities = num_activities
        self.add_state("error_sum", torch.zeros(num_activities, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros(num_activities, dtype=torch.long), dist_reduce_fx="sum")

    def per_image(
        self, prediction: Tensor, target: Tensor, visibility: Tensor | None, **extra: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Per-image errors ``(B,)`` and whether each image counts ``(B,)`` bool."""
        raise NotImplementedError

    def _activities(self, activity: Tensor | None, batch: int, device: torch.device) -> Tensor:
        if activity is None:
            return torch.zeros(batch, dtype=torch.long, device=device)
        activity = activity.to(device=device, dtype=torch.long).reshape(batch)
        if batch and (int(activity.min()) < 0 or int(activity.max()) >= self.num_activities):
            raise ValueError(
                f"{type(self).__name__}: activity ids must lie in [0, {self.num_activities}), "
                f"got {activity.tolist()}"
            )
        return activity

    def _accumulate(self, errors: Tensor, counted: Tensor, activity: Tensor | None) -> Tensor:
        """Add the counted images' errors to their activities' sums; returns their activity ids."""
        ids = self._activities(activity, errors.shape[0], errors.device)[counted]
        self.error_sum.index_add_(0, ids, errors[counted].double())
        self.count.index_add_(0, ids, torch.ones_like(ids))
        return ids

    def _check(self, prediction: Tensor, target: Tensor) -> None:
        if prediction.shape != target.shape or prediction.ndim != 3 or prediction.shape[-1] != 2:
            raise ValueError(
                f"{type(self).__name__}: prediction {tuple(prediction.shape)} and target "
                f"{tuple(target.shape)} must both be (B, K, 2)"
            )

    def update(
        self,
        prediction: Tensor,
        target: Tensor,
        visibility: Tensor | None = None,
        activity: Tensor | None = None,
        **extra: Tensor,
    ) -> None:
        self._check(prediction, target)
        errors, counted = self.per_image(prediction.detach().float(), target.float(), visibility, **extra)
        self._accumulate(errors, counted, activity)

    def _activity_means(self, sums: Tensor) -> Tensor:
        return torch.where(self.count > 0, sums / self.count.clamp_min(1), torch.nan)

    def compute_per_activity(self) -> Tensor:
        """``(num_activities,)`` mean error of each activity (NaN where it had no image); DDP-synced."""
        with self.sync_context(should_sync=self._to_sync, should_unsync=True):
            return (self.scale * self._activity_means(self.error_sum)).float()

    def compute(self) -> Tensor:
        means = self._activity_means(self.error_sum)
        present = self.count > 0
        if not present.any():
            return torch.tensor(torch.nan, device=self.error_sum.device)
        return (self.scale * means[present].mean()).float()


class ImageSizeNormalizedError(KeypointError):
    """Keypoint error normalised by the image size, in % (Simplified Human3.6M protocol, Table 1).

    Example: one keypoint off by 5 % of the image width, then the same with left and right swapped.
        >>> error = ImageSizeNormalizedError(flip_permutation=[1, 0])
        >>> target = torch.tensor([[[0.0, 0.0], [-0.5, 0.0]]])
        >>> error.update(torch.tensor([[[0.1, 0.0], [-0.5, 0.0]]]), target)
        >>> error.update(torch.tensor([[[-0.5, 0.0], [0.0, 0.0]]]), target)
        >>> error.compute(), error.flip_accuracy()
        (tensor(1.2500), tensor(0.5000))

    Args:
        flip_permutation: with it (``Skeleton.flip_permutation``) the error of each image is the smaller of
            those against the target and against the target with left and right keypoints exchanged.
        num_activities: see :class:`KeypointError`.
    """

    scale = 100.0
    flip_correct: Tensor

    def __init__(
        self, flip_permutation: Sequence[int] | None = None, num_activities: int = 1, **kwargs: object
    ) -> None:
        super().__init__(num_activities, **kwargs)
        self.flip_permutation = None if flip_permutation is None else list(flip_permutation)
        self.add_state("flip_correct", torch.zeros(num_activities, dtype=torch.long), dist_reduce_fx="sum")

    def per_image(
        self, prediction: Tensor, target: Tensor, visibility: Tensor | None, **extra: Tensor
    ) -> tuple[Tensor, Tensor]:
        return per_image_error(prediction, target, visibility)

    def update(
        self,
        prediction: Tensor,
        target: Tensor,
        visibility: Tensor | None = None,
        activity: Tensor | None = None,
        **extra: Tensor,
    ) -> None:
        if self.flip_permutation is None:
            super().update(prediction, target, visibility, activity)
            return
        self._check(prediction, target)
        prediction, target, swap = prediction.detach().float(), target.float(), self.flip_permutation
        errors, counted = self.per_image(prediction, target, visibility)
        swapped = self.per_image(
            prediction, target[:, swap], None if visibility is None else visibility[:, swap]
        )
        ids = self._accumulate(torch.minimum(errors, swapped[0]), counted, activity)
        self.flip_correct.index_add_(0, ids, (errors <= swapped[0])[counted].long())

    def flip_accuracy(self) -> Tensor:
        """Fraction of images whose prediction is at least as close to the target as to its left/right
        swap (needs ``flip_permutation``); DDP-synced."""
        with self.sync_context(should_sync=self._to_sync, should_unsync=True):
            return (self.flip_correct.sum() / self.count.sum().clamp_min(1)).float()


class PixelError(KeypointError):
    """Mean keypoint error in pixels of the original image (Human3.6M protocol, Table 2).

    The network sees a crop ``box = (x0, y0, x1, y1)`` (original pixels) resized to its input; ``update``
    takes ``boxes`` ``(B, 4)`` to map both keypoint sets back (without boxes: ``image_size`` pixels).

    Example: off by 0.1 of the [-1, 1] range in x, on a 200-px box: 10 pixels.
        >>> error = PixelError()
        >>> boxes = torch.tensor([[0.0, 0.0, 200.0, 200.0]])
        >>> error.update(torch.tensor([[[0.1, 0.0]]]), torch.zeros(1, 1, 2), boxes=boxes)
        >>> error.compute()
        tensor(10.)

    Args:
        image_size: ``(H, W)`` used when ``update`` gets no ``boxes``.
        num_activities: see :class:`KeypointError`.
    """

    def __init__(
        self, image_size: Sequence[int] = (128, 128), num_activities: int = 1, **kwargs: object
    ) -> None:
        super().__init__(num_activities, **kwargs)
        self.image_size = tuple(image_size)

    def per_image(
        self, prediction: Tensor, target: Tensor, visibility: Tensor | None, **extra: Tensor
    ) -> tuple[Tensor, Tensor]:
        boxes = extra.get("boxes")
        if boxes is None:
            height, width = self.image_size
            boxes = prediction.new_tensor([0.0, 0.0, width, height]).expand(prediction.shape[0], 4)
        prediction = normalized_to_box_pixels(prediction, boxes)
        target = normalized_to_box_pixels(target, boxes)
        return mean_visible(torch.linalg.vector_norm(prediction - target, dim=-1), visibility)


class InterOcularNormalizedError(KeypointError):
    """Mean point-to-point error divided by the distance between the outer eye corners, in % (300-W,
    Table 3). ``normalizer``: the two keypoint indices (``face68``: 36 and 45, iBUG's 1-based 37 and 46).

    Images whose eye corners are not both visible, or coincide, are not counted.

    Example: two "eye corners" 1.0 apart, each predicted 0.1 off: 10 %.
        >>> error = InterOcularNormalizedError(normalizer=(0, 1))
        >>> target = torch.tensor([[[-0.5, 0.0], [0.5, 0.0]]])
        >>> error.update(torch.tensor([[[-0.4, 0.0], [0.6, 0.0]]]), target)
        >>> error.compute()
        tensor(10.0000)
    """

    scale = 100.0

    def __init__(self, normalizer: tuple[int, int] = (36, 45), num_activities: int = 1, **kwargs: object):
        super().__init__(num_activities, **kwargs)
        self.normalizer = tuple(normalizer)

    def per_image(
        self, prediction: Tensor, target: Tensor, visibility: Tensor | None, **extra: Tensor
    ) -> tuple[Tensor, Tensor]:
        first, second = self.normalizer
        errors, counted = mean_visible(torch.linalg.vector_norm(prediction - target, dim=-1), visibility)
        inter_ocular = torch.linalg.vector_norm(target[:, first] - target[:, second], dim=-1)
        counted = counted & (inter_ocular > 0)
        if visibility is not None:
            counted = counted & visibility[:, first] & visibility[:, second]
        return errors / inter_ocular.clamp_min(1e-12), counted
