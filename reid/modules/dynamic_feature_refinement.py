"""Dynamic Feature Refinement: the BPSEMA dimensionality-reduction layer on the spatial map.

    x --conv1x1--BN--ReLU--[SE]--(+)--> out
    |                             |
    +--[shortcut: identity, or conv1x1+BN when C_in != C_out]

Flags ``residual`` and ``se`` reproduce the paper's ablation rows; with both off it is the plain
conv1x1+BN+ReLU reduction of BPBreID.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import SqueezeExcitation


class DynamicFeatureRefinement(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, residual: bool, se: bool, se_reduction: int = 16):
        super().__init__()
        self.reduce = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )
        self.channel_attention = (
            SqueezeExcitation(out_channels, max(1, out_channels // se_reduction)) if se else None
        )
        if not residual:
            self.shortcut = None
        elif in_channels == out_channels:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False), nn.BatchNorm2d(out_channels)
            )
        nn.init.kaiming_normal_(self.reduce[0].weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [N, C_in, H, W] -> [N, C_out, H, W]."""
        refined = self.reduce(x)
        if self.channel_attention is not None:
            refined = self.channel_attention(refined)
        if self.shortcut is not None:
            refined = refined + self.shortcut(x)
        return refined
