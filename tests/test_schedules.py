import pytest

from kpbottleneck.schedules import check_decay_fraction, linear_decay


def test_linear_decay_is_cyclegans_linear_policy():
    factor = linear_decay(total=10, fraction=0.4)
    assert [factor(step) for step in range(12)] == [1, 1, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25, 0, 0]
    assert linear_decay(total=3, fraction=0.0)(2) == 1.0  # at least one step of decay: 1 → 0 at the end
    assert linear_decay(total=4, fraction=1.0)(1) == 0.75


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_fractions_outside_zero_one_are_refused(fraction):
    with pytest.raises(ValueError, match=r"lr_decay is a fraction of training in \[0, 1\]"):
        check_decay_fraction(fraction)
    with pytest.raises(ValueError, match="lr_decay"):
        linear_decay(10, fraction)
