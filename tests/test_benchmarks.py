import importlib.util
from pathlib import Path

import pytest

from datamodules import SyntheticDataModule
from kpbottleneck import KeypointGAN, KeypointRegressor

ABLATIONS = Path(__file__).resolve().parents[1] / "benchmarks" / "ablations.py"


@pytest.fixture(scope="module")
def ablations():
    spec = importlib.util.spec_from_file_location("ablations", ABLATIONS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ablations_use_the_main_jobs_settings(ablations):
    gan, gan_data, gan_trainer = ablations.main_job_settings("synthetic.yaml")
    eta, eta_data, eta_trainer = ablations.main_job_settings("synthetic_regressor.yaml")
    assert "regressor_checkpoint" not in gan and gan_trainer["max_steps"] > 0 and eta_trainer["max_steps"] > 0
    assert gan_data["image_size"] == gan["image_size"] == eta_data["image_size"]
    model, regressor = KeypointGAN(**gan), KeypointRegressor(**eta)
    for name in ("skeleton", "image_size", "regressor_channels", "regressor_depth"):
        assert model.hparams[name] == regressor.hparams[name], name  # η's checkpoint must fit the GAN
    assert SyntheticDataModule(**eta_data).prior_only and not SyntheticDataModule(**gan_data).prior_only
    for variant in ablations.VARIANTS.values():
        KeypointGAN(**gan, **variant)
