"""Part-averaged batch-hard triplet loss (GiLt's triplet term)."""

from __future__ import annotations

import torch


def pairwise_part_distances(embeddings: torch.Tensor) -> torch.Tensor:
    """Euclidean distance per part. embeddings [N, K, D] -> [K, N, N] (sqrt with an eps guard)."""
    per_part = embeddings.transpose(0, 1).float()  # [K, N, D]
    squared_norms = per_part.pow(2).sum(dim=-1)  # [K, N]
    squared = squared_norms.unsqueeze(2) + squared_norms.unsqueeze(1) - 2 * per_part @ per_part.transpose(1, 2)
    return squared.clamp_min(1e-12).sqrt()


def part_averaged_triplet_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    margin: float = 0.3,
    visibility: torch.Tensor | None = None,
) -> torch.Tensor:
    """Batch-hard triplet loss on the mean over parts of the per-part Euclidean distances.

    Args:
        embeddings: [N, K, D] (or [N, D], treated as K = 1), pre-BN and un-normalised.
        labels: int [N] identity of each sample.
        margin: relu(d(a, hardest positive) - d(a, hardest negative) + margin).
        visibility: optional bool [N, K]; when given, a pair's distance is the mean over the parts
            visible in both samples, and pairs sharing no visible part are left out of the mining.

    Returns:
        scalar: mean over the anchors that have both a valid positive and a valid negative
        (0, still attached to the graph, when none has).
    """
    if embeddings.dim() == 2:
        embeddings = embeddings.unsqueeze(1)
        if visibility is not None and visibility.dim() == 1:
            visibility = visibility.unsqueeze(1)
    distances = pairwise_part_distances(embeddings)  # [K, N, N]
    if visibility is None:
        pair_distance = distances.mean(dim=0)
        valid_pair = torch.ones_like(pair_distance, dtype=torch.bool)
    else:
        shared = visibility.float().transpose(0, 1)  # [K, N]
        shared = shared.unsqueeze(2) * shared.unsqueeze(1)  # [K, N, N] parts visible in both
        count = shared.sum(dim=0)
        pair_distance = (distances * shared).sum(dim=0) / count.clamp_min(1)
        valid_pair = count > 0

    same_identity = labels.unsqueeze(0) == labels.unsqueeze(1)
    positive_candidates = same_identity & valid_pair
    negative_candidates = ~same_identity & valid_pair
    hardest_positive = pair_distance.masked_fill(~positive_candidates, float("-inf")).amax(dim=1)
    hardest_negative = pair_distance.masked_fill(~negative_candidates, float("inf")).amin(dim=1)
    valid_anchor = positive_candidates.any(dim=1) & negative_candidates.any(dim=1)
    if not bool(valid_anchor.any()):
        return embeddings.sum() * 0.0
    losses = torch.relu(hardest_positive[valid_anchor] - hardest_negative[valid_anchor] + margin)
    return losses.mean()
