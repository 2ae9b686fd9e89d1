import pytest

from datamodules import MediaDataModule
from datamodules.media import media_files
from tests.real_formats import write_media


def test_media_module_yields_every_frame_letterboxed_with_its_origin(tmp_path):
    data = MediaDataModule(str(write_media(tmp_path / "in")), image_size=16, batch_size=4)
    data.setup("predict")
    batches = list(data.predict_dataloader())
    sources = [s for batch in batches for s in batch["source"]]
    assert [s.rsplit("/", 1)[1] for s in sources] == ["a.png", "b.jpg"] + ["clip.mp4"] * 5
    first = batches[0]
    assert first["image"].shape == (4, 3, 16, 16)
    assert [tuple(o.shape) for o in first["original"]] == [(3, 40, 60), (3, 50, 30), (3, 24, 32), (3, 24, 32)]
    assert first["box"][0].tolist() == [0.0, -10.0, 60.0, 50.0]
    assert first["frame"].tolist() == [0, 0, 0, 1] and first["fps"].tolist() == [0.0, 0.0, 8.0, 8.0]


def test_media_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere.*data.path"):
        media_files(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("x")
    with pytest.raises(ValueError, match=r"empty.*holds no image"):
        media_files(tmp_path / "empty")
    with pytest.raises(ValueError, match="only supplies data to 'predict'"):
        MediaDataModule(str(tmp_path)).setup("fit")
