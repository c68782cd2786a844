"""Part visibility against labels: balanced accuracy, threshold fitting, the calibrated rule in the
model and its export, the label-side visibility in the part losses (hand-computed cases)."""

import math

import numpy as np
import pytest
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


def test_the_visibility_classifier_fit_matches_scikit_learns_balanced_logistic_regression():
    """Reference: scikit-learn's LogisticRegression (lbfgs) with balanced class weights and
    C = 1 / (l2 * N), an implementation we did not write."""
    from sklearn.linear_model import LogisticRegression

    from reid.visibility_calibration import fit_visibility_classifier

    generator = torch.Generator().manual_seed(3)
    features = torch.rand(300, 12, generator=generator)
    direction = torch.randn(12, 2, generator=generator)
    noisy = features @ direction + 0.3 * torch.randn(300, 2, generator=generator)
    truth = noisy > noisy.quantile(0.8, dim=0)  # 20 % positives: the class weights matter
    l2 = 0.05
    weight, bias = fit_visibility_classifier(features, truth, l2=l2)
    for part in range(2):
        reference = LogisticRegression(C=1 / (l2 * len(features)), class_weight="balanced", tol=1e-10, max_iter=10_000)
        reference.fit(features.double().numpy(), truth[:, part].numpy())
        assert np.allclose(weight[part].numpy(), reference.coef_[0], atol=2e-3)
        assert math.isclose(bias[part].item(), reference.intercept_[0], abs_tol=2e-3)


def test_a_part_seen_in_one_class_only_is_always_or_never_visible():
    from reid.visibility_calibration import fit_visibility_classifier

    features = torch.rand(20, 5)
    truth = torch.zeros(20, 3, dtype=torch.bool)
    truth[:, 0] = True
    truth[::2, 2] = True
    weight, bias = fit_visibility_classifier(features, truth)
    assert weight[:2].abs().sum() == 0
    assert bias[0].item() > 0 > bias[1].item()
    assert (((features @ weight[2] + bias[2]) >= 0) == truth[:, 2]).float().mean() >= 0.6


