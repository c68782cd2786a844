"""BNNeck identity head: BatchNorm1d (bias frozen at 0) then a bias-free linear classifier."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class IdentityHeadOutput(NamedTuple):
    normalized: torch.Tensor  # [N, D] the BN-necked embedding
    logits: torch.Tensor  # [N, num_classes]


class IdentityHead(nn.Module):
    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.bottleneck = nn.BatchNorm1d(dim)
        self.bottleneck.bias.requires_grad_(False)
        self.classifier = nn.Linear(dim, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)

    def forward(self, embedding: torch.Tensor) -> IdentityHeadOutput:
        """embedding: [N, D] -> normalized [N, D], logits [N, num_classes]."""
        normalized = self.bottleneck(embedding)
        return IdentityHeadOutput(normalized, self.classifier(normalized))
