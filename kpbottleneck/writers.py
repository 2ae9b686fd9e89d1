"""Writing predictions to disk during ``predict``: keypoints as JSON and CSV, overlays as images or videos.

Used with :class:`datamodules.MediaDataModule`, whose batches carry the letterbox ``box``, the
``original`` frames, their ``source`` file, ``frame`` index and ``fps``
(``experiments/predict.yaml`` sets both up).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Literal

import pytorch_lightning as pl
from pytorch_lightning.callbacks import BasePredictionWriter
from torch import Tensor
from torchvision.utils import save_image

from kpbottleneck.contracts import MediaBatch, keypoint_model
from kpbottleneck.coordinates import normalized_to_box_pixels, pixels_to_normalized
from kpbottleneck.skeletons import Skeleton
from kpbottleneck.video_io import VideoWriter
from kpbottleneck.visualization import draw_skeleton

Format = Literal["json", "csv"]


def source_stem(source: str) -> str:
    """Stem of a source's outputs: its file name with ``.`` → ``_`` (``photo.jpg`` → ``photo_jpg``), so that
    ``a.png`` and ``a.jpg`` of one folder never write the same files."""
    return Path(source).name.replace(".", "_")


def frame_stem(source: str, frame: int, is_video: bool) -> str:
    """Stem of one frame's outputs: ``clip_mp4_000042`` for frame 42 of ``clip.mp4``, ``photo_jpg`` for
    the image ``photo.jpg``."""
    stem = source_stem(source)
    return f"{stem}_{frame:06d}" if is_video else stem


class KeypointWriter(BasePredictionWriter):
    """Writes every predicted pose in pixel coordinates of its original frame (centre of pixel ``i`` at
    ``i``, x then y), with the skeleton's keypoint names, and draws it over the frame.

    Outputs under ``output_dir``:

    * ``keypoints/<stem>.json`` per frame: ``{"source", "frame", "image_size": [H, W], "skeleton",
      "keypoints": {name: [x, y]}}``;
    * ``keypoints.csv``: one row per frame, columns ``source, frame, <name>_x, <name>_y, …``
      (``keypoints_rank<r>.csv`` per process under DDP);
    * ``overlays/<stem>.png`` for images and ``overlays/<video stem>.mp4`` (same frame rate) for videos
      (``<video stem>_rank<r>.mp4`` per process under DDP, each holding the frames that process predicted).

    Stems are file names with ``.`` → ``_`` (:func:`frame_stem`): ``photo_jpg``, ``clip_mp4_000042``.

    Args:
        output_dir: where to write.
        formats: which keypoint files to write.
        overlays: draw the skeletons over the frames.
        line_width: overlay line width in pixels of a 256-pixel frame (scaled with the frame size).
    """

    def __init__(
        self,
        output_dir: str = "predictions",
        formats: list[Format] | None = None,
        overlays: bool = True,
        line_width: float = 2.0,
    ) -> None:
        super().__init__(write_interval="batch")
        self.output_dir = Path(output_dir)
        self.formats = ["json", "csv"] if formats is None else list(formats)
        self.overlays = overlays
        self.line_width = line_width
        self._csv: Any = None
        self._csv_writer: Any = None
        self._videos: dict[str, VideoWriter] = {}
        self._rank_suffix = ""

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        # files that several processes would otherwise share get the process's rank under DDP
        self._rank_suffix = f"_rank{trainer.global_rank}" if trainer.world_size > 1 else ""
        if "csv" in self.formats:
            path = self.output_dir / f"keypoints{self._rank_suffix}.csv"
            self._csv = open(path, "w", newline="")  # noqa: SIM115
            self._csv_writer = csv.writer(self._csv)
            names = keypoint_model(pl_module, "KeypointWriter").skeleton.keypoint_names
            self._csv_writer.writerow(["source", "frame", *(f"{n}_{axis}" for n in names for axis in "xy")])

    def write_on_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        prediction: dict[str, Tensor],
        batch_indices: Any,
        batch: MediaBatch,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        skeleton = keypoint_model(pl_module, "KeypointWriter").skeleton
        pixels = normalized_to_box_pixels(prediction["keypoints"], batch["box"]).cpu()
        for i, (source, original) in enumerate(zip(batch["source"], batch["original"], strict=True)):
            frame, fps = int(batch["frame"][i]), float(batch["fps"][i])
            stem = frame_stem(source, frame, is_video=fps > 0)
            points = [[round(float(x), 3), round(float(y), 3)] for x, y in pixels[i]]
            if "json" in self.formats:
                record = {
                    "source": source,
                    "frame": frame,
                    "image_size": list(original.shape[-2:]),
                    "skeleton": skeleton.name,
                    "keypoints": dict(zip(skeleton.keypoint_names, points, strict=True)),
                }
                path = self.output_dir / "keypoints" / f"{stem}.json"
                path.parent.mkdir(exist_ok=True)
                path.write_text(json.dumps(record))
            if self._csv_writer is not None:
                self._csv_writer.writerow([source, frame, *(c for point in points for c in point)])
            if self.overlays:
                self._write_overlay(source, stem, fps, original, pixels[i], skeleton)

    def _write_overlay(
        self, source: str, stem: str, fps: float, original: Tensor, pixels: Tensor, skeleton: Skeleton
    ) -> None:
        size = tuple(original.shape[-2:])
        keypoints = pixels_to_normalized(pixels.to(original.device), size)[None]
        width = self.line_width * max(size) / 256
        drawn = draw_skeleton(original[None], keypoints, skeleton, scale=1, line_width=width)[0]
        folder = self.output_dir / "overlays"
        if fps > 0:
            if source not in self._videos:
                name = f"{source_stem(source)}{self._rank_suffix}.mp4"
                self._videos[source] = VideoWriter(folder / name, fps=fps)
            self._videos[source].write(drawn)
        else:
            folder.mkdir(exist_ok=True)
            save_image(drawn, folder / f"{stem}.png")

    def on_predict_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for video in self._videos.values():
            video.close()
        self._videos.clear()
        if self._csv is not None:
            self._csv.close()
            self._csv, self._csv_writer = None, None
