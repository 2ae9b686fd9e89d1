"""β, the differentiable skeleton renderer (eq. 2 of the paper).

``β(p)_u = f(min_{(i,j)∈E} d²(u, [p_i, p_j]))`` where ``d²`` is the squared distance from pixel centre
``u`` to the segment between keypoints ``p_i`` and ``p_j`` and ``f`` is a decreasing falloff:

* ``"gaussian"``: ``exp(-d² / σ²)``, the paper's eq. 2 with ``γ = 1 / σ²``;
* ``"exponential"``: ``exp(-sqrt(d² + 1e-6) / σ²)``, what the original implementation renders with.

DESIGN: ``"exponential"`` with ``σ = 0.2`` is the default because it is what the published numbers were
obtained with; it draws thin lines (1/e width ``σ² = 0.04`` in normalised units, 2.6 px at 128 px)
with long, heavy tails, whereas eq. 2 with the same σ draws lines about 5 times wider. The original
places pixel centres on ``linspace(-1, 1, size)``; we follow docs/conventions.md (``align_corners=False``
centres), a shift of half a pixel.

Memory: the min over edges is taken in chunks of edges with a running minimum (the same as a running
max of the falloff), and the backward pass recomputes the gradient from the winning edge of each pixel
alone, so neither pass ever holds more than ``(B, chunk, H, W)``; the saved state is ``O(B·H·W)``.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from kpbottleneck.coordinates import pixel_centre_grid
from kpbottleneck.skeletons import Skeleton, get_skeleton

Falloff = Literal["gaussian", "exponential"]

_SQRT_EPS = 1e-6
_LENGTH_EPS = 1e-12


def project_to_segments(points: Tensor, start: Tensor, end: Tensor) -> tuple[Tensor, Tensor]:
    """Closest point of segments ``[start, end]`` to ``points``, all broadcastable ``(..., 2)``.

    Returns the projection parameter ``t`` ``(...)`` in [0, 1] and the residual ``points - s``
    ``(..., 2)``, where ``s = start + t (end - start)``. A degenerate segment gives ``t = 0``.

    Example: above the middle of a segment, and beyond its end.
        >>> points = torch.tensor([[0.0, 1.0], [3.0, 0.0]])
        >>> project_to_segments(points, torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 0.0]))
        (tensor([0.5000, 1.0000]), tensor([[0., 1.],
                [2., 0.]]))
    """
    direction = end - start
    offset = points - start
    length2 = (direction * direction).sum(-1).clamp_min(_LENGTH_EPS)
    t = ((offset * direction).sum(-1) / length2).clamp(0.0, 1.0)
    return t, offset - t[..., None] * direction


def squared_segment_distances(grid: Tensor, start: Tensor, end: Tensor) -> Tensor:
    """``|residual|²`` of :func:`project_to_segments` for every pixel of ``grid`` ``(H, W, 2)`` (a
    :func:`~kpbottleneck.coordinates.pixel_centre_grid`) and every segment ``start``, ``end`` ``(B, c, 2)``:
    ``(B, c, H, W)``, one map per segment (not differentiable: :func:`segment_distance` is).

    The same arithmetic in the same order, so the same bits, but with the x and y parts kept apart: a
    pixel's x offset depends on its column only and its y offset on its row only, so the offsets are
    ``(B, c, 1, W)`` and ``(B, c, H, 1)``, and only three ``(B, c, H, W)`` tensors are allocated (the rest
    is done in place), none with a trailing dimension of 2. The residual is computed negated,
    ``t d - offset``: IEEE rounding is symmetric in sign, so its square has the same bits.

    Example: the pixel centres of a 2-high, 1-wide image, half a unit above and below a segment.
        >>> grid = pixel_centre_grid((2, 1))
        >>> squared_segment_distances(grid, torch.tensor([[[-0.5, 0.0]]]), torch.tensor([[[0.5, 0.0]]]))
        tensor([[[[0.2500],
                  [0.2500]]]])
    """
    direction = end - start
    length2 = (direction * direction).sum(-1).clamp_min(_LENGTH_EPS)[..., None, None]
    dx, dy = direction[..., 0, None, None], direction[..., 1, None, None]  # (B, c, 1, 1)
    offset_x = grid[0, :, 0] - start[..., 0, None, None]  # (B, c, 1, W)
    offset_y = grid[:, :1, 1] - start[..., 1, None, None]  # (B, c, H, 1)
    t = (offset_x * dx + offset_y * dy).div_(length2).clamp_(0.0, 1.0)
    negated_x = (t * dx).sub_(offset_x)
    negated_y = t.mul_(dy).sub_(offset_y)
    return negated_x.mul_(negated_x).add_(negated_y.mul_(negated_y))


class _SegmentDistance(torch.autograd.Function):
    """Squared distance from every pixel centre to the nearest skeleton segment, ``(B, H, W)``."""

    @staticmethod
    def forward(ctx: Any, keypoints: Tensor, edges: Tensor, grid: Tensor, chunk_size: int) -> Tensor:
        batch = keypoints.shape[0]
        height, width = grid.shape[:2]
        best = keypoints.new_full((batch, height, width), float("inf"))
        best_edge = torch.zeros((batch, height, width), dtype=torch.long, device=keypoints.device)
        for first in range(0, edges.shape[0], chunk_size):
            chunk = edges[first : first + chunk_size]
            distance, index = squared_segment_distances(
                grid, keypoints[:, chunk[:, 0]], keypoints[:, chunk[:, 1]]
            ).min(dim=1)
            closer = distance < best
            best = torch.where(closer, distance, best)
            best_edge = torch.where(closer, index + first, best_edge)
        ctx.save_for_backward(keypoints, edges, grid, best_edge)
        return best

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None, None, None]:
        keypoints, edges, grid, best_edge = ctx.saved_tensors
        # Each pixel's winning segment: indices (B, P) and end points (B, P, 2), P = H * W.
        winner = best_edge.flatten(1)
        start_index, end_index = edges[winner, 0], edges[winner, 1]
        start = torch.gather(keypoints, 1, start_index[..., None].expand(-1, -1, 2))
        end = torch.gather(keypoints, 1, end_index[..., None].expand(-1, -1, 2))
        t, residual = project_to_segments(grid.flatten(0, 1)[None], start, end)
        # t is either the stationary point of d²(t) or clamped (constant), so the total derivative
        # is the partial one: ∂d²/∂start = -2 (u - s)(1 - t), ∂d²/∂end = -2 (u - s) t.
        weight = -2.0 * grad_output.flatten(1)[..., None] * residual
        grad = torch.zeros_like(keypoints)
        grad.scatter_add_(1, start_index[..., None].expand(-1, -1, 2), weight * (1.0 - t)[..., None])
        grad.scatter_add_(1, end_index[..., None].expand(-1, -1, 2), weight * t[..., None])
        return grad, None, None, None


def segment_distance(keypoints: Tensor, edges: Tensor, size: tuple[int, int], chunk_size: int = 16) -> Tensor:
    """Squared distance from each pixel centre to the nearest edge segment.

    Args:
        keypoints: ``(B, K, 2)`` normalised (x, y) coordinates.
        edges: ``(E, 2)`` long tensor of keypoint index pairs, ``E >= 1``.
        size: output ``(H, W)``.
        chunk_size: number of edges reduced at once; bounds memory at ``(B, chunk_size, H, W)``.

    Returns:
        ``(B, H, W)`` squared distances in normalised units, differentiable w.r.t. ``keypoints``.

    Example: a horizontal segment through the middle of a 2-high, 1-wide image (pixel centres at y = ±0.5).
        >>> segment_distance(torch.tensor([[[-0.5, 0.0], [0.5, 0.0]]]), torch.tensor([[0, 1]]), (2, 1))
        tensor([[[0.2500],
                 [0.2500]]])
    """
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints must have shape (B, K, 2), got {tuple(keypoints.shape)}")
    edges = _checked_edges(edges, keypoints.shape[1]).to(keypoints.device)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    grid = pixel_centre_grid(size, device=keypoints.device, dtype=keypoints.dtype)
    return _SegmentDistance.apply(keypoints, edges, grid, chunk_size)


def _checked_edges(edges: Tensor, num_keypoints: int) -> Tensor:
    """``edges`` as a ``(E, 2)`` long tensor, checked to index ``num_keypoints`` keypoints (on the host:
    the check reads values, so :class:`SkeletonRenderer` runs it once, not at every call)."""
    edges = torch.as_tensor(edges, dtype=torch.long).reshape(-1, 2)
    if edges.numel() == 0:
        raise ValueError("edges is empty: a skeleton needs at least one edge to be rendered")
    if int(edges.min()) < 0 or int(edges.max()) >= num_keypoints:
        raise ValueError(f"edges index keypoints outside [0, {num_keypoints})")
    return edges


def apply_falloff(distance2: Tensor, sigma: float, falloff: Falloff) -> Tensor:
    """Turn squared distances into skeleton intensities in [0, 1].

    Example: on the line, and σ away from it (``"gaussian"``: 1/e).
        >>> apply_falloff(torch.tensor([0.0, 0.04]), 0.2, "gaussian")
        tensor([1.0000, 0.3679])
    """
    if falloff == "gaussian":
        return torch.exp(-distance2 / sigma**2)
    if falloff == "exponential":
        return torch.exp(-torch.sqrt(distance2 + _SQRT_EPS) / sigma**2)
    raise ValueError(f"Unknown falloff {falloff!r}; expected 'gaussian' or 'exponential'")


def render_skeleton(
    keypoints: Tensor,
    edges: Tensor,
    size: tuple[int, int],
    sigma: float = 0.2,
    falloff: Falloff = "exponential",
    chunk_size: int = 16,
) -> Tensor:
    """Render keypoints as a skeleton image (β of eq. 2).

    Args:
        keypoints: ``(B, K, 2)`` normalised (x, y) coordinates in [-1, 1].
        edges: ``(E, 2)`` keypoint index pairs drawn as segments.
        size: output ``(H, W)``.
        sigma: line width parameter σ (``γ = 1 / σ²``), in normalised units.
        falloff: ``"exponential"`` (original implementation, default) or ``"gaussian"`` (eq. 2).
        chunk_size: edges reduced at once.

    Returns:
        ``(B, 1, H, W)`` image in [0, 1], differentiable w.r.t. ``keypoints``.

    Example: the segment of :func:`segment_distance`'s example, with σ = 0.5 (d² = σ² at both pixels).
        >>> keypoints = torch.tensor([[[-0.5, 0.0], [0.5, 0.0]]])
        >>> render_skeleton(keypoints, torch.tensor([[0, 1]]), (2, 1), sigma=0.5, falloff="gaussian")
        tensor([[[[0.3679],
                  [0.3679]]]])
    """
    return apply_falloff(segment_distance(keypoints, edges, size, chunk_size), sigma, falloff)[:, None]


class SkeletonRenderer(nn.Module):
    """β for one skeleton and image size: ``(B, K, 2)`` keypoints → ``(B, 1, H, W)`` skeleton image.

    The edges are checked and the pixel grid is built once, here, so a call launches only the rendering
    itself (no host synchronisation, no allocation that could be kept).

    Example:
        >>> renderer = SkeletonRenderer("synthetic", 32)
        >>> image = renderer(torch.zeros(2, 17, 2))  # every keypoint at the centre: a dot
        >>> image.shape, round(float(image.max()), 2)  # nearest pixel centres √2/32 away: exp(-0.0442 / 0.2²)
        (torch.Size([2, 1, 32, 32]), 0.33)
    """

    edges: Tensor
    grid: Tensor

    def __init__(
        self,
        skeleton: str | Skeleton,
        size: int | tuple[int, int],
        sigma: float = 0.2,
        falloff: Falloff = "exponential",
        chunk_size: int = 16,
    ) -> None:
        super().__init__()
        self.skeleton = get_skeleton(skeleton)
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.sigma = sigma
        self.falloff = falloff
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.chunk_size = chunk_size
        apply_falloff(torch.zeros(1), sigma, falloff)  # validate the falloff name early
        edges = _checked_edges(self.skeleton.edge_tensor(), self.skeleton.num_keypoints)
        self.register_buffer("edges", edges, persistent=False)
        self.register_buffer("grid", pixel_centre_grid(self.size), persistent=False)

    def forward(self, keypoints: Tensor) -> Tensor:
        if keypoints.ndim != 3 or keypoints.shape[1:] != (self.skeleton.num_keypoints, 2):
            raise ValueError(
                f"SkeletonRenderer({self.skeleton.name!r}) expects keypoints (B, "
                f"{self.skeleton.num_keypoints}, 2), got {tuple(keypoints.shape)}"
            )
        grid = self.grid.to(keypoints.dtype)
        distance2 = _SegmentDistance.apply(keypoints, self.edges, grid, self.chunk_size)
        return apply_falloff(distance2, self.sigma, self.falloff)[:, None]

    def extra_repr(self) -> str:
        return (
            f"skeleton={self.skeleton.name!r}, size={self.size}, sigma={self.sigma}, falloff={self.falloff!r}"
        )
