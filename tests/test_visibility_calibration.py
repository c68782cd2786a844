"""Part visibility against labels: balanced accuracy, threshold fitting, the calibrated rule in the
model and its export, the label-side visibility in the part losses (hand-computed cases)."""

import math

import torch

from reid.visibility_calibration import balanced_accuracy, fit_visibility_thresholds, label_part_visibility
from tests.conftest import small_config


def test_label_visibility_is_a_field_reaching_one_half_somewhere():
    maps = torch.zeros(2, 3, 4, 2)
    maps[0, 0, 1, 1] = 0.5
    maps[0, 1, 2, 0] = 0.49
    maps[1, 2, 3, 1] = 0.9
    assert label_part_visibility(maps).tolist() == [[True, False, False], [False, False, True]]


def test_balanced_accuracy_by_hand():
    truth = torch.tensor([[1, 1], [1, 1], [1, 0], [0, 0]], dtype=torch.bool)
    predicted = torch.tensor([[1, 1], [0, 1], [1, 1], [0, 0]], dtype=torch.bool)
    accuracy = balanced_accuracy(predicted, truth)
    # part 0: TPR 2/3, TNR 1/1 -> 5/6; part 1: TPR 2/2, TNR 1/2 -> 3/4
    assert math.isclose(accuracy[0].item(), 5 / 6) and math.isclose(accuracy[1].item(), 0.75)
    # a column with one class only is judged on that class; an always-"visible" answer to an
    # always-visible part is right
    one_class = balanced_accuracy(torch.tensor([[True], [False]]), torch.tensor([[True], [True]]))
    assert math.isclose(one_class[0].item(), 0.5)


def test_fitted_thresholds_separate_the_classes_and_keep_the_default_for_one_class():
    scores = torch.tensor([[0.10, 0.3], [0.20, 0.4], [0.35, 0.5], [0.60, 0.6]])
    truth = torch.tensor([[0, 1], [0, 1], [1, 1], [1, 1]], dtype=torch.bool)
    thresholds = fit_visibility_thresholds(scores, truth, default=0.42)
    assert 0.20 < thresholds[0].item() <= 0.35  # the midpoint between 0.20 and 0.35
    assert math.isclose(thresholds[1].item(), 0.42, rel_tol=1e-6)
    assert balanced_accuracy(scores >= thresholds, truth)[0].item() == 1.0


def test_calibrated_rule_compares_each_part_with_its_own_threshold_and_exports_it(tmp_path):
    from reid.export.onnx_export import export_onnx
    from reid.model import build_model

    torch.manual_seed(0)
    model = build_model(small_config(visibility="calibrated"), pretrained=False).eval()
    images = torch.randn(6, 3, 128, 64)
    with torch.no_grad():
        model.body_part_attention.pixel_classifier[1].weight.mul_(300)  # spread the part scores apart
        output = model(images)
        scores = output.visibility_scores[:, 1:]
        # thresholds halfway between the 3rd and 4th score of each part: half the crops visible
        ordered = scores.sort(dim=0).values
        model.visibility_thresholds.copy_((ordered[2] + ordered[3]) / 2)
        output = model(images)
    expected = scores >= model.visibility_thresholds
    assert torch.equal(output.visibility[:, 1:], expected)
    assert output.visibility[:, 0].all()
    assert 0 < expected.sum() < expected.numel()
    assert ((ordered[3] - ordered[2]) > 1e-4).all()  # no score sits on its threshold

    import onnxruntime

    path = tmp_path / "calibrated.onnx"
    export_onnx(model, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    _, visibility = session.run(None, {"images": images.numpy()})
    assert (visibility[:, 1:] == expected.numpy()).all()


def test_part_losses_can_count_the_parts_the_targets_show():
    from reid.config import LossConfig
    from reid.losses import BPSEMALoss
    from reid.model import build_model

    model = build_model(small_config(), pretrained=False).train()
    output = model(torch.randn(4, 3, 128, 64))
    pixel_labels = torch.zeros(4, *output.part_attention_logits.shape[-2:], dtype=torch.int64)
    pixel_labels[0, 0, 0] = 1
    pixel_labels[1, 2, 1] = 8
    loss = BPSEMALoss(LossConfig(triplet_visibility_source="labels"))
    visible = loss._part_visibility(output, pixel_labels)
    assert visible.shape == (4, 8)
    assert visible.nonzero().tolist() == [[0, 0], [1, 7]]
