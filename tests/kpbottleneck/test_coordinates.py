import torch

from kpbottleneck.coordinates import (
    normalized_to_pixels,
    normalized_to_unit,
    pixel_centre_grid,
    pixels_to_normalized,
)


def test_pixel_centres_map_like_grid_sample():
    # Pixel centre i of a W-wide image sits at (2i + 1) / W - 1 (align_corners=False).
    pixels = torch.tensor([[0.0, 0.0], [3.0, 1.0]])
    torch.testing.assert_close(
        pixels_to_normalized(pixels, (2, 4)), torch.tensor([[-0.75, -0.5], [0.75, 0.5]])
    )


def test_round_trip():
    points = torch.rand(3, 5, 2) * 100
    torch.testing.assert_close(
        normalized_to_pixels(pixels_to_normalized(points, (120, 80)), (120, 80)), points
    )


def test_grid_samples_the_pixel_it_names():
    image = torch.arange(12.0).view(1, 1, 3, 4)
    grid = pixel_centre_grid((3, 4))
    sampled = torch.nn.functional.grid_sample(image, grid[None], align_corners=False)
    torch.testing.assert_close(sampled, image)


def test_unit():
    torch.testing.assert_close(
        normalized_to_unit(torch.tensor([-1.0, 0.0, 1.0])), torch.tensor([0.0, 0.5, 1.0])
    )
