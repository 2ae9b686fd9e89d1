"""Prediction inputs from disk: an image, a video, or a folder of them (``kpbottleneck predict``).

Every frame is letterboxed to the model's input (:func:`kpbottleneck.inference.letterbox`), and the
batch carries what is needed to map keypoints back and draw them on the original:

``{"image": (B, 3, S, S), "box": (B, 4), "original": [(3, H, W), ...], "source": [str], "frame": (B,),
"fps": (B,)}``

``source`` is the file a frame comes from, ``frame`` its index in a video (0 for a still image) and ``fps``
the video's frame rate (0 for a still image).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from torch.utils.data import DataLoader, Dataset, default_collate

from kpbottleneck.inference import letterbox, read_image
from kpbottleneck.video_io import VIDEO_SUFFIXES, VideoReader

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".tif", ".tiff", ".webp")


def media_files(path: str | Path) -> list[Path]:
    """The image and video files at ``path`` (a file, or a folder's files in sorted order)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"prediction input {path} (data.path) does not exist")
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    media = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES]
    if not media:
        raise ValueError(
            f"prediction input {path} (data.path) holds no image ({', '.join(IMAGE_SUFFIXES)}) "
            f"or video ({', '.join(VIDEO_SUFFIXES)}) file"
        )
    return media


class MediaDataset(Dataset):
    """Every frame of the images and videos at ``path``, letterboxed to ``image_size``."""

    def __init__(self, path: str | Path, image_size: int) -> None:
        self.image_size = image_size
        self.videos: dict[Path, VideoReader] = {}
        self.index: list[tuple[Path, int]] = []
        for file in media_files(path):
            if file.suffix.lower() in VIDEO_SUFFIXES:
                self.videos[file] = VideoReader(file)
                self.index += [(file, t) for t in range(self.videos[file].num_frames)]
            else:
                self.index.append((file, 0))

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> dict[str, Any]:
        file, t = self.index[index]
        video = self.videos.get(file)
        original = video.frame(t) if video is not None else read_image(file)
        image, box = letterbox(original, self.image_size)
        return {
            "image": image,
            "box": box,
            "original": original,
            "source": str(file),
            "frame": t,
            "fps": video.fps if video is not None else 0.0,
        }


def collate_media(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Default collation, except ``original`` frames, which differ in size and stay a list."""
    originals = [sample.pop("original") for sample in samples]
    return {**default_collate(samples), "original": originals}


class MediaDataModule(pl.LightningDataModule):
    """Predict-only data: the frames of an image, a video, or a folder of images and videos.

    Args:
        path: an image file, a video file, or a folder holding either.
        image_size: side of the model's square input (the model's ``image_size``).
        batch_size, num_workers: DataLoader settings. Frames are read in order, so a video is decoded
            once; with ``num_workers > 0`` each worker decodes its own share.
    """

    def __init__(self, path: str, image_size: int = 64, batch_size: int = 16, num_workers: int = 0) -> None:
        super().__init__()
        self.path = path
        self.image_size = image_size
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.dataset: MediaDataset | None = None

    def setup(self, stage: str) -> None:
        if stage != "predict":
            raise ValueError(f"MediaDataModule only supplies data to 'predict', not to {stage!r}")
        self.dataset = MediaDataset(self.path, self.image_size)

    def predict_dataloader(self) -> DataLoader:
        assert self.dataset is not None, "setup('predict') first"
        return DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            collate_fn=collate_media,
        )
