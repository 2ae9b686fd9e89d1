"""Human3.6M (Ionescu et al. 2014), the paper's Table 2, with its own prior or MPI-INF-3DHP's.

Layout under ``root`` (the official release, per subject)::

    S1/Videos/<Action>.<camera>.mp4
    S1/MyPoseFeatures/D2_Positions/<Action>.<camera>.cdf     variable ``Pose``: (1, frames, 64) =
                                                              32 joints × (x, y) pixels
    ...

Protocol: training subjects S1, S5, S6, S7, S8; test subjects S9, S11; every frame cropped to a square
box around the person; the error is the mean distance in original pixels over the 17 evaluated joints
(:data:`~kpbottleneck.skeletons.H36M17_FROM_32`). Training images come from the first half of every
training video, the Human3.6M prior from the second half (``prior="h36m"``, 32 joints); with
``prior="mpi_inf_3dhp"`` the prior is MPI-INF-3DHP's 28 joints; with ``prior="mocap"`` the human prior
that ships with the library (:mod:`datamodules.mocap`, the 17 ``h36m17`` joints). Evaluation batches carry
the 17 evaluated joints and the crop ``box``; ``KeypointEvaluation(error="pixels", evaluated_keypoints=...)``
picks the same 17 out of the model's 32 or 28 (the experiment configs set it; a ``h36m17`` model needs
no selection).

DESIGN: the paper crops "to the provided bounding boxes"; we take a square box around the 2-D pose
(margin 1.25), which needs no extra download and is what the released poses give. Validation uses
labelled frames of the second halves of the training videos.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from datamodules.clips import Clip, ClipDataModule
from datamodules.io import read_cdf_variable, require_dir
from datamodules.mocap import MOCAP, mocap_prior
from datamodules.mpi_inf_3dhp import mpi_inf_3dhp_prior
from kpbottleneck.coordinates import square_box
from kpbottleneck.skeletons import H36M17_FROM_32

Prior = Literal["h36m", "mpi_inf_3dhp", "mocap"]
PRIOR_SKELETONS = {"h36m": "simplified_h36m", "mpi_inf_3dhp": "mpi_inf_3dhp", MOCAP: "h36m17"}


def _evaluated(keypoints: Tensor | None) -> Tensor:
    """The 17 evaluated joints ``(T, 17, 2)`` of a labelled clip's 32 ``(T, 32, 2)``."""
    if keypoints is None:
        raise ValueError("a Human3.6M evaluation clip without keypoints")
    return keypoints[:, list(H36M17_FROM_32)]


def read_h36m_poses(path: Path) -> Tensor:
    """``Pose`` of a ``D2_Positions/*.cdf`` file as ``(frames, 32, 2)`` pixels."""
    pose = read_cdf_variable(path, "Pose")
    if pose.shape[-1] != 64:
        raise ValueError(f"CDF file {path}: Pose has shape {pose.shape}; expected (1, frames, 64)")
    return torch.from_numpy(pose.reshape(-1, 32, 2).astype("float32"))


class H36MDataModule(ClipDataModule):
    """Human3.6M (see the module docstring).

    Args:
        root: the release's directory (holding ``S1``, ``S5``, ...).
        prior: ``"h36m"`` (second halves of the training videos, 32 joints), ``"mpi_inf_3dhp"`` or
            ``"mocap"`` (the bundled motion-capture prior, 17 joints).
        mpi_inf_3dhp_root: MPI-INF-3DHP's directory, for ``prior="mpi_inf_3dhp"``.
        mpi_inf_3dhp_subjects: its subjects to take poses from.
        prior_frame_stride: use every n-th frame's pose for the prior.
        train_subjects, test_subjects: subject numbers.
        cameras: camera ids to use (e.g. ``["54138969"]``); ``None``: all.
        margin: crop box side over the pose's extent.
        kwargs: the settings of :class:`~datamodules.clips.ClipDataModule` (``image_size``,
            ``batch_size``, ``num_workers``, ``window``, ``max_prior_samples``, ``eval_frame_stride``, ...).
    """

    def __init__(
        self,
        root: str,
        prior: Prior = "h36m",
        mpi_inf_3dhp_root: str | None = None,
        mpi_inf_3dhp_subjects: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8),
        prior_frame_stride: int = 5,
        train_subjects: tuple[int, ...] = (1, 5, 6, 7, 8),
        test_subjects: tuple[int, ...] = (9, 11),
        cameras: list[str] | None = None,
        margin: float = 1.25,
        **kwargs: Any,
    ) -> None:
        if prior not in PRIOR_SKELETONS:
            raise ValueError(f"data.prior must be one of {list(PRIOR_SKELETONS)}, got {prior!r}")
        if prior == "mpi_inf_3dhp" and not mpi_inf_3dhp_root:
            raise ValueError("data.prior 'mpi_inf_3dhp' needs data.mpi_inf_3dhp_root")
        super().__init__(root, PRIOR_SKELETONS[prior], **kwargs)
        self.prior = prior
        self.mpi_inf_3dhp_root = mpi_inf_3dhp_root
        self.mpi_inf_3dhp_subjects = tuple(mpi_inf_3dhp_subjects)
        self.prior_frame_stride = prior_frame_stride
        self.train_subjects, self.test_subjects = tuple(train_subjects), tuple(test_subjects)
        self.cameras = None if cameras is None else [str(c) for c in cameras]
        self.margin = margin

    def _videos(self, subject: int) -> list[Clip]:
        """Every video of ``subject`` with its 32-joint poses and crop boxes (read once)."""
        return self.cached(("videos", subject), lambda: self._read_videos(subject))

    def _read_videos(self, subject: int) -> list[Clip]:
        base = self.root / f"S{subject}"
        videos = require_dir(base / "Videos", f"Human3.6M videos of S{subject}")
        poses = require_dir(base / "MyPoseFeatures" / "D2_Positions", f"Human3.6M 2-D poses of S{subject}")
        clips = []
        for video in sorted(videos.glob("*.mp4")):
            camera = video.stem.rsplit(".", 1)[-1]
            if self.cameras is not None and camera not in self.cameras:
                continue
            keypoints = read_h36m_poses(poses / f"{video.stem}.cdf")
            boxes = torch.stack([square_box(pose, margin=self.margin) for pose in keypoints])
            clips.append(Clip(video, tuple(range(len(keypoints))), keypoints, None, boxes))
        return clips

    def list_clips(self, split: str) -> list[Clip]:
        if split == "test":
            clips = [clip for s in self.test_subjects for clip in self._videos(s)]
        else:
            halves = [clip.halves() for s in self.train_subjects for clip in self._videos(s)]
            if split == "train":
                return [Clip(first.source, first.frames, None, None, first.boxes) for first, _ in halves]
            if split == "prior":
                return [second.part(0, len(second), self.prior_frame_stride) for _, second in halves]
            clips = {"val": [s for _, s in halves], "post_processing": [f for f, _ in halves]}[split]
        return [Clip(c.source, c.frames, _evaluated(c.keypoints), None, c.boxes) for c in clips]

    def prior_poses(self) -> tuple[Tensor, Tensor | None]:
        if self.prior == "h36m":
            return super().prior_poses()
        if self.prior == MOCAP:
            return mocap_prior(), None
        poses = mpi_inf_3dhp_prior(
            self.mpi_inf_3dhp_root,  # type: ignore[arg-type]
            self.mpi_inf_3dhp_subjects,
            frame_stride=self.prior_frame_stride,
            margin=self.margin,
        )
        return poses, None
