"""A history of generated images for the discriminator (Shrivastava et al. 2017, as used by CycleGAN).

The discriminator is shown, for each new generated image, either that image or, with probability ½, one
generated earlier (which the new one then replaces in the history). A discriminator that also remembers
older generator outputs oscillates less. Until the history is full, new images are stored and shown as
they are.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class ImagePool(nn.Module):
    """History of ``size`` generated images; ``size=0`` passes images through unchanged.

    DESIGN: the swaps of one batch are drawn at once on the images' device (no host synchronisation):
    each image of the batch is given its own history slot, drawn without replacement, so two images of one
    batch never compete for the same slot (where sequential one-by-one queries could). The history and its
    fill count are saved in checkpoints (``get_extra_state``), so a resumed run shows D the same images.
    Under DDP every process keeps its own history of its own generated images.

    Shape:
        images ``(B, C, H, W)`` → ``(B, C, H, W)``, detached.

    Example:
        >>> pool = ImagePool(2)
        >>> first = pool(torch.zeros(2, 1, 4, 4))  # history not full yet: returned as they are
        >>> bool((first == 0).all()), pool.filled
        (True, 2)
    """

    def __init__(self, size: int = 50) -> None:
        super().__init__()
        if size < 0:
            raise ValueError(f"ImagePool size must be >= 0, got {size}")
        self.size = size
        self.filled = 0
        self.history: Tensor | None = None
        self.register_load_state_dict_pre_hook(_keep_own_state_if_absent)

    def forward(self, images: Tensor) -> Tensor:
        images = images.detach()
        if self.size == 0:
            return images
        if self.history is None or self.history.shape[1:] != images.shape[1:]:
            self.history, self.filled = images.new_zeros((self.size, *images.shape[1:])), 0
        self.history = self.history.to(images)
        new = min(self.size - self.filled, images.shape[0])
        self.history[self.filled : self.filled + new] = images[:new]
        self.filled += new
        shown = [images[:new]]
        for chunk in images[new:].split(self.size):
            slots = torch.randperm(self.size, device=images.device)[: chunk.shape[0]]
            swap = (torch.rand(chunk.shape[0], device=images.device) < 0.5).view(
                -1, *[1] * (images.dim() - 1)
            )
            stored = self.history[slots]
            shown.append(torch.where(swap, stored, chunk))
            self.history[slots] = torch.where(swap, chunk, stored)
        return torch.cat(shown)

    def get_extra_state(self) -> dict[str, Any]:
        return {"filled": self.filled, "history": self.history}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.filled, self.history = state["filled"], state["history"]


def _keep_own_state_if_absent(
    module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict, *args: object
) -> None:
    """Checkpoints written before the pool existed load with an empty history."""
    state_dict.setdefault(prefix + "_extra_state", module.get_extra_state())
