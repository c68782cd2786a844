"""Training losses: GiLt and the body part attention loss."""

from reid.losses.gilt import GILT_WEIGHT_PRESETS, BPSEMALoss, LossBreakdown, gilt_weights
from reid.losses.part_attention import part_attention_loss
from reid.losses.triplet import pairwise_part_distances, part_averaged_triplet_loss

__all__ = [
    "GILT_WEIGHT_PRESETS",
    "BPSEMALoss",
    "LossBreakdown",
    "gilt_weights",
    "pairwise_part_distances",
    "part_attention_loss",
    "part_averaged_triplet_loss",
]
