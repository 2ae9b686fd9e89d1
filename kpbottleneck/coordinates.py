"""Keypoint coordinate conventions (docs/conventions.md) and the geometry of square boxes in images.

Inside the library keypoints are ``(B, K, 2)`` tensors in **(x, y)** order, normalised to ``[-1, 1]``
with ``align_corners=False`` semantics, exactly as :func:`torch.nn.functional.grid_sample` reads them:
the centre of pixel column ``i`` of a ``W``-wide image sits at ``x = (2 i + 1) / W - 1``.

*Pixel* coordinates are continuous with the centre of pixel ``i`` at ``i`` (OpenCV / scikit-image
convention), so ``normalized_to_pixels(pixels_to_normalized(p)) == p`` and the pixel centre ``i``
maps to ``(2 i + 1) / W - 1``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F


def _size_tensor(size: Sequence[int], like: Tensor) -> Tensor:
    height, width = size
    return torch.tensor([width, height], dtype=like.dtype, device=like.device)


def pixels_to_normalized(keypoints: Tensor, size: Sequence[int]) -> Tensor:
    """Map pixel coordinates ``(..., 2)`` (x, y) of an image of ``size = (H, W)`` to ``[-1, 1]``.

    Example: the centres of the first and last pixel of a 4-wide, 2-high image.
        >>> pixels_to_normalized(torch.tensor([[0.0, 0.0], [3.0, 1.0]]), (2, 4))
        tensor([[-0.7500, -0.5000],
                [ 0.7500,  0.5000]])
    """
    wh = _size_tensor(size, keypoints)
    return (2.0 * keypoints + 1.0) / wh - 1.0


def normalized_to_pixels(keypoints: Tensor, size: Sequence[int]) -> Tensor:
    """Inverse of :func:`pixels_to_normalized`: ``[-1, 1]`` (x, y) to pixel coordinates of ``(H, W)``.

    Example: the image's corners are pixel edges, half a pixel outside the first and last centres.
        >>> normalized_to_pixels(torch.tensor([[-1.0, -1.0], [1.0, 1.0]]), (2, 4))
        tensor([[-0.5000, -0.5000],
                [ 3.5000,  1.5000]])
    """
    wh = _size_tensor(size, keypoints)
    return ((keypoints + 1.0) * wh - 1.0) / 2.0


def normalized_to_unit(keypoints: Tensor) -> Tensor:
    """Map ``[-1, 1]`` coordinates to ``[0, 1]`` (fractions of the image size), as benchmarks report.

    Example:
        >>> normalized_to_unit(torch.tensor([-1.0, 0.0, 0.5]))
        tensor([0.0000, 0.5000, 0.7500])
    """
    return (keypoints + 1.0) / 2.0


def pixel_centre_grid(
    size: Sequence[int], device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Normalised (x, y) coordinates of every pixel centre of an ``(H, W)`` image, shape ``(H, W, 2)``.

    Example: a 1-high, 2-wide image.
        >>> pixel_centre_grid((1, 2))
        tensor([[[-0.5000,  0.0000],
                 [ 0.5000,  0.0000]]])
    """
    height, width = size
    xs = (2.0 * torch.arange(width, device=device, dtype=dtype) + 1.0) / width - 1.0
    ys = (2.0 * torch.arange(height, device=device, dtype=dtype) + 1.0) / height - 1.0
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1)


def normalized_to_box_pixels(keypoints: Tensor, boxes: Tensor) -> Tensor:
    """Pixel coordinates in an original image of keypoints ``(B, K, 2)`` predicted on a crop of it.

    ``boxes`` ``(B, 4)`` = ``(x0, y0, x1, y1)`` is the region of the original that was resized to the
    network input, in pixel *edges* (the whole image is ``(0, 0, W, H)``; a box may reach outside it where
    the input was padded). With the whole image as the box this is :func:`normalized_to_pixels`.

    Example: the crop's centre, and its top-left corner (a pixel edge), for the 20-px box at (10, 20).
        >>> box = torch.tensor([[10.0, 20.0, 30.0, 40.0]])
        >>> normalized_to_box_pixels(torch.tensor([[[0.0, 0.0], [-1.0, -1.0]]]), box)
        tensor([[[19.5000, 29.5000],
                 [ 9.5000, 19.5000]]])
    """
    boxes = boxes.to(keypoints)
    origin, extent = boxes[:, None, :2], (boxes[:, 2:] - boxes[:, :2])[:, None]
    return origin + normalized_to_unit(keypoints) * extent - 0.5


