"""Images of any kind and size in, network inputs out, and keypoints mapped back to the input's pixels.

A trained model works on square ``image_size`` inputs. :func:`letterbox` pads an image to a square
(centred, black) and resizes the square with antialiasing, so the mapping back is exact:
:func:`~kpbottleneck.coordinates.normalized_to_box_pixels` with the returned box gives pixel coordinates
of the input (centre of pixel ``i`` at ``i``). Padding instead of stretching keeps the body's proportions,
which the skeleton prior was learnt with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torchvision.transforms.functional import pil_to_tensor

from kpbottleneck.coordinates import crop_to_box, letterbox_box
from kpbottleneck.skeletons import Skeleton

ImageLike = Tensor | np.ndarray | Image.Image | str | Path


def read_image(path: str | Path) -> Tensor:
    """An image file as ``(3, H, W)`` float in [0, 1] (RGB; grey and RGBA files are converted)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist")
    try:
        with Image.open(path) as image:
            return pil_to_tensor(image.convert("RGB")).float() / 255.0
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"image file {path} cannot be decoded as an image: {error}") from error


def as_image_tensors(images: ImageLike | Sequence[ImageLike]) -> list[Tensor]:
    """Any supported image input as a list of ``(3, H, W)`` float tensors in [0, 1].

    Accepted: a path; a PIL image; a NumPy array ``(H, W)`` or ``(H, W, 3|4)`` (uint8, or float in
    [0, 1]); a tensor ``(3, H, W)`` or ``(B, 3, H, W)`` (uint8, or float in [0, 1]); or a list of these.
    """
    if isinstance(images, Tensor) and images.dim() == 4:
        return [_tensor_image(image) for image in images]
    if isinstance(images, (Tensor, np.ndarray, Image.Image, str, Path)):
        return [_one_image(images)]
    if isinstance(images, Sequence) and len(images) > 0:
        return [tensor for image in images for tensor in as_image_tensors(image)]
    raise TypeError(
        f"expected an image (tensor, NumPy array, PIL image or path) or a non-empty list of them, "
        f"got {type(images).__name__}"
    )


def _one_image(image: ImageLike) -> Tensor:
    if isinstance(image, (str, Path)):
        return read_image(image)
    if isinstance(image, Image.Image):
        return pil_to_tensor(image.convert("RGB")).float() / 255.0
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = image[..., None].repeat(3, axis=-1)
        if image.ndim != 3 or image.shape[-1] not in (3, 4):
            raise ValueError(f"a NumPy image must be (H, W) or (H, W, 3|4), got shape {image.shape}")
        return _tensor_image(torch.from_numpy(np.ascontiguousarray(image[..., :3])).permute(2, 0, 1))
    return _tensor_image(image)


def _tensor_image(image: Tensor) -> Tensor:
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"an image tensor must be (3, H, W) or (B, 3, H, W), got shape {tuple(image.shape)}")
    if image.dtype == torch.uint8:
        return image.float() / 255.0
    if not image.is_floating_point():
        raise TypeError(f"an image tensor must be uint8 or float in [0, 1], got {image.dtype}")
    return image.float()


def letterbox(image: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """Pad ``image`` ``(3, H, W)`` to a centred square and resize it to ``(3, size, size)``.

    Returns:
        the network input and its ``box`` ``(4,)`` = ``(x0, y0, x1, y1)``: the square in the input's
        pixel-edge coordinates (it reaches outside the image where it was padded).
    """
    box = letterbox_box(*image.shape[-2:])
    return crop_to_box(image, box, size), box


def letterbox_batch(images: ImageLike | Sequence[ImageLike], size: int) -> tuple[Tensor, Tensor]:
    """:func:`letterbox` over any image input: ``(N, 3, size, size)`` inputs and ``(N, 4)`` boxes."""
    inputs, boxes = zip(*(letterbox(image, size) for image in as_image_tensors(images)), strict=True)
    return torch.stack(inputs), torch.stack(boxes)


def move_keypoints(
    keypoints: Tensor, skeleton: Skeleton, offsets: Mapping[str, tuple[float, float]]
) -> Tensor:
    """Move named keypoints: ``keypoints`` ``(B, K, 2)`` plus ``offsets[name] = (dx, dy)`` (same units).

    Returns a new tensor; keypoints not named are unchanged. An unknown name raises ``KeyError`` listing
    the skeleton's names.
    """
    moved = keypoints.clone()
    for name, (dx, dy) in offsets.items():
        if name not in skeleton.keypoint_names:
            raise KeyError(
                f"no keypoint {name!r} in skeleton {skeleton.name!r}; "
                f"its keypoints: {', '.join(skeleton.keypoint_names)}"
            )
        moved[:, skeleton.index(name)] += keypoints.new_tensor([dx, dy])
    return moved
