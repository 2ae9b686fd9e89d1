import warnings
from typing import get_type_hints

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from datamodules.synthetic import SyntheticDataModule
from kpbottleneck import KeypointGAN
from kpbottleneck.contracts import (
    KeypointData,
    LabelledBatch,
    PairBatch,
    keypoint_data,
    keypoint_model,
)


def _keys(typed_dict):
    """(required keys, all keys) of a TypedDict."""
    return set(typed_dict.__required_keys__), set(get_type_hints(typed_dict))


def _tiny_data(**kwargs):
    return SyntheticDataModule(
        image_size=32, batch_size=2, num_train_videos=2, num_prior_videos=2, num_val_videos=1,
        num_test_videos=1, frames_per_video=4, **kwargs,
    )  # fmt: skip


def test_the_synthetic_data_makes_the_batches_the_contracts_write():
    data = _tiny_data()
    data.setup("fit")
    for batch, contract in ((next(iter(data.train_dataloader())), PairBatch),
                            (next(iter(data.val_dataloader())), LabelledBatch)):  # fmt: skip
        required, allowed = _keys(contract)
        assert required <= set(batch) <= allowed, contract.__name__
        assert all(isinstance(batch[key], torch.Tensor) for key in required)
    assert _keys(PairBatch)[0] == {"image", "appearance_image", "prior_keypoints"}


def test_a_keypoint_data_module_is_recognised_and_a_foreign_one_is_not():
    data = _tiny_data()
    assert isinstance(data, KeypointData)
    assert keypoint_data(pl.Trainer(logger=False, enable_checkpointing=False)) is None
    trainer = pl.Trainer(logger=False, enable_checkpointing=False)
    trainer.datamodule = data  # as fit/validate set it
    assert keypoint_data(trainer) is data
    trainer.datamodule = pl.LightningDataModule()
    assert keypoint_data(trainer) is None


def test_keypoint_model_takes_the_gan_and_names_the_callback_for_a_module_without_a_skeleton(tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs)
    assert keypoint_model(model, "KeypointEvaluation") is model

    class Plain(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(1, 1)

    with pytest.raises(TypeError, match=r"KeypointEvaluation needs .*`skeleton`.*Plain has none"):
        keypoint_model(Plain(), "KeypointEvaluation")


def test_the_old_post_processing_names_still_work_and_warn():
    data = _tiny_data()
    data.setup("test")
    with pytest.warns(DeprecationWarning, match="post_processing_dataloader"):
        loader = data.regression_dataloader()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = data.post_processing_dataloader()
    assert len(loader.dataset) == len(expected.dataset) > 0
    import kpbottleneck.postprocessing as postprocessing

    with pytest.warns(DeprecationWarning, match="LinearKeypointMap"):
        assert postprocessing.LinearKeypointRegression is postprocessing.LinearKeypointMap
