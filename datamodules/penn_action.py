"""PennAction (Zhang, Zhu & Derpanis 2013): 2,326 sports videos with 13 joints per frame (Figure 5).

Layout under ``root`` (as distributed)::

    frames/0001/000001.jpg ...
    labels/0001.mat        fields x, y (frames × 13 pixels), visibility (frames × 13), bbox (frames × 4:
                           x1, y1, x2, y2), action (str), train (1: training video, 0: test video), ...

Protocol of the paper: the training videos of every action category are split in half, the first half
giving image pairs and the second half the prior poses. DESIGN: the test videos give labelled test
frames (every ``eval_frame_stride``-th); validation uses every 10th of the second-half training videos
(their labels, never their images, are the prior; as for Human3.6M), so that choosing a checkpoint or a
setting never looks at a test video. Frames are cropped to a square around the provided ``bbox`` (margin
1.25), and the error is in % of that crop's size.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch

from datamodules.clips import Clip, ClipDataModule
from datamodules.io import read_mat_field, require_dir

ACTIONS = (
    "baseball_pitch", "baseball_swing", "bench_press", "bowl", "clean_and_jerk", "golf_swing", "jump_rope",
    "jumping_jacks", "pullup", "pushup", "situp", "squat", "strum_guitar", "tennis_forehand", "tennis_serve",
)  # fmt: skip


def square_around(boxes: torch.Tensor, margin: float) -> torch.Tensor:
    """Integer square boxes ``(T, 4)`` around rectangles ``(T, 4)`` ``(x1, y1, x2, y2)``, side ``margin`` ×
    the longer side."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = ((boxes[:, 2:] - boxes[:, :2]).max(-1).values * margin / 2).clamp_min(4)[:, None]
    low = (centre - half).round()
    return torch.cat([low, low + (2 * half).round()], dim=-1)


class PennActionDataModule(ClipDataModule):
    """PennAction (see the module docstring); activities are the 15 action categories.

    Args:
        root: the data set's directory (holding ``frames`` and ``labels``).
        margin: crop box side over the ``bbox``'s longer side.
        kwargs: the settings of :class:`~datamodules.clips.ClipDataModule` (``image_size``,
            ``batch_size``, ``num_workers``, ``window``, ``max_prior_samples``, ``eval_frame_stride``, ...).
    """

    activities = ACTIONS

    def __init__(self, root: str, margin: float = 1.25, **kwargs: Any) -> None:
        super().__init__(root, "penn_action", **kwargs)
        self.margin = margin

    def _videos(self) -> tuple[dict[str, list[Clip]], list[Clip]]:
        """Training clips per action, and the test clips."""
        labels = require_dir(self.root / "labels", "PennAction labels")
        frames = require_dir(self.root / "frames", "PennAction frames")
        training: dict[str, list[Clip]] = defaultdict(list)
        test: list[Clip] = []
        for path in sorted(labels.glob("*.mat")):
            x, y = read_mat_field(path, "x"), read_mat_field(path, "y")
            visibility = read_mat_field(path, "visibility")
            bbox = read_mat_field(path, "bbox")
            action = str(read_mat_field(path, "action").reshape(-1)[0])
            is_train = int(read_mat_field(path, "train").reshape(-1)[0]) == 1
            if x.shape != y.shape or x.ndim != 2 or x.shape[1] != 13:
                raise ValueError(
                    f"MATLAB file {path}: x and y must be (frames, 13); got {x.shape} and {y.shape}"
                )
            if action not in ACTIONS:
                raise ValueError(f"MATLAB file {path}: unknown action {action!r}; expected one of {ACTIONS}")
            images = tuple(sorted((frames / path.stem).glob("*.jpg")))
            count = min(len(images), x.shape[0], bbox.shape[0])
            if count == 0:
                raise ValueError(f"PennAction video {path.stem}: no frames in {frames / path.stem}")
            keypoints = (
                torch.stack([torch.from_numpy(x[:count]), torch.from_numpy(y[:count])], -1).float() - 1
            )
            boxes = square_around(torch.from_numpy(bbox[:count]).float() - 1, self.margin)
            clip = Clip(
                images[:count], None, keypoints, torch.from_numpy(visibility[:count] > 0), boxes,
                ACTIONS.index(action),
            )  # fmt: skip
            (training[action] if is_train else test).append(clip)
        return training, test

    def list_clips(self, split: str) -> list[Clip]:
        training, test = self.cached("videos", self._videos)
        if split == "test":
            return test
        halves = {action: len(clips) // 2 for action, clips in training.items()}
        if split == "val":  # labelled second-half training videos (as Human3.6M's): never a test video
            return [clip for action, clips in training.items() for clip in clips[halves[action] :]][::10]
        if split in ("train", "post_processing"):
            first = [clip for action, clips in training.items() for clip in clips[: halves[action]]]
            if split == "train":
                return [Clip(c.source, c.frames, None, None, c.boxes, c.activity) for c in first]
            return first
        if split == "prior":
            return [clip for action, clips in training.items() for clip in clips[halves[action] :]]
        return []
