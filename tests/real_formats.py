"""Tiny copies of the real data sets, written in their distributed on-disk formats (for the tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy.io import savemat
from torchvision.utils import save_image

from kpbottleneck.video_io import VideoWriter


def write_simplified_h36m(root: Path, frames: int = 6, seed: int = 0) -> Path:
    """S1, S9 (train) and S11 (test), two sequences each; every frame with its mask and landmarks."""
    generator = torch.Generator().manual_seed(seed)
    for subject in (1, 9, 11):
        for sequence in ("Directions 1.54138969", "Walking.55011271"):
            for t in range(frames):
                base = root / f"S{subject}"
                image = base / "WithBackground" / sequence / f"{t:06d}.jpg"
                mask = base / "BackgroudMask" / sequence / f"{t:06d}.png"
                landmarks = base / "Landmarks" / sequence / f"{t:06d}.mat"
                for path in (image, mask, landmarks):
                    path.parent.mkdir(parents=True, exist_ok=True)
                save_image(torch.rand(3, 128, 128, generator=generator), image)
                save_image(torch.ones(1, 128, 128), mask)
                points = 0.5 + (torch.rand(32, 2, generator=generator) - 0.5) * 0.6
                savemat(landmarks, {"keypoints_2d": points.numpy().astype(np.float64)})
    return root


def write_video(path: Path, frames: int, height: int, width: int, seed: int = 0, fps: float = 25.0) -> Path:
    generator = torch.Generator().manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(path, fps=fps) as writer:
        for _ in range(frames):
            writer.write(torch.rand(3, height, width, generator=generator))
    return path


def write_cdf(path: Path, name: str, values: np.ndarray) -> Path:
    """A NASA CDF file holding one record-varying variable (Human3.6M's pose files)."""
    import cdflib
    from cdflib.cdfwrite import CDF

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = CDF(str(path))
    spec = {
        "Variable": name,
        "Data_Type": cdflib.cdfwrite.CDF.CDF_DOUBLE,
        "Num_Elements": 1,
        "Rec_Vary": True,
        "Dim_Sizes": list(values.shape[1:]),
    }
    writer.write_var(spec, var_data=values)
    writer.close()
    return path


def _pose_track(generator: torch.Generator, frames: int, joints: int, centre, spread: float) -> torch.Tensor:
    start = torch.tensor(centre) + (torch.rand(joints, 2, generator=generator) - 0.5) * 2 * spread
    drift = (
        torch.linspace(0, 1, frames)[:, None, None]
        * (torch.rand(1, joints, 2, generator=generator) - 0.5)
        * 4
    )
    return start + drift


def write_h36m(root: Path, subjects=(1, 5, 9), frames: int = 8, seed: int = 0) -> Path:
    """Per subject one action seen by two cameras: ``Videos/*.mp4`` and ``D2_Positions/*.cdf``."""
    generator = torch.Generator().manual_seed(seed)
    for subject in subjects:
        for camera in ("54138969", "55011271"):
            stem = f"Directions 1.{camera}"
            write_video(root / f"S{subject}" / "Videos" / f"{stem}.mp4", frames, 96, 80, seed + subject)
            poses = _pose_track(generator, frames, 32, (40.0, 48.0), 20.0)
            write_cdf(
                root / f"S{subject}" / "MyPoseFeatures" / "D2_Positions" / f"{stem}.cdf",
                "Pose",
                poses.reshape(1, frames, 64).numpy().astype(np.float64),
            )
    return root


def write_mpi_inf_3dhp(
    root: Path, subjects=(1, 2), frames: int = 20, cameras: int = 3, seed: int = 0
) -> Path:
    """``S#/Seq#/annot.mat`` with an ``annot2`` cell per camera of (frames, 56) pixels."""
    generator = torch.Generator().manual_seed(seed)
    for subject in subjects:
        for sequence in (1, 2):
            cells = np.empty((cameras, 1), dtype=object)
            for camera in range(cameras):
                cells[camera, 0] = (
                    _pose_track(generator, frames, 28, (1024.0, 1024.0), 300.0).reshape(frames, 56).numpy()
                )
            path = root / f"S{subject}" / f"Seq{sequence}" / "annot.mat"
            path.parent.mkdir(parents=True, exist_ok=True)
            savemat(
                path, {"annot2": cells, "annot3": cells, "univ_annot3": cells, "cameras": np.arange(cameras)}
            )
    return root


def write_penn_action(root: Path, videos_per_action: int = 4, frames: int = 6, seed: int = 0) -> Path:
    """Two actions, half training and half test videos: ``frames/NNNN/*.jpg`` and ``labels/NNNN.mat``."""
    generator = torch.Generator().manual_seed(seed)
    number = 0
    for action in ("baseball_pitch", "squat"):
        for v in range(videos_per_action):
            number += 1
            video = f"{number:04d}"
            for t in range(frames):
                path = root / "frames" / video / f"{t + 1:06d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                save_image(torch.rand(3, 90, 120, generator=generator), path)
            poses = _pose_track(generator, frames, 13, (60.0, 45.0), 20.0) + 1  # MATLAB 1-based
            visibility = (torch.rand(frames, 13, generator=generator) > 0.1).double().numpy()
            low, high = poses.min(1).values, poses.max(1).values
            (root / "labels").mkdir(parents=True, exist_ok=True)
            savemat(
                root / "labels" / f"{video}.mat",
                {
                    "action": action, "pose": "back", "x": poses[..., 0].double().numpy(),
                    "y": poses[..., 1].double().numpy(), "visibility": visibility,
                    "train": np.array([[1 if v < videos_per_action // 2 else 0]]),
                    "bbox": torch.cat([low, high], -1).double().numpy(),
                    "dimensions": np.array([[90, 120, frames]]),
                    "nframes": np.array([[frames]]),
                },
            )  # fmt: skip
    return root


def write_pts(path: Path, points: torch.Tensor) -> Path:
    """An iBUG ``.pts`` file (1-based pixels)."""
    lines = ["version: 1", f"n_points:  {len(points)}", "{"]
    lines += [f"{x + 1:.3f} {y + 1:.3f}" for x, y in points.tolist()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*lines, "}"]) + "\n")
    return path


def write_multipie(root: Path, faces: int = 6, seed: int = 0) -> Path:
    generator = torch.Generator().manual_seed(seed)
    for i in range(faces):
        write_pts(
            root / f"{i:03d}" / f"{i:03d}_01_01_051_05.pts",
            _pose_track(generator, 1, 68, (320.0, 240.0), 60.0)[0],
        )
    return root


def write_300w(root: Path, per_subset: int = 2, seed: int = 0) -> Path:
    """Every subset folder of the iBUG 300-W release with images and their ``.pts``."""
    generator = torch.Generator().manual_seed(seed)
    for subset in ("afw", "helen/trainset", "lfpw/trainset", "helen/testset", "lfpw/testset", "ibug"):
        for i in range(per_subset):
            suffix = ".png" if subset.startswith("lfpw") else ".jpg"
            image = root / subset / f"image_{i:03d}{suffix}"
            image.parent.mkdir(parents=True, exist_ok=True)
            save_image(torch.rand(3, 80, 100, generator=generator), image)
            write_pts(image.with_suffix(".pts"), _pose_track(generator, 1, 68, (50.0, 40.0), 20.0)[0])
    return root


def write_voxceleb2(root: Path, seed: int = 0) -> Path:
    for i, (identity, video) in enumerate(
        [("id00012", "21Uxsk56VDQ"), ("id00012", "2DLq_Kkc1r8"), ("id00015", "0fijmz4vTVU")]
    ):
        write_video(root / "mp4" / identity / video / "00001.mp4", 8, 64, 64, seed + i)
    return root


def write_cat_heads(root: Path, per_folder: int = 4, seed: int = 0) -> Path:
    generator = torch.Generator().manual_seed(seed)
    for folder in ("CAT_00", "CAT_01", "CAT_06"):
        for i in range(per_folder):
            image = root / folder / f"{i:08d}_000.jpg"
            image.parent.mkdir(parents=True, exist_ok=True)
            save_image(torch.rand(3, 100, 90, generator=generator), image)
            points = _pose_track(generator, 1, 9, (45.0, 50.0), 20.0)[0].round()
            values = " ".join(str(int(v)) for v in points.reshape(-1).tolist())
            image.with_name(image.name + ".cat").write_text(f"9 {values} ")
    return root


def write_media(folder, video_frames=5):
    """Two still images of different sizes and one short video (in the formats users have)."""
    folder.mkdir(parents=True, exist_ok=True)
    save_image(torch.rand(3, 40, 60), folder / "a.png")
    save_image(torch.rand(3, 50, 30), folder / "b.jpg")
    with VideoWriter(folder / "clip.mp4", fps=8) as writer:
        for _ in range(video_frames):
            writer.write(torch.rand(3, 24, 32))
    (folder / "notes.txt").write_text("not media")
    return folder
