"""LightningDataModules and Datasets for kpbottleneck (a second top-level package of the distribution)."""

from datamodules.base import KeypointDataModule, PairsWithPriorDataset
from datamodules.random_data import RandomDataModule
from datamodules.synthetic import SyntheticDataModule

__all__ = ["KeypointDataModule", "PairsWithPriorDataset", "RandomDataModule", "SyntheticDataModule"]
