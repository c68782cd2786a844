"""Cross-camera association: one global identity per person across cameras.

Distance between tracklets = the visible-part distance of their part memories (or, for
comparison, the foreground embedding alone). Online, a track gets a global id once it has
``min_observations`` detections with features: the nearest identity under ``distance_threshold``
that the constraints allow (Hungarian over all tracks pending in the step), else a new id. For
recorded files, ``refine`` re-clusters all tracklets by constrained agglomerative clustering
(centroid linkage on merged part memories) and may merge or split identities. Global ids are
issued by a counter and never reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from reid.distance import visible_part_distance
from reid.features import PartFeatures
from pipeline.association_constraints import AssociationConstraints, ConstraintSettings, TransitWindow
from pipeline.records import IdentityEvent, TrackKey, TrackletSnapshot
from pipeline.tracklets import PartMemory, Tracklet, memories_as_part_features


@dataclass
class AssociationSettings:
    distance: Literal["visible_parts", "global"] = "visible_parts"
    distance_threshold: float = 0.7
    refine_threshold: float | None = None  # default: distance_threshold
    min_observations: int = 5
    min_part_observations: int = 1
    refine: bool = True
    views_overlap: bool = True
    transit_windows: list[TransitWindow] = field(default_factory=list)
    track_timeout_s: float = 2.0  # a track unseen this long is reported ended


@dataclass
class Identity:
    global_id: int
    members: list[TrackKey]
    memory: PartMemory


class IdentityTable:
    """The identities' part features as one matrix, refreshed row by row when a memory changes.

    embeddings: float32 [capacity, 1+K, D] (normalised means); visibility: bool [capacity, 1+K].
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, min_part_observations: int):
        self.min_part_observations = min_part_observations
        self.embeddings = np.zeros((64, num_embeddings, embedding_dim), dtype=np.float32)
        self.visibility = np.zeros((64, num_embeddings), dtype=bool)
        self.ids: list[int] = []
        self.rows: dict[int, int] = {}
        self.dirty: set[int] = set()

    def mark(self, global_id: int) -> None:
        self.dirty.add(global_id)

    def refresh(self, identities: dict[int, "Identity"]) -> None:
        for global_id in sorted(self.dirty):
            row = self.rows.get(global_id)
            if row is None:
                row = len(self.ids)
                if row == len(self.embeddings):
                    self.embeddings = np.concatenate([self.embeddings, np.zeros_like(self.embeddings)])
                    self.visibility = np.concatenate([self.visibility, np.zeros_like(self.visibility)])
                self.ids.append(global_id)
                self.rows[global_id] = row
            memory = identities[global_id].memory
            self.embeddings[row] = memory.mean_embeddings()
            self.visibility[row] = memory.visibility(self.min_part_observations)
        self.dirty.clear()

    def features(self) -> PartFeatures:
        count = len(self.ids)
        return PartFeatures(torch.from_numpy(self.embeddings[:count]), torch.from_numpy(self.visibility[:count]))


