"""Body part attention: a pixel classifier over K+1 classes (0 = background) on the feature map,
optionally preceded by Efficient Multi-Scale Attention; masks, visibility and pooling."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from reid.modules.efficient_multiscale_attention import EfficientMultiScaleAttention


@dataclass(frozen=True)
class PartAttentionMaps:
    """logits, probabilities: [N, K+1, H, W]; channel 0 is the background."""

    logits: torch.Tensor
    probabilities: torch.Tensor

    @property
    def part_masks(self) -> torch.Tensor:
        """[N, K, H, W] the probability of each body part."""
        return self.probabilities[:, 1:]

    @property
    def foreground_mask(self) -> torch.Tensor:
        """[N, H, W] the maximum over the body parts."""
        return self.part_masks.amax(dim=1)


class BodyPartAttention(nn.Module):
    def __init__(self, channels: int, num_parts: int, ema: bool, ema_groups: int = 32):
        super().__init__()
        self.num_parts = num_parts
        self.attention = EfficientMultiScaleAttention(channels, ema_groups) if ema else None
        self.pixel_classifier = nn.Sequential(
            nn.BatchNorm2d(channels), nn.Conv2d(channels, num_parts + 1, kernel_size=1, bias=True)
        )
        nn.init.normal_(self.pixel_classifier[1].weight, std=0.001)
        nn.init.zeros_(self.pixel_classifier[1].bias)

    def forward(self, feature_map: torch.Tensor) -> PartAttentionMaps:
        """feature_map: [N, C, H, W] -> maps [N, K+1, H, W]."""
        classifier_input = self.attention(feature_map) if self.attention is not None else feature_map
        logits = self.pixel_classifier(classifier_input)
        return PartAttentionMaps(logits=logits, probabilities=torch.softmax(logits.float(), dim=1))


def binary_part_visibility(probabilities: torch.Tensor) -> torch.Tensor:
    """Part k is visible when at least one pixel's argmax over the K+1 channels is k.

    probabilities: [N, K+1, H, W] -> bool [N, K].
    """
    num_parts = probabilities.shape[1] - 1
    winners = probabilities.argmax(dim=1, keepdim=True)  # [N, 1, H, W]
    part_ids = torch.arange(1, num_parts + 1, device=probabilities.device).view(1, num_parts, 1, 1)
    return (winners == part_ids).flatten(2).any(dim=2)


def continuous_part_visibility(probabilities: torch.Tensor) -> torch.Tensor:
    """Visibility score of each part: its maximum probability over the map. [N, K+1, H, W] -> [N, K]."""
    return probabilities[:, 1:].flatten(2).amax(dim=2)


def part_attention_mass(probabilities: torch.Tensor) -> torch.Tensor:
    """Each part's mean probability over the map (its share of the map). [N, K+1, H, W] -> [N, K]."""
    return probabilities[:, 1:].flatten(2).mean(dim=2)


def global_average_pooling(feature_map: torch.Tensor) -> torch.Tensor:
    """[N, D, H, W] -> [N, D]."""
    return feature_map.mean(dim=(2, 3))


def foreground_pooling(feature_map: torch.Tensor, foreground_mask: torch.Tensor) -> torch.Tensor:
    """Mean over all positions of mask * F. feature_map [N, D, H, W], mask [N, H, W] -> [N, D]."""
    return (feature_map * foreground_mask.unsqueeze(1)).mean(dim=(2, 3))


def weighted_part_pooling(feature_map: torch.Tensor, part_masks: torch.Tensor) -> torch.Tensor:
    """sum(mask_k * F) / max(sum(mask_k), 1e-6). feature_map [N, D, H, W], part_masks [N, K, H, W] -> [N, K, D]."""
    weighted_sum = torch.einsum("nkhw,ndhw->nkd", part_masks, feature_map)
    mass = part_masks.sum(dim=(2, 3)).clamp_min(1e-6).unsqueeze(-1)
    return weighted_sum / mass
