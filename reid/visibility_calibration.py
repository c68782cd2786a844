"""Part visibility measured against part labels, and per-part thresholds fitted to them.

A part is *visible in its label* when its grouped confidence field reaches 0.5 somewhere (the
pixel classifier's own background rule, ``reid.part_labels.BACKGROUND_THRESHOLD``). The model's
``calibrated`` visibility rule compares each part's maximum attention probability with a
threshold of its own; ``fit_visibility_thresholds`` picks, per part, the threshold that
maximises the balanced accuracy (mean of the true-positive and true-negative rates) on
labelled crops.
"""

from __future__ import annotations

import torch

from reid.part_labels import BACKGROUND_THRESHOLD


def label_part_visibility(part_maps: torch.Tensor) -> torch.Tensor:
    """Parts visible in their labels. part_maps: float [N, K, h, w] in [0, 1] -> bool [N, K]."""
    return part_maps.flatten(2).amax(dim=2) >= BACKGROUND_THRESHOLD


def balanced_accuracy(predicted: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per part (column): (TPR + TNR) / 2; when a column has only one class, that class's rate.

    predicted, truth: bool [N, K] -> float64 [K]; NaN for an empty column.
    """
    predicted, truth = predicted.bool(), truth.bool()
    positives = truth.sum(dim=0).double()
    negatives = (~truth).sum(dim=0).double()
    true_positive_rate = (predicted & truth).sum(dim=0).double() / positives.clamp_min(1)
    true_negative_rate = (~predicted & ~truth).sum(dim=0).double() / negatives.clamp_min(1)
    both = (true_positive_rate + true_negative_rate) / 2
    result = torch.where(positives == 0, true_negative_rate, torch.where(negatives == 0, true_positive_rate, both))
    return torch.where((positives + negatives) == 0, torch.full_like(result, float("nan")), result)


def fit_visibility_thresholds(scores: torch.Tensor, truth: torch.Tensor, default: float = 0.5) -> torch.Tensor:
    """Per part, the threshold t (visible = score >= t) with the best balanced accuracy.

    Candidates are midpoints between consecutive distinct scores of the part. A part whose
    labels hold one class only keeps ``default``.
    scores: float [N, K]; truth: bool [N, K] -> float32 [K].
    """
    scores, truth = scores.double(), truth.bool()
    thresholds = []
    for part in range(scores.shape[1]):
        column, labels = scores[:, part], truth[:, part]
        if labels.all() or not labels.any():
            thresholds.append(default)
            continue
        distinct = torch.unique(column)
        candidates = torch.cat([distinct[:1] - 1e-6, (distinct[1:] + distinct[:-1]) / 2, distinct[-1:] + 1e-6])
        decisions = column.unsqueeze(0) >= candidates.unsqueeze(1)  # [T, N]
        accuracy = balanced_accuracy(decisions.T, labels.unsqueeze(1).expand(-1, len(candidates)))
        thresholds.append(float(candidates[int(torch.argmax(accuracy))]))
    return torch.tensor(thresholds, dtype=torch.float32)
