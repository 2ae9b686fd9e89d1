import math

import pytest
import torch

from kpbottleneck.coordinates import pixel_centre_grid
from kpbottleneck.rendering import (
    SkeletonRenderer,
    project_to_segments,
    render_skeleton,
    segment_distance,
    squared_segment_distances,
)
from kpbottleneck.skeletons import SYNTHETIC


def reference_render(keypoints, edges, size, sigma, falloff):
    """Plain per-pixel loops: the nearest point of every segment, then the falloff."""
    height, width = size
    out = torch.zeros(keypoints.shape[0], 1, height, width, dtype=torch.float64)
    for b in range(keypoints.shape[0]):
        for row in range(height):
            for col in range(width):
                ux, uy = (2 * col + 1) / width - 1, (2 * row + 1) / height - 1
                best = math.inf
                for i, j in edges:
                    ax, ay = keypoints[b, i].tolist()
                    bx, by = keypoints[b, j].tolist()
                    dx, dy = bx - ax, by - ay
                    length2 = dx * dx + dy * dy
                    t = (
                        0.0
                        if length2 == 0
                        else min(1.0, max(0.0, ((ux - ax) * dx + (uy - ay) * dy) / length2))
                    )
                    sx, sy = ax + t * dx, ay + t * dy
                    best = min(best, (ux - sx) ** 2 + (uy - sy) ** 2)
                if falloff == "gaussian":
                    out[b, 0, row, col] = math.exp(-best / sigma**2)
                else:
                    out[b, 0, row, col] = math.exp(-math.sqrt(best + 1e-6) / sigma**2)
    return out


@pytest.mark.parametrize("falloff", ["gaussian", "exponential"])
@pytest.mark.parametrize("chunk_size", [1, 2, 16])
def test_matches_per_pixel_reference(falloff, chunk_size):
    gen = torch.Generator().manual_seed(0)
    keypoints = torch.rand(2, 5, 2, generator=gen, dtype=torch.float64) * 1.6 - 0.8
    keypoints[1, 3] = keypoints[1, 4]  # coincident end points: a degenerate segment
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 0)]
    size = (7, 9)
    got = render_skeleton(
        keypoints, torch.tensor(edges), size, sigma=0.3, falloff=falloff, chunk_size=chunk_size
    )
    expected = reference_render(keypoints, edges, size, 0.3, falloff)
    assert got.shape == (2, 1, 7, 9)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_forward_has_the_bits_of_the_dense_projection(dtype):
    # The forward's separable x / y arithmetic must give exactly what project_to_segments gives on the
    # full (B, E, H, W, 2) grid (trained models depend on it bit for bit), degenerate segments included.
    gen = torch.Generator().manual_seed(3)
    keypoints = (torch.rand(3, 12, 2, generator=gen) * 2.4 - 1.2).to(dtype)
    keypoints[2, 5] = keypoints[2, 6]
    edges = torch.tensor([[i, i + 1] for i in range(11)] + [[4, 4], [0, 7]])
    size = (13, 17)
    grid = pixel_centre_grid(size, dtype=dtype)
    _, residual = project_to_segments(
        grid, keypoints[:, edges[:, 0], None, None], keypoints[:, edges[:, 1], None, None]
    )
    expected = (residual * residual).sum(-1).amin(1)
    got = segment_distance(keypoints, edges, size, chunk_size=5)
    assert got.dtype == dtype
    assert torch.equal(got, expected)


def test_squared_segment_distances_are_each_segments_dense_projection_bit_for_bit():
    gen = torch.Generator().manual_seed(4)
    start, end = (torch.rand(2, 5, 2, generator=gen) * 2 - 1 for _ in range(2))
    end[1, 3] = start[1, 3]  # a degenerate segment: the distance to its point
    grid = pixel_centre_grid((6, 11))
    _, residual = project_to_segments(grid, start[:, :, None, None], end[:, :, None, None])
    got = squared_segment_distances(grid, start, end)
    assert got.shape == (2, 5, 6, 11)
    assert torch.equal(got, (residual * residual).sum(-1))
    torch.testing.assert_close(got[1, 3], ((grid - start[1, 3]) ** 2).sum(-1))


def test_hand_computed_pixel():
    # One horizontal segment from (-1, 0) to (1, 0) in a 2x2 image: pixel centres at (±0.5, ±0.5),
    # each at distance 0.5 from the segment.
    keypoints = torch.tensor([[[-1.0, 0.0], [1.0, 0.0]]])
    image = render_skeleton(keypoints, torch.tensor([[0, 1]]), (2, 2), sigma=0.5, falloff="gaussian")
    torch.testing.assert_close(image, torch.full((1, 1, 2, 2), math.exp(-0.25 / 0.25)))


@pytest.mark.parametrize("falloff", ["gaussian", "exponential"])
def test_gradcheck(falloff):
    gen = torch.Generator().manual_seed(1)
    keypoints = (torch.rand(2, 4, 2, generator=gen, dtype=torch.float64) * 1.4 - 0.7).requires_grad_()
    edges = torch.tensor([[0, 1], [1, 2], [2, 3], [3, 0]])
    fn = lambda p: render_skeleton(p, edges, (6, 5), sigma=0.5, falloff=falloff, chunk_size=3)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (keypoints,), eps=1e-6, atol=1e-5)


def test_degenerate_edges_have_finite_gradients():
    keypoints = torch.zeros(1, 3, 2, requires_grad=True)  # every point coincident
    edges = torch.tensor([[0, 0], [0, 1], [1, 2]])
    image = render_skeleton(keypoints, edges, (8, 8))
    image.sum().backward()
    assert torch.isfinite(image).all()
    assert torch.isfinite(keypoints.grad).all()


def test_output_range_and_peak_on_segment():
    keypoints = torch.tensor([[[-0.5, 0.0625], [0.5, 0.0625]]])  # on the row of pixel centres 8 of 16
    image = render_skeleton(keypoints, torch.tensor([[0, 1]]), (16, 16))
    assert image.min() >= 0 and image.max() <= 1
    assert image[0, 0, 8].argmax() >= 4 and image[0, 0].amax(dim=1).argmax() == 8


def test_chunking_bounds_memory():
    # Many edges: the forward must not allocate a (B, E, H, W) tensor.
    keypoints = torch.rand(1, 200, 2) * 2 - 1
    edges = torch.stack([torch.arange(199), torch.arange(1, 200)], dim=1)
    allocated = []
    original = torch.Tensor.min

    def spy(self, *args, **kwargs):
        allocated.append(self.numel())
        return original(self, *args, **kwargs)

    torch.Tensor.min = spy
    try:
        segment_distance(keypoints, edges, (32, 32), chunk_size=8)
    finally:
        torch.Tensor.min = original
    assert max(allocated) <= 8 * 32 * 32


def test_renderer_module_validates_keypoint_count():
    renderer = SkeletonRenderer("synthetic", 32)
    assert renderer(torch.zeros(3, SYNTHETIC.num_keypoints, 2)).shape == (3, 1, 32, 32)
    with pytest.raises(ValueError, match=r"expects keypoints \(B, 17, 2\)"):
        renderer(torch.zeros(3, 5, 2))
    with pytest.raises(ValueError, match="Unknown falloff"):
        SkeletonRenderer("synthetic", 32, falloff="box")
