"""Building blocks of the BPSEMA network."""

from reid.modules.body_part_attention import BodyPartAttention, PartAttentionMaps
from reid.modules.dynamic_feature_refinement import DynamicFeatureRefinement
from reid.modules.efficient_multiscale_attention import EfficientMultiScaleAttention
from reid.modules.identity_head import IdentityHead, IdentityHeadOutput
from reid.modules.part_visibility_classifier import PartVisibilityClassifier

__all__ = [
    "BodyPartAttention",
    "PartAttentionMaps",
    "DynamicFeatureRefinement",
    "EfficientMultiScaleAttention",
    "IdentityHead",
    "IdentityHeadOutput",
    "PartVisibilityClassifier",
]
