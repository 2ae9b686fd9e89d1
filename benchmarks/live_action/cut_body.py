"""The live-action body clip: walkers cut out of OpenCV's ``vtest.avi``, one person per track, run offline.

    # the sdist as PyPI serves it (``pip download --no-binary`` tries to build it first)
    curl -LO https://files.pythonhosted.org/packages/24/a2/97d6867da049747d3cd39ddddbe31d421eec42a2f4edadd2e20d5a84b1da/opencv_python-5.1.0.95.tar.gz
    python benchmarks/live_action/cut_body.py --sdist opencv_python-5.1.0.95.tar.gz

``vtest.avi`` (``opencv/samples/data/`` in the opencv-python 5.1.0.95 sdist, whose sha256 this script
checks) is a fixed camera over a campus path: 795 frames of 768×576 at 10 fps, a dozen pedestrians 60–140 px
tall. A pose estimator cannot label them in the whole frame, and KeypointGAN, like the paper on Human3.6M,
learns from person crops; so this script finds the walkers and cuts one square box per frame around each:

1. foreground by background subtraction (OpenCV's MOG2: the camera does not move), opened and closed, its
   connected parts kept where they are shaped like a standing person (35–160 px tall, taller than 1.4×
   their width, over 300 px);
2. tracks by linking each part to the nearest part of the frames before (centre within 30 px, height within
   0.7–1.4×, gaps up to 3 frames); the ``--tracks`` longest are kept (by hand they are each one person for
   most of their length; where two walkers cross, a track may change person: the labels follow whoever
   the pose estimator finds);
3. per frame of a track, a square of 1.5× the person's height (heights smoothed over 13 frames, centres
   over 5) centred on the person, moved inside the frame, resized to ``--side`` pixels: the person's box as
   data sets give it;
4. each track cut to a whole number of ``--block-frames`` (the benchmark deals the footage out in blocks:
   no block holds two tracks) and the tracks written one after the other into one clip.

Output: ``clips/vtest_walkers.mp4`` (H.264, ``--side``², 10 fps) and, on standard output, its frame count,
each track's frames in ``vtest.avi`` and the file's sha256 for ``clips.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import tarfile
from pathlib import Path

import av
import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
SDIST_SHA256 = "3d4a901a458e9503c92610f237850cfc970c66b3f1cc94f45f2942715280ebab"
MEMBER = "opencv_python-5.1.0.95/opencv/samples/data/vtest.avi"

Box = tuple[int, int, int, int]  # x, y, width, height in pixels


def read_frames(sdist: Path) -> list[np.ndarray]:
    """``vtest.avi``'s RGB frames ``(H, W, 3)``, read from inside the sdist after checking its sha256."""
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise ValueError(f"{sdist}: sha256 {digest}, expected opencv-python 5.1.0.95's {SDIST_SHA256}")
    with tarfile.open(sdist) as archive:
        member = archive.extractfile(MEMBER)
        if member is None:
            raise ValueError(f"{sdist}: no file {MEMBER}")
        data = io.BytesIO(member.read())
    with av.open(data) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def person_boxes(frames: list[np.ndarray]) -> list[list[Box]]:
    """Per frame, the foreground parts shaped like a standing person (step 1 of the module docstring)."""
    subtractor = cv2.createBackgroundSubtractorMOG2(history=200, varThreshold=25, detectShadows=True)
    for frame in frames:  # learn the background from the whole clip first
        subtractor.apply(frame[..., ::-1], learningRate=0.01)
    opening = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    closing = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 15))
    boxes = []
    for frame in frames:
        foreground = (subtractor.apply(frame[..., ::-1], learningRate=0.005) == 255).astype(np.uint8)
        foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, opening)
        foreground = cv2.morphologyEx(foreground, cv2.MORPH_CLOSE, closing)
        count, _, stats, _ = cv2.connectedComponentsWithStats(foreground)
        boxes.append(
            [
                (int(x), int(y), int(w), int(h))
                for x, y, w, h, area in stats[1:count]
                if 35 <= h <= 160 and h > 1.4 * w and area > 300
            ]
        )
    return boxes


