"""Can the data keep a training step fed? Frames per second of the training loader, raw (decoding the
sources) and prepared (:mod:`datamodules.prepared`), on files in the real formats at real sizes, with the
sequential decode rate of the same files as the reference; and, with ``--kind synthetic``, the built-in
synthetic loader.

    python benchmarks/data_speed.py                                 # every real kind, default sizes
    python benchmarks/data_speed.py --kind h36m --videos 3 --frames 1500
    python benchmarks/data_speed.py --kind synthetic --workers 0 1 2

Kinds (files written once to ``--workdir``, default ``outputs/data_speed``, and reused):

* ``h36m``: Human3.6M-like, ``--videos`` H.264 MP4s of 1000×1000 px and ``--frames`` frames at 50 fps, a
  key frame every 50 (long, full-resolution videos; fewer of them than the data set's ~600);
* ``voxceleb2``: VoxCeleb2-like, ``--clips`` H.264 MP4s of 224×224 px, 2 s at 25 fps (copies of 10 distinct
  clips: setup reads each file);
* ``jpeg``: a folder of JPEG frame folders (Penn Action-like: 640×480, ``--frames`` // 10 frames each).

Each is read through :class:`~datamodules.custom.VideoFolderDataModule` (the clip pipeline that every
video data module shares) at ``--image-size``, one loader process (``num_workers=0``), ``--batch-size``
pairs a batch. Prints one JSON line per kind with: ``setup_s`` (data module setup for ``fit``: every video
indexed), ``raw_frames_per_s`` and ``prepared_frames_per_s`` (training frames, two a pair), ``prepare_s``
and ``prepare_s_per_video_hour``, ``prepared_bytes``, ``sequential_decode_frames_per_s`` (PyAV decoding
the files in order to RGB, the reference), and for videos ``random_access_ms`` (``VideoReader.frame`` at
random frames) beside ``seek_and_decode_ms`` (PyAV seeking to the key frame before each and decoding up
to it: the least work random access needs), and their ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

from datamodules import SyntheticDataModule
from datamodules.custom import VideoFolderDataModule
from datamodules.prepare import prepare
from kpbottleneck.video_io import VideoReader

KINDS = ("h36m", "voxceleb2", "jpeg")


def _picture(t: int, height: int, width: int, seed: int) -> np.ndarray:
    """A smooth moving scene (compresses like footage, unlike noise)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = 0.05 * t + seed
    image = np.stack(
        [
            127 + 100 * np.sin(x / 37 + phase),
            127 + 100 * np.sin(y / 23 - phase),
            127 + 100 * np.sin((x + y) / 51 + 2 * phase),
        ],
        -1,
    )
    cx, cy = width * (0.5 + 0.3 * np.sin(phase)), height * (0.5 + 0.3 * np.cos(phase))
    image[(x - cx) ** 2 + (y - cy) ** 2 < (height / 8) ** 2] = 240
    return image.clip(0, 255).astype(np.uint8)


