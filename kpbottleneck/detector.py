"""KeypointDetector: the trained model for use — Φ, η, Ψ and β, without the training recipe.

Images go in, keypoints come out (``forward``, :meth:`~KeypointDetector.predict_keypoints`); keypoints and an
appearance frame go in, images come out (:meth:`~KeypointDetector.generate`, the paper's Figs. 9 and 10).
:class:`~kpbottleneck.KeypointGAN` holds one as ``model.detector`` and trains its networks;
:meth:`KeypointDetector.from_checkpoint` reads a KeypointGAN checkpoint's networks and architecture alone
(no VGG-19, no discriminator, no optimiser).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from kpbottleneck.acceleration import to_memory_format
from kpbottleneck.checkpoints import DETECTOR_NETWORKS, detector_weights, read_checkpoint
from kpbottleneck.contracts import LabelledBatch, MediaBatch
from kpbottleneck.coordinates import box_pixels_to_normalized, normalized_to_box_pixels
from kpbottleneck.inference import ImageLike, letterbox_batch, move_keypoints
from kpbottleneck.networks import ConditionalDecoder, HeatmapRegressor, PoseEncoder, check_image_size
from kpbottleneck.rendering import Falloff, SkeletonRenderer
from kpbottleneck.skeletons import Skeleton, get_skeleton


def check_input_size(images: Tensor, image_size: int) -> None:
    """A ``ValueError`` unless ``images`` are ``(..., image_size, image_size)``, saying which setting to
    change (a model fed another scale gives wrong keypoints without one). TorchScript-able, so that an
    exported detector keeps the check (:mod:`kpbottleneck.export`).

    Example:
        >>> check_input_size(torch.rand(1, 3, 32, 32), 32)  # nothing to say
    """
    if images.shape[-2] != image_size or images.shape[-1] != image_size:
        raise ValueError(
            "images of "
            + str(images.shape[-2])
            + "x"
            + str(images.shape[-1])
            + " pixels reach a keypoint detector of image_size "
            + str(image_size)
            + " (model.image_size="
            + str(image_size)
            + "): set data.init_args.image_size to "
            + str(image_size)
            + ", or resize (or letterbox) them"
        )


class KeypointEdit(NamedTuple):
    """Result of :meth:`KeypointDetector.edit_keypoints`."""

    keypoints: Tensor
    skeleton_image: Tensor
    image: Tensor


class KeypointDetector(nn.Module):
    """Φ (image → skeleton image), η (skeleton image → keypoints), β (keypoints → skeleton image) and Ψ
    (skeleton image + appearance frame → image) of one trained model.

    Convention: images ``(B, 3, S, S)`` in [0, 1] with ``S = image_size``; keypoints ``(B, K, 2)``
    normalised (x, y) in [-1, 1] (docs/conventions.md), in the order of ``skeleton.keypoint_names``; the
    ``predict_keypoints`` family takes images of any size and works in their pixels.

    Args are the architecture options of :class:`~kpbottleneck.KeypointGAN` of the same names;
    ``channels_last`` stores inputs in the channels-last layout (the networks' weights are converted by
    whoever sets it, e.g. ``KeypointGAN.configure_model``).

    Example:
        >>> detector = KeypointDetector("synthetic", 32, generator_channels=4, regressor_channels=4,
        ...                             unet_depth=2, regressor_depth=2)
        >>> detector(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 17, 2])
        >>> detector.predict_keypoints(torch.rand(3, 40, 60)).shape  # any size, pixel coordinates
        torch.Size([1, 17, 2])
    """

    def __init__(
        self,
        skeleton: str | Skeleton | Mapping[str, Any] = "synthetic",
        image_size: int = 64,
        sigma: float = 0.2,
        falloff: Falloff = "exponential",
        generator_channels: int = 32,
        regressor_channels: int = 32,
        unet_depth: int = 4,
        regressor_depth: int = 3,
        conditional: bool = True,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.skeleton = get_skeleton(skeleton)
        self.image_size = check_image_size(image_size, unet_depth)
        check_image_size(image_size, regressor_depth, "model.regressor_depth")
        self.conditional, self.channels_last = conditional, channels_last
        self.renderer = SkeletonRenderer(self.skeleton, image_size, sigma, falloff)
        self.encoder = PoseEncoder(3, generator_channels, unet_depth)
        self.regressor = HeatmapRegressor(self.skeleton.num_keypoints, regressor_channels, regressor_depth)
        self.decoder = ConditionalDecoder(conditional, generator_channels, unet_depth)

    @classmethod
    def from_hyperparameters(cls, hyperparameters: Mapping[str, Any]) -> KeypointDetector:
        """The detector of a KeypointGAN's hyper-parameters (its ``hparams`` or a checkpoint's
        ``hyper_parameters``); options they lack take this class's defaults."""
        names = set(inspect.signature(cls).parameters) - {"channels_last"}
        return cls(**{name: value for name, value in hyperparameters.items() if name in names})

    @classmethod
    def from_model(cls, model: nn.Module) -> KeypointDetector:
        """Deprecated (until 0.3): a KeypointGAN's detector is ``model.detector``; this returns it in eval
        mode, as the old ``kpbottleneck.export.KeypointDetector.from_model`` did."""
        warnings.warn(
            "KeypointDetector.from_model(model) is deprecated: use model.detector", DeprecationWarning, 2
        )
        detector = model.detector
        assert isinstance(detector, KeypointDetector)
        return detector.eval()

    @classmethod
    def from_checkpoint(cls, path: str | Path, map_location: str | torch.device = "cpu") -> KeypointDetector:
        """The detector of a :class:`~kpbottleneck.KeypointGAN` checkpoint, in eval mode: only the
        architecture's hyper-parameters and Φ, η, Ψ's weights are read (no VGG-19 is built, D's weights
        and the optimisers' state are skipped); the file may hold tensors and plain containers only."""
        checkpoint = read_checkpoint(path)
        if "state_dict" not in checkpoint or "hyper_parameters" not in checkpoint:
            raise ValueError(
                f"checkpoint {path} has no 'state_dict' and 'hyper_parameters': not a Lightning checkpoint"
            )
        detector = cls.from_hyperparameters(checkpoint["hyper_parameters"])
        state = detector_weights(checkpoint["state_dict"])
        missing = [key for key in detector.state_dict() if key not in state]
        if missing:
            raise ValueError(
                f"checkpoint {path}: its state_dict lacks the detector's weights {missing[:3]} "
                "(expected a KeypointGAN checkpoint)"
            )
        detector.load_state_dict({key: state[key] for key in detector.state_dict()})
        return detector.to(map_location).eval()

    # ------------------------------------------------------------------------------------ tensors in/out
    def check_images(self, images: Tensor) -> Tensor:
        """``images`` (in the detector's memory layout) if they are ``image_size`` square, else an error
        that says which setting to change (another scale would give wrong keypoints without one)."""
        check_input_size(images, self.image_size)
        return to_memory_format(images, self.channels_last)

    def forward(self, images: Tensor) -> Tensor:
        """Keypoints ``(B, K, 2)`` of images ``(B, 3, S, S)``."""
        return self.regressor(self.encoder(self.check_images(images)))

    def detect(self, images: Tensor) -> dict[str, Tensor]:
        """``keypoints`` ``(B, K, 2)`` and ``skeleton_image`` Φ(x) ``(B, 1, S, S)`` of images
        ``(B, 3, S, S)``."""
        skeleton_image = self.encoder(self.check_images(images))
        return {"keypoints": self.regressor(skeleton_image), "skeleton_image": skeleton_image}

    def generate(self, keypoints: Tensor, appearance_images: Tensor | None = None) -> Tensor:
        """Images ``(B, 3, S, S)`` in the pose ``keypoints (B, K, 2)`` with the look of
        ``appearance_images`` ``(B, 3, S, S)`` (ignored, and may be ``None``, when not ``conditional``)."""
        return self.decoder(self.renderer(keypoints), appearance_images if self.conditional else None)

    def example_input(self, batch_size: int = 1) -> Tensor:
        """Random images ``(batch_size, 3, S, S)`` on the detector's device (for tracing and export)."""
        parameter = next(self.parameters())
        return torch.rand(batch_size, 3, self.image_size, self.image_size, device=parameter.device)

    # ------------------------------------------------------------------------------------- applications
    def _inputs(self, images: ImageLike | Sequence[ImageLike]) -> tuple[Tensor, Tensor]:
        inputs, boxes = letterbox_batch(images, self.image_size)
        parameter = next(self.parameters())
        return inputs.to(parameter.device, parameter.dtype), boxes.to(parameter.device)

    @torch.no_grad()
    def predict_keypoints(self, images: ImageLike | Sequence[ImageLike], batch_size: int = 32) -> Tensor:
        """Keypoints ``(N, K, 2)`` in pixel coordinates (x, y) of each input image, centre of pixel ``i``
        at ``i``; order and names are ``self.skeleton.keypoint_names``.

        ``images``: a path, PIL image, NumPy array ``(H, W, 3)``, tensor ``(3, H, W)`` / ``(B, 3, H, W)``
        (uint8 or float in [0, 1]), or a list of them, of any size. Each is padded to a centred square and
        resized to ``image_size`` (:func:`~kpbottleneck.inference.letterbox`); the keypoints are mapped
        back exactly. The detector is put in eval mode.
        """
        self.eval()
        inputs, boxes = self._inputs(images)
        keypoints = torch.cat([self(chunk) for chunk in inputs.split(batch_size)])
        return normalized_to_box_pixels(keypoints, boxes).cpu()

    @torch.no_grad()
    def transfer_appearance(
        self, pose_images: ImageLike | Sequence[ImageLike], appearance_images: ImageLike | Sequence[ImageLike]
    ) -> Tensor:
        """Figure 9: images ``(N, 3, S, S)`` with the pose of ``pose_images`` and the look of
        ``appearance_images`` (N each, or one appearance for all)."""
        self.eval()
        poses, _ = self._inputs(pose_images)
        appearances, _ = self._inputs(appearance_images)
        return self.generate(self(poses), appearances.expand(poses.shape[0], -1, -1, -1)).clamp(0, 1)

    @torch.no_grad()
    def edit_keypoints(
        self,
        image: ImageLike,
        offsets: Mapping[str, tuple[float, float]],
        appearance_image: ImageLike | None = None,
    ) -> KeypointEdit:
        """Figure 10: detect the pose of ``image``, move named keypoints by ``offsets[name] = (dx, dy)``
        pixels of ``image``, and generate the edited pose with the look of ``appearance_image``
        (default: ``image`` itself).

        Returns the edited keypoints in pixels of ``image`` ``(1, K, 2)``, their skeleton image
        β ``(1, 1, S, S)`` and the generated image ``(1, 3, S, S)``.
        """
        self.eval()
        inputs, boxes = self._inputs(image)
        if inputs.shape[0] != 1:
            raise ValueError(f"edit_keypoints takes one image, got {inputs.shape[0]}")
        keypoints = move_keypoints(normalized_to_box_pixels(self(inputs), boxes), self.skeleton, offsets)
        normalized = box_pixels_to_normalized(keypoints, boxes)
        appearance = inputs if appearance_image is None else self._inputs(appearance_image)[0]
        generated = self.generate(normalized, appearance).clamp(0, 1)
        return KeypointEdit(keypoints.cpu(), self.renderer(normalized).cpu(), generated.cpu())


