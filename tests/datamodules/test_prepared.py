import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.utils import save_image

from datamodules.custom import VideoFolderDataModule
from datamodules.prepare import main as prepare_main
from datamodules.prepare import prepare
from datamodules.prepared import PreparedFrames, prepare_collection
from kpbottleneck.skeletons import SYNTHETIC
from tests.real_formats import write_video


@pytest.fixture
def folder(tmp_path):
    """Two videos and a folder of frames, a prior, and labels on a video frame and an image."""
    videos = tmp_path / "videos"
    write_video(videos / "walk.mp4", 12, 48, 64, seed=0)
    write_video(videos / "run.mp4", 9, 40, 40, seed=1)
    (videos / "jump").mkdir()
    for t in range(4):
        save_image(
            torch.rand(3, 30, 30, generator=torch.Generator().manual_seed(t)), videos / "jump" / f"{t}.png"
        )
    np.save(
        tmp_path / "poses.npy",
        (20 + torch.rand(8, 17, 2, generator=torch.Generator().manual_seed(0)) * 20).numpy(),
    )
    header = ["source", "frame", *(f"{n}_{a}" for n in SYNTHETIC.keypoint_names for a in "xy")]
    points = (10 + torch.rand(2, 17, 2, generator=torch.Generator().manual_seed(1)) * 20).tolist()
    rows = [["videos/walk.mp4", "7", *(c for p in points[0] for c in p)],
            ["videos/jump/2.png", "0", *(c for p in points[1] for c in p)]]  # fmt: skip
    (tmp_path / "labels.csv").write_text("\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n")
    return tmp_path


def _data(root, prepared=None, labels=True, **kwargs):
    return VideoFolderDataModule(
        str(root / "videos"), str(root / "poses.npy"), "synthetic",
        labels=str(root / "labels.csv") if labels else None, image_size=16, batch_size=4, window=(1, 3),
        prepared=None if prepared is None else str(prepared), **kwargs,
    )  # fmt: skip


def test_raw_and_prepared_frames_give_the_same_pairs_and_labels(folder):
    summaries = prepare(_data(folder, folder / "prepared"))
    assert [(s["split"], s["clips"], s["frames"], s["skipped"]) for s in summaries] == [
        ("train", 3, 12 + 9 + 4, 0),  # the frame folder 'jump', then run.mp4 and walk.mp4
        ("val", 2, 2, 0),
        ("test", 2, 2, 0),  # (no post_processing split: no train_labels)
    ]
    raw, fast = _data(folder), _data(folder, folder / "prepared")
    for data in (raw, fast):
        data.setup("fit")
    pairs = [data.datasets["pairs"] for data in (raw, fast)]
    assert len(pairs[0]) == len(pairs[1]) == 25
    for index in range(25):
        samples = []
        for dataset in pairs:
            torch.manual_seed(index)  # the same draw of the second frame
            samples.append(dataset[index])
        for key in ("image", "appearance_image"):  # equal up to the uint8 rounding of the prepared crops
            assert (samples[0][key] - samples[1][key]).abs().max() <= 0.5 / 255 + 1e-6
    for index in range(2):
        labelled = [data.datasets["val"][index] for data in (raw, fast)]
        assert torch.equal(labelled[0]["box"], labelled[1]["box"])
        assert torch.allclose(labelled[0]["keypoints"], labelled[1]["keypoints"])
        assert (labelled[0]["image"] - labelled[1]["image"]).abs().max() <= 0.5 / 255 + 1e-6


def test_a_corrupt_video_stops_preparation_by_name_or_is_skipped_alone(folder):
    (folder / "videos" / "broken.mp4").write_bytes((folder / "videos" / "run.mp4").read_bytes()[:300])
    with pytest.raises(ValueError, match=r"clip .*broken\.mp4 cannot be read"):
        prepare(_data(folder, folder / "strict", on_corrupt="raise"))
    assert not (folder / "strict" / "train" / "index.json").exists()
    with pytest.warns(UserWarning, match=r"skipping clip .*broken\.mp4"):
        summary = prepare(_data(folder, folder / "prepared"))[0]
    assert (summary["clips"], summary["skipped"], summary["frames"]) == (4, 1, 25)
    data = _data(folder, folder / "prepared")
    data.setup("fit")
    collection = data.datasets["pairs"].videos
    names = [clip.source.name if not isinstance(clip.source, tuple) else "jump" for clip in collection.clips]
    assert names == ["jump", "run.mp4", "walk.mp4"]
    assert len(data.datasets["pairs"]) == 25


def test_prepared_frames_that_do_not_match_the_data_module_are_named(folder):
    data = _data(folder, folder / "prepared", labels=False)
    with pytest.raises(
        FileNotFoundError, match=r"prepared.train.index\.json does not exist; prepare it with"
    ):
        data.setup("fit")
    prepare_collection(data.collection("train", prepared=False), folder / "prepared" / "train")
    other_size = _data(folder, folder / "prepared", labels=False)
    other_size.image_size = 24
    with pytest.raises(
        ValueError, match=r"prepared at image_size 16, the data module's is 24; prepare it again"
    ):
        other_size.setup("fit")
    write_video(folder / "videos" / "new.mp4", 5, 16, 16)
    with pytest.raises(ValueError, match=r"prepared from 3 other clips than the data module's 4"):
        _data(folder, folder / "prepared", labels=False).setup("fit")


def test_the_prepare_command_takes_the_training_commands_arguments(folder, capsys, monkeypatch):
    """The data module is built as ``kpbottleneck fit`` builds it: the model's image size (32) wins."""
    monkeypatch.chdir(folder)
    config = Path(__file__).resolve().parents[2] / "experiments" / "my_videos.yaml"
    prepare_main([
        "--config", str(config), "--data.root", str(folder / "videos"),
        "--data.prior", str(folder / "poses.npy"), "--model.init_args.image_size", "32",
        "--data.init_args.prepared", str(folder / "out"),
    ])  # fmt: skip
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["split"], line["frames"], line["image_size"]) for line in lines] == [("train", 25, 32)]
    frames = PreparedFrames(
        folder / "out" / "train", [clip.source for clip in _data(folder).clips("train")], 32
    )
    assert frames.frames.shape == (25, 3, 32, 32) and frames.frames.dtype == np.uint8


def test_prepared_frames_travel_to_workers_as_a_file_name(folder):
    import pickle

    data = _data(folder, folder / "prepared", labels=False)
    prepare(data)
    frames = PreparedFrames(folder / "prepared" / "train", [clip.source for clip in data.clips("train")], 16)
    expected = frames.frame(1, 3)
    payload = pickle.dumps(frames)
    assert len(payload) < 10_000  # not the 25 frames' 19 kB
    assert torch.equal(pickle.loads(payload).frame(1, 3), expected)


def test_a_folder_prepared_before_the_rename_still_gives_the_post_processing_frames(folder):
    def data(prepared=None):
        return _data(folder, prepared, train_labels=str(folder / "labels.csv"))

    prepare(data(folder / "prepared"))
    (folder / "prepared" / "post_processing").rename(folder / "prepared" / "regression")
    raw, old = data(), data(folder / "prepared")
    for module in (raw, old):
        module.setup("test")
    frames = [module.datasets["post_processing"] for module in (raw, old)]
    assert len(frames[0]) == len(frames[1]) == 2
    for a, b in zip(frames[0], frames[1], strict=True):
        assert torch.equal(a["keypoints"], b["keypoints"])
        assert (a["image"] - b["image"]).abs().max() < 2 / 255  # prepared frames are stored as 8 bits
