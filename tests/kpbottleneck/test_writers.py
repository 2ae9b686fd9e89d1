import csv
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from datamodules import MediaDataModule
from kpbottleneck import KeypointGAN
from kpbottleneck.cli import KeypointCLI
from kpbottleneck.skeletons import SYNTHETIC
from kpbottleneck.video_io import VideoReader
from kpbottleneck.writers import KeypointWriter, frame_stem
from tests.helpers import cpu_trainer
from tests.real_formats import write_media


@pytest.fixture
def media(tmp_path):
    return write_media(tmp_path / "media", video_frames=3)


def test_writer_outputs_agree_with_predict_keypoints(tmp_path, media, tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs)
    out = tmp_path / "predictions"
    trainer = cpu_trainer(tmp_path, callbacks=[KeypointWriter(str(out))])
    trainer.predict(model, MediaDataModule(str(media), image_size=32, batch_size=2), return_predictions=False)

    names = model.skeleton.keypoint_names
    record = json.loads((out / "keypoints" / "a_png.json").read_text())
    assert record["image_size"] == [40, 60] and record["skeleton"] == "synthetic"
    assert list(record["keypoints"]) == list(names)
    expected = model.predict_keypoints(media / "a.png")[0]
    assert torch.allclose(torch.tensor(list(record["keypoints"].values())), expected, atol=1e-3)

    rows = list(csv.DictReader((out / "keypoints.csv").open()))
    assert [(r["source"].rsplit("/", 1)[1], r["frame"]) for r in rows] == [
        ("a.png", "0"),
        ("b.jpg", "0"),
        ("clip.mp4", "0"),
        ("clip.mp4", "1"),
        ("clip.mp4", "2"),
    ]
    assert float(rows[1][f"{names[3]}_y"]) == pytest.approx(
        float(model.predict_keypoints(media / "b.jpg")[0, 3, 1]), abs=1e-3
    )
    clip = json.loads((out / "keypoints" / "clip_mp4_000002.json").read_text())
    assert clip["frame"] == 2 and clip["image_size"] == [24, 32]

    assert (out / "overlays" / "a_png.png").is_file() and (out / "overlays" / "b_jpg.png").is_file()
    overlay = VideoReader(out / "overlays" / "clip_mp4.mp4")
    assert (overlay.num_frames, overlay.size, overlay.fps) == (3, (24, 32), 8.0)


def test_predict_command_over_a_folder(tmp_path, media, tiny_gan_kwargs, monkeypatch):
    elsewhere = tmp_path / "cwd"  # the command must write nothing in the current directory
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    model = KeypointGAN(**tiny_gan_kwargs)
    trainer = cpu_trainer(tmp_path)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    out = tmp_path / "cli_predictions"
    KeypointCLI(
        args=[
            "predict",
            "--config",
            str(Path(__file__).parents[2] / "experiments" / "predict.yaml"),
            "--model",
            "kpbottleneck.KeypointGAN",
            *[
                f"--model.init_args.{key}={value}"
                for key, value in tiny_gan_kwargs.items()
                if key != "perceptual_layers"
            ],
            "--model.init_args.perceptual_layers=[pixels]",
            "--data.path",
            str(media),
            "--data.image_size",
            "32",
            "--trainer.callbacks.output_dir",
            str(out),
            "--trainer.accelerator",
            "cpu",
            "--trainer.precision",
            "32-true",  # as the Python predictions it is compared with (not the machine's bf16)
            "--trainer.enable_progress_bar",
            "false",
            "--ckpt_path",
            str(tmp_path / "model.ckpt"),
        ]
    )
    rows = list(csv.DictReader((out / "keypoints.csv").open()))
    assert len(rows) == 5 and len(list((out / "keypoints").glob("*.json"))) == 5
    assert list(elsewhere.iterdir()) == []
    expected = model.predict_keypoints(media / "a.png")[0, 0]
    assert [float(rows[0]["head_top_x"]), float(rows[0]["head_top_y"])] == pytest.approx(
        expected.tolist(), abs=1e-3
    )


def test_predict_command_from_the_checkpoint_alone(tmp_path, media, tiny_gan_kwargs, monkeypatch):
    """No config and no model options: the model, its sizes and its weights come from ``--ckpt_path``, the
    writer and the media data module from the packaged defaults of ``predict``."""
    monkeypatch.chdir(tmp_path)
    model = KeypointGAN(**tiny_gan_kwargs)
    trainer = cpu_trainer(tmp_path)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    KeypointCLI(
        args=["predict", "--ckpt_path", str(tmp_path / "model.ckpt"), "--data.path", str(media),
              "--trainer.accelerator", "cpu", "--trainer.precision", "32-true",
              "--trainer.enable_progress_bar", "false"]
    )  # fmt: skip
    rows = list(csv.DictReader((tmp_path / "predictions" / "keypoints.csv").open()))
    assert len(rows) == 5 and rows[1]["source"].endswith("b.jpg")
    expected = model.predict_keypoints(media / "b.jpg")[0]
    got = [[float(rows[1][f"{name}_{axis}"]) for axis in "xy"] for name in model.skeleton.keypoint_names]
    assert torch.allclose(torch.tensor(got), expected, atol=1e-3)


def test_predict_command_names_a_missing_or_classless_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"--ckpt_path: checkpoint .*nothing\.ckpt does not exist"):
        KeypointCLI(args=["predict", "--ckpt_path", str(tmp_path / "nothing.ckpt"), "--data.path", "."])
    torch.save({"hyper_parameters": {"lr": 1.0}, "state_dict": {}}, tmp_path / "bare.ckpt")
    with pytest.raises(ValueError, match=r"bare\.ckpt does not record its model class .* give --config"):
        KeypointCLI(args=["predict", "--ckpt_path", str(tmp_path / "bare.ckpt"), "--data.path", "."])


def test_output_names_keep_sources_apart():
    assert frame_stem("dir/a.png", 0, is_video=False) != frame_stem("dir/a.jpg", 0, is_video=False)
    assert frame_stem("dir/clip.mp4", 42, is_video=True) == "clip_mp4_000042"


def test_under_ddp_each_process_writes_its_own_table_and_videos(tmp_path):
    writer = KeypointWriter(output_dir=str(tmp_path))
    trainer, module = SimpleNamespace(global_rank=1, world_size=2), SimpleNamespace(skeleton=SYNTHETIC)
    writer.on_predict_start(trainer, module)
    box = torch.tensor([[0.0, 0.0, 16.0, 16.0]])
    batch = {"source": ["v/clip.mp4"], "frame": torch.tensor([3]), "fps": torch.tensor([8.0]),
             "original": torch.rand(1, 3, 16, 16), "box": box}  # fmt: skip
    writer.write_on_batch_end(trainer, module, {"keypoints": torch.zeros(1, 17, 2)}, None, batch, 0)
    writer.on_predict_end(trainer, module)
    assert (tmp_path / "keypoints_rank1.csv").is_file()
    assert (tmp_path / "overlays" / "clip_mp4_rank1.mp4").is_file()
    assert not (tmp_path / "keypoints.csv").exists() and not (tmp_path / "overlays" / "clip_mp4.mp4").exists()
