"""Part visibility read from the pixel classifier's probability maps by one linear classifier per
part (the ``classifier`` visibility rule).

A part's own attention mass says little about whether it is hidden when the pixel classifier
spreads a hidden part's probability over the occluder (measured on the shipped model: ROC AUC 0.5-0.7
for the arms); the whole K+1-channel map says more (where the background starts, which parts
crowd the lower rows). The weights are fitted on part labels after training
(``reid.visibility_calibration.fit_visibility_classifier``) and stored as buffers, so the
checkpoint and every export carry them. The product is written as a multiplication and a sum
(no matrix product), which the fp16 graph keeps in fp32 with the rest of the visibility decision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Maps of another size are resized (bilinear, as ONNX exports it for any pair of sizes) to this one
# before classification: 16x8 is the map of the shipped configurations (128x64 at stride 8,
# 256x128 at stride 16).
VISIBILITY_MAP_SIZE = (16, 8)


def visibility_classifier_features(probabilities: torch.Tensor) -> torch.Tensor:
    """The classifier's input: probabilities float [N, K+1, h, w] -> float32 [N, (K+1)*16*8]."""
    maps = probabilities.float()
    if tuple(maps.shape[-2:]) != VISIBILITY_MAP_SIZE:
        maps = F.interpolate(maps, size=VISIBILITY_MAP_SIZE, mode="bilinear", align_corners=False)
    return maps.flatten(1)


class PartVisibilityClassifier(nn.Module):
    """K logistic classifiers over the flattened probability maps; logit >= 0 means visible.

    Unfitted (zero weights and biases) every part is visible.
    """

    def __init__(self, num_parts: int):
        super().__init__()
        features = (num_parts + 1) * VISIBILITY_MAP_SIZE[0] * VISIBILITY_MAP_SIZE[1]
        self.register_buffer("visibility_classifier_weight", torch.zeros(num_parts, features))
        self.register_buffer("visibility_classifier_bias", torch.zeros(num_parts))

    def forward(self, probabilities: torch.Tensor) -> torch.Tensor:
        """probabilities: [N, K+1, h, w] -> logits float32 [N, K]."""
        features = visibility_classifier_features(probabilities)  # [N, F]
        weight = self.visibility_classifier_weight.float()  # [K, F]
        return (features.unsqueeze(1) * weight.unsqueeze(0)).sum(dim=2) + self.visibility_classifier_bias.float()