def box_pixels_to_normalized(keypoints: Tensor, boxes: Tensor) -> Tensor:
    """Inverse of :func:`normalized_to_box_pixels`: original pixels ``(B, K, 2)`` to the crop's [-1, 1].

    Example: the first pixel centre of the box at (10, 20), of side 20.
        >>> box_pixels_to_normalized(torch.tensor([[[10.0, 20.0]]]), torch.tensor([[10.0, 20, 30, 40]]))
        tensor([[[-0.9500, -0.9500]]])
    """
    boxes = boxes.to(keypoints)
    origin, extent = boxes[:, None, :2], (boxes[:, 2:] - boxes[:, :2])[:, None]
    return 2.0 * (keypoints + 0.5 - origin) / extent - 1.0


def crop_to_box(image: Tensor, box: Tensor, size: int) -> Tensor:
    """The square region ``box`` ``(4,)`` = ``(x0, y0, x1, y1)`` (integer pixel edges, may reach outside
    the image, which is then padded black) of ``image`` ``(3, H, W)``, resized to ``(3, size, size)``.

    Example: a 2 × 2 box reaching one pixel left of a white image.
        >>> crop_to_box(torch.ones(3, 4, 4), torch.tensor([-1.0, 0.0, 1.0, 2.0]), 2)[0]
        tensor([[0., 1.],
                [0., 1.]])
    """
    x0, y0, x1, y1 = (int(v) for v in box.round().tolist())
    if x1 - x0 != y1 - y0 or x1 <= x0:
        raise ValueError(f"crop box {box.tolist()} must be a non-empty square")
    height, width = image.shape[-2:]
    # the part of the box inside the image, then the black outside (pads the crop, not the whole frame)
    inside = image[:, max(y0, 0) : max(min(y1, height), 0), max(x0, 0) : max(min(x1, width), 0)]
    side = x1 - x0
    left, top = min(max(0, -x0), side), min(max(0, -y0), side)
    padding = (left, side - left - inside.shape[-1], top, side - top - inside.shape[-2])
    square = F.pad(inside, padding)
    resized = F.interpolate(square[None], size=(size, size), mode="bilinear", antialias=side > size)
    return resized[0].clamp(0, 1)


def square_box(keypoints: Tensor, visibility: Tensor | None = None, margin: float = 1.25) -> Tensor:
    """A square integer box ``(4,)`` around the (visible) keypoints ``(K, 2)`` (pixels): centred on their
    extent, side ``margin`` times its longer side (at least 8 pixels).

    Example: keypoints 20 pixels apart, a box of 1.5 × 20 = 30 around them.
        >>> square_box(torch.tensor([[10.0, 10.0], [30.0, 20.0]]), margin=1.5)
        tensor([ 6.,  0., 36., 30.])
    """
    points = keypoints if visibility is None else keypoints[visibility]
    if points.numel() == 0:
        raise ValueError("no visible keypoint to put a box around")
    low, high = points.min(0).values, points.max(0).values
    centre = (low + high) / 2 + 0.5  # pixel centres → pixel edges
    half = max(float((high - low).max()) * margin, 8.0) / 2
    x0, y0 = round(float(centre[0]) - half), round(float(centre[1]) - half)
    side = round(2 * half)
    return torch.tensor([x0, y0, x0 + side, y0 + side], dtype=torch.float32)


def letterbox_box(height: int, width: int) -> Tensor:
    """The centred square box ``(4,)`` of side ``max(H, W)`` that holds the whole image.

    Example:
        >>> letterbox_box(2, 6)
        tensor([ 0., -2.,  6.,  4.])
    """
    side = max(height, width)
    left, top = (side - width) // 2, (side - height) // 2
    return torch.tensor([-left, -top, side - left, side - top], dtype=torch.float32)
