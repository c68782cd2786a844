import math

import pytest
import torch

import reid
from reid.config import EmbeddingLossWeights, GiltWeights, LossConfig
from reid.losses import BPSEMALoss, part_attention_loss, part_averaged_triplet_loss
from reid.part_labels import pixel_part_labels
from tests.conftest import small_config

LABELS = torch.tensor([0, 0, 1, 1])
# Two parts, one-dimensional embeddings, so every distance is an absolute difference.
PART0 = [0.0, 1.0, 3.0, 5.0]
PART1 = [0.0, 0.0, 0.0, 4.0]


def _embeddings(*parts):
    return torch.tensor(parts).T.unsqueeze(-1)  # [N, K, 1]


def test_batch_hard_triplet_single_embedding_by_hand():
    # anchor 2 (value 3): hardest positive |3-5| = 2, hardest negative |3-1| = 2 -> 0.3; others 0.
    loss = part_averaged_triplet_loss(torch.tensor(PART0).unsqueeze(1), LABELS, margin=0.3)
    assert loss.item() == pytest.approx(0.3 / 4, abs=1e-5)


def test_part_averaged_triplet_by_hand():
    # Mean part distances: d01=.5 d02=1.5 d03=4.5 d12=1 d13=4 d23=3; only anchor 2 violates: 3 - 1 + .3.
    loss = part_averaged_triplet_loss(_embeddings(PART0, PART1), LABELS, margin=0.3)
    assert loss.item() == pytest.approx(2.3 / 4, abs=1e-5)


def test_visibility_masking_uses_only_mutually_visible_parts():
    visibility = torch.tensor([[True, True], [True, True], [True, True], [False, True]])
    loss = part_averaged_triplet_loss(_embeddings(PART0, PART1), LABELS, 0.3, visibility)
    # Pairs with sample 3 use part 1 only (all 4): anchor 2 -> 4 - 1 + .3, anchor 3 -> 4 - 4 + .3.
    assert loss.item() == pytest.approx((3.3 + 0.3) / 4, abs=1e-5)
    # What sample 3 shows on its invisible part cannot change the loss.
    changed = _embeddings([0.0, 1.0, 3.0, -100.0], PART1)
    assert part_averaged_triplet_loss(changed, LABELS, 0.3, visibility).item() == pytest.approx(loss.item(), abs=1e-6)
    assert part_averaged_triplet_loss(changed, LABELS, 0.3).item() != pytest.approx(loss.item(), abs=1e-3)


def test_pairs_sharing_no_visible_part_are_left_out_of_mining():
    visibility = torch.tensor([[True, True], [True, True], [False, True], [True, False]])
    loss = part_averaged_triplet_loss(_embeddings(PART0, PART1), LABELS, 0.3, visibility)
    # d01=.5 d02=0 (part 1) d03=5 (part 0) d12=0 d13=4, d23 unknown (excluded, not 0 or large).
    assert loss.item() == pytest.approx((0.8 + 0.8 + 0.3 + 0.0) / 4, abs=1e-5)


def test_triplet_without_valid_anchor_is_zero_and_differentiable():
    embeddings = torch.randn(3, 2, 4, requires_grad=True)
    loss = part_averaged_triplet_loss(embeddings, torch.tensor([0, 1, 2]), 0.3)
    assert loss.item() == 0.0
    loss.backward()
    assert embeddings.grad is not None


def test_part_attention_loss_is_label_smoothed_cross_entropy():
    logits = torch.tensor([[[[2.0, 0.0]], [[0.5, 1.0]], [[-1.0, 3.0]]]])  # [1, K+1=3, 1, 2]
    labels = torch.tensor([[[0, 2]]])
    epsilon = 0.1
    expected = 0.0
    for pixel, label in enumerate([0, 2]):
        log_probabilities = torch.log_softmax(logits[0, :, 0, pixel], dim=0)
        expected += -(1 - epsilon) * log_probabilities[label] - epsilon / 3 * log_probabilities.sum()
    assert part_attention_loss(logits, labels, epsilon).item() == pytest.approx(expected.item() / 2, abs=1e-5)


def _batch(num_parts=8, batch=8, identities=4):
    images = torch.randn(batch, 3, 128, 64)
    labels = torch.arange(batch) % identities
    part_maps = torch.zeros(batch, num_parts, 16, 8)
    for part in range(num_parts):  # horizontal bands from head to feet
        rows = slice(2 * part, 2 * part + 2)
        part_maps[:, part, rows, 2:6] = 1.0
    return images, labels, pixel_part_labels(part_maps, (8, 4))


@pytest.mark.parametrize("preset, has_foreground_triplet", [("occluded", False), ("holistic", True)])
def test_loss_presets_select_the_reference_terms(preset, has_foreground_triplet):
    model = reid.build_model(small_config())
    images, labels, pixel_labels = _batch()
    breakdown = BPSEMALoss(LossConfig(preset=preset))(model(images), labels, pixel_labels)
    expected = {"global_identity", "foreground_identity", "concat_identity", "parts_triplet", "part_attention"}
    if has_foreground_triplet:
        expected.add("foreground_triplet")
    assert set(breakdown.terms) == expected
    torch.testing.assert_close(breakdown.total, torch.stack(list(breakdown.terms.values())).sum())
    # identity with eps 0.1 on 6 classes starts near log(6)
    assert breakdown.terms["global_identity"].item() == pytest.approx(math.log(6), abs=0.3)


def test_part_attention_weight_scales_its_term():
    model = reid.build_model(small_config())
    images, labels, pixel_labels = _batch()
    output = model(images)
    base = BPSEMALoss(LossConfig(part_attention_weight=1.0))(output, labels, pixel_labels)
    scaled = BPSEMALoss(LossConfig())(output, labels, pixel_labels)
    assert scaled.terms["part_attention"].item() == pytest.approx(0.35 * base.terms["part_attention"].item(), rel=1e-5)


def test_tiny_batch_overfits_with_every_loss_on():
    torch.manual_seed(0)
    model = reid.build_model(small_config())
    all_on = EmbeddingLossWeights(identity=1.0, triplet=1.0)
    criterion = BPSEMALoss(
        LossConfig(weights=GiltWeights(global_=all_on, foreground=all_on, concat=all_on, parts=all_on))
    )
    images, labels, pixel_labels = _batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = []
    for _ in range(40):
        optimizer.zero_grad()
        breakdown = criterion(model(images), labels, pixel_labels)
        breakdown.total.backward()
        optimizer.step()
        history.append({name: value.item() for name, value in breakdown.terms.items()} | {"total": breakdown.total.item()})
    assert len(history[0]) == 10  # 8 GiLt terms + part attention + total
    assert history[-1]["total"] < 0.5 * history[0]["total"]
    assert history[-1]["part_attention"] < history[0]["part_attention"]
    assert history[-1]["global_identity"] < history[0]["global_identity"]
