"""LightningDataModules and Datasets for kpbottleneck (a second top-level package of the distribution)."""

from datamodules.base import KeypointDataModule, PairsWithPriorDataset
from datamodules.cat_heads import CatHeadsDataModule
from datamodules.clips import Clip, ClipCollection, ClipDataModule
from datamodules.custom import VideoFolderDataModule
from datamodules.h36m import H36MDataModule
from datamodules.media import MediaDataModule
from datamodules.penn_action import PennActionDataModule
from datamodules.poses import PoseDataset
from datamodules.random_data import RandomDataModule
from datamodules.simplified_h36m import SimplifiedH36MDataModule
from datamodules.synthetic import SyntheticDataModule
from datamodules.tps import ThinPlateSplinePairDataset, random_tps_warp
from datamodules.video import FrameDataset, FramePairDataset, LabelledFrameDataset
from datamodules.voxceleb2 import VoxCeleb2DataModule
from datamodules.w300 import W300DataModule

__all__ = [
    "CatHeadsDataModule",
    "Clip",
    "ClipCollection",
    "ClipDataModule",
    "FrameDataset",
    "FramePairDataset",
    "H36MDataModule",
    "KeypointDataModule",
    "LabelledFrameDataset",
    "MediaDataModule",
    "PairsWithPriorDataset",
    "PennActionDataModule",
    "PoseDataset",
    "RandomDataModule",
    "SimplifiedH36MDataModule",
    "SyntheticDataModule",
    "ThinPlateSplinePairDataset",
    "VideoFolderDataModule",
    "VoxCeleb2DataModule",
    "W300DataModule",
    "random_tps_warp",
]
