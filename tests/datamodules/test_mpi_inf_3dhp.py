import numpy as np
import pytest
import torch
from scipy.io import savemat

from datamodules.io import read_mat_field
from datamodules.mpi_inf_3dhp import mpi_inf_3dhp_prior, read_annot2
from tests.real_formats import write_mpi_inf_3dhp


def test_annot2_per_camera_and_the_boxed_prior(tmp_path):
    root = write_mpi_inf_3dhp(tmp_path / "mpi", subjects=(1,), frames=10, cameras=3)
    path = root / "S1/Seq1/annot.mat"
    poses = read_annot2(path, cameras=[2], frame_stride=5)
    raw = read_mat_field(path, "annot2")[2, 0]
    assert poses.shape == (2, 28, 2) and torch.allclose(
        poses[1], torch.from_numpy(raw[5]).float().reshape(28, 2)
    )
    prior = mpi_inf_3dhp_prior(root, subjects=(1,), frame_stride=5)
    assert prior.shape == (2 * 3 * 2, 28, 2) and prior.abs().max() < 1


def test_bad_annotations_are_named(tmp_path):
    cells = np.empty((1, 1), dtype=object)
    cells[0, 0] = np.zeros((4, 34))
    savemat(tmp_path / "annot.mat", {"annot2": cells})
    with pytest.raises(
        ValueError, match=r"annot\.mat: annot2 of camera 0 has shape \(4, 34\); expected \(frames, 56\)"
    ):
        read_annot2(tmp_path / "annot.mat")
    with pytest.raises(ValueError, match="annot2 has 1 cameras; camera 3 requested"):
        read_annot2(tmp_path / "annot.mat", cameras=[3])