def write_h264(path: Path, frames: int, height: int, width: int, fps: int, gop: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.options = {"preset": "veryfast", "keyint_min": str(gop), "sc_threshold": "0"}
        for t in range(frames):
            picture = av.VideoFrame.from_ndarray(_picture(t, height, width, seed), format="rgb24")
            container.mux(stream.encode(picture))
        container.mux(stream.encode(None))


def make_files(kind: str, root: Path, args: argparse.Namespace) -> tuple[Path, float]:
    """The folder of videos (or frame folders) of ``kind`` under ``root``, and its hours of footage."""
    folder = root / kind / "videos"
    done = root / kind / "done.json"
    if done.is_file():
        return folder, json.loads(done.read_text())["hours"]
    shutil.rmtree(root / kind, ignore_errors=True)
    if kind == "h36m":
        for video in range(args.videos):
            write_h264(folder / f"S{video}.mp4", args.frames, 1000, 1000, 50, 50, video)
        hours = args.videos * args.frames / 50 / 3600
    elif kind == "voxceleb2":
        for clip in range(10):
            write_h264(folder / f"clip{clip:04d}.mp4", 50, 224, 224, 25, 25, clip)
        for clip in range(10, args.clips):
            shutil.copyfile(folder / f"clip{clip % 10:04d}.mp4", folder / f"clip{clip:04d}.mp4")
        hours = args.clips * 2 / 3600
    else:
        frames = max(args.frames // 10, 10)
        for video in range(args.videos):
            (folder / f"seq{video}").mkdir(parents=True)
            for t in range(frames):
                Image.fromarray(_picture(t, 480, 640, video)).save(
                    folder / f"seq{video}" / f"{t:05d}.jpg", quality=90
                )
        hours = args.videos * frames / 30 / 3600
    np.save(
        root / kind / "poses.npy",
        (100 + 50 * torch.rand(64, 17, 2, generator=torch.Generator().manual_seed(0))).numpy(),
    )
    done.write_text(json.dumps({"hours": hours}))
    return folder, hours


def training_frames_per_s(data: VideoFolderDataModule, batches: int) -> tuple[float, float]:
    """``(setup seconds, training frames per second)`` of the data module's loader in this process."""
    start = time.perf_counter()
    data.setup("fit")
    setup = time.perf_counter() - start
    loader = data.train_dataloader()
    batch_iterator = iter(loader)
    next(batch_iterator)
    start = time.perf_counter()
    for _ in range(batches):
        try:
            next(batch_iterator)
        except StopIteration:  # a small data set: another epoch
            batch_iterator = iter(loader)
            next(batch_iterator)
    return setup, 2 * data.batch_size * batches / (time.perf_counter() - start)


def sequential_decode_rate(files: list[Path], limit: int) -> float:
    count, start = 0, time.perf_counter()
    for file in files:
        with av.open(str(file)) as container:
            for frame in container.decode(video=0):
                frame.to_ndarray(format="rgb24")
                count += 1
                if count >= limit:
                    return count / (time.perf_counter() - start)
    return count / (time.perf_counter() - start)


def random_access(files: list[Path], samples: int) -> tuple[float, float]:
    """``(ms per frame through VideoReader, ms per frame of a bare seek + decode to it)``, same frames."""
    generator = torch.Generator().manual_seed(0)
    readers = [VideoReader(file) for file in files]
    picks = []
    for _ in range(samples):
        video = int(torch.randint(len(files), (), generator=generator))
        picks.append((video, int(torch.randint(readers[video].num_frames, (), generator=generator))))
    start = time.perf_counter()
    for video, t in picks:
        readers[video]._frames = None  # a fresh seek each time, as a shuffled loader does
        readers[video].frame(t)
    ours = (time.perf_counter() - start) / samples
    containers = [av.open(str(file)) for file in files]
    start = time.perf_counter()
    for video, t in picks:
        reader, container = readers[video], containers[video]
        position, timestamp = max(key for key in reader.index.key_frames if key[0] <= t)
        stream = container.streams.video[0]
        container.seek(timestamp or 0, stream=stream, backward=True)
        for count, frame in enumerate(container.decode(stream), position):
            if count == t:
                frame.to_ndarray(format="rgb24")
                break
    bare = (time.perf_counter() - start) / samples
    for container in containers:
        container.close()
    return 1000 * ours, 1000 * bare


def real_kind(kind: str, args: argparse.Namespace) -> dict:
    folder, hours = make_files(kind, Path(args.workdir), args)
    settings = {
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "num_workers": 0,
        "window": (5, 30),
    }
    poses = str(folder.parent / "poses.npy")
    raw = VideoFolderDataModule(str(folder), poses, "h36m17", **settings)
    setup, raw_rate = training_frames_per_s(raw, args.raw_batches)
    prepared_folder = folder.parent / f"prepared{args.image_size}"
    shutil.rmtree(prepared_folder, ignore_errors=True)
    start = time.perf_counter()
    prepare(VideoFolderDataModule(str(folder), poses, "h36m17", prepared=str(prepared_folder), **settings))
    prepare_s = time.perf_counter() - start
    fast = VideoFolderDataModule(str(folder), poses, "h36m17", prepared=str(prepared_folder), **settings)
    _, prepared_rate = training_frames_per_s(fast, args.prepared_batches)
    result = {
        "kind": kind,
        "sources": len(list(folder.iterdir())),
        "frames": len(raw.datasets["pairs"]),
        "hours_of_video": round(hours, 4),
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "setup_s": round(setup, 2),
        "raw_frames_per_s": round(raw_rate, 1),
        "prepare_s": round(prepare_s, 1),
        "prepare_s_per_video_hour": round(prepare_s / hours, 0),
        "prepared_bytes": sum(path.stat().st_size for path in prepared_folder.rglob("*") if path.is_file()),
        "prepared_frames_per_s": round(prepared_rate, 1),
        "prepared_over_raw": round(prepared_rate / raw_rate, 1),
    }
    if kind != "jpeg":
        files = sorted(folder.iterdir())[: args.random_videos]
        result["sequential_decode_frames_per_s"] = round(sequential_decode_rate(files, 600), 1)
        ours, bare = random_access(files, args.random_frames)
        result.update(random_access_ms=round(ours, 2), seek_and_decode_ms=round(bare, 2))
        result["random_access_over_seek_and_decode"] = round(ours / bare, 2)
    return result


def synthetic(args: argparse.Namespace) -> None:
    for workers in args.workers:
        data = SyntheticDataModule(image_size=64, batch_size=8, num_workers=workers)
        data.setup("fit")
        loader = iter(data.train_dataloader())
        next(loader)  # worker start-up is not steady-state speed
        start = time.perf_counter()
        for _ in range(args.prepared_batches):
            next(loader)
        rate = args.prepared_batches / (time.perf_counter() - start)
        print(
            json.dumps({"kind": "synthetic", "workers": workers, "batches_per_s": round(rate, 2)}), flush=True
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kind", choices=(*KINDS, "synthetic"), nargs="+", default=list(KINDS))
    parser.add_argument("--workdir", default="outputs/data_speed")
    parser.add_argument("--videos", type=int, default=3, help="h36m videos / jpeg folders")
    parser.add_argument("--frames", type=int, default=1500, help="frames of each h36m video")
    parser.add_argument("--clips", type=int, default=1000, help="voxceleb2 clips")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--raw-batches", type=int, default=5)
    parser.add_argument("--prepared-batches", type=int, default=50)
    parser.add_argument("--random-videos", type=int, default=3, help="videos of the random-access test")
    parser.add_argument("--random-frames", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[0], help="(synthetic) loader processes")
    args = parser.parse_args()
    torch.manual_seed(0)
    for kind in args.kind:
        if kind == "synthetic":
            synthetic(args)
        else:
            print(json.dumps(real_kind(kind, args)), flush=True)


if __name__ == "__main__":
    main()