class CrossCameraAssociation:
    def __init__(self, settings: AssociationSettings, num_parts: int, embedding_dim: int):
        self.settings = settings
        self.num_embeddings = 1 + num_parts
        self.embedding_dim = embedding_dim
        self.constraints = AssociationConstraints(
            ConstraintSettings(views_overlap=settings.views_overlap, transit_windows=list(settings.transit_windows))
        )
        self.tracklets: dict[TrackKey, Tracklet] = {}
        self.assignments: dict[TrackKey, int] = {}
        self.identities: dict[int, Identity] = {}
        self.ended: set[TrackKey] = set()
        self.unassigned: set[TrackKey] = set()
        self.table = IdentityTable(self.num_embeddings, embedding_dim, settings.min_part_observations)
        self._next_global_id = 1

    # --- bookkeeping -----------------------------------------------------------------------
    def _new_global_id(self) -> int:
        global_id = self._next_global_id
        self._next_global_id += 1
        return global_id

    def global_id(self, key: TrackKey) -> int | None:
        return self.assignments.get(key)

    def identity_map(self) -> dict[TrackKey, int]:
        return dict(self.assignments)

    def snapshots(self) -> list[TrackletSnapshot]:
        return [tracklet.snapshot(self.assignments.get(key)) for key, tracklet in self.tracklets.items()]

    def _compared(self, features: PartFeatures) -> PartFeatures:
        """What the configured distance looks at: every embedding, or the foreground alone."""
        if self.settings.distance == "global":
            return PartFeatures(features.embeddings[:, :1], torch.ones(len(features), 1, dtype=torch.bool))
        return features

    def feature_distances(self, left: PartFeatures, right: PartFeatures) -> np.ndarray:
        """float64 [len(left), len(right)]; inf where nothing compared is visible in both."""
        if len(left) == 0 or len(right) == 0:
            return np.zeros((len(left), len(right)))
        return visible_part_distance(self._compared(left), self._compared(right)).double().numpy()

    def distances(self, left: list[PartMemory], right: list[PartMemory]) -> np.ndarray:
        """float64 [len(left), len(right)]; inf where the memories share no visible embedding."""
        if not left or not right:
            return np.zeros((len(left), len(right)))
        minimum = self.settings.min_part_observations
        return self.feature_distances(
            memories_as_part_features(left, minimum), memories_as_part_features(right, minimum)
        )

    # --- online ----------------------------------------------------------------------------
    def observe(
        self,
        key: TrackKey,
        timestamp_s: float,
        frame_index: int,
        embeddings: np.ndarray | None = None,
        visibility: np.ndarray | None = None,
    ) -> list[IdentityEvent]:
        """One tracked box; embeddings float32 [1+K, D] and visibility bool [1+K] when extracted."""
        events = []
        tracklet = self.tracklets.get(key)
        if tracklet is None:
            tracklet = Tracklet(
                key, PartMemory.zeros(self.num_embeddings, self.embedding_dim), timestamp_s, timestamp_s, frame_index, frame_index
            )
            self.tracklets[key] = tracklet
            self.unassigned.add(key)
            events.append(IdentityEvent("track_started", key.camera, key.track_id, timestamp_s, frame_index))
        self.ended.discard(key)
        tracklet.observe(timestamp_s, frame_index, embeddings, visibility)
        global_id = self.assignments.get(key)
        if global_id is not None and embeddings is not None:
            self.identities[global_id].memory.add(embeddings, visibility)
            self.table.mark(global_id)
        return events

    def step(self, timestamp_s: float) -> list[IdentityEvent]:
        """End stale tracks and assign the tracks that are ready. Call once per time step."""
        events = []
        for key, tracklet in self.tracklets.items():
            if key not in self.ended and timestamp_s - tracklet.last_timestamp_s > self.settings.track_timeout_s:
                self.ended.add(key)
                events.append(
                    IdentityEvent(
                        "track_ended", key.camera, key.track_id, tracklet.last_timestamp_s, tracklet.last_frame,
                        global_id=self.assignments.get(key),
                    )
                )
        pending = [
            key for key in self.unassigned if self.tracklets[key].observations >= self.settings.min_observations
        ]
        if pending:
            events.extend(self._assign(pending, timestamp_s))
        return events

    def _allowed(self, identity: Identity, tracklet: Tracklet) -> bool:
        members = [self.tracklets[member] for member in identity.members]
        return self.constraints.group_allowed(members, [tracklet])

    def _assign(self, pending: list[TrackKey], timestamp_s: float) -> list[IdentityEvent]:
        pending.sort()
        self.table.refresh(self.identities)
        identity_ids = list(self.table.ids)
        pending_features = memories_as_part_features(
            [self.tracklets[key].memory for key in pending], self.settings.min_part_observations
        )
        distances = self.feature_distances(pending_features, self.table.features())
        threshold = self.settings.distance_threshold
        cost = np.full(distances.shape, np.inf)
        for row, key in enumerate(pending):
            for column in np.flatnonzero(distances[row] < threshold):
                if self._allowed(self.identities[identity_ids[column]], self.tracklets[key]):
                    cost[row, column] = distances[row, column]
        matches: dict[int, int] = {}
        if cost.size and np.isfinite(cost).any():
            rows, columns = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e6))
            matches = {row: column for row, column in zip(rows, columns) if np.isfinite(cost[row, column])}
        events = []
        for row, key in enumerate(pending):
            tracklet = self.tracklets[key]
            if row in matches:
                global_id, distance = identity_ids[matches[row]], float(cost[row, matches[row]])
                identity = self.identities[global_id]
                identity.members.append(key)
                identity.memory.merge(tracklet.memory)
            else:
                global_id, distance = self._new_global_id(), None
                self.identities[global_id] = Identity(global_id, [key], tracklet.memory.copy())
            self.assignments[key] = global_id
            self.unassigned.discard(key)
            self.table.mark(global_id)
            events.append(
                IdentityEvent(
                    "identity_assigned", key.camera, key.track_id, timestamp_s, tracklet.last_frame, global_id,
                    distance=distance,
                )
            )
        return events

    # --- offline refinement ----------------------------------------------------------------
    def refine(self, timestamp_s: float) -> list[IdentityEvent]:
        """Re-cluster all tracklets with features; returns the identity changes it made."""
        keys = [key for key, tracklet in self.tracklets.items() if tracklet.observations > 0]
        if not keys:
            return []
        clusters = cluster_tracklets(
            [self.tracklets[key] for key in keys],
            self.distances,
            self.constraints,
            self.settings.refine_threshold or self.settings.distance_threshold,
        )
        return self._adopt_clusters([[keys[index] for index in cluster] for cluster in clusters], timestamp_s)

    def _adopt_clusters(self, clusters: list[list[TrackKey]], timestamp_s: float) -> list[IdentityEvent]:
        """Give each cluster the online id covering most of its boxes (if still free), else a new id."""
        order = sorted(range(len(clusters)), key=lambda c: -sum(self.tracklets[k].boxes for k in clusters[c]))
        taken: set[int] = set()
        new_assignments: dict[TrackKey, int] = {}
        for index in order:
            votes: dict[int, int] = {}
            for key in clusters[index]:
                if key in self.assignments:
                    votes[self.assignments[key]] = votes.get(self.assignments[key], 0) + self.tracklets[key].boxes
            candidates = [gid for gid, _ in sorted(votes.items(), key=lambda item: (-item[1], item[0])) if gid not in taken]
            global_id = candidates[0] if candidates else self._new_global_id()
            taken.add(global_id)
            for key in clusters[index]:
                new_assignments[key] = global_id
        events = []
        for key, global_id in new_assignments.items():
            previous = self.assignments.get(key)
            if previous != global_id:
                tracklet = self.tracklets[key]
                kind = "identity_assigned" if previous is None else "identity_changed"
                events.append(
                    IdentityEvent(kind, key.camera, key.track_id, timestamp_s, tracklet.last_frame, global_id, previous)
                )
        self.assignments = new_assignments
        self.unassigned = set(self.tracklets) - set(new_assignments)
        self.identities = {}
        for key, global_id in new_assignments.items():
            identity = self.identities.setdefault(
                global_id, Identity(global_id, [], PartMemory.zeros(self.num_embeddings, self.embedding_dim))
            )
            identity.members.append(key)
            identity.memory.merge(self.tracklets[key].memory)
        self.table = IdentityTable(self.num_embeddings, self.embedding_dim, self.settings.min_part_observations)
        for global_id in sorted(self.identities):
            self.table.mark(global_id)
        return events


