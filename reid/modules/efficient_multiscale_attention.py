"""Efficient Multi-Scale Attention (EMA, Ouyang et al., ICASSP 2023).

Not to be confused with an exponential moving average of weights (``train.weights_moving_average``):
this is the attention block the BPSEMA paper inserts into its body part attention module.
"""

from __future__ import annotations

import torch
from torch import nn


class EfficientMultiScaleAttention(nn.Module):
    """Re-weights every position of a feature map; the output keeps the input's shape.

    The channels are split into ``groups`` groups of c = C/groups channels. Within each group a
    1x1 branch (directional pooling along H and W, shared 1x1 conv, sigmoid gates, GroupNorm) and a
    3x3 branch each produce a channel descriptor; cross-spatial learning multiplies each branch's
    softmaxed descriptor with the other's map into one [H, W] weight map, whose sigmoid gates the input.
    """

    def __init__(self, channels: int, groups: int = 32):
        super().__init__()
        if channels % groups != 0:
            raise ValueError(f"channels ({channels}) must be divisible by groups ({groups})")
        self.groups = groups
        group_channels = channels // groups
        self.directional_conv = nn.Conv2d(group_channels, group_channels, kernel_size=1)
        self.local_conv = nn.Conv2d(group_channels, group_channels, kernel_size=3, padding=1)
        self.group_norm = nn.GroupNorm(group_channels, group_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [N, C, H, W] -> [N, C, H, W]."""
        batch, channels, height, width = x.shape
        grouped = x.reshape(batch * self.groups, channels // self.groups, height, width)  # [BG, c, H, W]

        pooled_along_width = grouped.mean(dim=3, keepdim=True)  # [BG, c, H, 1]
        pooled_along_height = grouped.mean(dim=2, keepdim=True).transpose(2, 3)  # [BG, c, W, 1]
        directional = self.directional_conv(torch.cat([pooled_along_width, pooled_along_height], dim=2))
        height_gate, width_gate = torch.split(directional, [height, width], dim=2)
        global_branch = self.group_norm(grouped * height_gate.sigmoid() * width_gate.transpose(2, 3).sigmoid())
        local_branch = self.local_conv(grouped)  # [BG, c, H, W]

        flat_global = global_branch.flatten(2)  # [BG, c, HW]
        flat_local = local_branch.flatten(2)
        global_descriptor = torch.softmax(flat_global.mean(dim=2), dim=-1).unsqueeze(1)  # [BG, 1, c]
        local_descriptor = torch.softmax(flat_local.mean(dim=2), dim=-1).unsqueeze(1)
        spatial_weights = torch.bmm(global_descriptor, flat_local) + torch.bmm(local_descriptor, flat_global)
        spatial_weights = spatial_weights.reshape(batch * self.groups, 1, height, width)
        return (grouped * spatial_weights.sigmoid()).reshape(batch, channels, height, width)
