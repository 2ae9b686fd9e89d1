"""The trained detector Φ→η (:class:`~kpbottleneck.detector.KeypointDetector`) as a standalone TorchScript
or ONNX file, for deployment without Lightning.

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

from kpbottleneck.detector import KeypointDetector, check_input_size


class _SizeChecked(nn.Module):
    """A traced detector behind the size check, which tracing alone would freeze into a constant."""

    def __init__(self, traced: nn.Module, image_size: int) -> None:
        super().__init__()
        self.traced = traced
        self.image_size = image_size

    def forward(self, images: Tensor) -> Tensor:
        check_input_size(images, self.image_size)
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
    detector = KeypointDetector.from_checkpoint(options.checkpoint)
    for writer, target in ((export_torchscript, options.torchscript), (export_onnx, options.onnx)):
        if target is not None:
            print(writer(detector, target))


if __name__ == "__main__":
    main()
