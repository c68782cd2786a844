"""The BPSEMA training objective: GiLt (identity + part-averaged triplet per embedding) plus the
weighted body part attention loss."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from reid.config import EmbeddingLossWeights, GiltWeights, LossConfig
from reid.losses.part_attention import part_attention_loss
from reid.losses.triplet import part_averaged_triplet_loss
from reid.model import ModelOutput

# Per-embedding weights from the reference (BPBreID): occluded datasets (Occluded-Duke, P-Duke)
# and holistic ones (Market, Duke), which also train the foreground with a triplet loss.
GILT_WEIGHT_PRESETS: dict[str, GiltWeights] = {
    "occluded": GiltWeights(
        global_=EmbeddingLossWeights(identity=1.0, triplet=0.0),
        foreground=EmbeddingLossWeights(identity=1.0, triplet=0.0),
        concat=EmbeddingLossWeights(identity=1.0, triplet=0.0),
        parts=EmbeddingLossWeights(identity=0.0, triplet=1.0),
    ),
    "holistic": GiltWeights(
        global_=EmbeddingLossWeights(identity=1.0, triplet=0.0),
        foreground=EmbeddingLossWeights(identity=1.0, triplet=1.0),
        concat=EmbeddingLossWeights(identity=1.0, triplet=0.0),
        parts=EmbeddingLossWeights(identity=0.0, triplet=1.0),
    ),
}


@dataclass(frozen=True)
class LossBreakdown:
    """total: the scalar to back-propagate; terms: each weighted term by name (only non-zero weights)."""

    total: torch.Tensor
    terms: dict[str, torch.Tensor]


def gilt_weights(config: LossConfig) -> GiltWeights:
    return config.weights if config.weights is not None else GILT_WEIGHT_PRESETS[config.preset]


class BPSEMALoss(nn.Module):
    """total = sum over embeddings of (w_id * identity + w_tri * triplet) + w_pa * part attention."""

    def __init__(self, config: LossConfig):
        super().__init__()
        self.config = config
        self.weights = gilt_weights(config)

    def _identity(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), labels, label_smoothing=self.config.identity_label_smoothing)

    def _part_visibility(self, output: ModelOutput, pixel_labels: torch.Tensor) -> torch.Tensor:
        """bool [N, K]: which parts the masked losses count, from the model's own prediction or,
        with ``triplet_visibility_source: labels``, from the pixel targets (part k has a cell)."""
        if self.config.triplet_visibility_source == "labels":
            part_ids = torch.arange(1, output.part_embeddings.shape[1] + 1, device=pixel_labels.device)
            return (pixel_labels.flatten(1).unsqueeze(1) == part_ids.view(1, -1, 1)).any(dim=2)
        return output.visibility[:, 1:]

    def _part_identity(self, output: ModelOutput, labels: torch.Tensor, pixel_labels: torch.Tensor) -> torch.Tensor:
        """Mean identity loss over the (sample, part) pairs, visible ones only when masking is on."""
        part_logits = output.part_logits.float()  # [N, K, C]
        per_pair = F.cross_entropy(
            part_logits.flatten(0, 1),
            labels.repeat_interleave(part_logits.shape[1]),
            label_smoothing=self.config.identity_label_smoothing,
            reduction="none",
        )
        if not self.config.triplet_visibility_masking:
            return per_pair.mean()
        visible = self._part_visibility(output, pixel_labels).flatten().float()
        return (per_pair * visible).sum() / visible.sum().clamp_min(1)

    def forward(self, output: ModelOutput, labels: torch.Tensor, pixel_labels: torch.Tensor) -> LossBreakdown:
        """output: the model's training forward; labels int64 [N]; pixel_labels int64 [N, h, w] in 0..K."""
        weights, margin = self.weights, self.config.triplet_margin
        part_visibility = self._part_visibility(output, pixel_labels) if self.config.triplet_visibility_masking else None
        candidates = {
            "global_identity": (weights.global_.identity, lambda: self._identity(output.global_logits, labels)),
            "global_triplet": (
                weights.global_.triplet,
                lambda: part_averaged_triplet_loss(output.global_embedding, labels, margin),
            ),
            "foreground_identity": (
                weights.foreground.identity,
                lambda: self._identity(output.foreground_logits, labels),
            ),
            "foreground_triplet": (
                weights.foreground.triplet,
                lambda: part_averaged_triplet_loss(output.foreground_embedding, labels, margin),
            ),
            "concat_identity": (weights.concat.identity, lambda: self._identity(output.concat_logits, labels)),
            "concat_triplet": (
                weights.concat.triplet,
                lambda: part_averaged_triplet_loss(output.concat_embedding, labels, margin),
            ),
            "parts_identity": (weights.parts.identity, lambda: self._part_identity(output, labels, pixel_labels)),
            "parts_triplet": (
                weights.parts.triplet,
                lambda: part_averaged_triplet_loss(output.part_embeddings, labels, margin, part_visibility),
            ),
            "part_attention": (
                self.config.part_attention_weight,
                lambda: part_attention_loss(
                    output.part_attention_logits, pixel_labels, self.config.part_attention_label_smoothing
                ),
            ),
        }
        terms = {name: weight * compute() for name, (weight, compute) in candidates.items() if weight != 0}
        total = torch.stack(list(terms.values())).sum() if terms else output.global_embedding.sum() * 0.0
        return LossBreakdown(total=total, terms=terms)
