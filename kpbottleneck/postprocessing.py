"""Supervised post-processing: a linear map from predicted to ground-truth keypoints, fitted by least squares.

Only for comparing with self-supervised methods whose keypoints are not interpretable and need it
(Table 1's "with post-processing" rows); KeypointGAN's own numbers never use it. (Named apart from η, the
regressor network; ``LinearKeypointRegression`` is the deprecated name of :class:`LinearKeypointMap`.)
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor
from torchmetrics import Metric


def _design(prediction: Tensor) -> Tensor:
    """``(B, K, 2)`` → ``(B, 2K + 1)``: all predicted coordinates and a constant 1 (the bias)."""
    flat = prediction.flatten(1).double()
    return torch.cat([flat, torch.ones_like(flat[:, :1])], dim=1)


class LinearKeypointMap(Metric):
    """Fits, in closed form, one linear map per ground-truth keypoint from all ``K`` predicted keypoints
    (``2K + 1`` inputs with the bias) to its ``(x, y)``: accumulate with ``update``, solve with ``compute``.

    The sufficient statistics (``XᵀX`` and ``XᵀY`` of the normal equations, per target keypoint so that
    an invisible ground-truth keypoint drops out of its own fit only) are sum states, so under DDP the
    fit is the one on all ranks' samples. ``ridge`` adds ``ridge · mean(diag XᵀX)`` to the diagonal,
    which only matters when the inputs are collinear (e.g. a keypoint that never moves).

    ``compute()`` returns the weights ``(K, 2K + 1, 2)``; :func:`map_keypoints` maps predictions with them.

    Example (targets that are the predictions shifted by 0.5 in x, recovered exactly):
        >>> prediction = torch.rand(20, 1, 2, generator=torch.Generator().manual_seed(0))
        >>> fit = LinearKeypointMap(num_keypoints=1)
        >>> fit.update(prediction, prediction + torch.tensor([0.5, 0.0]))
        >>> mapped = map_keypoints(fit.compute(), torch.tensor([[[0.1, 0.2]]]))
        >>> torch.allclose(mapped, torch.tensor([[[0.6, 0.2]]]), atol=1e-4)
        True
    """

    full_state_update = False
    is_differentiable = False
    gram: Tensor
    moment: Tensor

    def __init__(self, num_keypoints: int, ridge: float = 1e-6, **kwargs: object) -> None:
        super().__init__(**kwargs)
        inputs = 2 * num_keypoints + 1
        self.num_keypoints, self.ridge = num_keypoints, ridge
        self.add_state("gram", torch.zeros(num_keypoints, inputs, inputs, dtype=torch.float64), "sum")
        self.add_state("moment", torch.zeros(num_keypoints, inputs, 2, dtype=torch.float64), "sum")

    def update(self, prediction: Tensor, target: Tensor, visibility: Tensor | None = None) -> None:
        """Add samples: ``prediction``, ``target`` ``(B, K, 2)``, the target's ``visibility`` ``(B, K)``."""
        if prediction.shape != target.shape or prediction.shape[1:] != (self.num_keypoints, 2):
            raise ValueError(
                f"LinearKeypointMap({self.num_keypoints}): prediction {tuple(prediction.shape)} and "
                f"target {tuple(target.shape)} must both be (B, {self.num_keypoints}, 2)"
            )
        inputs = _design(prediction.detach())
        weight = (
            torch.ones(target.shape[:2], dtype=torch.float64, device=target.device)
            if visibility is None
            else visibility.double()
        )
        self.gram += torch.einsum("bk,bi,bj->kij", weight, inputs, inputs)
        self.moment += torch.einsum("bk,bi,bkc->kic", weight, inputs, target.double())

    def compute(self) -> Tensor:
        if not bool((self.gram[:, -1, -1] > 0).all()):
            raise RuntimeError("LinearKeypointMap: some keypoint was never visible in the fitting samples")
        diagonal = torch.diagonal(self.gram, dim1=-2, dim2=-1)
        damping = self.ridge * diagonal.mean(-1).clamp_min(1e-12)
        regularised = self.gram + torch.diag_embed(damping[:, None].expand_as(diagonal))
        return torch.linalg.solve(regularised, self.moment)


def map_keypoints(weights: Tensor, prediction: Tensor) -> Tensor:
    """Mapped keypoints ``(B, K, 2)`` of ``prediction`` ``(B, K, 2)`` with weights ``(K, 2K + 1, 2)``
    fitted by :class:`LinearKeypointMap`.

    Example (the identity map of one keypoint: ``x ← x``, ``y ← y``, no bias):
        >>> weights = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]])
        >>> map_keypoints(weights, torch.tensor([[[0.25, -0.5]]]))
        tensor([[[ 0.2500, -0.5000]]])
    """
    return torch.einsum("bi,kic->bkc", _design(prediction), weights.double()).to(prediction.dtype)


def __getattr__(name: str) -> type[LinearKeypointMap]:
    if name == "LinearKeypointRegression":
        warnings.warn(
            "kpbottleneck.postprocessing.LinearKeypointRegression is now LinearKeypointMap (the old name "
            "goes in 0.3)",
            DeprecationWarning,
            stacklevel=2,
        )
        return LinearKeypointMap
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
