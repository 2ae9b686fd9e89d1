import torch

from kpbottleneck.equivariance import (
    equivariance_distances,
    random_similarities,
    transform_keypoints,
    warp_images,
)
from tests.kpbottleneck.test_model_selection import SIZE, blobs, centroid


def test_keypoints_move_as_warp_affine_moves_the_image():
    keypoints = torch.tensor([[[0.1, -0.2]], [[-0.3, 0.25]], [[0.0, 0.0]]])
    matrix = random_similarities(3, SIZE, seed=1)
    warped = warp_images(blobs(keypoints), matrix)
    assert torch.allclose(centroid(warped), transform_keypoints(keypoints, matrix, SIZE), atol=2 / SIZE)


def test_the_similarities_stay_within_their_limits():
    matrix = random_similarities(200, SIZE, max_angle=20.0, max_scale=0.1, max_shift=0.05, seed=0)
    scale = torch.linalg.det(matrix[:, :, :2]).sqrt()
    angle = torch.rad2deg(torch.atan2(matrix[:, 1, 0], matrix[:, 0, 0]))
    assert scale.min() >= 0.9 - 1e-6 and scale.max() <= 1.1 + 1e-6
    assert angle.abs().max() <= 20.0 + 1e-4 and angle.abs().max() > 15.0
    centre = torch.full((200, 2), (SIZE - 1) / 2)
    moved_centre = (matrix[:, :, :2] @ centre[:, :, None])[..., 0] + matrix[:, :, 2]
    assert ((moved_centre - centre).abs() <= 0.05 * SIZE + 1e-4).all()
    assert torch.equal(random_similarities(5, SIZE, seed=3), random_similarities(5, SIZE, seed=3))


def test_a_keypoint_displaced_by_a_constant_is_caught_by_a_rotation_about_the_centre():
    # 90° about the centre: a keypoint at the centre stays, the detector's constant offset (0.2, 0) of it
    # should have turned to (0, 0.2); it stays at (0.2, 0): apart by 0.2·√2 normalised, 0.1·√2 of the side
    matrix = random_similarities(1, SIZE, max_angle=0.0, max_scale=0.0, max_shift=0.0)
    matrix[0, :, :2] = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
    centre = (SIZE - 1) / 2
    matrix[0, :, 2] = torch.tensor([2 * centre, 0.0])  # rotate about the centre pixel
    displaced = torch.tensor([[[0.2, 0.0]]])
    torch.testing.assert_close(transform_keypoints(torch.zeros(1, 1, 2), matrix, SIZE), torch.zeros(1, 1, 2))
    distance, inside = equivariance_distances(displaced, displaced, matrix, SIZE)
    torch.testing.assert_close(distance, torch.tensor([[0.1 * 2**0.5]]))
    assert inside.all()


def test_keypoints_warped_out_of_the_image_are_left_out():
    shift = torch.tensor([[[1.0, 0.0, SIZE / 2], [0.0, 1.0, 0.0]]])
    keypoints = torch.tensor([[[0.9, 0.0], [-0.9, 0.0]]])
    _, inside = equivariance_distances(keypoints, keypoints, shift, SIZE)
    assert inside.tolist() == [[False, True]]


def test_the_warp_is_differentiable_in_the_images():
    images = torch.rand(2, 3, SIZE, SIZE, requires_grad=True)
    warp_images(images, random_similarities(2, SIZE, seed=2)).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_without_a_seed_the_warps_come_from_the_global_random_state():
    torch.manual_seed(7)
    first = random_similarities(3, SIZE, seed=None)
    torch.manual_seed(7)
    torch.testing.assert_close(random_similarities(3, SIZE, seed=None), first)
    assert not torch.equal(random_similarities(3, SIZE, seed=None), first)
