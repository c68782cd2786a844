"""Part visibility measured against part labels, and the visibility rules fitted to them
(per-part thresholds; per-part linear classifiers).

A part is *visible in its label* when its grouped confidence field reaches 0.5 somewhere (the
pixel classifier's own background rule, ``reid.part_labels.BACKGROUND_THRESHOLD``). The model's
``calibrated`` visibility rule compares each part's maximum attention probability with a
threshold of its own; ``fit_visibility_thresholds`` picks, per part, the threshold that
maximises the balanced accuracy (mean of the true-positive and true-negative rates) on
labelled crops. The ``classifier`` rule reads the whole probability map instead
(``reid.modules.part_visibility_classifier``); ``fit_visibility_classifier`` fits it.
"""

from __future__ import annotations

import torch

from reid.part_labels import BACKGROUND_THRESHOLD

# L2 penalty of the visibility classifiers' weights: chosen on two development worlds (seeds 5501,
# 5502) among 0.01 / 0.03 / 0.1 for the mean balanced accuracy on their occluded queries (86.5 /
# 87.6 / 86.8 %, fitted on 2,047 crops of 16 training-namespace worlds); models/README.md.
DEFAULT_CLASSIFIER_L2 = 0.03


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


def fit_visibility_classifier(
    features: torch.Tensor, truth: torch.Tensor, l2: float = DEFAULT_CLASSIFIER_L2, max_iterations: int = 500
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per part, a logistic classifier "visible" on ``features``, with balanced class weights.

    Minimises, per part, the mean logistic loss of the visible crops plus that of the hidden
    ones, halved, plus ``l2 / 2 * |w|^2`` (the bias is not penalised): scikit-learn's
    ``LogisticRegression(class_weight="balanced", C=1 / (l2 * N))``. A part whose labels hold
    one class only gets zero weights and a bias of +4 (always visible) or -4 (never).
    features: float [N, F]; truth: bool [N, K] -> (weight float32 [K, F], bias float32 [K]).
    """
    features, truth = features.double(), truth.bool()
    num_features = features.shape[1]
    weights, biases = [], []
    for part in range(truth.shape[1]):
        labels = truth[:, part]
        if labels.all() or not labels.any():
            weights.append(torch.zeros(num_features, dtype=torch.float64))
            biases.append(torch.tensor(4.0 if labels.all() else -4.0, dtype=torch.float64))
            continue
        sample_weight = torch.where(labels, 0.5 / labels.sum(), 0.5 / (~labels).sum()).double()
        signs = labels.double() * 2 - 1
        parameters = torch.zeros(num_features + 1, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS([parameters], max_iter=max_iterations, tolerance_grad=1e-9,
                                      tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

        def objective():
            optimizer.zero_grad()
            logits = features @ parameters[:-1] + parameters[-1]
            loss = (sample_weight * torch.nn.functional.softplus(-signs * logits)).sum()
            loss = loss + 0.5 * l2 * parameters[:-1].pow(2).sum()
            loss.backward()
            return loss

        with torch.enable_grad():
            optimizer.step(objective)
        weights.append(parameters[:-1].detach())
        biases.append(parameters[-1].detach())
    return torch.stack(weights).float(), torch.stack(biases).float()
