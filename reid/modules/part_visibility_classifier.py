"""Part visibility read from the pixel classifier's probability maps by one linear classifier per
part (the ``classifier`` visibility rule).

A part's own attention mass says little about whether it is hidden when the pixel classifier
spreads a hidden part's probability over the occluder (measured on the shipped model: ROC AUC 0.5-0.7
for the arms); the whole K+1-channel map says more (where the background starts, which parts
crowd the lower rows). The weights are fitted on part labels after training
(``reid.visibility_calibration.fit_visibility_classifier``) and stored as buffers, so the
checkpoint and every export carry them. The product is written as a multiplication and a sum
(no matrix product), which the fp16 graph keeps in fp32 with the rest of the visibility decision.

The classifiers read either the probabilities or their logarithm (``visibility_classifier_input``
of the model config). The logarithm spreads the small probabilities a hidden part leaves on the
map, where a hidden and a visible part differ most; fitted on the occluded crops of 16 worlds, it
raised the mean balanced accuracy on 16 other worlds from 79.6 to 81.2 % (models/README.md).
"""

from __future__ import annotations

import typing

import torch
import torch.nn.functional as F
from torch import nn

from reid.config import VisibilityClassifierInput

# Maps of another size are resized (bilinear, as ONNX exports it for any pair of sizes) to this one
# before classification: 16x8 is the map of the shipped configurations (128x64 at stride 8,
# 256x128 at stride 16).
VISIBILITY_MAP_SIZE = (16, 8)
CLASSIFIER_INPUTS = typing.get_args(VisibilityClassifierInput)
# Added to a probability before its logarithm, so that a zero probability gives log(1e-3) = -6.9
# and not -inf (the maps' probabilities come from a softmax and reach 1e-6 and below).
LOG_PROBABILITY_FLOOR = 1e-3


def visibility_classifier_features(probabilities: torch.Tensor, classifier_input: str = "probability") -> torch.Tensor:
    """The classifier's input: probabilities float [N, K+1, h, w] -> float32 [N, (K+1)*16*8],
    the probabilities themselves or log(probability + LOG_PROBABILITY_FLOOR)."""
    if classifier_input not in CLASSIFIER_INPUTS:
        raise ValueError(f"visibility classifier input must be one of {CLASSIFIER_INPUTS}, not '{classifier_input}'")
    maps = probabilities.float()
    if tuple(maps.shape[-2:]) != VISIBILITY_MAP_SIZE:
        maps = F.interpolate(maps, size=VISIBILITY_MAP_SIZE, mode="bilinear", align_corners=False)
    if classifier_input == "log_probability":
        maps = torch.log(maps + LOG_PROBABILITY_FLOOR)
    return maps.flatten(1)


class PartVisibilityClassifier(nn.Module):
    """K logistic classifiers over the flattened probability maps (or their logarithm); logit >= 0
    means visible.

    Unfitted (zero weights and biases) every part is visible.
    """

    def __init__(self, num_parts: int, classifier_input: str = "probability"):
        super().__init__()
        if classifier_input not in CLASSIFIER_INPUTS:
            raise ValueError(f"visibility classifier input must be one of {CLASSIFIER_INPUTS}, not '{classifier_input}'")
        self.classifier_input = classifier_input
        features = (num_parts + 1) * VISIBILITY_MAP_SIZE[0] * VISIBILITY_MAP_SIZE[1]
        self.register_buffer("visibility_classifier_weight", torch.zeros(num_parts, features))
        self.register_buffer("visibility_classifier_bias", torch.zeros(num_parts))

    def features(self, probabilities: torch.Tensor) -> torch.Tensor:
        """probabilities: [N, K+1, h, w] -> what the classifiers read, float32 [N, (K+1)*16*8]."""
        return visibility_classifier_features(probabilities, self.classifier_input)

    def forward(self, probabilities: torch.Tensor) -> torch.Tensor:
        """probabilities: [N, K+1, h, w] -> logits float32 [N, K]."""
        features = self.features(probabilities)  # [N, F]
        weight = self.visibility_classifier_weight.float()  # [K, F]
        return (features.unsqueeze(1) * weight.unsqueeze(0)).sum(dim=2) + self.visibility_classifier_bias.float()
