"""Pictures of keypoints: skeletons drawn over images, left and right sides in their own colours.

Pure functions on tensors (β draws the lines and dots, torchvision lays out the grid), used by the
prediction callback and available to users for their own figures.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F
from torchvision.utils import make_grid

from kpbottleneck.rendering import render_skeleton
from kpbottleneck.skeletons import Skeleton

SIDE_COLOURS = {"left": (0, 120, 255), "right": (255, 60, 40), "centre": (60, 220, 60)}


def edge_sides(skeleton: Skeleton) -> dict[str, list[tuple[int, int]]]:
    """The skeleton's edges grouped by body side: an edge touching a left (right) keypoint of a flip pair
    is ``"left"`` (``"right"``), any other edge is ``"centre"``."""
    left = {pair[0] for pair in skeleton.flip_pairs}
    right = {pair[1] for pair in skeleton.flip_pairs}
    sides: dict[str, list[tuple[int, int]]] = {"centre": [], "left": [], "right": []}
    for edge in skeleton.edges:
        side = "left" if set(edge) & left else "right" if set(edge) & right else "centre"
        sides[side].append(edge)
    return sides


def draw_skeleton(
    images: Tensor,
    keypoints: Tensor,
    skeleton: Skeleton,
    visibility: Tensor | None = None,
    scale: int = 2,
    line_width: float = 1.5,
) -> Tensor:
    """Draw ``keypoints`` ``(B, K, 2)`` (normalised, docs/conventions.md) with the skeleton's edges over
    ``images``.

    The lines are painted with β itself (:func:`~kpbottleneck.rendering.render_skeleton`, Gaussian
    falloff, width ``line_width`` output pixels) as alpha masks, one colour per body side, and the
    keypoints as white dots on top.

    Args:
        images: ``(B, 3, H, W)`` in [0, 1].
        visibility: ``(B, K)`` bool; invisible keypoints and their edges are not drawn.
        scale: the images are enlarged by this factor first, so that lines stay thin on small images.

    Returns:
        ``(B, 3, scale·H, scale·W)`` images in [0, 1]; left limbs blue, right limbs red, the rest green.
    """
    images = F.interpolate(images.detach().float(), scale_factor=scale, mode="nearest").clamp(0, 1)
    keypoints = keypoints.detach().float().to(images.device)
    size = (images.shape[-2], images.shape[-1])
    sigma = 2.0 * line_width / max(size)
    layers = [(edges, SIDE_COLOURS[side]) for side, edges in edge_sides(skeleton).items() if edges]
    layers.append(([(k, k) for k in range(skeleton.num_keypoints)], (255, 255, 255)))
    drawn = []
    for index in range(images.shape[0]):
        image, shown = images[index], None if visibility is None else visibility[index].tolist()
        for edges, colour in layers:
            if shown is not None:
                edges = [(i, j) for i, j in edges if shown[i] and shown[j]]
            if not edges:
                continue
            alpha = render_skeleton(keypoints[index, None], torch.tensor(edges), size, sigma, "gaussian")
            paint = torch.tensor(colour, dtype=image.dtype, device=image.device)[:, None, None] / 255
            image = image + alpha[0] * (paint - image)
        drawn.append(image)
    return torch.stack(drawn)


def keypoint_grid(
    images: Tensor, keypoints: Tensor, skeleton: Skeleton, target: Tensor | None = None, nrow: int = 8
) -> Tensor:
    """One ``(3, H', W')`` picture: each image with its predicted skeleton, and beside it the target's.

    With ``target`` ``(B, K, 2)`` the rows alternate prediction / ground truth.
    """
    panels = draw_skeleton(images, keypoints, skeleton)
    if target is not None:
        truth = draw_skeleton(images, target, skeleton)
        panels = torch.stack([panels, truth], dim=1).flatten(0, 1)
        nrow = 2 * (nrow // 2) or 2
    return make_grid(panels, nrow=nrow, padding=2, pad_value=1.0)
