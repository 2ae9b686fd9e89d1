from types import SimpleNamespace

import pytest

from kpbottleneck.schedules import check_decay_fraction, linear_decay, training_batches


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


@pytest.mark.parametrize(
    ("max_steps", "max_epochs", "estimated", "steps_per_batch", "batches"),
    [
        (1600, -1, 1600, 2, 800),  # the GAN's main job: max_steps counts two optimiser steps a batch
        (300, -1, 300, 1, 300),  # η: one optimiser step a batch
        (-1, 3, 12, 2, 12),  # epochs only: 3 epochs of 4 batches, whatever the optimisers
        (100, 3, 12, 2, 12),  # both: the epochs end first (12 batches < 50)
        (16, 3, 12, 2, 8),  # both: max_steps ends first (8 batches < 12)
    ],
)
def test_training_batches_is_one_rule_for_both_modules(
    max_steps, max_epochs, estimated, steps_per_batch, batches
):
    # Lightning's estimated_stepping_batches is min(epochs × batches, max_steps) in its own units
    trainer = SimpleNamespace(
        max_steps=max_steps, max_epochs=max_epochs, estimated_stepping_batches=estimated
    )
    assert training_batches(trainer, steps_per_batch) == batches


def test_training_batches_refuses_an_endless_fit():
    trainer = SimpleNamespace(max_steps=-1, max_epochs=-1, estimated_stepping_batches=float("inf"))
    with pytest.raises(ValueError, match=r"set trainer\.max_steps or trainer\.max_epochs"):
        training_batches(trainer)
