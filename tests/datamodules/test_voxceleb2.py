import pytest

from datamodules.voxceleb2 import VoxCeleb2DataModule
from tests.real_formats import write_300w, write_multipie, write_voxceleb2


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("vox")
    return write_voxceleb2(base / "vox"), write_multipie(base / "multipie"), write_300w(base / "300w")


def test_one_random_pair_per_clip_within_the_window(roots):
    vox, multipie, w300 = roots
    data = VoxCeleb2DataModule(str(vox), str(multipie), str(w300), image_size=32, batch_size=2, window=(2, 3))
    data.setup("fit")
    pairs = data.datasets["pairs"]
    assert len(pairs) == 3 and [c.source.parts[-3] for c in data.clips("train")] == [
        "id00012",
        "id00012",
        "id00015",
    ]
    sample = pairs[1]
    assert sample["image"].shape == (3, 32, 32) and len(data.datasets["test"]) == 6
    # validation: held-out 300-W training images (every 10th), never one of its test images
    assert [clip.source[0] for clip in data.clips("val")] == [w300 / "afw/image_000.jpg"]


def test_without_300w_there_is_no_validation(roots):
    vox, multipie, _ = roots
    data = VoxCeleb2DataModule(str(vox), str(multipie), image_size=32, batch_size=2)
    data.setup("fit")
    assert "val" not in data.datasets and data.val_dataloader() == []


def test_an_empty_voxceleb2_folder_is_named(tmp_path, roots):
    (tmp_path / "mp4").mkdir()
    with pytest.raises(ValueError, match=r"no mp4/id\*/<video>/<clip>\.mp4 under"):
        VoxCeleb2DataModule(str(tmp_path), str(roots[1])).setup("fit")
