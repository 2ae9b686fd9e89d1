import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torchvision.utils import save_image

from datamodules.base import PairsWithPriorDataset, collate_skipping
from datamodules.clips import Clip, ClipCollection
from datamodules.poses import PoseDataset
from datamodules.video import FramePairDataset, LabelledFrameDataset
from tests.real_formats import write_video


def _frames(tmp_path, count=6, size=(40, 60)):
    paths = []
    for t in range(count):
        path = tmp_path / f"{t:03d}.png"
        save_image(torch.full((3, *size), t / count), path)
        paths.append(path)
    return tuple(paths)


def test_halves_split_frames_and_annotations(tmp_path):
    keypoints = torch.arange(6.0)[:, None, None].expand(6, 2, 2)
    clip = Clip(_frames(tmp_path), None, keypoints)
    first, second = clip.halves()
    assert first.frames == (0, 1, 2) and second.frames == (3, 4, 5)
    assert second.keypoints[:, 0, 0].tolist() == [3.0, 4.0, 5.0]
    assert clip.part(0, 6, 2).frames == (0, 2, 4)


def test_collection_crops_to_the_box_and_normalises_keypoints_to_it(tmp_path):
    frames = _frames(tmp_path)
    keypoints = torch.tensor([[[10.0, 20.0], [29.0, 39.0]]]).expand(6, 2, 2)
    box = torch.tensor([[10.0, 20.0, 30.0, 40.0]]).expand(6, 4)  # a 20-px square
    collection = ClipCollection([Clip(frames, None, keypoints, None, box, activity=2)], image_size=10)
    image = collection.frame(0, 4)
    assert image.shape == (3, 10, 10) and torch.allclose(image, torch.full_like(image, 4 / 6), atol=1 / 255)
    # pixel centre 10 is the first pixel of the box, 29 the last: normalised to -1 + 1/20 and 1 - 1/20
    assert torch.allclose(collection.keypoints(0, 4), torch.tensor([[-0.95, -0.95], [0.95, 0.95]]))
    sample = LabelledFrameDataset(collection)[3]
    assert sample["activity"] == 2 and sample["box"].tolist() == [10.0, 20.0, 30.0, 40.0]
    assert sample["visibility"].all()


def test_unlabelled_frames_are_letterboxed_and_clips_of_keypoints_boxed_around_them(tmp_path):
    frames = _frames(tmp_path, size=(40, 60))
    collection = ClipCollection([Clip(frames)], image_size=12)
    assert collection.box(0, 0).tolist() == [0.0, -10.0, 60.0, 50.0]
    posed = ClipCollection(
        [Clip(frames, None, torch.tensor([[[20.0, 10.0], [39.0, 29.0]]]).expand(6, 2, 2))], 12
    )
    x0, y0, x1, y1 = posed.box(0, 0).tolist()
    assert x1 - x0 == y1 - y0 == 24 and (x0 + x1) / 2 == 30 and (y0 + y1) / 2 == 20  # side 1.25 × 19
    keypoints, _ = posed.all_keypoints()
    assert keypoints.shape == (6, 2, 2) and keypoints.abs().max() < 1


def test_a_corrupt_training_frame_is_skipped_with_one_warning_naming_it(tmp_path):
    frames = list(_frames(tmp_path, count=4))
    frames[2].write_bytes(b"not a png")
    collection = ClipCollection([Clip(tuple(frames))], image_size=8)
    prior = PoseDataset(torch.zeros(3, 2, 2))
    pairs = FramePairDataset(collection, window=(0, 0))
    dataset = PairsWithPriorDataset(pairs, prior)
    with pytest.warns(UserWarning, match=r"skipping corrupt training sample 2: .*002\.png cannot be decoded"):
        samples = [dataset[i] for i in range(4)]
    assert samples[2] is None
    batch = collate_skipping(samples)
    assert batch["image"].shape == (3, 3, 8, 8)
    with pytest.raises(ValueError, match=r"002\.png"):
        PairsWithPriorDataset(pairs, prior, on_corrupt="raise")[2]
    with pytest.raises(RuntimeError, match="every sample of a training batch was corrupt"):
        collate_skipping([None, None])


def test_training_frames_get_colour_jitter_of_the_same_size(tmp_path):
    frames = _frames(tmp_path, count=2)
    plain = ClipCollection([Clip(frames)], image_size=8)
    jittered = ClipCollection([Clip(frames)], image_size=8, jitter=0.5)
    a, b = plain.frame(0, 1), jittered.frame(0, 1)
    assert a.shape == b.shape and not torch.allclose(a, b, atol=1e-3)


READ_EVERY_CLIP = """
import resource, sys
from pathlib import Path
from datamodules.clips import Clip, ClipCollection
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
clips = [Clip(path) for path in sorted(Path(sys.argv[1]).glob("*.mp4"))]
collection = ClipCollection(clips, image_size=8)
for video in range(collection.num_videos):
    assert collection.frame(video, 1).shape == (3, 8, 8)
print(collection.num_videos, len(collection._videos))
"""


@pytest.mark.slow
def test_a_thousand_clips_are_read_within_256_file_descriptors(tmp_path):
    """VoxCeleb2 has a million clips: a worker must not keep every one of them open."""
    for i in range(1000):
        write_video(tmp_path / f"{i:04d}.mp4", 2, 8, 8, seed=i)
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-c", READ_EVERY_CLIP, str(tmp_path)]
    run = subprocess.run(command, capture_output=True, text=True, cwd=root, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["1000", "32"]  # every clip read, at most 32 open at the end


def test_an_evicted_video_is_reopened_without_indexing_it_again(tmp_path, monkeypatch):
    import pickle

    from datamodules import clips as clips_module
    from kpbottleneck import video_io

    videos = [write_video(tmp_path / f"{name}.mp4", 8, 16, 16, seed=seed) for seed, name in enumerate("abc")]
    indexed = []
    index_video = video_io.index_video
    monkeypatch.setattr(video_io, "index_video", lambda path: indexed.append(path) or index_video(path))
    monkeypatch.setattr(clips_module, "MAX_OPEN_VIDEOS", 1)
    collection = ClipCollection([Clip(video) for video in videos], image_size=8)
    first = [collection.frame(v, 2) for v in (0, 1, 2)]  # each opening evicts the one before
    again = [collection.frame(v, 2) for v in (0, 1, 2, 0)]
    assert len(indexed) == 3 and len(collection._videos) == 1
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=False))
    worker = pickle.loads(pickle.dumps(collection))  # as a DataLoader worker receives it
    assert torch.equal(worker.frame(1, 5), collection.frame(1, 5)) and len(indexed) == 3
