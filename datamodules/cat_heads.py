"""The CAT head data set (Zhang, Sun & Tang 2008): cat photos with 9 head points (section 5.3, Figure 8).

Layout under ``root`` (as distributed)::

    CAT_00/00000001_000.jpg  and  CAT_00/00000001_000.jpg.cat   ("9 x1 y1 ... x9 y9", pixels)
    ...
    CAT_06/...

We keep 7 of the 9 points (:data:`kpbottleneck.skeletons.CAT_HEAD_FROM_9`: eyes, mouth, ear tips and
inner ear bases; see :mod:`kpbottleneck.skeletons` for why). Protocol of the paper: Zhang et al. 2018's
train / test split, with the training set halved into image and prior parts. DESIGN: that split is a
list of files, which is not part of the distribution; by default ``CAT_00``–``CAT_05`` are training and
``CAT_06`` is the test set, and ``test_list`` (a text file of ``CAT_xx/name.jpg`` lines) reproduces any
published split. Images are cropped to a square box around the 9 points (margin 1.5, so the ears'
surroundings stay in the crop); the error is inter-ocular normalised, in %. Validation uses every 10th
image of the prior half of the training set (labelled, never shown as an image), never a test image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datamodules.clips import Clip, ClipDataModule
from datamodules.io import read_cat_points, require_dir
from kpbottleneck.coordinates import square_box
from kpbottleneck.skeletons import CAT_HEAD_FROM_9


class CatHeadsDataModule(ClipDataModule):
    """CAT heads (see the module docstring).

    Args:
        root: the data set's directory (holding ``CAT_00`` ... ``CAT_06``).
        test_folders: the test folders when ``test_list`` is not given.
        test_list: a text file naming the test images (``CAT_06/00001403_028.jpg`` per line).
        margin: crop box side over the extent of the 9 points.
        kwargs: the settings of :class:`~datamodules.clips.ClipDataModule` (``image_size``,
            ``batch_size``, ``num_workers``, ``window``, ``max_prior_samples``, ``eval_frame_stride``, ...).
    """

    still_images = True

    def __init__(
        self,
        root: str,
        test_folders: tuple[str, ...] = ("CAT_06",),
        test_list: str | None = None,
        margin: float = 1.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, "cat_head", **kwargs)
        self.test_folders = tuple(test_folders)
        self.test_list = test_list
        self.margin = margin

    def _clip(self, image: Path) -> Clip:
        points = read_cat_points(image.with_name(image.name + ".cat"))
        box = square_box(points, margin=self.margin)
        return Clip((image,), None, points[list(CAT_HEAD_FROM_9)][None], None, box[None])

    def _split(self) -> tuple[list[Path], list[Path]]:
        images = sorted(require_dir(self.root, "CAT head data set").glob("CAT_*/*.jpg"))
        if not images:
            raise ValueError(f"CAT head data set: no CAT_*/*.jpg under {self.root}")
        if self.test_list is not None:
            lines = Path(self.test_list).read_text().split()
            test = {self.root / line for line in lines}
            unknown = sorted(test - set(images))
            if unknown:
                raise ValueError(
                    f"CAT test list {self.test_list} names images that do not exist: {unknown[:3]}"
                )
        else:
            test = {image for image in images if image.parent.name in self.test_folders}
        return [image for image in images if image not in test], sorted(test)

    def list_clips(self, split: str) -> list[Clip]:
        training, test = self.cached("split", self._split)
        half = len(training) // 2
        if split == "test":
            return [self._clip(image) for image in test]
        if split == "val":  # labelled prior-half training images: never a test image
            return [self._clip(image) for image in training[half:][::10]]
        if split == "train":
            return [Clip((image,), None, None, None, self._clip(image).boxes) for image in training[:half]]
        if split == "prior":
            return [self._clip(image) for image in training[half:]]
        if split == "post_processing":
            return [self._clip(image) for image in training[:half]]
        return []
