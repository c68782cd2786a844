import math

import numpy as np
import pytest
import torch

from reid.distance import foreground_distance, visible_part_distance
from reid.features import PartFeatures


def _random_features(n, num_parts=5, dim=16, visible_fraction=0.6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.nn.functional.normalize(torch.randn(n, 1 + num_parts, dim, generator=generator), dim=-1)
    visibility = torch.rand(n, 1 + num_parts, generator=generator) < visible_fraction
    return PartFeatures(embeddings, visibility)


def _naive(query: PartFeatures, gallery: PartFeatures) -> np.ndarray:
    q, g = query.embeddings.double().numpy(), gallery.embeddings.double().numpy()
    qv, gv = query.visibility.numpy(), gallery.visibility.numpy()
    result = np.full((len(q), len(g)), np.inf)
    for i in range(len(q)):
        for j in range(len(g)):
            shared = qv[i] & gv[j]
            if shared.any():
                result[i, j] = np.linalg.norm(q[i, shared] - g[j, shared], axis=-1).mean()
    return result


def test_distance_by_hand():
    # 1+K = 3 embeddings in 2-D; query sees {0, 1}, gallery item 0 sees {1, 2}, item 1 sees {0, 1, 2}.
    query = PartFeatures(
        torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]]), torch.tensor([[True, True, False]])
    )
    gallery = PartFeatures(
        torch.tensor([[[0.0, 1.0], [0.0, -1.0], [1.0, 0.0]], [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]]),
        torch.tensor([[False, True, True], [True, True, True]]),
    )
    distances = visible_part_distance(query, gallery)
    assert distances.dtype == torch.float32 and distances.shape == (1, 2)
    assert distances[0, 0].item() == pytest.approx(2.0, abs=1e-5)  # only part 1 shared: |(0,1)-(0,-1)| = 2
    assert distances[0, 1].item() == pytest.approx((math.sqrt(2) + math.sqrt(2)) / 2, abs=1e-5)


def test_nothing_shared_is_infinite():
    query = PartFeatures(torch.ones(1, 3, 2), torch.tensor([[True, False, False]]))
    gallery = PartFeatures(torch.ones(2, 3, 2), torch.tensor([[False, True, True], [True, False, False]]))
    distances = visible_part_distance(query, gallery)
    assert math.isinf(distances[0, 0].item()) and distances[0, 0].item() > 0
    assert distances[0, 1].item() == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000])
def test_chunked_equals_unchunked_and_naive(chunk_size):
    query, gallery = _random_features(23, seed=1), _random_features(61, seed=2)
    reference = visible_part_distance(query, gallery, chunk_size=10_000)
    chunked = visible_part_distance(query, gallery, chunk_size=chunk_size)
    assert torch.equal(torch.isinf(reference), torch.isinf(chunked))
    finite = torch.isfinite(reference)
    torch.testing.assert_close(chunked[finite], reference[finite])
    naive = _naive(query, gallery)
    assert np.array_equal(np.isinf(naive), torch.isinf(reference).numpy())
    np.testing.assert_allclose(reference.numpy()[finite.numpy()], naive[finite.numpy()], atol=1e-4)


def test_foreground_distance_uses_the_foreground_only():
    query, gallery = _random_features(4, seed=3), _random_features(5, seed=4)
    expected = torch.cdist(query.embeddings[:, 0], gallery.embeddings[:, 0])
    torch.testing.assert_close(foreground_distance(query, gallery), expected, atol=1e-4, rtol=0)
