"""MPI-INF-3DHP (Mehta et al. 2017) as a pose prior only: the 28 joints of its 2-D annotations.

Layout under ``root`` (as distributed)::

    S1/Seq1/annot.mat      field ``annot2``: a cell per camera, each (frames, 56) = 28 joints × (x, y) pixels
    ...
    S8/Seq2/annot.mat

Each pose is normalised to a square box around it (as the training images are cropped to the person),
so the prior describes body shape and articulation, not where the person stood in the 2048-px frame.
Used by ``experiments/h36m_3dhp_prior.yaml``; the 17 joints shared with Human3.6M are
:data:`kpbottleneck.skeletons.MPI_INF_3DHP_TO_H36M17`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from datamodules.io import read_mat_field, require_dir
from kpbottleneck.coordinates import box_pixels_to_normalized, square_box

NUM_JOINTS = 28


def read_annot2(path: Path, cameras: Sequence[int] | None = None, frame_stride: int = 1) -> Tensor:
    """The ``annot2`` poses of one ``annot.mat``: ``(N, 28, 2)`` pixels over the chosen cameras."""
    cells = read_mat_field(path, "annot2").reshape(-1)
    chosen = range(len(cells)) if cameras is None else cameras
    poses = []
    for camera in chosen:
        if not 0 <= camera < len(cells):
            raise ValueError(
                f"MATLAB file {path}: annot2 has {len(cells)} cameras; camera {camera} requested"
            )
        values = cells[camera]
        if values.ndim != 2 or values.shape[1] != 2 * NUM_JOINTS:
            raise ValueError(
                f"MATLAB file {path}: annot2 of camera {camera} has shape {values.shape}; "
                f"expected (frames, {2 * NUM_JOINTS})"
            )
        poses.append(torch.from_numpy(values[::frame_stride].astype("float32")).reshape(-1, NUM_JOINTS, 2))
    return torch.cat(poses)


def mpi_inf_3dhp_prior(
    root: str | Path,
    subjects: Sequence[int] = tuple(range(1, 9)),
    sequences: Sequence[int] = (1, 2),
    cameras: Sequence[int] | None = None,
    frame_stride: int = 10,
    margin: float = 1.25,
) -> Tensor:
    """Prior poses ``(N, 28, 2)`` normalised to their square boxes, every ``frame_stride``-th frame."""
    root = require_dir(root, "MPI-INF-3DHP (the prior)")
    poses = torch.cat(
        [
            read_annot2(root / f"S{subject}" / f"Seq{sequence}" / "annot.mat", cameras, frame_stride)
            for subject in subjects
            for sequence in sequences
        ]
    )
    boxes = torch.stack([square_box(pose, margin=margin) for pose in poses])
    return box_pixels_to_normalized(poses, boxes)
