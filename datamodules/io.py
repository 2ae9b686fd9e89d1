"""Readers of the annotation files of the real data sets, as distributed, with errors that name the file.

Every reader returns pixel coordinates in our convention (centre of pixel ``i`` at ``i``, x then y) as a
float tensor ``(N, 2)`` or ``(T, K, 2)``, and raises ``FileNotFoundError`` / ``ValueError`` saying which
file, which field, and what was expected.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cdflib
import numpy as np
import torch
from scipy.io import loadmat
from scipy.io.matlab import MatReadError
from torch import Tensor

from kpbottleneck.skeletons import Skeleton


def require_dir(path: str | Path, what: str) -> Path:
    """``path`` as a ``Path`` if it is a directory, else ``FileNotFoundError`` saying what it should hold."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{what}: directory {path} does not exist")
    return path


def read_pts(path: str | Path, num_points: int = 68) -> Tensor:
    """An iBUG ``.pts`` landmark file (300-W, MultiPIE) as ``(num_points, 2)`` pixels.

    The format is ``version: 1`` / ``n_points: N`` / ``{`` / N lines ``x y`` / ``}`` with 1-based pixel
    coordinates (the centre of the first pixel is 1), which we shift to 0-based.
    """
    path = Path(path)
    try:
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except OSError as error:
        raise FileNotFoundError(f"landmark file {path} cannot be read: {error}") from error
    header = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in lines if ":" in line)}
    if "{" not in lines or "}" not in lines or "n_points" not in header:
        raise ValueError(
            f"landmark file {path} is not an iBUG .pts file (no 'n_points:' header or no '{{ }}')"
        )
    body = lines[lines.index("{") + 1 : lines.index("}")]
    if int(header["n_points"]) != num_points or len(body) != num_points:
        raise ValueError(
            f"landmark file {path} has {len(body)} points (header n_points: {header['n_points']}); "
            f"expected {num_points}"
        )
    try:
        points = [[float(value) for value in line.split()] for line in body]
        return torch.tensor(points, dtype=torch.float32).reshape(num_points, 2) - 1.0
    except (ValueError, RuntimeError) as error:
        raise ValueError(f"landmark file {path}: a point line is not two numbers: {error}") from error


def read_cat_points(path: str | Path) -> Tensor:
    """A CAT head ``.jpg.cat`` file (``9 x1 y1 … x9 y9`` on one line, pixels) as ``(9, 2)``."""
    path = Path(path)
    try:
        values = [float(value) for value in path.read_text().split()]
    except OSError as error:
        raise FileNotFoundError(f"CAT annotation {path} cannot be read: {error}") from error
    except ValueError as error:
        raise ValueError(f"CAT annotation {path} holds something that is not a number: {error}") from error
    if not values or values[0] != 9 or len(values) != 19:
        raise ValueError(
            f"CAT annotation {path}: expected '9' followed by 18 coordinates, got {len(values)} numbers"
        )
    return torch.tensor(values[1:], dtype=torch.float32).reshape(9, 2)


def read_mat_field(path: str | Path, field: str) -> np.ndarray:
    """Field ``field`` of a MATLAB ``.mat`` file (v5, as the data sets distribute them) as an array."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MATLAB file {path} does not exist")
    try:
        content = loadmat(path, squeeze_me=False)
    except (ValueError, OSError, NotImplementedError, MatReadError, IndexError) as error:
        # (scipy 1.10 raises IndexError on a truncated header, later versions MatReadError)
        raise ValueError(f"MATLAB file {path} cannot be read: {error!r}") from error
    if field not in content:
        fields = sorted(k for k in content if not k.startswith("__"))
        raise ValueError(f"MATLAB file {path} has no field {field!r}; its fields: {fields}")
    return content[field]


def read_cdf_variable(path: str | Path, variable: str) -> np.ndarray:
    """Variable ``variable`` of a NASA CDF file (Human3.6M's ``MyPoseFeatures``) as an array."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CDF file {path} does not exist")
    try:
        cdf = cdflib.CDF(str(path))
        names = cdf.cdf_info().zVariables + cdf.cdf_info().rVariables
    except (OSError, ValueError) as error:
        raise ValueError(f"CDF file {path} cannot be read: {error}") from error
    if variable not in names:
        raise ValueError(f"CDF file {path} has no variable {variable!r}; its variables: {names}")
    return np.asarray(cdf.varget(variable))


def read_pose_file(path: str | Path, skeleton: Skeleton) -> tuple[Tensor, Tensor]:
    """Poses of a user's prior file: ``(N, K, 2)`` coordinates and ``(N, K)`` visibility.

    * ``.npy``: an array ``(N, K, 2)``, or ``(N, K, 3)`` whose last column is the visibility (0 / 1);
    * ``.csv``: a header with ``<name>_x, <name>_y`` for every keypoint name of ``skeleton`` (other
      columns, e.g. ``source`` and ``frame`` of :class:`kpbottleneck.writers.KeypointWriter`'s output,
      are ignored) and one pose per row; an empty cell is an invisible keypoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prior pose file {path} does not exist")
    k = skeleton.num_keypoints
    if path.suffix == ".npy":
        array = torch.from_numpy(np.load(path)).float()
        if array.ndim != 3 or array.shape[1] != k or array.shape[2] not in (2, 3):
            raise ValueError(
                f"prior pose file {path} holds an array of shape {tuple(array.shape)}; expected (N, {k}, 2) "
                f"or (N, {k}, 3) for skeleton {skeleton.name!r} ({k} keypoints)"
            )
        visibility = (
            array[..., 2] > 0 if array.shape[2] == 3 else torch.ones(array.shape[:2], dtype=torch.bool)
        )
        return array[..., :2], visibility
    if path.suffix == ".csv":
        with path.open(newline="") as file:
            rows = list(csv.DictReader(file))
        columns = [f"{name}_{axis}" for name in skeleton.keypoint_names for axis in "xy"]
        missing = [c for c in columns if not rows or c not in rows[0]]
        if missing:
            raise ValueError(
                f"prior pose file {path} lacks the columns {missing[:4]}{'…' if len(missing) > 4 else ''} "
                f"of skeleton {skeleton.name!r}, or has no rows"
            )
        values = torch.tensor(
            [[float(row[c]) if row[c] not in ("", None) else float("nan") for c in columns] for row in rows]
        ).reshape(len(rows), k, 2)
        visibility = ~values.isnan().any(-1)
        return values.nan_to_num(0.0), visibility
    raise ValueError(f"prior pose file {path}: expected a .npy or .csv file")
