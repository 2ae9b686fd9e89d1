import os

os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")

import pytest
import torch

from tests.helpers import TINY_GAN


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def tiny_gan_kwargs():
    return dict(TINY_GAN)
