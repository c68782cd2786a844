"""From 36-channel keypoint/limb confidence fields to K part maps and per-pixel part labels."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reid.part_groups import NUM_CONFIDENCE_FIELD_CHANNELS, part_grouping

BACKGROUND_THRESHOLD = 0.5
SOFTMAX_TEMPERATURE = 15.0


def group_confidence_fields(fields: torch.Tensor, num_parts: int) -> torch.Tensor:
    """Per-pixel max over each part's channels, clamped to [0, 1].

    fields: [..., 36, h, w] -> part maps [..., K, h, w].
    """
    if fields.shape[-3] != NUM_CONFIDENCE_FIELD_CHANNELS:
        raise ValueError(f"expected {NUM_CONFIDENCE_FIELD_CHANNELS} channels, got {fields.shape[-3]}")
    grouping = part_grouping(num_parts)
    parts = [fields[..., list(channels), :, :].amax(dim=-3) for channels in grouping.channel_indices]
    return torch.stack(parts, dim=-3).clamp(0.0, 1.0)


def pixel_part_labels(part_maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Hard per-pixel targets for the pixel classifier.

    Background where no part reaches 0.5; soft targets softmax(15 * [background, parts]) are
    resized bilinearly to the feature map and their argmax taken.
    part_maps: [N, K, h, w] -> int64 [N, H, W] in 0..K (0 = background).
    """
    part_maps = part_maps.float()
    background = (part_maps.amax(dim=1, keepdim=True) < BACKGROUND_THRESHOLD).float()
    soft_targets = torch.softmax(SOFTMAX_TEMPERATURE * torch.cat([background, part_maps], dim=1), dim=1)
    resized = F.interpolate(soft_targets, size=size, mode="bilinear", align_corners=False)
    return resized.argmax(dim=1)
