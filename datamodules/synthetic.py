"""A procedural video data set of articulated figures: learn keypoints in minutes, with known ground truth.

Each video is a 2-D humanoid (the ``synthetic`` :class:`~kpbottleneck.skeletons.Skeleton`, 17 keypoints)
moving smoothly: ten joint angles (torso lean, head, both shoulders, elbows, hips and knees) follow
random sums of two sinusoids clipped to human-like limits, with per-video bone lengths, global scale,
translation and a small rotation. Frames are drawn as a camera could have taken them, not as skeleton
drawings: limbs are filled, anti-aliased capsules in per-video clothing, skin and shoe colours with a
striped texture, over a per-video textured background, with per-frame lighting changes and noise.

Everything is a pure function of ``(seed, video index, frame)``: frames are rendered on the fly (no
cache, identical in every worker and process), and the splits are disjoint ranges of video indices:

* ``train``: videos whose frames (images only) form the pairs (x, x′);
* ``prior``: other videos whose poses (never their images) form the unpaired prior — optionally from
  a shifted distribution (``prior_angle_scale``, ``prior_angle_offset``) to mimic a cross-data-set prior;
* ``val`` and ``test``: further videos with ground-truth keypoints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor
from torch.utils.data import Dataset

from datamodules.base import KeypointDataModule
from datamodules.poses import PoseDataset
from datamodules.video import FramePairDataset, LabelledFrameDataset
from kpbottleneck.coordinates import pixel_centre_grid
from kpbottleneck.rendering import squared_segment_distances
from kpbottleneck.skeletons import SYNTHETIC

# Joint angles (radians): name, lower limit, upper limit.
ANGLE_LIMITS = (
    ("torso_lean", -0.25, 0.25),
    ("head", -0.35, 0.35),
    ("right_shoulder", -0.3, 2.6),
    ("right_elbow", 0.0, 2.2),
    ("left_shoulder", -0.3, 2.6),
    ("left_elbow", 0.0, 2.2),
    ("right_hip", -0.35, 0.9),
    ("right_knee", 0.0, 1.4),
    ("left_hip", -0.35, 0.9),
    ("left_knee", 0.0, 1.4),
)
# Bone lengths at scale 1 (normalised image units).
BONES = {
    "torso": 0.42,
    "head": 0.2,
    "shoulder": 0.16,
    "hip": 0.09,
    "upper_arm": 0.26,
    "forearm": 0.24,
    "thigh": 0.34,
    "shin": 0.32,
    "foot": 0.1,
}


def _direction(angle: Tensor) -> Tensor:
    """Unit vectors ``(..., 2)`` at ``angle`` from straight down (image y grows downwards)."""
    return torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1)


def figure_keypoints(angles: Tensor, bones: dict[str, Tensor]) -> Tensor:
    """Forward kinematics: joint angles ``(T, 10)`` and bone lengths → keypoints ``(T, 17, 2)``, pelvis at 0.

    The figure faces the camera: its right side is on the image's left.
    """
    lean, head, r_sh, r_el, l_sh, l_el, r_hip, r_kn, l_hip, l_kn = angles.unbind(-1)
    pelvis = torch.zeros(*angles.shape[:-1], 2)
    up = _direction(lean + math.pi)
    across = torch.stack([torch.cos(lean), -torch.sin(lean)], dim=-1)  # towards the image's right
    neck = pelvis + bones["torso"] * up
    head_top = neck + bones["head"] * _direction(lean + head + math.pi)
    r_shoulder, l_shoulder = neck - bones["shoulder"] * across, neck + bones["shoulder"] * across
    r_elbow = r_shoulder + bones["upper_arm"] * _direction(lean - r_sh)
    r_wrist = r_elbow + bones["forearm"] * _direction(lean - r_sh - r_el)
    l_elbow = l_shoulder + bones["upper_arm"] * _direction(lean + l_sh)
    l_wrist = l_elbow + bones["forearm"] * _direction(lean + l_sh + l_el)
    r_hip_point, l_hip_point = pelvis - bones["hip"] * across, pelvis + bones["hip"] * across
    r_knee = r_hip_point + bones["thigh"] * _direction(lean - r_hip)
    r_ankle = r_knee + bones["shin"] * _direction(lean - r_hip + r_kn)
    r_toe = r_ankle + bones["foot"] * _direction(lean - r_hip + r_kn - 1.3)
    l_knee = l_hip_point + bones["thigh"] * _direction(lean + l_hip)
    l_ankle = l_knee + bones["shin"] * _direction(lean + l_hip - l_kn)
    l_toe = l_ankle + bones["foot"] * _direction(lean + l_hip - l_kn + 1.3)
    return torch.stack(
        [
            head_top,
            neck,
            r_shoulder,
            r_elbow,
            r_wrist,
            l_shoulder,
            l_elbow,
            l_wrist,
            pelvis,
            r_hip_point,
            r_knee,
            r_ankle,
            r_toe,
            l_hip_point,
            l_knee,
            l_ankle,
            l_toe,
        ],
        dim=-2,
    )


# Body parts drawn as capsules, back to front: (start, end, radius at scale 1, colour slot).
_PARTS = (
    (10, 11, 0.05, "trousers"),
    (11, 12, 0.03, "shoes"),
    (14, 15, 0.05, "trousers"),
    (15, 16, 0.03, "shoes"),
    (9, 10, 0.06, "trousers"),
    (13, 14, 0.06, "trousers"),
    (9, 13, 0.07, "trousers"),
    (1, 8, 0.11, "shirt"),
    (2, 5, 0.05, "shirt"),
    (1, 0, 0.085, "skin"),
    (2, 3, 0.045, "shirt"),
    (3, 4, 0.038, "skin"),
    (5, 6, 0.045, "shirt"),
    (6, 7, 0.038, "skin"),
)
_SLOTS = ("skin", "shirt", "trousers", "shoes")


class SyntheticVideos:
    """The videos ``first, ..., first + num_videos - 1`` of the procedural data set seeded ``seed``.

    Implements the (labelled) video-collection protocol of :mod:`datamodules.video`.
    """

    def __init__(
        self,
        first: int,
        num_videos: int,
        frames_per_video: int = 60,
        image_size: int = 64,
        seed: int = 0,
        angle_scale: float = 1.0,
        angle_offset: float = 0.0,
    ) -> None:
        if not 0 < frames_per_video < 2**20:
            raise ValueError(f"frames_per_video must be in [1, 2**20), got {frames_per_video}")
        self.first, self.num_videos, self.frames = first, num_videos, frames_per_video
        self.image_size, self.seed = image_size, seed
        self.angle_scale, self.angle_offset = angle_scale, angle_offset
        self._grid = pixel_centre_grid((image_size, image_size))
        self._cache: dict[int, dict[str, Tensor]] = {}

    def num_frames(self, video: int) -> int:
        return self.frames

    def video_seed(self, video: int) -> int:
        """Seed of everything random in video ``video`` of this collection: a function of the data set's
        ``seed`` and of the video's index in the whole data set (``first + video``), so that the splits,
        which are disjoint index ranges, never share a video's randomness."""
        return self.seed * 1_000_003 + self.first + video

    def noise_seed(self, video: int, t: int) -> int:
        """Seed of the pixel noise of frame ``t`` of ``video``: distinct for every (data set seed, video of
        the data set, frame) with fewer than 2**20 frames a video."""
        return self.video_seed(video) * 2**20 + t

    def _video(self, video: int) -> dict[str, Tensor]:
        """All per-video random quantities (poses of every frame, colours, background)."""
        if video in self._cache:
            return self._cache[video]
        if not 0 <= video < self.num_videos:
            raise IndexError(f"video {video} out of range [0, {self.num_videos})")
        gen = torch.Generator().manual_seed(self.video_seed(video))

        def rand(*shape: int, low: float = 0.0, high: float = 1.0) -> Tensor:
            return torch.rand(*shape, generator=gen) * (high - low) + low

        low = torch.tensor([lo for _, lo, _ in ANGLE_LIMITS])
        high = torch.tensor([hi for _, _, hi in ANGLE_LIMITS])
        centre, half = (low + high) / 2, (high - low) / 2
        t = torch.arange(self.frames, dtype=torch.float32)[:, None]
        base = centre + half * rand(10, low=-0.6, high=0.6)
        speed = rand(10, low=0.04, high=0.16)
        angles = (
            base
            + half * rand(10, low=0.2, high=0.8) * torch.sin(speed * t + rand(10, high=2 * math.pi))
            + half * rand(10, high=0.3) * torch.sin(2.1 * speed * t + rand(10, high=2 * math.pi))
        )
        angles = centre + self.angle_offset * half + self.angle_scale * (angles - centre)
        angles = torch.minimum(torch.maximum(angles, low), high)
        bones = {name: length * rand(1, low=0.9, high=1.1) for name, length in BONES.items()}
        scale = rand(1, low=0.8, high=0.95)
        rotation = rand(1, low=-0.15, high=0.15)
        shift = rand(2, low=-0.08, high=0.08) + torch.tensor([0.0, -0.02])
        drift = rand(2, low=-0.001, high=0.001)
        cos, sin = torch.cos(rotation), torch.sin(rotation)
        rotate = torch.stack([torch.cat([cos, -sin]), torch.cat([sin, cos])])
        body = figure_keypoints(angles, bones) - torch.tensor([0.0, 0.05])
        keypoints = scale * body @ rotate.T + shift + drift * t[:, None]
        colours = {slot: rand(3, low=0.1, high=0.95) for slot in _SLOTS}
        colours["skin"] = torch.tensor([0.95, 0.75, 0.6]) * rand(1, low=0.45, high=1.0)
        coarse = rand(3, 4, 4)  # low-frequency background colours
        background = torch.nn.functional.interpolate(
            coarse[None], size=(self.image_size, self.image_size), mode="bicubic", align_corners=False
        )[0]
        background = (0.3 + 0.45 * background).clamp(0, 1)  # muted, so the figure stands out
        direction = _direction(rand(1, high=math.pi))[0]
        stripes = torch.sin((self._grid @ direction) * rand(1, low=10.0, high=40.0).item())
        background = (background * (1 + 0.1 * stripes)).clamp(0, 1)
        texture_direction = _direction(rand(1, high=math.pi))[0]
        texture = 1 + 0.12 * torch.sin((self._grid @ texture_direction) * rand(1, low=30.0, high=80.0).item())
        data = {
            "keypoints": keypoints,
            "scale": scale,
            "background": background,
            "texture": texture,
            "lighting": rand(self.frames, low=0.85, high=1.15),
            **{f"colour_{slot}": colour for slot, colour in colours.items()},
        }
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[video] = data
        return data

    def keypoints(self, video: int, t: int) -> Tensor:
        """Ground-truth keypoints ``(17, 2)`` of frame ``t`` (normalised, docs/conventions.md)."""
        return self._video(video)["keypoints"][t]

    def all_keypoints(self) -> Tensor:
        """Keypoints of every frame of every video, ``(num_videos * frames, 17, 2)``."""
        return torch.cat([self._video(v)["keypoints"] for v in range(self.num_videos)])

    def frame(self, video: int, t: int) -> Tensor:
        """Image ``(3, H, W)`` in [0, 1] of frame ``t``.

        Each part's coverage is a sigmoid of its capsule's signed distance, the distance from the
        renderer's separable per-segment arithmetic
        (:func:`~kpbottleneck.rendering.squared_segment_distances`: half the time of a norm over a
        ``(parts, H, W, 2)`` residual, and the same value to a rounding)."""
        data = self._video(video)
        keypoints = data["keypoints"][t]
        starts, ends = keypoints[[p[0] for p in _PARTS]], keypoints[[p[1] for p in _PARTS]]
        distance = squared_segment_distances(self._grid, starts[None], ends[None])[0].sqrt_()  # (parts, H, W)
        radius = torch.tensor([p[2] for p in _PARTS])[:, None, None] * data["scale"]
        alpha = torch.sigmoid((radius - distance) * self.image_size)  # ~1 px anti-aliasing
        image = data["background"].clone()
        for index, (_, _, _, slot) in enumerate(_PARTS):
            colour = data[f"colour_{slot}"][:, None, None] * data["texture"]
            image = image + alpha[index] * (colour - image)
        noise_generator = torch.Generator().manual_seed(self.noise_seed(video, t))
        noise = torch.randn(image.shape, generator=noise_generator) * 0.02
        return (image * data["lighting"][t] + noise).clamp(0, 1)


