import numpy as np
import pytest

from reid.metrics import evaluate_rank


def test_rank_and_map_by_hand():
    # One query (pid 1, cam 0). Gallery sorted by distance: g0 pid 2, g1 pid 1 (cam 1), g2 pid 3, g3 pid 1 (cam 2).
    distmat = np.array([[0.1, 0.2, 0.3, 0.4]])
    result = evaluate_rank(distmat, [1], [2, 1, 3, 1], [0], [1, 1, 1, 2], max_rank=4)
    np.testing.assert_allclose(result.cmc, [0, 1, 1, 1])
    # hits at ranks 2 and 4: AP = (1/2 + 2/4) / 2
    assert result.mAP == pytest.approx(0.5)
    assert result.num_valid_queries == 1


def test_same_identity_same_camera_is_removed_but_other_camera_kept():
    # g0 is the same person in the same camera (removed); g1 is another person in the query's camera (kept).
    distmat = np.array([[0.0, 0.1, 0.2]])
    result = evaluate_rank(distmat, [7], [7, 8, 7], [3], [3, 3, 4], max_rank=2)
    np.testing.assert_allclose(result.cmc, [0, 1])
    assert result.mAP == pytest.approx(0.5)


def test_queries_without_a_remaining_match_are_skipped():
    distmat = np.array([[0.3, 0.1], [0.2, 0.1]])
    # query 0 (pid 5, cam 0) only matches g0 in its own camera -> skipped; query 1 hits at rank 1.
    result = evaluate_rank(distmat, [5, 6], [5, 6], [0, 0], [0, 1], max_rank=2)
    assert result.num_valid_queries == 1
    np.testing.assert_allclose(result.cmc, [1, 1])
    assert result.mAP == pytest.approx(1.0)
    with pytest.raises(ValueError):
        evaluate_rank(np.array([[0.1]]), [1], [1], [0], [0])


def test_unknown_pairs_rank_last():
    distmat = np.array([[np.inf, 0.5, 0.2]])
    result = evaluate_rank(distmat, [1], [1, 2, 3], [0], [1, 1, 1], max_rank=3)
    np.testing.assert_allclose(result.cmc, [0, 0, 1])
    assert result.mAP == pytest.approx(1 / 3)


def test_map_and_cmc_agree_with_independent_implementations():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    num_query, num_gallery = 30, 200
    query_pids, gallery_pids = rng.integers(0, 15, num_query), rng.integers(0, 15, num_gallery)
    query_camids, gallery_camids = rng.integers(0, 3, num_query), rng.integers(0, 3, num_gallery)
    distmat = rng.random((num_query, num_gallery))
    result = evaluate_rank(distmat, query_pids, gallery_pids, query_camids, gallery_camids, max_rank=20)

    average_precisions, first_hits = [], []
    for q in range(num_query):
        keep = ~((gallery_pids == query_pids[q]) & (gallery_camids == query_camids[q]))
        truth = gallery_pids[keep] == query_pids[q]
        if not truth.any():
            continue
        average_precisions.append(average_precision_score(truth, -distmat[q, keep]))
        order = np.argsort(distmat[q, keep])
        first_hits.append(int(np.argmax(truth[order])))
    assert result.num_valid_queries == len(average_precisions)
    assert result.mAP == pytest.approx(np.mean(average_precisions), abs=1e-9)
    first_hits = np.array(first_hits)
    for rank in (1, 5, 10, 20):
        assert result.rank(rank) == pytest.approx(np.mean(first_hits < rank), abs=1e-9)