def cluster_tracklets(tracklets: list[Tracklet], distance_function, constraints: AssociationConstraints, threshold: float) -> list[list[int]]:
    """Constrained agglomerative clustering with centroid linkage on merged part memories.

    Repeatedly merges the closest pair of clusters whose distance is below ``threshold`` and whose
    union the constraints allow. Returns clusters as lists of indices into ``tracklets``.
    """
    count = len(tracklets)
    members = [[index] for index in range(count)]
    memories = [tracklet.memory.copy() for tracklet in tracklets]
    cannot_link = np.zeros((count, count), dtype=bool)
    for a in range(count):
        for b in range(a + 1, count):
            if not constraints.pair_allowed(tracklets[a], tracklets[b]):
                cannot_link[a, b] = cannot_link[b, a] = True
    distances = distance_function(memories, memories)
    distances[cannot_link] = np.inf
    np.fill_diagonal(distances, np.inf)
    active = np.ones(count, dtype=bool)
    while True:
        flat = int(np.argmin(distances))
        a, b = divmod(flat, count)
        if not np.isfinite(distances[a, b]) or distances[a, b] >= threshold:
            break
        if not constraints.timeline_allowed([tracklets[index] for index in members[a] + members[b]]):
            distances[a, b] = distances[b, a] = np.inf
            continue
        members[a].extend(members[b])
        memories[a].merge(memories[b])
        active[b] = False
        cannot_link[a] |= cannot_link[b]
        cannot_link[:, a] = cannot_link[a]
        distances[b, :] = np.inf
        distances[:, b] = np.inf
        others = np.flatnonzero(active)
        row = distance_function([memories[a]], [memories[index] for index in others])[0]
        distances[a, others] = row
        distances[others, a] = row
        distances[a, cannot_link[a]] = np.inf
        distances[cannot_link[a], a] = np.inf
        distances[a, a] = np.inf
    return [members[index] for index in np.flatnonzero(active)]
