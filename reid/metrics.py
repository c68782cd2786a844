"""ReID ranking metrics under the Market-1501 protocol (CMC and mAP)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RankResult:
    """cmc: float [max_rank], fraction of valid queries with a true match within the top r+1.
    mAP: mean average precision in [0, 1]. num_valid_queries: queries that had a match left."""

    cmc: np.ndarray
    mAP: float
    num_valid_queries: int

    def rank(self, r: int) -> float:
        """Rank-r accuracy (1-based)."""
        return float(self.cmc[r - 1])


def evaluate_rank(
    distmat,
    query_pids,
    gallery_pids,
    query_camids,
    gallery_camids,
    max_rank: int = 50,
) -> RankResult:
    """Market-1501 protocol: for each query, sort the gallery by distance, drop gallery items with
    the same pid AND the same camera as the query, skip queries with no remaining match.

    distmat: [Nq, Ng] (``inf`` = unknown, ranked last); pids / camids: int arrays [Nq] and [Ng].
    """
    distmat = np.asarray(distmat, dtype=np.float64)
    query_pids, gallery_pids = np.asarray(query_pids), np.asarray(gallery_pids)
    query_camids, gallery_camids = np.asarray(query_camids), np.asarray(gallery_camids)
    num_query, num_gallery = distmat.shape
    if query_pids.shape != (num_query,) or query_camids.shape != (num_query,):
        raise ValueError("query_pids and query_camids must have one entry per distmat row")
    if gallery_pids.shape != (num_gallery,) or gallery_camids.shape != (num_gallery,):
        raise ValueError("gallery_pids and gallery_camids must have one entry per distmat column")
    max_rank = min(max_rank, num_gallery)

    order = np.argsort(distmat, axis=1, kind="stable")
    all_cmc, all_average_precision = [], []
    for query_index in range(num_query):
        ranked = order[query_index]
        same_camera_same_id = (gallery_pids[ranked] == query_pids[query_index]) & (
            gallery_camids[ranked] == query_camids[query_index]
        )
        matches = (gallery_pids[ranked] == query_pids[query_index])[~same_camera_same_id]
        if not matches.any():
            continue
        cumulative = matches.cumsum()
        cmc = np.minimum(cumulative, 1).astype(np.float64)
        if cmc.size < max_rank:
            cmc = np.concatenate([cmc, np.ones(max_rank - cmc.size)])
        all_cmc.append(cmc[:max_rank])
        precision_at_hit = cumulative / np.arange(1, matches.size + 1)
        all_average_precision.append(float((precision_at_hit * matches).sum() / matches.sum()))
    if not all_cmc:
        raise ValueError("no query has a true match in the gallery (after removing same-camera matches)")
    return RankResult(
        cmc=np.mean(all_cmc, axis=0),
        mAP=float(np.mean(all_average_precision)),
        num_valid_queries=len(all_cmc),
    )
