import pytest
import torch
from torchvision.utils import save_image

from datamodules import MediaDataModule
from datamodules.media import media_files
from kpbottleneck.video_io import VideoWriter


def write_media(folder, video_frames=5):
    """Two still images of different sizes and one short video (in the formats users have)."""
    folder.mkdir(parents=True, exist_ok=True)
    save_image(torch.rand(3, 40, 60), folder / "a.png")
    save_image(torch.rand(3, 50, 30), folder / "b.jpg")
    with VideoWriter(folder / "clip.mp4", fps=8) as writer:
        for _ in range(video_frames):
            writer.write(torch.rand(3, 24, 32))
    (folder / "notes.txt").write_text("not media")
    return folder


def test_media_module_yields_every_frame_letterboxed_with_its_origin(tmp_path):
    data = MediaDataModule(str(write_media(tmp_path / "in")), image_size=16, batch_size=4)
    data.setup("predict")
    batches = list(data.predict_dataloader())
    sources = [s for batch in batches for s in batch["source"]]
    assert [s.rsplit("/", 1)[1] for s in sources] == ["a.png", "b.jpg"] + ["clip.mp4"] * 5
    first = batches[0]
    assert first["image"].shape == (4, 3, 16, 16)
    assert [tuple(o.shape) for o in first["original"]] == [(3, 40, 60), (3, 50, 30), (3, 24, 32), (3, 24, 32)]
    assert first["boxes"][0].tolist() == [0.0, -10.0, 60.0, 50.0]
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