@pytest.mark.parametrize("classifier_input", ["probability", "log_probability"])
def test_the_classifier_rule_reads_the_probability_maps_and_exports_it(tmp_path, classifier_input):
    """Visible where the fitted classifier's logit is >= 0 (on the probabilities, or on
    log(probability + 1e-3)); the score is its sigmoid; the foreground stays visible; the ONNX graph
    gives the same answer."""
    from reid.export.onnx_export import export_onnx
    from reid.model import build_model

    torch.manual_seed(0)
    model = build_model(small_config(visibility="classifier", visibility_classifier_input=classifier_input),
                        pretrained=False).eval()
    images = torch.randn(6, 3, 128, 64)
    with torch.no_grad():
        model.body_part_attention.pixel_classifier[1].weight.mul_(300)
        unfitted = model(images)
        assert unfitted.visibility.all()  # zero weights: every part visible
        # the 8x4 map of this configuration, resized to 16x8 -> [6, 9*16*8]
        maps = torch.nn.functional.interpolate(unfitted.part_attention, size=(16, 8), mode="bilinear").flatten(1)
        features = torch.log(maps + 0.001) if classifier_input == "log_probability" else maps
        assert features.shape == (6, 9 * 16 * 8)
        weight = torch.randn(8, features.shape[1])
        raw = features @ weight.T  # [6, 8]
        ordered = raw.sort(dim=0).values
        bias = -(ordered[2] + ordered[3]) / 2  # half the crops visible per part
        model.visibility_classifier.visibility_classifier_weight.copy_(weight)
        model.visibility_classifier.visibility_classifier_bias.copy_(bias)
        output = model(images)
    logits = raw + bias
    expected = logits >= 0
    assert torch.equal(output.visibility[:, 1:], expected)
    assert output.visibility[:, 0].all()
    assert 0 < expected.sum() < expected.numel()
    assert torch.allclose(output.visibility_scores[:, 1:], torch.sigmoid(logits), atol=1e-4)  # logits up to 30
    assert (logits.abs() > 1e-3).all()  # no logit sits on the boundary

    import onnxruntime

    path = tmp_path / "classifier.onnx"
    export_onnx(model, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    _, visibility = session.run(None, {"images": images.numpy()})
    assert (visibility[:, 1:] == expected.numpy()).all()


def test_calibrating_the_classifier_rule_fits_it_on_labelled_crops(tmp_path):
    """train.calibrate_visibility --rule classifier on tiny labelled datasets (two roots): the
    checkpoint switches rule and drops the thresholds; a part labelled in both classes gets fitted
    weights, one always labelled visible stays always visible."""
    from reid.checkpoint import load_model, read_checkpoint, save_checkpoint
    from reid.model import build_model
    from reid.part_groups import CONFIDENCE_FIELD_CHANNELS
    from tests.reid_dataset_factory import write_duke_layout
    from train.calibrate_visibility import main

    roots = []
    for index in range(2):
        root = tmp_path / f"world{index}"
        write_duke_layout(root / "reid_occluded", range(6), range(6, 8), label_suffix=".jpg.confidence_fields.npy", seed=index)
        labels = sorted((root / "reid_occluded" / "masks").rglob("*.npy"))
        for label in labels[::2]:  # every second crop: ankles (the feet) not in the label
            field = np.load(label)
            field[[CONFIDENCE_FIELD_CHANNELS.index("left_ankle"), CONFIDENCE_FIELD_CHANNELS.index("right_ankle")]] = 0
            np.save(label, field)
        roots += ["--data-root", str(root)]
    model = build_model(small_config(visibility="calibrated"), pretrained=False).eval()
    checkpoint = save_checkpoint(tmp_path / "model.pt", model)
    assert main(["--checkpoint", str(checkpoint), "--dataset", "synthetic_occluded", *roots,
                 "--rule", "classifier", "--max-samples", "50"]) == 0
    payload = read_checkpoint(checkpoint)
    assert payload["config"]["model"]["visibility"] == "classifier"
    assert "visibility_thresholds" not in payload["model"]
    weight = payload["model"]["visibility_classifier.visibility_classifier_weight"]
    bias = payload["model"]["visibility_classifier.visibility_classifier_bias"]
    head, feet = model.part_names.index("head"), model.part_names.index("left_feet")
    assert weight[feet].abs().sum() > 0 and weight[head].abs().sum() == 0 and bias[head] > 0
    assert load_model(checkpoint)(torch.zeros(1, 3, 128, 64)).visibility[0, 1 + head]


def test_the_log_probability_input_is_the_logarithm_above_a_floor():
    """By hand: probabilities 0, 0.5 and 1 read as log(0.001), log(0.501), log(1.001); an unknown
    input is refused."""
    from reid.modules.part_visibility_classifier import PartVisibilityClassifier, visibility_classifier_features

    maps = torch.zeros(1, 9, 16, 8)
    maps[0, 0, 0, 0], maps[0, 1, 0, 0] = 0.5, 1.0
    features = visibility_classifier_features(maps, "log_probability")
    assert math.isclose(features[0, 0].item(), math.log(0.501), rel_tol=1e-6)
    assert math.isclose(features[0, 16 * 8].item(), math.log(1.001), abs_tol=1e-6)  # float32
    assert math.isclose(features[0, 1].item(), math.log(0.001), rel_tol=1e-6)
    assert torch.equal(visibility_classifier_features(maps), maps.flatten(1))
    with pytest.raises(ValueError, match="log_probability"):
        PartVisibilityClassifier(8, "logit")


def _labelled_world(root, seed: int, visibility_of) -> None:
    """A tiny Occluded-Duke-layout world with part labels and an annotations.csv whose visibility
    column is ``visibility_of(index)`` for the index-th image (in sorted order)."""
    from tests.reid_dataset_factory import write_duke_layout

    directory = write_duke_layout(root / "reid_occluded", range(6), range(6, 8),
                                  label_suffix=".jpg.confidence_fields.npy", seed=seed)
    images = sorted(path.relative_to(directory).as_posix() for path in directory.glob("*/*.jpg"))
    lines = ["split,image,person_id,camera_id,frame,x,y,w,h,visibility"]
    for index, image in enumerate(images):
        lines.append(f"{image.split('/')[0]},{image},1,1,1,0,0,10,20,{visibility_of(index):.4f}")
    (directory / "annotations.csv").write_text("\n".join(lines) + "\n")


def test_calibrating_on_the_occluded_crops_of_several_splits(tmp_path, capsys):
    """--split train query gallery --below-visibility 0.7 fits on exactly the crops annotated below
    0.7 (every third crop here, 11 of the world's 32), and --classifier-input is written into the
    checkpoint's config; a world without annotations.csv is one error line, exit code 2, and the
    checkpoint is left as it was."""
    from reid.checkpoint import load_model, read_checkpoint, save_checkpoint
    from reid.model import build_model
    from train.calibrate_visibility import main

    _labelled_world(tmp_path / "world", 0, lambda index: 0.5 if index % 3 == 0 else 0.9)
    model = build_model(small_config(visibility="calibrated"), pretrained=False).eval()
    checkpoint = save_checkpoint(tmp_path / "model.pt", model)
    before = checkpoint.read_bytes()
    arguments = ["--checkpoint", str(checkpoint), "--dataset", "synthetic_occluded", "--rule", "classifier",
                 "--split", "train", "query", "gallery", "--classifier-input", "log_probability"]
    assert main([*arguments, "--below-visibility", "0.7", "--data-root", str(tmp_path / "world")]) == 0
    output = capsys.readouterr().out
    assert "fitted on 11 train + query + gallery (visible share below 0.7) crops of 1 dataset(s), reading the log probability" in output
    payload = read_checkpoint(checkpoint)
    assert payload["config"]["model"]["visibility_classifier_input"] == "log_probability"
    assert load_model(checkpoint).visibility_classifier.classifier_input == "log_probability"

    from reid.errors import run_command_line
    from tests.reid_dataset_factory import write_duke_layout

    unannotated = tmp_path / "unannotated"
    write_duke_layout(unannotated / "reid_occluded", range(4), range(4, 6), label_suffix=".jpg.confidence_fields.npy")
    fitted = checkpoint.read_bytes()
    assert fitted != before
    code = run_command_line(main, [*arguments, "--below-visibility", "0.7", "--data-root", str(unannotated)])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(error) == 1 and "has no annotations.csv" in error[0]
    assert checkpoint.read_bytes() == fitted
