import numpy as np
import onnxruntime
import pytest
import torch

from kpbottleneck import KeypointGAN
from kpbottleneck.export import export_onnx, export_torchscript, main


@pytest.fixture
def detector(tiny_gan_kwargs):
    return KeypointGAN(**tiny_gan_kwargs).detector.eval()


def test_detector_is_phi_then_eta(tiny_gan_kwargs):
    model = KeypointGAN(**tiny_gan_kwargs).eval()
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.detector(images), model.regressor(model.encoder(images)))


def test_torchscript_matches_pytorch_at_any_batch_size(tmp_path, detector):
    loaded = torch.jit.load(str(export_torchscript(detector, tmp_path / "detector.pt")))
    for batch in (1, 5):
        images = torch.rand(batch, 3, 32, 32)
        with torch.no_grad():
            assert torch.allclose(loaded(images), detector(images), atol=1e-5)


def test_onnx_runs_in_onnxruntime_like_pytorch(tmp_path, detector):
    session = onnxruntime.InferenceSession(str(export_onnx(detector, tmp_path / "detector.onnx")))
    assert [i.name for i in session.get_inputs()] == ["images"]
    for batch in (1, 3):
        images = torch.rand(batch, 3, 32, 32)
        (keypoints,) = session.run(["keypoints"], {"images": images.numpy()})
        with torch.no_grad():
            np.testing.assert_allclose(keypoints, detector(images).numpy(), atol=1e-5)
        assert keypoints.shape == (batch, 17, 2)


def test_command_line_exports_a_checkpoint(tmp_path, tiny_gan_kwargs, capsys):
    model = KeypointGAN(**tiny_gan_kwargs)
    checkpoint = tmp_path / "model.ckpt"
    torch.save(
        {
            "state_dict": model.state_dict(),
            "hyper_parameters": dict(model.hparams),
            "pytorch-lightning_version": "2.5.0",
        },
        checkpoint,
    )
    main([str(checkpoint), "--torchscript", str(tmp_path / "d.pt"), "--onnx", str(tmp_path / "d.onnx")])
    assert (tmp_path / "d.pt").is_file() and (tmp_path / "d.onnx").is_file()
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(torch.jit.load(str(tmp_path / "d.pt"))(images), model.eval()(images), atol=1e-5)
    with pytest.raises(SystemExit):
        main([str(tmp_path / "missing.ckpt"), "--onnx", str(tmp_path / "x.onnx")])
    assert "missing.ckpt does not exist" in capsys.readouterr().err


def test_images_of_another_size_are_a_clear_error_in_python_and_torchscript(tmp_path, detector):
    loaded = torch.jit.load(str(export_torchscript(detector, tmp_path / "detector.pt")))
    for program in (detector, loaded):
        with pytest.raises(
            Exception, match="images of 64x64 pixels reach a keypoint detector of image_size 32"
        ):
            program(torch.rand(1, 3, 64, 64))