_DETECTOR_ATTRIBUTES = frozenset((*DETECTOR_NETWORKS, "renderer"))


def held_detector(module: nn.Module, user: str) -> KeypointDetector:
    """The :class:`KeypointDetector` that ``module`` holds as ``detector`` (as a KeypointGAN does); a
    ``TypeError`` naming ``user`` (the callback) if it holds none."""
    detector = getattr(module, "detector", None)
    if not isinstance(detector, KeypointDetector):
        raise TypeError(
            f"{user} needs a LightningModule with a `detector` (a KeypointDetector, as KeypointGAN has); "
            f"{type(module).__name__} has none"
        )
    return detector


class DetectorMethods(nn.Module):
    """The networks and uses of the :class:`KeypointDetector` a module holds as ``detector``, read through
    the module (``model.encoder``, ``model(images)``, ``model.predict_keypoints(...)``, Lightning's
    ``predict_step``): what a training recipe such as :class:`~kpbottleneck.KeypointGAN` offers its users
    without writing it again.

    Writing ``model.encoder = network`` (and ``regressor``, ``decoder``, ``renderer``) replaces the
    detector's network, since that is where the names read from. The uses that take images of any size put
    the module in eval mode.
    """

    detector: KeypointDetector

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _DETECTOR_ATTRIBUTES and "detector" in self._modules:
            setattr(self.detector, name, value)
        else:
            super().__setattr__(name, value)

    @property
    def encoder(self) -> PoseEncoder:
        """Φ (``detector.encoder``)."""
        return self.detector.encoder

    @property
    def regressor(self) -> HeatmapRegressor:
        """η (``detector.regressor``)."""
        return self.detector.regressor

    @property
    def decoder(self) -> ConditionalDecoder:
        """Ψ (``detector.decoder``)."""
        return self.detector.decoder

    @property
    def renderer(self) -> SkeletonRenderer:
        """β (``detector.renderer``)."""
        return self.detector.renderer

    @property
    def channels_last(self) -> bool:
        """Whether inputs are stored channels-last (``detector.channels_last``)."""
        return self.detector.channels_last

    @channels_last.setter
    def channels_last(self, value: bool) -> None:
        self.detector.channels_last = value

    def forward(self, images: Tensor) -> Tensor:
        """Keypoints ``(B, K, 2)`` of images ``(B, 3, S, S)`` (:meth:`KeypointDetector.forward`)."""
        return self.detector(images)

    def generate(self, keypoints: Tensor, appearance_images: Tensor | None = None) -> Tensor:
        """:meth:`KeypointDetector.generate`."""
        return self.detector.generate(keypoints, appearance_images)

    def predict_keypoints(self, images: ImageLike | Sequence[ImageLike], batch_size: int = 32) -> Tensor:
        """:meth:`KeypointDetector.predict_keypoints` (in pixels of each image)."""
        return self.eval().detector.predict_keypoints(images, batch_size)

    def transfer_appearance(
        self, pose_images: ImageLike | Sequence[ImageLike], appearance_images: ImageLike | Sequence[ImageLike]
    ) -> Tensor:
        """:meth:`KeypointDetector.transfer_appearance` (Figure 9)."""
        return self.eval().detector.transfer_appearance(pose_images, appearance_images)

    def edit_keypoints(
        self,
        image: ImageLike,
        offsets: Mapping[str, tuple[float, float]],
        appearance_image: ImageLike | None = None,
    ) -> KeypointEdit:
        """:meth:`KeypointDetector.edit_keypoints` (Figure 10)."""
        return self.eval().detector.edit_keypoints(image, offsets, appearance_image)

    def predict_step(
        self, batch: LabelledBatch | MediaBatch, batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, Tensor]:
        """``keypoints`` (normalised) and ``skeleton_image`` Φ(x) of the batch's ``image``; with its ``box``
        ``(B, 4)`` (letterbox or crop, :mod:`kpbottleneck.inference`) also ``pixel_keypoints`` of the
        originals."""
        prediction = self.detector.detect(batch["image"])
        if "box" in batch:
            prediction["pixel_keypoints"] = normalized_to_box_pixels(prediction["keypoints"], batch["box"])
        return prediction
