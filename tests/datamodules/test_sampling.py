import pytest
import torch
from torch.utils.data import Dataset

from datamodules.sampling import ResumableSampler, SeededSamples


def test_an_epoch_is_a_permutation_fixed_by_seed_and_epoch():
    sampler = ResumableSampler(10, seed=3)
    first = list(sampler)
    assert sorted(index for index, _ in first) == list(range(10))
    assert list(ResumableSampler(10, seed=3)) == first  # a new process draws the same epoch
    sampler.set_epoch(1)
    assert list(sampler) != first
    assert list(ResumableSampler(10, seed=4)) != first
    assert len({seed for _, seed in first}) == 10  # one seed per sample


def test_resume_continues_the_epoch_and_later_epochs_start_at_their_beginning():
    sampler = ResumableSampler(12, seed=0)
    sampler.set_epoch(2)
    epoch_2 = list(sampler)
    sampler.set_epoch(3)
    epoch_3 = list(sampler)

    resumed = ResumableSampler(12, seed=0)
    resumed.resume(epoch=2, samples=5)
    resumed.set_epoch(2)
    assert list(resumed) == epoch_2[5:] and len(resumed) == 12
    resumed.set_epoch(3)
    assert list(resumed) == epoch_3
    with pytest.raises(ValueError, match="cannot resume after 13 samples of an epoch of 12"):
        resumed.resume(epoch=2, samples=13)


def test_ranks_share_the_epoch_without_overlap():
    shares = [list(ResumableSampler(10, seed=1, num_replicas=3, rank=rank)) for rank in range(3)]
    assert [len(share) for share in shares] == [4, 4, 4]  # padded to 12 by repeating the order's start
    whole = list(ResumableSampler(10, seed=1))
    assert [pair for step in zip(*shares, strict=True) for pair in step][:10] == whole


def test_replacement_draws_length_samples_from_the_population():
    sampler = ResumableSampler(3, length=50, seed=0, replacement=True)
    indices = [index for index, _ in sampler]
    assert len(indices) == 50 and set(indices) == {0, 1, 2}
    with pytest.raises(ValueError, match="a permutation has as many samples as items"):
        ResumableSampler(3, length=50)


class _Draws(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.rand(2) + index


def test_a_seeded_sample_depends_on_its_key_only_and_leaves_the_caller_generator_alone():
    samples = SeededSamples(_Draws())
    torch.manual_seed(0)
    expected_next = torch.rand(1)
    torch.manual_seed(0)
    a = samples[(1, 7)]
    torch.rand(5)  # whatever was drawn in between
    torch.testing.assert_close(samples[(1, 7)], a)
    assert not torch.equal(samples[(1, 8)], a)
    torch.manual_seed(0)
    samples[(2, 9)]
    torch.testing.assert_close(torch.rand(1), expected_next)
    assert len(samples) == 4
