"""Behaviour of the refine pass's clustering (pipeline.refinement.refine_clusters)."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from pipeline.association_constraints import AssociationConstraints, ConstraintSettings
from pipeline.match_rule import MatchRule
from pipeline.records import TrackKey
from pipeline.refinement import refine_clusters
from reid.distance import paired_visible_part_distance
from reid.features import PartFeatures

E, D = 3, 16  # embeddings (foreground + 2 parts), embedding size


@dataclass(frozen=True)
class Span:
    key: TrackKey
    first_timestamp_s: float
    last_timestamp_s: float


def unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)


def features_of(embeddings: np.ndarray, counts: np.ndarray) -> PartFeatures:
    embeddings = np.where(counts[:, :, None] > 0, embeddings, 0.0).astype(np.float32)
    return PartFeatures(torch.from_numpy(embeddings), torch.from_numpy(counts >= 1))


def cluster(spans, embeddings, counts, threshold=0.5, views_overlap=True, must_link=(), neighbours=20):
    return refine_clusters(
        spans,
        features_of(embeddings, counts),
        counts,
        MatchRule.single(threshold),
        AssociationConstraints(ConstraintSettings(views_overlap=views_overlap)),
        must_link=must_link,
        neighbours=neighbours,
    )


def as_partition(clusters) -> set[frozenset[int]]:
    return {frozenset(int(index) for index in members) for members in clusters}


def test_well_separated_people_are_recovered_exactly():
    rng = np.random.default_rng(3)
    persons, per_person = 30, 4
    looks = unit(rng.standard_normal((persons, E, D)))
    spans, embeddings, labels = [], [], []
    for person in range(persons):
        for visit in range(per_person):  # one visit per camera, one after the other
            start = 100.0 * person + 20.0 * visit
            spans.append(Span(TrackKey(f"cam{visit}", 1000 * person + visit), start, start + 10.0))
            embeddings.append(unit(looks[person] + 0.05 * rng.standard_normal((E, D))))
            labels.append(person)
    counts = rng.integers(1, 20, (len(spans), E))
    counts[rng.random(counts.shape) < 0.3] = 0
    counts[:, 0] = 10
    clusters = cluster(spans, np.stack(embeddings), counts)
    truth = {frozenset(np.flatnonzero(np.array(labels) == person).tolist()) for person in range(persons)}
    assert as_partition(clusters) == truth


def test_two_tracklets_of_one_camera_overlapping_in_time_are_never_merged_even_when_identical():
    look = unit(np.random.default_rng(0).standard_normal((1, E, D)))
    embeddings = np.repeat(look, 3, axis=0)
    counts = np.full((3, E), 5)
    spans = [
        Span(TrackKey("cam1", 1), 0.0, 10.0),
        Span(TrackKey("cam1", 2), 5.0, 15.0),  # overlaps track 1 in the same camera
        Span(TrackKey("cam2", 1), 0.0, 10.0),  # another camera at the same time: views may overlap
    ]
    clusters = cluster(spans, embeddings, counts)
    assert all(not {0, 1} <= set(members) for members in clusters)
    assert sorted(map(len, clusters)) == [1, 2]  # cam2's track joins one of them
    # the same tracks not overlapping in time are one person
    spans[1] = Span(TrackKey("cam1", 2), 11.0, 15.0)
    assert as_partition(cluster(spans, embeddings, counts)) == {frozenset({0, 1, 2})}


def test_without_overlapping_views_two_cameras_at_the_same_time_are_never_merged():
    look = unit(np.random.default_rng(1).standard_normal((1, E, D)))
    embeddings = np.repeat(look, 3, axis=0)
    counts = np.full((3, E), 5)
    spans = [
        Span(TrackKey("cam1", 1), 0.0, 10.0),
        Span(TrackKey("cam2", 1), 9.0, 20.0),  # overlaps cam1's track by one second
        Span(TrackKey("cam3", 1), 30.0, 40.0),
    ]
    clusters = as_partition(cluster(spans, embeddings, counts, views_overlap=False))
    assert all(not {0, 1} <= members for members in clusters)
    assert len(clusters) == 2
    assert as_partition(cluster(spans, embeddings, counts, views_overlap=True)) == {frozenset({0, 1, 2})}


def test_a_must_link_pair_is_merged_above_the_threshold_unless_the_constraints_forbid_it():
    rng = np.random.default_rng(2)
    embeddings = unit(rng.standard_normal((2, E, D)))  # two unrelated looks: distance about 1.4
    counts = np.full((2, E), 5)
    apart = [Span(TrackKey("cam1", 1), 0.0, 10.0), Span(TrackKey("cam1", 2), 12.0, 20.0)]
    assert as_partition(cluster(apart, embeddings, counts)) == {frozenset({0}), frozenset({1})}
    assert as_partition(cluster(apart, embeddings, counts, must_link=[(0, 1)])) == {frozenset({0, 1})}
    overlapping = [Span(TrackKey("cam1", 1), 0.0, 10.0), Span(TrackKey("cam1", 2), 8.0, 20.0)]
    assert as_partition(cluster(overlapping, embeddings, counts, must_link=[(0, 1)])) == {
        frozenset({0}), frozenset({1})
    }


# --- a dense reference: constrained centroid-linkage agglomerative clustering ------------------
def reference_clusters(spans, embeddings, counts, rule: MatchRule, views_overlap: bool, must_link=(), linked=None):
    """Every cluster pair scored after every merge; the closest pair the rule and the constraints
    allow merges first. Must-link pairs first, in order, where the constraints allow.

    linked: bool [N, N] or None; when given, two clusters are a candidate pair only when some
    member pair is linked (the refine pass's candidate graph)."""
    weighted = embeddings.astype(np.float64) * counts[:, :, None]
    clusters = [{"members": [index], "sums": weighted[index].copy(), "counts": counts[index].copy()}
                for index in range(len(spans))]

    def owner(index):
        return next(position for position, item in enumerate(clusters) if index in item["members"])

    def allowed(first, second):
        for a in clusters[first]["members"]:
            for b in clusters[second]["members"]:
                overlap = spans[a].first_timestamp_s <= spans[b].last_timestamp_s and (
                    spans[b].first_timestamp_s <= spans[a].last_timestamp_s
                )
                if overlap and (not views_overlap or spans[a].key.camera == spans[b].key.camera):
                    return False
        return True

    def distance(first, second):
        a, b = clusters[first], clusters[second]
        shared = (a["counts"] >= 1) & (b["counts"] >= 1)
        if not shared.any():
            return np.inf, 0
        left = a["sums"] / np.linalg.norm(a["sums"], axis=1, keepdims=True).clip(1e-12)
        right = b["sums"] / np.linalg.norm(b["sums"], axis=1, keepdims=True).clip(1e-12)
        return float(np.linalg.norm(left - right, axis=1)[shared].mean()), int(shared.sum())

    def merge(first, second):
        clusters[first]["members"] += clusters[second]["members"]
        clusters[first]["sums"] = clusters[first]["sums"] + clusters[second]["sums"]
        clusters[first]["counts"] = clusters[first]["counts"] + clusters[second]["counts"]
        del clusters[second]

    for a, b in sorted(must_link):
        first, second = owner(a), owner(b)
        if first != second and allowed(first, second):
            merge(min(first, second), max(first, second))
    while True:
        best = None
        for first in range(len(clusters)):
            for second in range(first + 1, len(clusters)):
                members = np.ix_(clusters[first]["members"], clusters[second]["members"])
                if linked is not None and not linked[members].any():
                    continue
                value, shared = distance(first, second)
                if rule.under_threshold(np.array(value), np.array(shared)) and allowed(first, second):
                    if best is None or value < best[0]:
                        best = (value, first, second)
        if best is None:
            return [item["members"] for item in clusters]
        merge(best[1], best[2])


def random_case(seed: int, count: int = 60):
    """People with a few tracklets each and noisy, partly hidden parts, in 3 cameras; time spans
    overlapping at random (so the constraints bite)."""
    rng = np.random.default_rng(seed)
    persons = count // 3
    looks = unit(rng.standard_normal((persons, E, D)))
    labels = rng.integers(persons, size=count)
    noise = rng.uniform(0.2, 0.6, (count, 1, 1)) / np.sqrt(D)  # noise of norm 0.2-0.6 per tracklet
    embeddings = unit(looks[labels] + noise * rng.standard_normal((count, E, D)))
    counts = rng.integers(1, 30, (count, E))
    counts[rng.random(counts.shape) < 0.3] = 0
    counts[:, 0] = rng.integers(1, 30, count)
    embeddings = np.where(counts[:, :, None] > 0, embeddings, 0.0).astype(np.float32)
    starts = rng.uniform(0.0, 200.0, count)
    spans = [
        Span(TrackKey(f"cam{rng.integers(3)}", index), float(start), float(start + rng.uniform(2.0, 30.0)))
        for index, start in enumerate(starts)
    ]
    return spans, embeddings, counts


def candidate_links(embeddings, counts, rule: MatchRule) -> np.ndarray:
    """bool [N, N]: the tracklet pairs whose own distance the rule accepts (the refine pass's graph
    when every tracklet is every other's neighbour)."""
    count = len(embeddings)
    left, right = np.triu_indices(count, 1)
    distances, shared = paired_visible_part_distance(embeddings, counts >= 1, left, right)
    accepted = rule.under_threshold(distances, shared)
    linked = np.zeros((count, count), dtype=bool)
    linked[left[accepted], right[accepted]] = True
    return linked | linked.T


@pytest.mark.parametrize(
    "seed, views_overlap", [(seed, overlap) for seed in range(8) for overlap in (True, False)]
)
def test_refine_clusters_equals_a_dense_reference_when_the_graph_is_complete(seed, views_overlap):
    spans, embeddings, counts = random_case(seed)
    rule = MatchRule((0.55, 0.6, 0.65))
    must_link = [(0, 1), (2, 5)]
    linked = candidate_links(embeddings, counts, rule)
    expected = reference_clusters(spans, embeddings, counts, rule, views_overlap, must_link, linked)
    assert 5 < len(expected) < len(spans) - 5  # the case merges some and keeps some apart
    found = refine_clusters(
        spans, features_of(embeddings, counts), counts, rule,
        AssociationConstraints(ConstraintSettings(views_overlap=views_overlap)),
        must_link=must_link, neighbours=len(spans),
    )
    assert as_partition(found) == as_partition(expected)


def on_circle(*coordinates) -> np.ndarray:
    """A foreground-only tracklet whose foreground is the given direction (parts hidden)."""
    embeddings = np.zeros((E, D), dtype=np.float32)
    embeddings[0, : len(coordinates)] = coordinates
    return embeddings


def test_a_merge_that_brings_two_clusters_closer_is_taken_in_distance_order():
    """A and B (one camera, apart in time) are closest and merge first (0.495); their centroid is
    closer to C (0.475) than either of them was (0.530), and closer than D is to C (0.510). Closest
    pair first merges A+B with C; D overlaps A and B in their camera and stays alone."""
    alpha, beta, theta = 0.25, 0.48, 2 * np.arcsin(0.255)
    c = np.array([np.cos(beta), 0.0, np.sin(beta), 0.0])
    d = np.cos(theta) * c + np.sin(theta) * np.array([0.0, 0.0, 0.0, 1.0])
    embeddings = np.stack([
        on_circle(np.cos(alpha), np.sin(alpha)), on_circle(np.cos(alpha), -np.sin(alpha)), on_circle(*c), on_circle(*d)
    ])
    counts = np.zeros((4, E), dtype=np.int64)
    counts[:, 0] = 10
    spans = [
        Span(TrackKey("cam1", 1), 0.0, 10.0),
        Span(TrackKey("cam1", 2), 20.0, 30.0),
        Span(TrackKey("cam2", 1), 40.0, 50.0),
        Span(TrackKey("cam1", 3), 5.0, 25.0),
    ]
    rule = MatchRule.single(0.6)
    expected = {frozenset({0, 1, 2}), frozenset({3})}
    assert as_partition(reference_clusters(spans, embeddings, counts, rule, True)) == expected
    assert as_partition(cluster(spans, embeddings, counts, threshold=0.6, neighbours=4)) == expected
