import pytest
import torch

from kpbottleneck.image_shift import centre_images, random_shift


def _dot(size=8, at=(3, 4)):
    image = torch.zeros(1, 1, size, size)
    image[0, 0, at[0], at[1]] = 1.0
    return image


def test_whole_pixel_shifts_move_the_content_and_fill_zeros():
    generator = torch.Generator().manual_seed(0)
    draw = torch.rand(1, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = random_shift(_dot(), 0.25, generator)  # up to 2 px at 8 px
    dx, dy = (draw[0] * 0.25 * 8).tolist()
    ys, xs = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    mass = out[0, 0].sum()
    centre = ((out[0, 0] * xs).sum() / mass, (out[0, 0] * ys).sum() / mass)
    assert centre[0].item() == pytest.approx(4 + dx, abs=1e-4)
    assert centre[1].item() == pytest.approx(3 + dy, abs=1e-4)
    assert mass.item() == pytest.approx(1.0, abs=1e-5)  # moved, not lost: it stays inside the image


def test_each_image_gets_its_own_shift_within_the_bound():
    torch.manual_seed(0)
    images = _dot(16, (8, 8)).repeat(64, 1, 1, 1)
    out = random_shift(images, 0.125)  # up to 2 px at 16 px
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    mass = out.sum((1, 2, 3))
    dx = (out[:, 0] * xs).sum((1, 2)) / mass - 8
    dy = (out[:, 0] * ys).sum((1, 2)) / mass - 8
    assert dx.abs().max() <= 2 + 1e-4 and dy.abs().max() <= 2 + 1e-4
    assert dx.std() > 0.5 and dy.std() > 0.5  # spread over the range, one draw per image


def test_gradient_reaches_the_images():
    images = torch.rand(2, 1, 8, 8, requires_grad=True)
    random_shift(images, 0.1, torch.Generator().manual_seed(1)).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"images must be \(B, C, H, W\)"):
        random_shift(torch.rand(1, 8, 8), 0.1)
    with pytest.raises(ValueError, match=r"max_shift must be in \[0, 1\)"):
        random_shift(torch.rand(1, 1, 8, 8), 1.5)


def _centroids(images):
    ys, xs = torch.meshgrid(
        torch.arange(images.shape[2] * 1.0), torch.arange(images.shape[3] * 1.0), indexing="ij"
    )
    mass = images.sum((1, 2, 3))
    return (
        torch.stack([(images.sum(1) * xs).sum((1, 2)), (images.sum(1) * ys).sum((1, 2))], 1) / mass[:, None]
    )


def test_centring_puts_every_centroid_at_the_centre_and_keeps_the_shape():
    images = torch.zeros(2, 1, 16, 16)
    images[0, 0, 2:5, 3] = 1.0  # a vertical bar up and left
    images[1, 0, 10, 9:14] = 0.5  # a horizontal bar down and right
    out = centre_images(images)
    torch.testing.assert_close(_centroids(out), torch.full((2, 2), 7.5), atol=1e-4, rtol=0)
    torch.testing.assert_close(out.sum((1, 2, 3)), images.sum((1, 2, 3)))  # moved, not lost
    # the bars keep their shapes: the same spread about the centroid along each axis
    for image, centred in zip(images, out, strict=True):
        assert (centred[0].sum(0) > 1e-3).sum() == (image[0].sum(0) > 0).sum() + 1  # half-pixel shifts
        assert (centred[0].sum(1) > 1e-3).sum() >= (image[0].sum(1) > 0).sum()


def test_centring_is_differentiable_and_names_bad_shapes():
    images = torch.rand(2, 1, 8, 8, requires_grad=True)
    centre_images(images).square().sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"images must be \(B, C, H, W\)"):
        centre_images(torch.rand(8, 8))
