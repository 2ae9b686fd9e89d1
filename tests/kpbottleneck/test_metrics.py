import pytest
import torch

from kpbottleneck.metrics import (
    ImageSizeNormalizedError,
    InterOcularNormalizedError,
    PixelError,
    per_image_error,
)


def test_per_image_error_hand_computed():
    prediction = torch.tensor([[[0.0, 0.0], [0.0, 0.0]]])
    target = torch.tensor([[[0.6, 0.8], [0.0, 2.0]]])  # in [0, 1] units: distances 0.5 and 1.0
    torch.testing.assert_close(per_image_error(prediction, target)[0], torch.tensor([0.75]))
    torch.testing.assert_close(
        per_image_error(prediction, target, torch.tensor([[True, False]]))[0], torch.tensor([0.5])
    )


def test_metric_accumulates_and_skips_empty_images():
    metric = ImageSizeNormalizedError()
    zeros = torch.zeros(2, 1, 2)
    metric.update(zeros, torch.tensor([[[0.2, 0.0]], [[0.4, 0.0]]]))  # 10 % and 20 %
    metric.update(zeros[:1], torch.tensor([[[1.0, 1.0]]]), torch.tensor([[False]]))  # not counted
    torch.testing.assert_close(metric.compute(), torch.tensor(15.0))


def test_activities_are_averaged_then_the_activity_means():
    metric = ImageSizeNormalizedError(num_activities=3)
    zeros = torch.zeros(3, 1, 2)
    # activity 0: 10 % and 20 %; activity 1: 40 %; activity 2: no image
    metric.update(
        zeros, torch.tensor([[[0.2, 0.0]], [[0.4, 0.0]], [[0.8, 0.0]]]), activity=torch.tensor([0, 0, 1])
    )
    torch.testing.assert_close(metric.compute(), torch.tensor(27.5))  # not the image mean, 23.3
    per_activity = metric.compute_per_activity()
    torch.testing.assert_close(per_activity[:2], torch.tensor([15.0, 40.0]))
    assert torch.isnan(per_activity[2])


def test_activity_ids_out_of_range_are_refused():
    metric = ImageSizeNormalizedError(num_activities=2)
    with pytest.raises(ValueError, match=r"activity ids must lie in \[0, 2\)"):
        metric.update(torch.zeros(1, 1, 2), torch.zeros(1, 1, 2), activity=torch.tensor([2]))


def test_flip_tolerant_error_takes_the_better_assignment_and_counts_correct_flips():
    metric = ImageSizeNormalizedError(flip_permutation=(1, 0))
    target = torch.tensor([[[-0.5, 0.0], [0.5, 0.0]]]).repeat(2, 1, 1)  # left at x=0.25, right at 0.75
    prediction = torch.stack([target[0].flip(0), target[1]])  # first image: left and right exchanged
    plain = ImageSizeNormalizedError()
    plain.update(prediction, target)
    metric.update(prediction, target)
    torch.testing.assert_close(plain.compute(), torch.tensor(25.0))  # (50 % + 0 %) / 2
    torch.testing.assert_close(metric.compute(), torch.tensor(0.0))
    torch.testing.assert_close(metric.flip_accuracy(), torch.tensor(0.5))


def test_visibility_is_honoured_by_the_flip_rule():
    metric = ImageSizeNormalizedError(flip_permutation=(1, 0, 2))
    target = torch.tensor([[[-0.5, 0.0], [0.5, 0.0], [0.0, 0.0]]])
    prediction = torch.tensor([[[-0.5, 0.0], [0.5, 0.0], [0.4, 0.0]]])  # only the hidden keypoint is off
    metric.update(prediction, target, torch.tensor([[True, True, False]]))
    torch.testing.assert_close(metric.compute(), torch.tensor(0.0))


def test_pixel_error_undoes_the_crop():
    metric = PixelError(image_size=(128, 128))
    target = torch.zeros(2, 1, 2)
    prediction = torch.tensor([[[0.1, 0.0]], [[0.1, 0.0]]])  # 0.05 of the crop's width
    boxes = torch.tensor([[100.0, 200.0, 300.0, 400.0], [0.0, 0.0, 400.0, 400.0]])  # 200 and 400 px wide
    metric.update(prediction, target, boxes=boxes)
    torch.testing.assert_close(metric.compute(), torch.tensor((10.0 + 20.0) / 2))
    without_boxes = PixelError(image_size=(128, 128))
    without_boxes.update(prediction, target)
    torch.testing.assert_close(without_boxes.compute(), torch.tensor(6.4))


def test_inter_ocular_error_divides_by_the_outer_eye_corner_distance():
    metric = InterOcularNormalizedError(normalizer=(0, 1))
    target = torch.tensor([[[-0.2, 0.0], [0.2, 0.0], [0.0, 0.3]]] * 2)  # eyes 0.4 apart
    prediction = target.clone()
    prediction[:, 2, 0] += 0.04  # one of three points off by 0.04: mean 0.04 / 3, / 0.4 → 3.33 %
    metric.update(prediction, target, torch.tensor([[True, True, True], [False, True, True]]))
    torch.testing.assert_close(metric.compute(), torch.tensor(100 * 0.04 / 3 / 0.4))  # image 2 not counted
    assert int(metric.count.sum()) == 1
