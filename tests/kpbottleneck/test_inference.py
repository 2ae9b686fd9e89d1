import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.utils import save_image

from kpbottleneck.coordinates import box_pixels_to_normalized, normalized_to_box_pixels, pixels_to_normalized
from kpbottleneck.inference import (
    as_image_tensors,
    crop_to_box,
    letterbox,
    letterbox_batch,
    move_keypoints,
    read_image,
)
from kpbottleneck.skeletons import SYNTHETIC


def test_letterbox_pads_to_a_centred_square_and_maps_pixels_back_exactly():
    image = torch.zeros(3, 50, 100)
    image[:, 20, 30] = 1.0  # pixel (x=30, y=20)
    square, box = letterbox(image, 100)  # no resize: the pixel moves by the top padding only
    assert square.shape == (3, 100, 100)
    assert box.tolist() == [0.0, -25.0, 100.0, 75.0]
    assert square[0, 45, 30] == 1.0 and square.sum() == 3.0
    found = pixels_to_normalized(torch.tensor([[[30.0, 45.0]]]), (100, 100))
    assert torch.allclose(normalized_to_box_pixels(found, box[None]), torch.tensor([[[30.0, 20.0]]]))


def test_letterbox_resize_keeps_the_centre_of_mass_where_the_box_says():
    image = torch.zeros(3, 90, 60)
    ys, xs = torch.meshgrid(torch.arange(90.0), torch.arange(60.0), indexing="ij")
    image[:] = torch.exp(-((xs - 41.0) ** 2 + (ys - 27.0) ** 2) / 20.0)
    square, box = letterbox(image, 30)
    weights = square[0] / square[0].sum()
    grid = torch.stack(torch.meshgrid(torch.arange(30.0), torch.arange(30.0), indexing="xy"), -1)
    centre = (weights[..., None] * grid).sum((0, 1))
    normalized = pixels_to_normalized(centre[None, None], (30, 30))
    assert torch.allclose(
        normalized_to_box_pixels(normalized, box[None])[0, 0], torch.tensor([41.0, 27.0]), atol=0.2
    )


def test_box_mapping_round_trip():
    boxes = torch.tensor([[-10.0, 5.0, 90.0, 105.0], [0.0, 0.0, 64.0, 64.0]])
    pixels = torch.rand(2, 7, 2) * 80
    assert torch.allclose(
        normalized_to_box_pixels(box_pixels_to_normalized(pixels, boxes), boxes), pixels, atol=1e-5
    )


def test_every_image_kind_gives_the_same_tensor(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    expected = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
    Image.fromarray(pixels).save(tmp_path / "image.png")
    kinds = [
        pixels,
        pixels.astype(np.float32) / 255,
        Image.fromarray(pixels),
        tmp_path / "image.png",
        str(tmp_path / "image.png"),
        expected,
        (expected * 255).round().to(torch.uint8),
    ]
    for kind in kinds:
        (tensor,) = as_image_tensors(kind)
        assert torch.allclose(tensor, expected, atol=1e-6), type(kind)
    assert len(as_image_tensors(expected[None].expand(3, -1, -1, -1))) == 3
    assert len(as_image_tensors([pixels, tmp_path / "image.png"])) == 2
    inputs, boxes = letterbox_batch([pixels, expected[:, :10]], 16)
    assert inputs.shape == (2, 3, 16, 16) and boxes.shape == (2, 4)


def test_bad_images_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing.png"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=r"broken.jpg cannot be decoded"):
        read_image(tmp_path / "broken.jpg")
    with pytest.raises(ValueError, match=r"\(H, W, 3\|4\)"):
        as_image_tensors(np.zeros((4, 4, 5)))
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        as_image_tensors(torch.zeros(4, 8, 8))
    with pytest.raises(TypeError, match="non-empty list"):
        as_image_tensors([])


def test_save_image_round_trip_through_read_image(tmp_path):
    image = torch.rand(3, 9, 13)
    save_image(image, tmp_path / "x.png")
    assert torch.allclose(read_image(tmp_path / "x.png"), image, atol=1 / 255)


def test_move_keypoints_moves_only_the_named_ones():
    keypoints = torch.zeros(2, SYNTHETIC.num_keypoints, 2)
    moved = move_keypoints(keypoints, SYNTHETIC, {"left_wrist": (3.0, -1.0)})
    index = SYNTHETIC.index("left_wrist")
    assert moved[:, index].tolist() == [[3.0, -1.0], [3.0, -1.0]]
    assert moved.abs().sum() == 8.0 and keypoints.abs().sum() == 0
    with pytest.raises(KeyError, match=r"left_wing.*head_top"):
        move_keypoints(keypoints, SYNTHETIC, {"left_wing": (1.0, 0.0)})


def test_crop_to_box_pads_what_lies_outside_the_image_black():
    image = torch.arange(1.0, 73.0).reshape(3, 4, 6) / 72  # every pixel its own value
    crop = crop_to_box(image, torch.tensor([-2.0, -1.0, 2.0, 3.0]), 4)  # 4 px: no resampling
    expected = torch.zeros(3, 4, 4)
    expected[:, 1:, 2:] = image[:, :3, :2]  # 2 columns left of the image and 1 row above it are black
    assert torch.equal(crop, expected)
    inside = crop_to_box(image, torch.tensor([2.0, 0.0, 6.0, 4.0]), 4)
    assert torch.equal(inside, image[:, :, 2:])
    assert torch.equal(crop_to_box(image, torch.tensor([10.0, 10.0, 14.0, 14.0]), 4), torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match=r"must be a non-empty square"):
        crop_to_box(image, torch.tensor([0.0, 0.0, 4.0, 3.0]), 4)
