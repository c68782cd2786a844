"""Body part attention loss: pixel-wise cross-entropy against coarse human-parsing labels."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def part_attention_loss(
    logits: torch.Tensor, pixel_labels: torch.Tensor, label_smoothing: float = 0.1
) -> torch.Tensor:
    """logits [N, K+1, h, w] (channel 0 background), pixel_labels int64 [N, h, w] in 0..K -> scalar."""
    if pixel_labels.shape[-2:] != logits.shape[-2:]:
        raise ValueError(
            f"pixel labels {tuple(pixel_labels.shape[-2:])} must match the feature map {tuple(logits.shape[-2:])}"
        )
    return F.cross_entropy(logits.float(), pixel_labels, label_smoothing=label_smoothing)
