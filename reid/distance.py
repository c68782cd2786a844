"""Visible-part distance: compare two crops only on the embeddings visible in both."""

from __future__ import annotations

import numpy as np
import torch

from reid.features import PartFeatures


def _per_embedding_distances(query: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """Euclidean distance per embedding. query [E, Nq, D], gallery [E, Ng, D] -> [E, Nq, Ng]."""
    squared = torch.baddbmm(
        torch.linalg.vector_norm(query, dim=-1).square().unsqueeze(2)
        + torch.linalg.vector_norm(gallery, dim=-1).square().unsqueeze(1),
        query,
        gallery.transpose(1, 2),
        alpha=-2.0,
    )
    return squared.clamp_min_(0).sqrt_()


def visible_part_distance(query: PartFeatures, gallery: PartFeatures, chunk_size: int = 500) -> torch.Tensor:
    """Mean over the embeddings visible in both crops of their Euclidean distance.

    Args:
        query: N_q crops, gallery: N_g crops, same K and D.
        chunk_size: the computation goes in blocks of at most ``chunk_size**2`` query-gallery
            pairs (``chunk_size`` queries at a time, and as many gallery items as fit), so at most one
            [1+K, chunk_size, chunk_size]-sized block of per-embedding distances exists at a time.

    Returns:
        float32 [N_q, N_g] on the query's device; ``+inf`` where no embedding is visible in both
        (such a pair is "unknown", never a match).
    """
    if query.embeddings.shape[1:] != gallery.embeddings.shape[1:]:
        raise ValueError(
            f"query [.., {tuple(query.embeddings.shape[1:])}] and gallery [.., {tuple(gallery.embeddings.shape[1:])}] "
            "must share 1+K and D"
        )
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    device = query.embeddings.device
    query_embeddings = query.embeddings.float().transpose(0, 1)  # [E, Nq, D]
    query_visibility = query.visibility.transpose(0, 1).float()  # [E, Nq]
    gallery_embeddings = gallery.embeddings.to(device).float().transpose(0, 1)
    gallery_visibility = gallery.visibility.to(device).transpose(0, 1).float()
    num_query, num_gallery = query_embeddings.shape[1], gallery_embeddings.shape[1]
    result = torch.empty(num_query, num_gallery, dtype=torch.float32, device=device)
    for query_start in range(0, num_query, chunk_size):
        query_block = slice(query_start, query_start + chunk_size)
        query_count = min(chunk_size, num_query - query_start)
        gallery_chunk = max(chunk_size, (chunk_size * chunk_size) // query_count)
        for gallery_start in range(0, num_gallery, gallery_chunk):
            gallery_block = slice(gallery_start, gallery_start + gallery_chunk)
            distances = _per_embedding_distances(
                query_embeddings[:, query_block], gallery_embeddings[:, gallery_block]
            )
            shared = query_visibility[:, query_block].unsqueeze(2) * gallery_visibility[:, gallery_block].unsqueeze(1)
            count = shared.sum(dim=0)
            mean = (distances * shared).sum(dim=0) / count.clamp_min(1)
            result[query_block, gallery_block] = torch.where(count > 0, mean, torch.full_like(mean, float("inf")))
    return result


def euclidean_distance(query: torch.Tensor, gallery: torch.Tensor, chunk_size: int = 500) -> torch.Tensor:
    """Plain Euclidean distance of single embeddings. query [N_q, D], gallery [N_g, D] -> float32 [N_q, N_g]."""
    gallery = gallery.to(query.device).float().unsqueeze(0)
    blocks = [
        _per_embedding_distances(query[start : start + chunk_size].float().unsqueeze(0), gallery)[0]
        for start in range(0, len(query), chunk_size)
    ]
    return torch.cat(blocks) if blocks else torch.zeros(0, gallery.shape[1], device=query.device)


def foreground_distance(query: PartFeatures, gallery: PartFeatures) -> torch.Tensor:
    """Euclidean distance of the foreground embeddings alone (index 0). -> float32 [N_q, N_g]."""
    return euclidean_distance(query.embeddings[:, 0], gallery.embeddings[:, 0])


def shared_embedding_counts(query: PartFeatures, gallery: PartFeatures) -> torch.Tensor:
    """How many embeddings are visible in both crops. -> int64 [N_q, N_g] (0: nothing shared)."""
    left = query.visibility.float()
    right = gallery.visibility.to(left.device).float()
    return (left @ right.T).round().long()


def paired_visible_part_distance(
    embeddings: np.ndarray, visibility: np.ndarray, left: np.ndarray, right: np.ndarray, chunk: int = 65536
) -> tuple[np.ndarray, np.ndarray]:
    """The visible-part distance of the row pairs (left[i], right[i]) only (no all-pairs matrix).

    embeddings: float [N, E, D]; visibility: bool [N, E]; left, right: int [P].
    Returns (float64 [P], ``inf`` where nothing is shared; int64 [P] shared embedding counts).
    """
    distances = np.empty(len(left), dtype=np.float64)
    shared_counts = np.empty(len(left), dtype=np.int64)
    for start in range(0, len(left), chunk):
        a, b = left[start : start + chunk], right[start : start + chunk]
        per_embedding = np.linalg.norm(embeddings[a] - embeddings[b], axis=2)  # [P, E]
        shared = visibility[a] & visibility[b]
        count = shared.sum(axis=1)
        total = (per_embedding * shared).sum(axis=1)
        distances[start : start + chunk] = np.where(count > 0, total / np.maximum(count, 1), np.inf)
        shared_counts[start : start + chunk] = count
    return distances, shared_counts
