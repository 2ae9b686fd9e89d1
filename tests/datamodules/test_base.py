from types import SimpleNamespace

import pytest
import torch

from datamodules.base import KeypointDataModule, PairsWithPriorDataset, loader_workers
from datamodules.poses import PoseDataset
from datamodules.random_data import RandomDataModule
from tests.helpers import cpu_trainer


def test_pairs_with_prior_merges_samples():
    pairs = [{"image": torch.zeros(1)}, {"image": torch.ones(1)}]
    prior = [{"prior_keypoints": torch.full((1, 2), 7.0)}]
    dataset = PairsWithPriorDataset(pairs, prior)
    assert len(dataset) == 2
    assert set(dataset[1]) == {"image", "prior_keypoints"} and dataset[1]["prior_keypoints"][0, 0] == 7


def test_empty_prior_is_an_error():
    with pytest.raises(ValueError, match="prior pose dataset is empty"):
        PairsWithPriorDataset([{"image": torch.zeros(1)}], [])


def test_base_requires_build_datasets_and_missing_loaders_are_named():
    with pytest.raises(NotImplementedError, match="must implement build_datasets"):
        KeypointDataModule("synthetic").setup("fit")
    data = RandomDataModule()
    data.setup("fit")
    del data.datasets["test"]
    with pytest.raises(RuntimeError, match="no 'test' dataset"):
        data.test_dataloader()


def test_random_batches():
    data = RandomDataModule(image_size=16, batch_size=4, num_train=8)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert batch["image"].shape == (4, 3, 16, 16) and batch["prior_keypoints"].shape == (4, 17, 2)


class _Unreadable(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, index):
        raise AssertionError("a prior-only loader must not read frames")


class _PriorOnly(KeypointDataModule):
    def build_datasets(self, stage):
        poses = PoseDataset(torch.arange(3.0)[:, None, None].expand(3, 17, 2).clone())
        return {"pairs": _Unreadable(), "prior": poses}


def test_prior_only_batches_draw_prior_poses_and_never_read_frames():
    torch.manual_seed(0)
    data = _PriorOnly("synthetic", batch_size=4, prior_only=True)
    data.setup("fit")
    batches = list(data.train_dataloader())
    assert len(batches) == 2  # as many samples as frame pairs, though the prior has only 3 poses
    for batch in batches:
        assert set(batch) == {"prior_keypoints", "prior_visibility"}
        assert batch["prior_keypoints"].shape == (4, 17, 2)
    drawn = torch.cat([b["prior_keypoints"][:, 0, 0] for b in batches])
    assert set(drawn.tolist()) <= {0.0, 1.0, 2.0} and len(set(drawn.tolist())) > 1


def _trainer_on(device: str, processes: int) -> SimpleNamespace:
    return SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device(device)), num_devices=processes)


def test_loader_workers_are_the_count_asked_for_or_sized_to_the_machine(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert loader_workers(3, _trainer_on("cuda", 1)) == 3 and loader_workers(0, None) == 0
    assert loader_workers(None, None) == 0 and loader_workers(None, _trainer_on("cpu", 1)) == 0
    # beside a GPU: one per spare core of the process's share of 16 cores, at most 4
    assert [loader_workers(None, _trainer_on("cuda", n)) for n in (1, 4, 8, 16)] == [4, 3, 1, 0]
    with pytest.raises(ValueError, match=r"data.num_workers must be >= 0.*got -1"):
        RandomDataModule(num_workers=-1)


def test_a_machine_sized_loader_on_the_cpu_reads_in_the_training_process(tmp_path):
    data = RandomDataModule(image_size=32, batch_size=2, num_train=4, num_prior=4, num_workers=None)
    data.trainer = cpu_trainer(tmp_path)
    data.setup("fit")
    assert data.train_dataloader().num_workers == 0 and data.val_dataloader().num_workers == 0
