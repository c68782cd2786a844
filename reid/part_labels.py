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


PART_LABEL_RULES = ("softmax_argmax", "smallest_part_first")


SMALLEST_PART_MARGIN = 0.1


def smallest_part_first_labels(part_maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Hard per-cell targets in which every part visible in the labels keeps some cells.

    A cell of the feature map is foreground when some part's map peaks at >= 0.5 inside it. Its
    part is chosen among the parts peaking >= 0.5 there whose mean over the cell is within
    ``SMALLEST_PART_MARGIN`` of the best mean: the one with the smallest area in the crop (pixels
    >= 0.5), so a foot inside the shin's limb field, or a hand over the torso, is not out-voted
    by the larger part around it. With ``softmax_argmax`` a part whose field peaks inside a
    larger one almost never wins a cell: measured on 300 synthetic crops at 16x8, the feet won a
    cell in 0-4 % of crops although 65-69 % show them (this rule: 65-67 %).
    part_maps: [N, K, h, w] (h, w >= size) -> int64 [N, H, W] in 0..K (0 = background).
    """
    part_maps = part_maps.float()
    area = (part_maps >= BACKGROUND_THRESHOLD).flatten(2).sum(dim=2).float()  # [N, K]
    mean = F.adaptive_avg_pool2d(part_maps, size)  # [N, K, H, W]
    peak = F.adaptive_max_pool2d(part_maps, size)
    candidates = (peak >= BACKGROUND_THRESHOLD) & (mean >= mean.amax(dim=1, keepdim=True) - SMALLEST_PART_MARGIN)
    # The smallest candidate gets the highest score (ties by part index).
    order = area + torch.arange(area.shape[1], device=area.device).float() * 1e-3
    score = torch.where(candidates, -order[:, :, None, None], torch.full_like(mean, -float("inf")))
    best = score.argmax(dim=1) + 1
    return torch.where(candidates.any(dim=1), best, torch.zeros_like(best))


def part_labels_for_training(part_maps: torch.Tensor, size: tuple[int, int], rule: str) -> torch.Tensor:
    """The pixel classifier's targets by the configured ``loss.part_label_rule``.
    part_maps: [N, K, h, w] -> int64 [N, H, W]."""
    if rule == "softmax_argmax":
        return pixel_part_labels(part_maps, size)
    if rule == "smallest_part_first":
        return smallest_part_first_labels(part_maps, size)
    raise ValueError(f"unknown part label rule {rule!r}; known: {', '.join(PART_LABEL_RULES)}")