def link_tracks(boxes: list[list[Box]], max_gap: int = 3) -> list[list[tuple[int, Box]]]:
    """Tracks ``[(frame, box), ...]``, longest first (step 2 of the module docstring)."""
    tracks: list[list[tuple[int, Box]]] = []
    active: list[list[tuple[int, Box]]] = []
    for t, candidates in enumerate(boxes):
        taken: set[int] = set()
        for track in sorted(active, key=len, reverse=True):
            last_t, (x, y, w, h) = track[-1]
            if t - last_t > max_gap:
                continue
            centre = np.array([x + w / 2, y + h / 2])
            best, best_distance = None, 30.0
            for i, (x2, y2, w2, h2) in enumerate(candidates):
                distance = float(np.linalg.norm(np.array([x2 + w2 / 2, y2 + h2 / 2]) - centre))
                if i not in taken and distance < best_distance and 0.7 < h2 / h < 1.4:
                    best, best_distance = i, distance
            if best is not None:
                taken.add(best)
                track.append((t, candidates[best]))
        for i, box in enumerate(candidates):
            if i not in taken:
                tracks.append([(t, box)])
                active.append(tracks[-1])
        active = [track for track in active if t - track[-1][0] <= max_gap]
    return sorted(tracks, key=len, reverse=True)


def moving_median(values: np.ndarray, radius: int) -> np.ndarray:
    """The median of each value's window of ``radius`` values either side (fewer at the ends).

    Example:
        >>> moving_median(np.array([1.0, 9.0, 2.0, 3.0]), 1).tolist()
        [5.0, 2.0, 3.0, 2.5]
    """
    return np.array([np.median(values[max(0, i - radius) : i + radius + 1]) for i in range(len(values))])


def track_crops(
    frames: list[np.ndarray], track: list[tuple[int, Box]], side: int, block_frames: int
) -> tuple[list[np.ndarray], range]:
    """The track's person crops ``(side, side, 3)`` (steps 3 and 4) and the frames of ``vtest.avi`` they
    come from; gaps in the track are filled by interpolating its boxes."""
    found = np.array([t for t, _ in track])
    boxes = np.array([box for _, box in track], dtype=np.float64)
    frames_used = range(found[0], found[0] + (found[-1] + 1 - found[0]) // block_frames * block_frames)
    times = np.arange(frames_used.start, frames_used.stop)
    centre_x = moving_median(np.interp(times, found, boxes[:, 0] + boxes[:, 2] / 2), 2)
    centre_y = moving_median(np.interp(times, found, boxes[:, 1] + boxes[:, 3] / 2), 2)
    box_side = 1.5 * moving_median(np.interp(times, found, boxes[:, 3]), 6)
    height, width = frames[0].shape[:2]
    crops = []
    for t, cx, cy, s in zip(times, centre_x, centre_y, box_side, strict=True):
        s = min(s, height)
        x0 = min(max(cx - s / 2, 0), width - s)
        y0 = min(max(cy - s / 2, 0), height - s)
        # the square [x0, x0 + s) x [y0, y0 + s) resampled to side x side (pixel centres at +0.5)
        scale = s / side
        matrix = np.array([[scale, 0, x0 + 0.5 * scale - 0.5], [0, scale, y0 + 0.5 * scale - 0.5]])
        crops.append(
            cv2.warpAffine(frames[t], matrix, (side, side), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        )
    return crops, frames_used


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> None:
    """H.264 at constant quality 12 (near lossless for footage already MPEG-4 compressed)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "12", "preset": "slow"})
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sdist", type=Path, required=True, help="opencv_python-5.1.0.95.tar.gz")
    parser.add_argument("--tracks", type=int, default=8, help="how many of the longest tracks to keep")
    parser.add_argument("--side", type=int, default=128, help="the crops' side in pixels")
    parser.add_argument("--block-frames", type=int, default=10, help="the benchmark's block (clips.json)")
    parser.add_argument("--out", type=Path, default=HERE / "clips" / "vtest_walkers.mp4")
    args = parser.parse_args()
    frames = read_frames(args.sdist)
    clip: list[np.ndarray] = []
    for track in link_tracks(person_boxes(frames))[: args.tracks]:
        crops, frames_used = track_crops(frames, track, args.side, args.block_frames)
        print(f"track: vtest.avi frames {frames_used.start}-{frames_used.stop - 1} → clip frames "
              f"{len(clip)}-{len(clip) + len(crops) - 1}")  # fmt: skip
        clip += crops
    write_video(args.out, clip)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"{args.out}: {len(clip)} frames, {args.side}x{args.side}, sha256 {digest}")


if __name__ == "__main__":
    main()
