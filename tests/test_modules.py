import pytest
import torch

from reid.modules import DynamicFeatureRefinement, EfficientMultiScaleAttention, IdentityHead


def test_efficient_multiscale_attention_keeps_shape_and_only_rescales():
    attention = EfficientMultiScaleAttention(channels=64, groups=8)
    x = torch.randn(2, 64, 12, 4)
    y = attention(x)
    assert y.shape == x.shape
    # out = x * sigmoid(w): same sign as the input, never larger in magnitude, and not a no-op.
    assert torch.all(y * x >= 0)
    assert torch.all(y.abs() <= x.abs() + 1e-6)
    assert not torch.allclose(y, x)


def test_efficient_multiscale_attention_is_differentiable():
    attention = EfficientMultiScaleAttention(channels=8, groups=2).double()
    x = torch.randn(1, 8, 4, 3, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(attention, (x,), eps=1e-6, atol=1e-4)
    attention(x).sum().backward()
    for name, parameter in attention.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_efficient_multiscale_attention_rejects_indivisible_groups():
    with pytest.raises(ValueError):
        EfficientMultiScaleAttention(channels=30, groups=8)


def test_dynamic_feature_refinement_projects_shortcut_when_channels_differ():
    block = DynamicFeatureRefinement(32, 16, residual=True, se=True)
    assert isinstance(block.shortcut, torch.nn.Sequential)
    assert block(torch.randn(2, 32, 6, 4)).shape == (2, 16, 6, 4)
    same = DynamicFeatureRefinement(16, 16, residual=True, se=False)
    assert isinstance(same.shortcut, torch.nn.Identity)
    plain = DynamicFeatureRefinement(32, 16, residual=False, se=False)
    assert plain.shortcut is None and plain.channel_attention is None


def test_dynamic_feature_refinement_adds_the_input_on_the_identity_shortcut():
    block = DynamicFeatureRefinement(8, 8, residual=True, se=True).eval()
    torch.nn.init.zeros_(block.reduce[0].weight)  # the refined branch now outputs ReLU(BN(0)) = 0
    x = torch.randn(2, 8, 5, 3)
    torch.testing.assert_close(block(x), x)
    no_residual = DynamicFeatureRefinement(8, 8, residual=False, se=True).eval()
    torch.nn.init.zeros_(no_residual.reduce[0].weight)
    torch.testing.assert_close(no_residual(x), torch.zeros_like(x))


def test_identity_head_has_frozen_bias_and_bias_free_classifier():
    head = IdentityHead(16, 5)
    assert not head.bottleneck.bias.requires_grad
    assert head.classifier.bias is None
    normalized, logits = head(torch.randn(4, 16))
    assert normalized.shape == (4, 16) and logits.shape == (4, 5)
