import torch

from kpbottleneck.skeletons import Skeleton, get_skeleton
from kpbottleneck.visualization import SIDE_COLOURS, draw_skeleton, edge_sides, keypoint_grid

LINE = Skeleton("line", ("left_hand", "right_hand", "middle"), ((0, 2), (2, 1)), flip_pairs=((0, 1),))


def test_edges_are_grouped_by_body_side():
    sides = edge_sides(get_skeleton("synthetic"))
    names = get_skeleton("synthetic").keypoint_names
    assert sides["left"] and sides["right"] and sides["centre"]
    for i, j in sides["left"]:
        assert "left" in names[i] or "left" in names[j]
    for i, j in sides["right"]:
        assert "right" in names[i] or "right" in names[j]
    assert sum(map(len, sides.values())) == len(get_skeleton("synthetic").edges)


def test_lines_take_their_side_colour_and_leave_the_rest_alone():
    image = torch.zeros(1, 3, 32, 32)
    # left hand at x = 4 px, middle at 16 px, right hand at 28 px, all on row 16 (pixel centres)
    keypoints = torch.tensor([[[4.5, 16.5], [28.5, 16.5], [16.5, 16.5]]]) / 16 - 1
    drawn = draw_skeleton(image, keypoints, LINE, scale=1)
    assert drawn.shape == (1, 3, 32, 32)
    blue, red = torch.tensor(SIDE_COLOURS["left"]) / 255, torch.tensor(SIDE_COLOURS["right"]) / 255
    torch.testing.assert_close(drawn[0, :, 16, 10], blue, atol=1e-3, rtol=0)
    torch.testing.assert_close(drawn[0, :, 16, 22], red, atol=1e-3, rtol=0)
    torch.testing.assert_close(drawn[0, :, 16, 4], torch.ones(3), atol=1e-3, rtol=0)  # a white dot
    assert drawn[0, :, 2, :].abs().max() < 1e-3  # far from every line: untouched


def test_invisible_keypoints_and_their_edges_are_not_drawn():
    keypoints = torch.tensor([[[4.5, 16.5], [28.5, 16.5], [16.5, 16.5]]]) / 16 - 1
    drawn = draw_skeleton(torch.zeros(1, 3, 32, 32), keypoints, LINE, torch.tensor([[True, False, True]]), 1)
    assert drawn[0, :, 16, 10].sum() > 0.5  # the left edge is there
    assert drawn[0, :, 16, 22].abs().max() < 1e-3  # the right edge is gone


def test_grid_pairs_prediction_and_truth():
    images, keypoints = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 2) - 0.5
    assert keypoint_grid(images, keypoints, LINE).shape == (3, 32 + 4, 3 * 34 + 2)
    grid = keypoint_grid(images, keypoints, LINE, target=keypoints, nrow=4)
    assert grid.shape == (3, 2 * 34 + 2, 4 * 34 + 2)  # 6 panels, 4 a row
