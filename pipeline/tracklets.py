"""Visibility-aware part memory of a track (the design's tracklet contract).

Per part, the running mean of that part's embedding over the track's detections in which the
part was visible (a part is updated only when visible), with the count of visible observations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from reid.features import PartFeatures
from pipeline.records import TrackKey, TrackletSnapshot


@dataclass
class PartMemory:
    """sums: float64 [1+K, D] of visible embeddings; counts: int64 [1+K] visible observations."""

    sums: np.ndarray
    counts: np.ndarray

    @staticmethod
    def zeros(num_embeddings: int, embedding_dim: int) -> "PartMemory":
        return PartMemory(np.zeros((num_embeddings, embedding_dim)), np.zeros(num_embeddings, dtype=np.int64))

    def add(self, embeddings: np.ndarray, visibility: np.ndarray) -> None:
        """embeddings [1+K, D], visibility bool [1+K]: only visible parts are accumulated."""
        self.sums[visibility] += embeddings[visibility]
        self.counts += visibility

    def merge(self, other: "PartMemory") -> None:
        self.sums += other.sums
        self.counts += other.counts

    def remove(self, other: "PartMemory") -> None:
        """Take back what ``merge(other)`` added (a track leaving its identity)."""
        self.sums -= other.sums
        self.counts -= other.counts
        self.sums[self.counts <= 0] = 0.0
        np.maximum(self.counts, 0, out=self.counts)

    def copy(self) -> "PartMemory":
        return PartMemory(self.sums.copy(), self.counts.copy())

    def mean_embeddings(self) -> np.ndarray:
        """float32 [1+K, D]: L2-normalised mean per part (zeros where never visible)."""
        norms = np.linalg.norm(self.sums, axis=1, keepdims=True)
        return np.where(norms > 0, self.sums / np.maximum(norms, 1e-12), 0.0).astype(np.float32)

    def visibility(self, min_part_observations: int = 1) -> np.ndarray:
        """bool [1+K]: parts seen visible at least ``min_part_observations`` times."""
        return self.counts >= max(1, min_part_observations)


@dataclass
class Tracklet:
    key: TrackKey
    memory: PartMemory
    first_timestamp_s: float
    last_timestamp_s: float
    first_frame: int
    last_frame: int
    observations: int = 0  # detections with features
    boxes: int = 0  # detections in total
    first_box: tuple[float, float, float, float] | None = None  # x1, y1, x2, y2 at first_frame
    last_box: tuple[float, float, float, float] | None = None  # x1, y1, x2, y2 at last_frame

    def observe(
        self,
        timestamp_s: float,
        frame_index: int,
        embeddings: np.ndarray | None,
        visibility: np.ndarray | None,
        box: tuple[float, float, float, float] | None = None,
    ) -> None:
        if box is not None:
            if self.first_box is None or timestamp_s <= self.first_timestamp_s:
                self.first_box = box
            if self.last_box is None or timestamp_s >= self.last_timestamp_s:
                self.last_box = box
        self.first_timestamp_s = min(self.first_timestamp_s, timestamp_s)
        self.last_timestamp_s = max(self.last_timestamp_s, timestamp_s)
        self.first_frame = min(self.first_frame, frame_index)
        self.last_frame = max(self.last_frame, frame_index)
        self.boxes += 1
        if embeddings is not None:
            self.memory.add(embeddings, visibility)
            self.observations += 1

    def snapshot(self, global_id: int | None) -> TrackletSnapshot:
        return TrackletSnapshot(
            key=self.key,
            embeddings=self.memory.mean_embeddings(),
            counts=self.memory.counts.copy(),
            first_timestamp_s=self.first_timestamp_s,
            last_timestamp_s=self.last_timestamp_s,
            first_frame=self.first_frame,
            last_frame=self.last_frame,
            global_id=global_id,
            observations=self.observations,
        )


def memories_as_part_features(memories: list[PartMemory], min_part_observations: int = 1) -> PartFeatures:
    """Stack memories into ``PartFeatures`` ([M, 1+K, D], [M, 1+K]) for the visible-part distance."""
    embeddings = np.stack([memory.mean_embeddings() for memory in memories])
    visibility = np.stack([memory.visibility(min_part_observations) for memory in memories])
    return PartFeatures(torch.from_numpy(embeddings), torch.from_numpy(visibility))
