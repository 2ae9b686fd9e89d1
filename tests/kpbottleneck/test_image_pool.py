import pytest
import torch

from kpbottleneck.image_pool import ImagePool


def _batch(start, count):
    """Images whose every pixel is their id, so the test can tell which image came back."""
    return torch.arange(start, start + count, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 2, 2)


def ids(images):
    return images[:, 0, 0, 0].tolist()


def test_fills_first_then_swaps_about_half():
    torch.manual_seed(0)
    pool = ImagePool(4)
    assert ids(pool(_batch(0, 3))) == [0, 1, 2]
    assert ids(pool(_batch(3, 3)))[:1] == [3]  # the last free slot takes image 3 as it is
    assert pool.filled == 4
    shown_old, seen = 0, 0
    for step in range(200):
        new = _batch(100 + 10 * step, 8)
        out = ids(pool(new))
        for given, got in zip(ids(new), out, strict=True):
            seen += 1
            shown_old += got != given
        # the history holds what was stored: 4 distinct images, each either old or from this batch
        assert len(set(ids(pool.history))) == 4
    assert shown_old / seen == pytest.approx(0.5, abs=0.05)


def test_a_swapped_image_takes_the_slot_of_the_one_shown():
    torch.manual_seed(1)
    pool = ImagePool(2)
    pool(_batch(0, 2))
    before = set(ids(pool.history))
    new = _batch(10, 2)
    out = ids(pool(new))
    after = set(ids(pool.history))
    for given, got in zip(ids(new), out, strict=True):
        if got != given:  # an old image was shown: it left the history and the new one entered
            assert got in before and got not in after and given in after
        else:
            assert given not in after
    assert len(after) == 2


def test_size_zero_passes_through_and_output_is_detached():
    images = torch.rand(3, 1, 4, 4, requires_grad=True)
    out = ImagePool(0)(images)
    assert torch.equal(out, images) and not out.requires_grad
    assert not ImagePool(2)(images).requires_grad
    with pytest.raises(ValueError, match="size must be >= 0"):
        ImagePool(-1)


def test_history_and_fill_count_travel_in_the_state_dict():
    torch.manual_seed(0)
    pool = ImagePool(3)
    pool(_batch(0, 2))
    restored = ImagePool(3)
    restored.load_state_dict(pool.state_dict())
    assert restored.filled == 2 and torch.equal(restored.history, pool.history)
    torch.manual_seed(5)
    expected = pool(_batch(10, 4))
    torch.manual_seed(5)
    assert torch.equal(restored(_batch(10, 4)), expected)
    ImagePool(3).load_state_dict({})  # a checkpoint from before the pool: starts empty


def test_batches_larger_than_the_pool_are_handled_in_chunks():
    torch.manual_seed(0)
    pool = ImagePool(2)
    out = pool(_batch(0, 7))
    assert out.shape == (7, 1, 2, 2) and pool.filled == 2
    assert set(ids(out)) <= set(range(7))
