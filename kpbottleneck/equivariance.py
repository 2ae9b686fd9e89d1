"""Equivariance to image warps: keypoints that sit on an image's features move as the image moves.

A detector ``f`` is equivariant to a warp ``W`` when ``f(W·x) = W·f(x)``. Random similarities (rotation
about the image centre, scaling, shift) test it; they also tell a skeleton that sits on the subject from
one displaced by a constant offset ``c``, since ``W·(p + c) ≠ W·p + c`` for a rotation or a scaling. The
paper's recipe leaves where the skeleton sits to D alone, which pulls it to where the prior's subject sits
(docs/live_action.md): :class:`~kpbottleneck.keypoint_gan.KeypointGAN`'s ``equivariance_weight`` adds
:func:`equivariance_distances` as a training term, :mod:`kpbottleneck.model_selection` scores checkpoints
with it.

Convention: keypoints ``(N, K, 2)`` normalised to ``[-1, 1]`` (docs/conventions.md); warps ``(N, 2, 3)``
pixel-coordinate affine maps of square ``size``-pixel images, as :func:`kornia.geometry.transform.warp_affine`
takes them (pixel centres at integer coordinates).
"""

from __future__ import annotations

import torch
from kornia.geometry.transform import get_rotation_matrix2d, warp_affine
from torch import Tensor

from kpbottleneck.coordinates import normalized_to_pixels, normalized_to_unit, pixels_to_normalized


def random_similarities(
    count: int,
    size: int,
    max_angle: float = 20.0,
    max_scale: float = 0.1,
    max_shift: float = 0.05,
    seed: int | None = 0,
) -> Tensor:
    """``(count, 2, 3)`` pixel-coordinate affine maps of ``size``-pixel square images: rotations about the
    centre up to ``max_angle`` degrees, scalings by ``1 ± max_scale`` and shifts up to ``max_shift`` of the
    side, each uniform, drawn with ``seed`` (``None``: from torch's global random state), on the CPU.

    Example: no rotation, scaling or shift leaves every pixel where it is.
        >>> random_similarities(1, 8, max_angle=0.0, max_scale=0.0, max_shift=0.0)
        tensor([[[1., 0., 0.],
                 [0., 1., 0.]]])
    """
    generator = None if seed is None else torch.Generator().manual_seed(seed)

    def uniform(limit: float) -> Tensor:
        return (torch.rand(count, generator=generator) * 2 - 1) * limit

    centre = torch.full((count, 2), (size - 1) / 2)
    scale = (1 + uniform(max_scale))[:, None].expand(count, 2)
    matrix = get_rotation_matrix2d(centre, uniform(max_angle), scale)
    matrix[:, :, 2] += torch.stack([uniform(max_shift), uniform(max_shift)], dim=-1) * size
    return matrix


def warp_images(images: Tensor, matrix: Tensor) -> Tensor:
    """Square images ``(N, C, S, S)`` warped by ``matrix`` ``(N, 2, 3)``; borders are reflections (no
    black edge for a detector to lock on to). Bilinear, differentiable in ``images``."""
    size = images.shape[-1]
    return warp_affine(images, matrix.to(images), (size, size), padding_mode="reflection", align_corners=True)


def transform_keypoints(keypoints: Tensor, matrix: Tensor, size: int) -> Tensor:
    """Keypoints ``(N, K, 2)`` of ``size``-pixel square images moved by ``matrix`` ``(N, 2, 3)``, as
    :func:`warp_images` moves the images.

    Example: a shift of one pixel to the right of a 10-pixel image is a fifth of a normalised unit.
        >>> shift = torch.tensor([[[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]])
        >>> transform_keypoints(torch.zeros(1, 1, 2), shift, 10)
        tensor([[[0.2000, 0.0000]]])
    """
    pixels = normalized_to_pixels(keypoints, (size, size))
    matrix = matrix.to(pixels)
    moved = pixels @ matrix[:, :, :2].transpose(1, 2) + matrix[:, None, :, 2]
    return pixels_to_normalized(moved, (size, size))


def equivariance_distances(
    warped_keypoints: Tensor, keypoints: Tensor, matrix: Tensor, size: int
) -> tuple[Tensor, Tensor]:
    """``(N, K)`` distances, in fractions of the image side, between the keypoints found in the warped
    images ``warped_keypoints`` and the images' ``keypoints`` moved by the same warps ``matrix``, and the
    ``(N, K)`` mask of the moved keypoints that stay inside the image (only those can be found there).

    Example: a detector that did not move its keypoint with a one-pixel shift of a 10-pixel image.
        >>> shift = torch.tensor([[[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]])
        >>> equivariance_distances(torch.zeros(1, 1, 2), torch.zeros(1, 1, 2), shift, 10)
        (tensor([[0.1000]]), tensor([[True]]))
    """
    expected = transform_keypoints(keypoints, matrix, size)
    inside = expected.detach().abs().amax(dim=-1) < 1
    distance = torch.linalg.vector_norm(
        normalized_to_unit(warped_keypoints) - normalized_to_unit(expected), dim=-1
    )
    return distance, inside
