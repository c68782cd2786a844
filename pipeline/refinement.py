"""The refine pass for recorded runs: constrained agglomerative clustering of every tracklet over a
sparse candidate graph, so that it scales to tens of thousands of tracklets.

1. Candidate graph: each tracklet's ``neighbours`` nearest tracklets by the foreground embedding
   (faiss, exact inner product on unit vectors), then every edge re-scored with the visible-part
   distance; only edges the match rule accepts are kept. No N x N matrix is ever built.
2. Merging: centroid linkage (a cluster's part memory is the sum of its members' memories), in the
   order of the current cluster-to-cluster distance (a heap; an edge whose clusters changed since it
   was scored is re-scored when it comes up). Two clusters merge when their distance passes the rule
   and the constraints allow the union (vectorised over the members' time spans). Must-link pairs
   (stitched fragments of one camera) are merged first, where the constraints allow.
"""

from __future__ import annotations

import heapq
from typing import Sequence

import numpy as np

from reid.distance import paired_visible_part_distance
from reid.features import PartFeatures
from pipeline.association_constraints import AssociationConstraints
from pipeline.match_rule import MatchRule


def nearest_neighbour_pairs(foreground: np.ndarray, neighbours: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique pairs (i < j) where j is among i's ``neighbours`` nearest rows or i among j's.

    foreground: float32 [N, D] unit vectors. Returns int64 [P] left and right rows.
    """
    import faiss

    count = len(foreground)
    if count < 2 or neighbours <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    vectors = np.ascontiguousarray(foreground, dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    _, found = index.search(vectors, min(count, neighbours + 1))
    rows = np.repeat(np.arange(count), found.shape[1])
    columns = found.reshape(-1)
    keep = (columns >= 0) & (columns != rows)
    left, right = np.minimum(rows[keep], columns[keep]), np.maximum(rows[keep], columns[keep])
    pairs = np.unique(left * count + right)
    return pairs // count, pairs % count


class ClusterState:
    """Union-find over tracklets with each root's summed part memory and member time spans.

    sums: float32 [N, E, D]; counts: int64 [N, E]; cameras: int [N] camera codes; starts, ends:
    float64 [N] first and last timestamps.
    """

    def __init__(self, sums, counts, cameras, starts, ends, min_part_observations: int):
        self.parent = np.arange(len(sums))
        self.version = np.zeros(len(sums), dtype=np.int64)
        self.sums, self.counts = sums, counts
        self.cameras, self.starts, self.ends = cameras, starts, ends
        self.members: list[list[int]] = [[index] for index in range(len(sums))]
        self.minimum = max(1, min_part_observations)

    def find(self, index: int) -> int:
        root = index
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[index] != root:
            self.parent[index], index = root, self.parent[index]
        return int(root)

    def distance(self, first: int, second: int) -> tuple[float, int]:
        """Centroid visible-part distance and shared count of two roots."""
        a, b = self.sums[first], self.sums[second]
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        shared = (self.counts[first] >= self.minimum) & (self.counts[second] >= self.minimum)
        count = int(shared.sum())
        if count == 0:
            return float("inf"), 0
        return float(np.linalg.norm(a - b, axis=1)[shared].sum() / count), count

    def union_conflicts(self, first: int, second: int, views_overlap: bool) -> bool:
        """Do any two members of the two clusters overlap in time where they may not?"""
        left, right = np.array(self.members[first]), np.array(self.members[second])
        overlap = (self.starts[left][:, None] <= self.ends[right][None, :]) & (
            self.starts[right][None, :] <= self.ends[left][:, None]
        )
        if not views_overlap:
            return bool(overlap.any())
        same_camera = self.cameras[left][:, None] == self.cameras[right][None, :]
        return bool((overlap & same_camera).any())

    def merge(self, first: int, second: int) -> int:
        if len(self.members[first]) < len(self.members[second]):
            first, second = second, first
        self.parent[second] = first
        self.sums[first] += self.sums[second]
        self.counts[first] += self.counts[second]
        self.members[first].extend(self.members[second])
        self.members[second] = []
        self.version[first] += 1
        return first


def refine_clusters(
    tracklets: Sequence,
    compared: PartFeatures,
    counts: np.ndarray,
    rule: MatchRule,
    constraints: AssociationConstraints,
    must_link: Sequence[tuple[int, int]] = (),
    neighbours: int = 20,
    min_part_observations: int = 1,
) -> list[list[int]]:
    """Clusters of tracklet indices (each a list, in no particular order).

    tracklets: objects with ``key``, ``first_timestamp_s``, ``last_timestamp_s``; compared: their
    compared part features [N, E, D] (normalised means, visibility); counts: int [N, E] visible
    observations per embedding (the centroid weights).
    """
    count = len(tracklets)
    if count == 0:
        return []
    embeddings = compared.embeddings.numpy().astype(np.float32)
    visibility = compared.visibility.numpy()
    counts = np.asarray(counts, dtype=np.int64).copy()
    cameras = {}
    camera_codes = np.array([cameras.setdefault(item.key.camera, len(cameras)) for item in tracklets])
    state = ClusterState(
        embeddings * counts[:, :, None].astype(np.float32),
        counts,
        camera_codes,
        np.array([item.first_timestamp_s for item in tracklets], dtype=np.float64),
        np.array([item.last_timestamp_s for item in tracklets], dtype=np.float64),
        min_part_observations,
    )
    left, right = nearest_neighbour_pairs(embeddings[:, 0], neighbours)
    distances, shared = paired_visible_part_distance(embeddings, visibility, left, right)
    accepted = rule.under_threshold(distances, shared)
    heap = [(-1.0, int(a), int(b), 0, 0) for a, b in must_link]
    heap.extend(
        (float(distance), int(a), int(b), 0, 0)
        for distance, a, b in zip(distances[accepted], left[accepted], right[accepted])
    )
    heapq.heapify(heap)
    views_overlap = constraints.settings.views_overlap
    while heap:
        distance, a, b, version_a, version_b = heapq.heappop(heap)
        root_a, root_b = state.find(a), state.find(b)
        if root_a == root_b:
            continue
        forced = distance < 0
        if not forced and (
            root_a != a or root_b != b or state.version[root_a] != version_a or state.version[root_b] != version_b
        ):
            current, shared_count = state.distance(root_a, root_b)
            if rule.under_threshold(np.array(current), np.array(shared_count)):
                heapq.heappush(heap, (current, root_a, root_b, int(state.version[root_a]), int(state.version[root_b])))
            continue
        if state.union_conflicts(root_a, root_b, views_overlap):
            continue
        if constraints.has_transit_windows and not constraints.timeline_allowed(
            [tracklets[index] for index in state.members[root_a] + state.members[root_b]]
        ):
            continue
        state.merge(root_a, root_b)
    return [members for members in state.members if members]
