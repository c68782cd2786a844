import pytest
import torch

import reid
from reid.features import PartFeatures
from reid.modules.body_part_attention import (
    binary_part_visibility,
    continuous_part_visibility,
    foreground_pooling,
    weighted_part_pooling,
)
from tests.conftest import CONFIG_DIR, small_config


@pytest.mark.parametrize("backbone", ["resnet18", "resnet50"])
@pytest.mark.parametrize("num_parts", [5, 8])
def test_forward_and_feature_shapes(backbone, num_parts):
    config = small_config(backbone=backbone, num_parts=num_parts)
    model = reid.build_model(config)
    images = torch.randn(3, 3, 128, 64)
    output = model(images)
    d, c = 64, 6
    assert output.global_embedding.shape == (3, d)
    assert output.foreground_embedding.shape == (3, d)
    assert output.part_embeddings.shape == (3, num_parts, d)
    assert output.concat_embedding.shape == (3, num_parts * d)
    assert output.global_logits.shape == output.foreground_logits.shape == output.concat_logits.shape == (3, c)
    assert output.part_logits.shape == (3, num_parts, c)
    assert output.part_attention_logits.shape == (3, num_parts + 1, 8, 4)  # last stride 1: 1/16
    torch.testing.assert_close(output.part_attention.sum(dim=1), torch.ones(3, 8, 4))

    model.eval()
    features = model.extract_features(images)
    assert isinstance(features, reid.PartFeatures)
    assert features.embeddings.shape == (3, 1 + num_parts, d)
    assert features.embeddings.dtype == torch.float32
    assert features.visibility.shape == (3, 1 + num_parts) and features.visibility.dtype == torch.bool
    torch.testing.assert_close(features.embeddings.norm(dim=-1), torch.ones(3, 1 + num_parts))
    assert features.visibility[:, 0].all(), "foreground is always visible under the binary rule"


def test_test_embeddings_are_bn_foreground_and_raw_parts():
    model = reid.build_model(small_config()).eval()
    images = torch.randn(2, 3, 128, 64)
    with torch.no_grad():
        output = model(images)
    features = model.extract_features(images)
    expected_foreground = torch.nn.functional.normalize(model.foreground_head.bottleneck(output.foreground_embedding))
    torch.testing.assert_close(features.embeddings[:, 0], expected_foreground)
    torch.testing.assert_close(features.embeddings[:, 1:], torch.nn.functional.normalize(output.part_embeddings, dim=-1))


def test_extract_features_refuses_training_mode():
    model = reid.build_model(small_config())
    with pytest.raises(RuntimeError, match="eval"):
        model.extract_features(torch.randn(1, 3, 128, 64))


@pytest.mark.parametrize("backbone, channels, map_size", [("hrnet_w32", 1920, (32, 16)), ("resnet50_ibn", 2048, (8, 4))])
def test_other_backbones_build(backbone, channels, map_size):
    model = reid.build_model(small_config(backbone=backbone))
    assert model.backbone.out_channels == channels
    output = model.eval()(torch.randn(1, 3, 128, 64))
    assert output.part_attention_logits.shape[-2:] == map_size
    if backbone == "resnet50_ibn":
        from reid.backbones import InstanceBatchNorm

        assert isinstance(model.backbone.layer1[0].bn1, InstanceBatchNorm)
        assert not isinstance(model.backbone.layer4[0].bn1, InstanceBatchNorm)


def test_resnet50_last_stride_one_gives_24x8_for_paper_input():
    model = reid.build_model(CONFIG_DIR / "model" / "bpsema_occluded_duke.yaml", pretrained=False).eval()
    with torch.no_grad():
        output = model(torch.randn(1, 3, 384, 128))
    assert output.part_attention_logits.shape == (1, 9, 24, 8)
    assert model.backbone.out_channels == 2048


def _has(model, module_type) -> bool:
    return any(isinstance(module, module_type) for module in model.modules())


@pytest.mark.parametrize(
    "row, residual, projection, se, ema",
    [
        ("d1", False, False, False, False),
        ("d2", True, True, False, False),
        ("d3", True, True, True, False),
        ("d4", True, True, True, True),
    ],
)
def test_ablation_rows_build_the_intended_modules(row, residual, projection, se, ema):
    from torchvision.ops import SqueezeExcitation

    from reid.modules import EfficientMultiScaleAttention

    model = reid.build_model(CONFIG_DIR / "model" / "ablation" / f"{row}.yaml", pretrained=False)
    refinement = model.refinement
    assert (refinement.shortcut is not None) == residual
    if projection:
        assert isinstance(refinement.shortcut[0], torch.nn.Conv2d)
        assert refinement.shortcut[0].in_channels == 2048 and refinement.shortcut[0].out_channels == 512
    assert _has(model, SqueezeExcitation) == se
    assert _has(model, EfficientMultiScaleAttention) == ema
    assert model.num_parts == 8


def test_binary_visibility_follows_argmax():
    # K=2, a 1x3 map: pixel 0 -> background, pixel 1 -> part 2, pixel 2 -> part 2. Part 1 never wins.
    probabilities = torch.tensor([[[[0.6, 0.1, 0.2]], [[0.3, 0.4, 0.1]], [[0.1, 0.5, 0.7]]]])
    assert binary_part_visibility(probabilities).tolist() == [[False, True]]
    torch.testing.assert_close(continuous_part_visibility(probabilities), torch.tensor([[0.4, 0.7]]))


def test_continuous_visibility_mode_thresholds_the_maximum_probability():
    model = reid.build_model(small_config(visibility="continuous", visibility_threshold=0.2)).eval()
    with torch.no_grad():
        output = model(torch.randn(2, 3, 128, 64))
    assert torch.equal(output.visibility, output.visibility_scores >= 0.2)


def test_pooling_by_hand():
    feature_map = torch.tensor([[[[1.0, 3.0]], [[2.0, 4.0]]]])  # [1, D=2, 1, 2]
    part_masks = torch.tensor([[[[1.0, 0.0]], [[0.25, 0.75]], [[0.0, 0.0]]]])  # [1, K=3, 1, 2]
    pooled = weighted_part_pooling(feature_map, part_masks)
    torch.testing.assert_close(pooled[0, 0], torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(pooled[0, 1], torch.tensor([0.25 * 1 + 0.75 * 3, 0.25 * 2 + 0.75 * 4]))
    torch.testing.assert_close(pooled[0, 2], torch.tensor([0.0, 0.0]))  # empty mask: no division by zero
    foreground = foreground_pooling(feature_map, torch.tensor([[[1.0, 0.5]]]))
    torch.testing.assert_close(foreground, torch.tensor([[(1 + 1.5) / 2, (2 + 2.0) / 2]]))


def test_part_features_contract_is_checked():
    with pytest.raises(ValueError):
        PartFeatures(torch.zeros(2, 3, 4), torch.zeros(2, 3))  # not bool
    with pytest.raises(ValueError):
        PartFeatures(torch.zeros(2, 3, 4), torch.zeros(2, 2, dtype=torch.bool))
    empty = PartFeatures.empty(num_parts=8, embedding_dim=16)
    assert len(empty) == 0 and empty.num_parts == 8 and empty.embedding_dim == 16
    both = PartFeatures.concatenate([empty, PartFeatures(torch.ones(2, 9, 16), torch.ones(2, 9, dtype=torch.bool))])
    assert len(both) == 2 and len(both[1]) == 1
