"""Simplified Human3.6M (Zhang et al. 2018), the paper's Table 1.

Layout under ``root`` (as distributed)::

    S1/WithBackground/<sequence>/<frame>.jpg     128 × 128 crops of the person
    S1/BackgroudMask/<sequence>/<frame>.png      (sic; not used by the method)
    S1/Landmarks/<sequence>/<frame>.mat          field ``keypoints_2d``: 32 × 2, (x, y) in [0, 1] of the image

Protocol (as the original implementation): training subjects S1, S5, S6, S7, S8, S9, test subject S11;
the activity of a sequence is the first word of its folder name (``"Directions 1.54138969"`` →
``directions``), six activities; training images come from the first half of every training sequence
and prior poses from the second half; the error is the image-size-normalised error of all 32 joints,
averaged per activity, then over activities. DESIGN: validation uses labelled frames of the second
halves (whose images are never trained on); the supervised post-processing is fitted on labelled
frames of the first halves.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from datamodules.clips import Clip, ClipDataModule
from datamodules.io import read_mat_field, require_dir

ACTIVITIES = ("directions", "discussion", "greeting", "posing", "waiting", "walking")
IMAGE_SIZE = 128  # side of the distributed crops, which keypoints_2d is normalised by


def sequence_activity(name: str) -> str:
    """``"Directions 1.54138969"`` → ``"directions"``."""
    match = re.match(r"[A-Za-z]+", name)
    return match.group(0).lower() if match else name.lower()


def read_simplified_h36m_keypoints(path: Path) -> torch.Tensor:
    """``keypoints_2d`` of one ``Landmarks/.../<frame>.mat`` as ``(32, 2)`` pixels of the 128-px crop."""
    values = read_mat_field(path, "keypoints_2d")
    if values.size != 64:
        raise ValueError(f"MATLAB file {path}: keypoints_2d has shape {values.shape}; expected (32, 2)")
    return torch.from_numpy(values.reshape(32, 2).astype("float32")) * IMAGE_SIZE - 0.5


class SimplifiedH36MDataModule(ClipDataModule):
    """Simplified Human3.6M (see the module docstring).

    Args:
        root: the data set's directory.
        train_subjects, test_subjects: subject numbers.
        prior_frame_stride: read every n-th landmark file of the second halves for the prior (reading
            the ~400k files of the full prior takes a while).
        kwargs: the settings of :class:`~datamodules.clips.ClipDataModule` (``image_size``,
            ``batch_size``, ``num_workers``, ``window``, ``max_prior_samples``, ``eval_frame_stride``, ...).
    """

    activities = ACTIVITIES

    def __init__(
        self,
        root: str,
        prior_frame_stride: int = 1,
        train_subjects: tuple[int, ...] = (1, 5, 6, 7, 8, 9),
        test_subjects: tuple[int, ...] = (11,),
        **kwargs: Any,
    ) -> None:
        super().__init__(root, "simplified_h36m", **kwargs)
        self.train_subjects = tuple(train_subjects)
        self.test_subjects = tuple(test_subjects)
        self.prior_frame_stride = prior_frame_stride

    def _sequences(self, subject: int, labelled: bool, stride: int = 1) -> list[Clip]:
        """The sequences of ``subject`` (read once per setting)."""
        key = ("sequences", subject, labelled, stride)
        return self.cached(key, lambda: self._read_sequences(subject, labelled, stride))

    def _read_sequences(self, subject: int, labelled: bool, stride: int) -> list[Clip]:
        folder = require_dir(self.root / f"S{subject}" / "WithBackground", "Simplified Human3.6M images")
        clips = []
        for sequence in sorted(p for p in folder.iterdir() if p.is_dir()):
            activity = sequence_activity(sequence.name)
            if activity not in ACTIVITIES:
                continue
            frames = tuple(sorted(sequence.glob("*.jpg")))
            keep = tuple(range(0, len(frames), stride))
            keypoints = None
            if labelled:
                landmarks = self.root / f"S{subject}" / "Landmarks" / sequence.name
                require_dir(landmarks, f"Simplified Human3.6M landmarks of {sequence}")
                keypoints = torch.stack(
                    [read_simplified_h36m_keypoints(landmarks / f"{frames[i].stem}.mat") for i in keep]
                )
            whole = torch.tensor([0.0, 0.0, IMAGE_SIZE, IMAGE_SIZE]).expand(len(keep), 4)
            clips.append(Clip(frames, keep, keypoints, None, whole, ACTIVITIES.index(activity)))
        return clips

    def list_clips(self, split: str) -> list[Clip]:
        if split == "test":
            return [clip for s in self.test_subjects for clip in self._sequences(s, labelled=True)]
        if split == "train":
            return [clip.halves()[0] for s in self.train_subjects for clip in self._sequences(s, False)]
        stride = self.prior_frame_stride if split == "prior" else 1
        labelled = [clip for s in self.train_subjects for clip in self._sequences(s, True, stride)]
        if split in ("prior", "val"):
            return [clip.halves()[1] for clip in labelled]
        if split == "post_processing":
            return [clip.halves()[0] for clip in labelled]
        return []
