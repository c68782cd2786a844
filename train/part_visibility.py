"""Predicted part visibility against the crops' part labels: scores, per-part balanced accuracy,
and the fitting of the ``calibrated`` rule's thresholds on labelled training crops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from reid.model import BPSEMA, ModelOutput
from reid.visibility_calibration import (
    DEFAULT_CLASSIFIER_L2,
    balanced_accuracy,
    fit_visibility_classifier,
    fit_visibility_thresholds,
    label_part_visibility,
)
from train.augmentation import AugmentationSettings
from train.datasets import ReIDSample
from train.image_datasets import outputs_on_test_images
from train.part_label_files import read_part_maps


@dataclass(frozen=True)
class PartVisibilityReport:
    """Per-part balanced accuracy of the predicted visibility against the labels (fractions)."""

    part_names: tuple[str, ...]
    balanced_accuracy: tuple[float, ...]
    label_visible_share: tuple[float, ...]  # share of crops whose label shows the part
    predicted_visible_share: tuple[float, ...]

    @property
    def mean_balanced_accuracy(self) -> float:
        values = [value for value in self.balanced_accuracy if value == value]
        return float(np.mean(values)) if values else float("nan")

    def to_json_dict(self) -> dict:
        return {
            "mean_balanced_accuracy": self.mean_balanced_accuracy,
            "parts": {
                name: {"balanced_accuracy": accuracy, "label_visible": label, "predicted_visible": predicted}
                for name, accuracy, label, predicted in zip(
                    self.part_names, self.balanced_accuracy, self.label_visible_share, self.predicted_visible_share
                )
            },
        }

    def table(self) -> str:
        lines = [f"  part visibility vs labels: mean balanced accuracy {100 * self.mean_balanced_accuracy:.1f} %",
                 f"  {'part':<14} | bal. acc. | labelled visible | predicted visible"]
        for name, accuracy, label, predicted in zip(
            self.part_names, self.balanced_accuracy, self.label_visible_share, self.predicted_visible_share
        ):
            lines.append(f"  {name:<14} | {100 * accuracy:8.1f}% | {100 * label:15.1f}% | {100 * predicted:16.1f}%")
        return "\n".join(lines)


def label_visibility(samples: list[ReIDSample], num_parts: int, dataset: str = "NAME") -> torch.Tensor | None:
    """bool [N, K]: parts visible in each sample's label file; None when a sample has no labels."""
    if not samples or not all(sample.label_path.is_file() for sample in samples):
        return None
    rows = [label_part_visibility(torch.from_numpy(read_part_maps(s.label_path, num_parts, dataset)).unsqueeze(0))[0]
            for s in samples]
    return torch.stack(rows)


def visibility_report(predicted: torch.Tensor, truth: torch.Tensor, part_names: tuple[str, ...]) -> PartVisibilityReport:
    """predicted, truth: bool [N, K] -> per-part report."""
    accuracy = balanced_accuracy(predicted, truth)
    return PartVisibilityReport(
        part_names=tuple(part_names),
        balanced_accuracy=tuple(float(value) for value in accuracy),
        label_visible_share=tuple(float(value) for value in truth.float().mean(dim=0)),
        predicted_visible_share=tuple(float(value) for value in predicted.float().mean(dim=0)),
    )


@torch.no_grad()
def concatenated_test_outputs(
    model: BPSEMA,
    samples: list[ReIDSample],
    settings: AugmentationSettings,
    pick: Callable[[ModelOutput], torch.Tensor],
    description: str,
    batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = True,
) -> torch.Tensor:
    """``pick`` of the model's output on every sample (test transform), float32 on the CPU,
    concatenated along the first axis: e.g. ``lambda output: output.part_attention`` -> [N, K+1, h, w]."""
    return torch.cat([pick(output).float().cpu() for output in
                      outputs_on_test_images(model, samples, settings, batch_size, num_workers, description, progress)])


def calibrate_visibility(
    model: BPSEMA,
    samples: list[ReIDSample],
    settings: AugmentationSettings,
    dataset: str = "NAME",
    max_samples: int = 4000,
    seed: int = 0,
    batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = True,
    classifier_l2: float = DEFAULT_CLASSIFIER_L2,
) -> PartVisibilityReport:
    """Fit the model's visibility rule on up to ``max_samples`` labelled crops drawn reproducibly:
    per-part thresholds (``calibrated``) or per-part linear classifiers (``classifier``). Returns
    the balanced accuracy on those crops afterwards. ``dataset``: the samples' dataset name (their
    part-label layout)."""
    rule = model.config.model.visibility
    if rule not in ("calibrated", "classifier"):
        raise ValueError(f"calibrate_visibility needs a model whose visibility rule is 'calibrated' or 'classifier', not '{rule}'")
    rng = np.random.default_rng(seed)
    chosen = [samples[i] for i in sorted(rng.permutation(len(samples))[:max_samples].tolist())]
    truth = label_visibility(chosen, model.num_parts, dataset)
    if truth is None:
        raise ValueError("calibrating part visibility needs part-label files for the samples")
    if rule == "classifier":
        maps = concatenated_test_outputs(model, chosen, settings, lambda output: output.part_attention, "part maps",
                                         batch_size, num_workers, progress)  # [N, K+1, h, w]
        classifier = model.visibility_classifier
        weight, bias = fit_visibility_classifier(classifier.features(maps), truth, l2=classifier_l2)
        classifier.visibility_classifier_weight.copy_(weight.to(classifier.visibility_classifier_weight.device))
        classifier.visibility_classifier_bias.copy_(bias.to(classifier.visibility_classifier_bias.device))
        predicted = classifier(maps.to(classifier.visibility_classifier_weight.device)).cpu() >= 0
        return visibility_report(predicted, truth, model.part_names)
    scores = concatenated_test_outputs(model, chosen, settings, lambda output: output.visibility_scores[:, 1:],
                                       "part visibility", batch_size, num_workers, progress)  # [N, K]
    thresholds = fit_visibility_thresholds(scores, truth, default=model.config.model.visibility_threshold)
    model.visibility_thresholds.copy_(thresholds.to(model.visibility_thresholds.device))
    predicted = scores >= thresholds
    return visibility_report(predicted, truth, model.part_names)
