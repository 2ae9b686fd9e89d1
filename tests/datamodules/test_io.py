import numpy as np
import pytest
import torch
from scipy.io import savemat

from datamodules.io import (
    read_cat_points,
    read_cdf_variable,
    read_mat_field,
    read_pose_file,
    read_pts,
    require_dir,
)
from kpbottleneck.skeletons import PENN_ACTION
from tests.real_formats import write_cdf, write_pts


def test_pts_round_trip_and_one_based_shift(tmp_path):
    points = torch.rand(68, 2) * 100
    path = write_pts(tmp_path / "face.pts", points)
    assert path.read_text().splitlines()[2] == "{"
    assert torch.allclose(read_pts(path), points, atol=1e-3)  # written 1-based, read 0-based


def test_pts_with_the_wrong_point_count_is_named(tmp_path):
    path = write_pts(tmp_path / "short.pts", torch.rand(49, 2))
    with pytest.raises(ValueError, match=r"short\.pts has 49 points .*expected 68"):
        read_pts(path)
    (tmp_path / "junk.pts").write_text("hello\n")
    with pytest.raises(ValueError, match=r"junk\.pts is not an iBUG \.pts file"):
        read_pts(tmp_path / "junk.pts")


def test_cat_points(tmp_path):
    (tmp_path / "a.jpg.cat").write_text("9 " + " ".join(str(v) for v in range(18)) + " ")
    points = read_cat_points(tmp_path / "a.jpg.cat")
    assert points.shape == (9, 2) and points[1].tolist() == [2.0, 3.0]
    (tmp_path / "b.jpg.cat").write_text("8 1 2 3")
    with pytest.raises(ValueError, match=r"b\.jpg\.cat: expected '9' followed by 18 coordinates"):
        read_cat_points(tmp_path / "b.jpg.cat")


def test_mat_field_errors_name_file_and_field(tmp_path):
    savemat(tmp_path / "labels.mat", {"x": np.ones((3, 13)), "bbox": np.zeros((3, 4))})
    assert read_mat_field(tmp_path / "labels.mat", "x").shape == (3, 13)
    with pytest.raises(
        ValueError, match=r"labels\.mat has no field 'visibility'; its fields: \['bbox', 'x'\]"
    ):
        read_mat_field(tmp_path / "labels.mat", "visibility")
    (tmp_path / "broken.mat").write_bytes(b"MATLAB 5.0 garbage")
    with pytest.raises(ValueError, match=r"broken\.mat cannot be read"):
        read_mat_field(tmp_path / "broken.mat", "x")
    with pytest.raises(FileNotFoundError, match=r"none\.mat does not exist"):
        read_mat_field(tmp_path / "none.mat", "x")


def test_cdf_variable(tmp_path):
    values = np.random.default_rng(0).random((1, 5, 64))
    path = write_cdf(tmp_path / "Directions.cdf", "Pose", values)
    np.testing.assert_allclose(read_cdf_variable(path, "Pose"), values)
    with pytest.raises(ValueError, match=r"has no variable 'Angles'"):
        read_cdf_variable(path, "Angles")


def test_pose_files_npy_and_csv(tmp_path):
    poses = torch.rand(4, 13, 3)
    poses[..., 2] = (poses[..., 2] > 0.3).float()
    np.save(tmp_path / "poses.npy", poses.numpy())
    keypoints, visibility = read_pose_file(tmp_path / "poses.npy", PENN_ACTION)
    assert torch.equal(keypoints, poses[..., :2]) and torch.equal(visibility, poses[..., 2] > 0)
    columns = [f"{n}_{a}" for n in PENN_ACTION.keypoint_names for a in "xy"]
    rows = [",".join(["source", *columns]), ",".join(["a.png", *["1.5"] * 25, ""])]
    (tmp_path / "poses.csv").write_text("\n".join(rows) + "\n")
    keypoints, visibility = read_pose_file(tmp_path / "poses.csv", PENN_ACTION)
    assert keypoints.shape == (1, 13, 2) and visibility[0].tolist() == [True] * 12 + [False]
    np.save(tmp_path / "wrong.npy", np.zeros((4, 17, 2)))
    with pytest.raises(
        ValueError, match=r"wrong\.npy holds an array of shape \(4, 17, 2\); expected \(N, 13, 2\)"
    ):
        read_pose_file(tmp_path / "wrong.npy", PENN_ACTION)
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"other\.csv lacks the columns \['head_x'"):
        read_pose_file(tmp_path / "other.csv", PENN_ACTION)


def test_require_dir_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"PennAction labels: directory .*labels does not exist"):
        require_dir(tmp_path / "labels", "PennAction labels")
