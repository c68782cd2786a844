"""The BPSEMA network: backbone -> Dynamic Feature Refinement -> body part attention (with
Efficient Multi-Scale Attention) -> global / foreground / part pooling -> BNNeck identity heads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from reid.backbones import build_backbone
from reid.config import ReIDConfig, load_config
from reid.features import PartFeatures
from reid.modules.body_part_attention import (
    BodyPartAttention,
    binary_part_visibility,
    continuous_part_visibility,
    foreground_pooling,
    global_average_pooling,
    part_attention_mass,
    weighted_part_pooling,
)
from reid.modules.dynamic_feature_refinement import DynamicFeatureRefinement
from reid.modules.identity_head import IdentityHead
from reid.modules.part_visibility_classifier import PartVisibilityClassifier
from reid.part_groups import part_names


# State-dict keys of the visibility rules fitted after training (the ``calibrated`` thresholds and
# the ``classifier`` weights): not trained by the optimiser, written by ``train.calibrate_visibility``.
VISIBILITY_RULE_KEYS = ("visibility_thresholds", "visibility_classifier.")


@dataclass(frozen=True)
class ModelOutput:
    """Everything one forward pass produces. N images, K parts, D embedding size, C identities,
    h x w the feature map.

    Attributes:
        global_embedding: [N, D] average-pooled, before its BNNeck.
        foreground_embedding: [N, D] foreground-pooled, before its BNNeck.
        part_embeddings: [N, K, D] part-pooled (shared by the triplet loss and the test embeddings).
        foreground_embedding_normalized: [N, D] foreground embedding after its BNNeck BatchNorm.
        global_embedding_normalized: [N, D] global embedding after its BNNeck BatchNorm.
        global_logits, foreground_logits, concat_logits: [N, C].
        part_logits: [N, K, C].
        part_attention_logits: [N, K+1, h, w] pixel-classifier logits (channel 0 background).
        part_attention: [N, K+1, h, w] their softmax.
        visibility_scores: float [N, 1+K] foreground (its max probability) then parts (the
            configured ``visibility_score``: max probability or attention mass; with the
            ``classifier`` rule the classifier's probability).
        visibility: bool [N, 1+K] by the configured rule (foreground always visible in the binary,
            calibrated and classifier rules).
    """

    global_embedding: torch.Tensor
    foreground_embedding: torch.Tensor
    part_embeddings: torch.Tensor
    foreground_embedding_normalized: torch.Tensor
    global_embedding_normalized: torch.Tensor
    global_logits: torch.Tensor
    foreground_logits: torch.Tensor
    concat_logits: torch.Tensor
    part_logits: torch.Tensor
    part_attention_logits: torch.Tensor
    part_attention: torch.Tensor
    visibility_scores: torch.Tensor
    visibility: torch.Tensor

    @property
    def concat_embedding(self) -> torch.Tensor:
        """[N, K*D] the K part embeddings side by side."""
        return self.part_embeddings.flatten(1)


def part_features_from_output(output: ModelOutput) -> PartFeatures:
    """Test-time features: BN-necked foreground + pre-BN parts, each L2-normalised -> [N, 1+K, D]."""
    stacked = torch.cat([output.foreground_embedding_normalized.unsqueeze(1), output.part_embeddings], dim=1)
    return PartFeatures(F.normalize(stacked.float(), dim=-1), output.visibility)


class BPSEMA(nn.Module):
    def __init__(self, config: ReIDConfig, pretrained: bool | None = None, num_classes: int | None = None):
        super().__init__()
        model = config.model
        self.config = config
        self.num_parts = model.num_parts
        self.embedding_dim = model.embedding_dim
        self.num_classes = num_classes if num_classes is not None else model.num_classes
        self.part_names = part_names(model.num_parts)
        use_pretrained = model.pretrained if pretrained is None else pretrained

        self.backbone = build_backbone(model.backbone, use_pretrained, model.last_stride, model.output_stride)
        self.refinement = DynamicFeatureRefinement(
            self.backbone.out_channels, model.embedding_dim, model.residual, model.se, model.se_reduction
        )
        self.body_part_attention = BodyPartAttention(model.embedding_dim, model.num_parts, model.ema, model.ema_groups)
        self.global_head = IdentityHead(model.embedding_dim, self.num_classes)
        self.foreground_head = IdentityHead(model.embedding_dim, self.num_classes)
        self.concat_head = IdentityHead(model.embedding_dim * model.num_parts, self.num_classes)
        self.part_heads = nn.ModuleList(
            IdentityHead(model.embedding_dim, self.num_classes) for _ in range(model.num_parts)
        )
        if model.visibility == "calibrated":
            # [K] per-part thresholds on the part's maximum probability; fitted after training
            # (reid.visibility_calibration) and saved with the weights, so exports carry them.
            self.register_buffer("visibility_thresholds", torch.full((model.num_parts,), model.visibility_threshold))
        if model.visibility == "classifier":
            # K linear classifiers over the probability maps; fitted after training, saved with the weights.
            self.visibility_classifier = PartVisibilityClassifier(model.num_parts, model.visibility_classifier_input)

    def forward(self, images: torch.Tensor) -> ModelOutput:
        """images: float [N, 3, H, W], normalised -> ``ModelOutput``."""
        feature_map = self.backbone(images)  # [N, C_backbone, h, w]
        appearance = self.refinement(feature_map)  # [N, D, h, w]
        attention = self.body_part_attention(appearance)
        part_masks = attention.part_masks.to(appearance.dtype)  # [N, K, h, w]
        foreground_mask = attention.foreground_mask.to(appearance.dtype)  # [N, h, w]

        global_embedding = global_average_pooling(appearance)
        foreground_embedding = foreground_pooling(appearance, foreground_mask)
        part_embeddings = weighted_part_pooling(appearance, part_masks)  # [N, K, D]

        rule = self.config.model.visibility
        if rule == "classifier":
            part_logits_visible = self.visibility_classifier(attention.probabilities)  # [N, K]
            part_scores = torch.sigmoid(part_logits_visible)
        elif self.config.model.visibility_score == "attention_mass":
            part_scores = part_attention_mass(attention.probabilities)  # [N, K]
        else:
            part_scores = continuous_part_visibility(attention.probabilities)  # [N, K]
        foreground_score = attention.foreground_mask.flatten(1).amax(dim=1, keepdim=True)
        visibility_scores = torch.cat([foreground_score, part_scores], dim=1)
        if rule in ("binary", "calibrated", "classifier"):
            if rule == "binary":
                part_visible = binary_part_visibility(attention.probabilities)
            elif rule == "classifier":
                part_visible = part_logits_visible >= 0
            else:
                part_visible = part_scores >= self.visibility_thresholds.to(part_scores.dtype)
            foreground_visible = torch.ones_like(part_visible[:, :1])
            visibility = torch.cat([foreground_visible, part_visible], dim=1)
        else:
            visibility = visibility_scores >= self.config.model.visibility_threshold

        global_head = self.global_head(global_embedding)
        foreground_head = self.foreground_head(foreground_embedding)
        concat_head = self.concat_head(part_embeddings.flatten(1))
        part_logits = torch.stack(
            [head(part_embeddings[:, index]).logits for index, head in enumerate(self.part_heads)], dim=1
        )
        return ModelOutput(
            global_embedding=global_embedding,
            foreground_embedding=foreground_embedding,
            part_embeddings=part_embeddings,
            foreground_embedding_normalized=foreground_head.normalized,
            global_embedding_normalized=global_head.normalized,
            global_logits=global_head.logits,
            foreground_logits=foreground_head.logits,
            concat_logits=concat_head.logits,
            part_logits=part_logits,
            part_attention_logits=attention.logits,
            part_attention=attention.probabilities,
            visibility_scores=visibility_scores,
            visibility=visibility,
        )

    @torch.no_grad()
    def extract_features(self, images: torch.Tensor) -> PartFeatures:
        """images: float [N, 3, H, W], normalised -> ``PartFeatures`` ([N, 1+K, D], [N, 1+K]).

        The model must be in eval mode (BatchNorm statistics frozen).
        """
        if self.training:
            raise RuntimeError("extract_features needs eval mode: call model.eval() first")
        return part_features_from_output(self(images))


def build_model(
    config: str | Path | ReIDConfig, pretrained: bool | None = None, num_classes: int | None = None
) -> BPSEMA:
    """Build the network from a YAML file (or a loaded ``ReIDConfig``).

    ``pretrained`` overrides the file's ``model.pretrained``; ``num_classes`` overrides
    ``model.num_classes`` (the number of training identities).
    """
    if not isinstance(config, ReIDConfig):
        config = load_config(config)
    return BPSEMA(config, pretrained=pretrained, num_classes=num_classes)
