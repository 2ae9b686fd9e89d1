"""The trained detector Φ→η as a standalone TorchScript or ONNX file, for deployment without Lightning.

The exported program takes images ``(B, 3, S, S)`` in [0, 1] (``S`` = the model's ``image_size``) and
returns keypoints ``(B, K, 2)`` normalised to [-1, 1] (docs/conventions.md); map them to pixels with
:func:`~kpbottleneck.coordinates.normalized_to_box_pixels` or ``((k + 1) · S − 1) / 2``. The batch size is
dynamic in both formats.

DESIGN: TorchScript by tracing (``torch.jit.trace``): the networks have no data-dependent control flow,
and scripting would have to type-check their error messages; only the input-size check is scripted
around the traced networks, so that the program keeps it. ONNX with the TorchScript-based exporter
(``dynamo=False``), which needs only the ``onnx`` package; the dynamo exporter would also need
``onnxscript``.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from kpbottleneck.keypoint_gan import KeypointGAN


class KeypointDetector(nn.Module):
    """Φ followed by η: images ``(B, 3, S, S)`` in [0, 1] → keypoints ``(B, K, 2)`` in [-1, 1]; images of
    another size are a ``ValueError`` (a detector fed another scale returns wrong keypoints silently)."""

    def __init__(self, encoder: nn.Module, regressor: nn.Module, image_size: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.regressor = regressor
        self.image_size = image_size

    @classmethod
    def from_model(cls, model: KeypointGAN) -> KeypointDetector:
        """The detector of a :class:`~kpbottleneck.KeypointGAN` (its own networks, in eval mode)."""
        return cls(model.encoder, model.regressor, model.hparams.image_size).eval()

    def forward(self, images: Tensor) -> Tensor:
        check_image_size(images, self.image_size)
        return self.regressor(self.encoder(images))

    def example_input(self, batch_size: int = 1) -> Tensor:
        parameter = next(self.parameters())
        return torch.rand(batch_size, 3, self.image_size, self.image_size, device=parameter.device)


def check_image_size(images: Tensor, image_size: int) -> None:
    """Raise a ``ValueError`` unless ``images`` are ``(..., image_size, image_size)`` (TorchScript-able)."""
    if images.shape[-2] != image_size or images.shape[-1] != image_size:
        raise ValueError(
            "images of "
            + str(images.shape[-2])
            + "x"
            + str(images.shape[-1])
            + " pixels reach a keypoint detector of image_size "
            + str(image_size)
            + ": resize (or letterbox) them to that size first"
        )


class _SizeChecked(nn.Module):
    """A traced detector behind the size check, which tracing alone would freeze into a constant."""

    def __init__(self, traced: nn.Module, image_size: int) -> None:
        super().__init__()
        self.traced = traced
        self.image_size = image_size

    def forward(self, images: Tensor) -> Tensor:
        check_image_size(images, self.image_size)
        return self.traced(images)


def export_torchscript(detector: KeypointDetector, path: str | Path) -> Path:
    """Trace ``detector`` and save it to ``path``; load it with ``torch.jit.load(path)``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the input-size checks become constants
        warnings.simplefilter("ignore", FutureWarning)  # torch ≥ 2.10 announces TorchScript's retirement
        traced = torch.jit.trace(detector.eval(), detector.example_input(2))
        scripted = torch.jit.script(_SizeChecked(traced, detector.image_size))
    scripted.save(str(path))
    return path


def export_onnx(detector: KeypointDetector, path: str | Path, opset_version: int = 17) -> Path:
    """Save ``detector`` as ONNX at ``path``: input ``images`` ``(batch, 3, S, S)``, output ``keypoints``
    ``(batch, K, 2)``; run it with e.g. ``onnxruntime.InferenceSession(path)``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and exporter deprecation notices
        torch.onnx.export(
            detector.eval(),
            (detector.example_input(2),),
            str(path),
            dynamo=False,
            input_names=["images"],
            output_names=["keypoints"],
            dynamic_axes={"images": {0: "batch"}, "keypoints": {0: "batch"}},
            opset_version=opset_version,
        )
    return path


def main(args: list[str] | None = None) -> None:
    """``python -m kpbottleneck.export CHECKPOINT [--torchscript FILE] [--onnx FILE]``."""
    parser = argparse.ArgumentParser(
        description="Export the keypoint detector Φ→η of a KeypointGAN checkpoint."
    )
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--torchscript", type=Path, help="write a traced TorchScript file here")
    parser.add_argument("--onnx", type=Path, help="write an ONNX file here")
    options = parser.parse_args(args)
    if options.torchscript is None and options.onnx is None:
        parser.error("give --torchscript and/or --onnx")
    if not options.checkpoint.is_file():
        parser.error(f"checkpoint {options.checkpoint} does not exist")
    detector = KeypointDetector.from_model(
        KeypointGAN.load_from_checkpoint(options.checkpoint, map_location="cpu")
    )
    for writer, target in ((export_torchscript, options.torchscript), (export_onnx, options.onnx)):
        if target is not None:
            print(writer(detector, target))


if __name__ == "__main__":
    main()
