import torch

from kpbottleneck.metrics import ImageSizeNormalizedError, per_image_error


def test_per_image_error_hand_computed():
    prediction = torch.tensor([[[0.0, 0.0], [0.0, 0.0]]])
    target = torch.tensor([[[0.6, 0.8], [0.0, 2.0]]])  # in [0, 1] units: distances 0.5 and 1.0
    torch.testing.assert_close(per_image_error(prediction, target), torch.tensor([0.75]))
    torch.testing.assert_close(
        per_image_error(prediction, target, torch.tensor([[True, False]])), torch.tensor([0.5])
    )


def test_metric_accumulates_and_skips_empty_images():
    metric = ImageSizeNormalizedError()
    zeros = torch.zeros(2, 1, 2)
    metric.update(zeros, torch.tensor([[[0.2, 0.0]], [[0.4, 0.0]]]))  # 10 % and 20 %
    metric.update(zeros[:1], torch.tensor([[[1.0, 1.0]]]), torch.tensor([[False]]))  # not counted
    torch.testing.assert_close(metric.compute(), torch.tensor(15.0))
