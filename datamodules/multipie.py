"""MultiPIE's 68 facial landmarks (Gross et al. 2010) as a face pose prior (Table 3, Figure 7).

Layout: any tree of iBUG ``.pts`` files (68 points each) under ``root``, as the 300-W organisers
distribute MultiPIE's annotations. Each face is normalised to a square box around its landmarks.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from datamodules.io import read_pts, require_dir
from kpbottleneck.coordinates import box_pixels_to_normalized, square_box


def multipie_prior(root: str | Path, margin: float = 1.25) -> Tensor:
    """Every ``.pts`` under ``root`` as prior poses ``(N, 68, 2)`` normalised to their square boxes."""
    files = sorted(require_dir(root, "MultiPIE landmarks (the prior)").rglob("*.pts"))
    if not files:
        raise ValueError(f"MultiPIE landmarks (the prior): no .pts file under {root}")
    poses = torch.stack([read_pts(path) for path in files])
    boxes = torch.stack([square_box(pose, margin=margin) for pose in poses])
    return box_pixels_to_normalized(poses, boxes)
