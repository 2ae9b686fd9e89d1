"""LightningDataModules and Datasets for kpbottleneck (a second top-level package of the distribution)."""

from datamodules.base import KeypointDataModule, PairsWithPriorDataset
from datamodules.media import MediaDataModule
from datamodules.poses import PoseDataset
from datamodules.random_data import RandomDataModule
from datamodules.synthetic import SyntheticDataModule
from datamodules.tps import ThinPlateSplinePairDataset, random_tps_warp
from datamodules.video import FramePairDataset, LabelledFrameDataset

__all__ = [
    "FramePairDataset",
    "KeypointDataModule",
    "LabelledFrameDataset",
    "MediaDataModule",
    "PairsWithPriorDataset",
    "PoseDataset",
    "RandomDataModule",
    "SyntheticDataModule",
    "ThinPlateSplinePairDataset",
    "random_tps_warp",
]
