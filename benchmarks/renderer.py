"""Speed and memory of β (render_skeleton) against the naive all-edges-at-once autograd version.

    python benchmarks/renderer.py [--batch 16] [--size 128] [--edges 16 67] [--repeats 5]

Prints one JSON line per (implementation, edge count): forward+backward seconds (median) and the peak
memory of the autograd graph (bytes held by saved tensors, measured with saved-tensor hooks).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from kpbottleneck.coordinates import pixel_centre_grid
from kpbottleneck.rendering import apply_falloff, project_to_segments, render_skeleton


def naive_render(keypoints: torch.Tensor, edges: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    grid = pixel_centre_grid(size, keypoints.device, keypoints.dtype)
    start = keypoints[:, edges[:, 0], None, None, :]
    end = keypoints[:, edges[:, 1], None, None, :]
    _, residual = project_to_segments(grid, start, end)  # (B, E, H, W, 2): the whole skeleton at once
    return apply_falloff((residual * residual).sum(-1).amin(1), 0.2, "exponential")[:, None]


def measure(fn, keypoints, edges, size, repeats):
    saved = []

    def pack(tensor):
        saved.append(tensor.numel() * tensor.element_size())
        return tensor

    times = []
    for _ in range(repeats):
        saved.clear()
        points = keypoints.clone().requires_grad_()
        start = time.perf_counter()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            image = fn(points, edges, size)
        image.sum().backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times), sum(saved)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--edges", type=int, nargs="+", default=[16, 67])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    size = (args.size, args.size)
    for num_edges in args.edges:
        keypoints = torch.rand(args.batch, num_edges + 1, 2) * 1.6 - 0.8
        edges = torch.stack([torch.arange(num_edges), torch.arange(1, num_edges + 1)], dim=1)
        for name, fn in (("render_skeleton", render_skeleton), ("naive_all_edges", naive_render)):
            seconds, saved_bytes = measure(fn, keypoints, edges, size, args.repeats)
            print(
                json.dumps(
                    {
                        "implementation": name,
                        "batch": args.batch,
                        "size": args.size,
                        "edges": num_edges,
                        "forward_backward_s": round(seconds, 4),
                        "autograd_saved_bytes": saved_bytes,
                        "threads": torch.get_num_threads(),
                    }
                )
            )


if __name__ == "__main__":
    main()