class SyntheticDataModule(KeypointDataModule):
    """The built-in synthetic data set (see the module docstring).

    Args:
        image_size: side of the square frames (64 default, 128 supported).
        batch_size, num_workers: loader settings.
        num_train_videos, num_prior_videos, num_val_videos, num_test_videos: videos per split.
        frames_per_video: frames in each video.
        window: ``(min, max)`` frame distance between x and x′.
        max_prior_samples: cap the prior to this many poses (Table 5: 50 / 500 / 5000).
        prior_angle_scale, prior_angle_offset: shift the prior's pose distribution (1, 0: same as images).
        eval_frame_stride: use every n-th frame of the validation and test videos.
        prior_only: training batches of prior poses alone, for η's pre-training (see
            :class:`~datamodules.base.KeypointDataModule`).
        seed: seed of the whole data set.
    """

    def __init__(
        self,
        image_size: int = 64,
        batch_size: int = 16,
        num_workers: int | None = 0,
        num_train_videos: int = 200,
        num_prior_videos: int = 200,
        num_val_videos: int = 10,
        num_test_videos: int = 20,
        frames_per_video: int = 60,
        window: tuple[int, int] = (5, 30),
        max_prior_samples: int | None = None,
        prior_angle_scale: float = 1.0,
        prior_angle_offset: float = 0.0,
        eval_frame_stride: int = 6,
        prior_only: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(SYNTHETIC, image_size, batch_size, num_workers, prior_only=prior_only)
        self.save_hyperparameters()

    def _videos(self, split: str, **shift: float) -> SyntheticVideos:
        hp = self.hparams
        counts = {
            "train": hp.num_train_videos,
            "prior": hp.num_prior_videos,
            "val": hp.num_val_videos,
            "test": hp.num_test_videos,
        }
        first = 0
        for name, count in counts.items():
            if name == split:
                return SyntheticVideos(first, count, hp.frames_per_video, hp.image_size, hp.seed, **shift)
            first += count
        raise KeyError(split)

    def prior_dataset(self) -> PoseDataset:
        hp = self.hparams
        videos = self._videos("prior", angle_scale=hp.prior_angle_scale, angle_offset=hp.prior_angle_offset)
        return PoseDataset(videos.all_keypoints(), max_samples=hp.max_prior_samples, seed=hp.seed)

    def build_datasets(self, stage: str) -> Mapping[str, Dataset]:
        hp = self.hparams
        stride = hp.eval_frame_stride
        datasets: dict[str, Dataset] = {
            "val": LabelledFrameDataset(self._videos("val"), stride),
            "test": LabelledFrameDataset(self._videos("test"), stride),
        }
        if stage == "fit":
            datasets["pairs"] = FramePairDataset(self._videos("train"), tuple(hp.window))
            datasets["prior"] = self.prior_dataset()
        if stage == "test":  # labelled training frames, for the supervised post-processing only
            datasets["post_processing"] = LabelledFrameDataset(self._videos("train"), stride)
        return datasets
