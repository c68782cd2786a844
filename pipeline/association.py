"""Cross-camera association: one global identity per person across cameras.

Distance between tracklets = the visible-part distance of their part memories (or, for
comparison, the foreground embedding alone). Decisions follow one ``MatchRule``: a threshold per
number of shared embeddings (calibrated on tracklet-to-tracklet distances) and, online, a ratio
test between the best and the second-best identity.

Online (every step):

- only the active tracks are scanned; a track unseen for ``track_timeout_s`` ends: its part memory
  is already folded into its identity, and the track leaves the matching state (recorded runs
  keep it in ``history`` for the refine pass; live runs keep nothing of it);
- a track gets a global id once it has ``min_observations`` detections with features: the identity
  the rule and the constraints allow (Hungarian over the tracks pending in the step); tracks of one
  step that no identity takes are matched with each other (one person entering two overlapping
  views at once gets one new id), the rest get new ids. A track whose best identity does not pass
  the ratio test waits; after ``decision_patience`` times ``min_observations`` it takes the best;
- constraints are re-checked every step as tracks grow: when two tracks of one identity come to
  overlap (a track re-activated by the tracker), the one with fewer observations is detached and
  decided again, so no output ever holds one global id twice in one camera frame;
- identities unseen for ``identity_retention_s`` leave the matching set (the sinks still hold them).

For recorded files, ``refine`` stitches fragments of one person inside a camera
(``pipeline.track_repair``) and re-clusters every tracklet over a sparse candidate graph
(``pipeline.refinement``); it may merge or split identities. Global ids are issued by a counter
and never reused.

State is bounded in a live run: active tracks, identities seen within the retention (and, per
identity, the members ended within ``constraint_horizon_s``), and the table of their features.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from reid.distance import shared_embedding_counts, visible_part_distance
from reid.features import PartFeatures
from pipeline.config import DEFAULT_DISTANCE_THRESHOLD, AssociationConfig, StitchSettings, TrackSplitSettings
from pipeline.association_constraints import AssociationConstraints, ConstraintSettings, TransitWindow
from pipeline.match_rule import MatchRule
from pipeline.records import IdentityEvent, TrackKey, TrackletSnapshot
from pipeline.tracklets import PartMemory, Tracklet, memories_as_part_features


@dataclass
class AssociationSettings:
    distance: Literal["visible_parts", "foreground"] = "visible_parts"
    distance_threshold: float = 0.7
    # Thresholds for 1, 2, ... shared embeddings (calibrated); None: distance_threshold for all.
    thresholds_by_shared: tuple[float, ...] | None = None
    ratio: float = 0.9  # online: best identity distance <= ratio * second best (1.0: no test)
    decision_patience: int = 4  # an undecided track takes its best after this many x min_observations
    refine_threshold: float | None = None  # None: the online thresholds
    min_observations: int = 5
    min_part_observations: int = 1
    refine: bool = True
    views_overlap: bool = True
    transit_windows: list[TransitWindow] = field(default_factory=list)
    track_timeout_s: float = 2.0  # a track unseen this long is reported ended
    identity_retention_s: float = 600.0  # an identity unseen this long leaves the matching set
    constraint_horizon_s: float = 120.0  # ended members older than this no longer constrain
    refine_neighbours: int = 20  # candidate identities per tracklet in the refine pass's graph
    online_candidates: int = 64  # online: identities re-scored per ready track (nearest by foreground first)
    stitching: StitchSettings = field(default_factory=StitchSettings)
    gap_filling_max_s: float = 2.0  # recorded runs: interpolate boxes over track gaps up to this long (0: off)
    splitting: TrackSplitSettings = field(default_factory=TrackSplitSettings)  # off until its threshold is resolved

    def match_rule(self) -> MatchRule:
        thresholds = self.thresholds_by_shared or (float(self.distance_threshold),)
        if self.distance == "foreground":
            thresholds = (float(self.distance_threshold),)
        return MatchRule(tuple(float(value) for value in thresholds), self.ratio)

    def refine_rule(self) -> MatchRule:
        if self.refine_threshold is not None:
            return MatchRule.single(self.refine_threshold)
        return MatchRule(self.match_rule().thresholds_by_shared)

    @property
    def keeps_history(self) -> bool:
        """Recorded runs that refine keep every ended tracklet; live runs keep none."""
        return self.refine


@dataclass(frozen=True)
class TrackSpan:
    """When an ended member of an identity was seen (what the constraints need of it)."""

    key: TrackKey
    first_timestamp_s: float
    last_timestamp_s: float


@dataclass
class Identity:
    """A global identity in the matching set: its merged part memory, its active tracks, and the
    members that ended within the constraint horizon."""

    global_id: int
    memory: PartMemory
    active_members: set[TrackKey]
    recent_spans: list[TrackSpan]
    last_seen_s: float


class IdentityTable:
    """The identities' part features as one matrix, refreshed row by row when a memory changes.

    embeddings: float32 [capacity, 1+K, D] (normalised means); visibility: bool [capacity, 1+K].
    Rows of removed identities are reused (the last row moves into the hole).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, min_part_observations: int):
        self.min_part_observations = min_part_observations
        self.embeddings = np.zeros((64, num_embeddings, embedding_dim), dtype=np.float32)
        self.visibility = np.zeros((64, num_embeddings), dtype=bool)
        self.foreground = np.zeros((64, embedding_dim), dtype=np.float32)  # contiguous copy of index 0
        self.ids: list[int] = []
        self.rows: dict[int, int] = {}
        self.dirty: set[int] = set()

    def __len__(self) -> int:
        return len(self.ids)

    def mark(self, global_id: int) -> None:
        self.dirty.add(global_id)

    def remove(self, global_id: int) -> None:
        self.dirty.discard(global_id)
        row = self.rows.pop(global_id, None)
        if row is None:
            return
        last = len(self.ids) - 1
        if row != last:
            moved = self.ids[last]
            self.embeddings[row] = self.embeddings[last]
            self.visibility[row] = self.visibility[last]
            self.foreground[row] = self.foreground[last]
            self.ids[row] = moved
            self.rows[moved] = row
        self.ids.pop()

    def refresh(self, identities: dict[int, Identity]) -> None:
        for global_id in sorted(self.dirty):
            if global_id not in identities:
                continue
            row = self.rows.get(global_id)
            if row is None:
                row = len(self.ids)
                if row == len(self.embeddings):
                    self.embeddings = np.concatenate([self.embeddings, np.zeros_like(self.embeddings)])
                    self.visibility = np.concatenate([self.visibility, np.zeros_like(self.visibility)])
                    self.foreground = np.concatenate([self.foreground, np.zeros_like(self.foreground)])
                self.ids.append(global_id)
                self.rows[global_id] = row
            memory = identities[global_id].memory
            self.embeddings[row] = memory.mean_embeddings()
            self.visibility[row] = memory.visibility(self.min_part_observations)
            self.foreground[row] = self.embeddings[row, 0]
        self.dirty.clear()

    def features(self, rows: np.ndarray | None = None) -> PartFeatures:
        """Every identity's features, or those of ``rows`` (int [M])."""
        count = len(self.ids)
        if rows is None:
            return PartFeatures(torch.from_numpy(self.embeddings[:count]), torch.from_numpy(self.visibility[:count]))
        return PartFeatures(torch.from_numpy(self.embeddings[rows]), torch.from_numpy(self.visibility[rows]))

    def nearest_by_foreground(self, foreground: np.ndarray, count: int) -> np.ndarray:
        """Rows of the ``count`` identities nearest to any of the query foregrounds (float32 [Q, D] unit
        rows), by inner product on the contiguous foreground matrix: sorted unique int64 [<= Q*count]."""
        # torch, like the distance that follows: numpy's BLAS threads and torch's would fight over the cores
        similarity = torch.from_numpy(np.ascontiguousarray(foreground, dtype=np.float32)) @ torch.from_numpy(
            self.foreground[: len(self.ids)]
        ).T  # [Q, N]
        if similarity.shape[1] <= count:
            return np.arange(similarity.shape[1])
        nearest = torch.topk(similarity, count, dim=1, sorted=False).indices.numpy()
        return np.unique(nearest)


def association_settings(config: AssociationConfig, source: str = "<config>",
                         calibrated_threshold: float | None = None) -> AssociationSettings:
    """The association's settings from its config section; ``calibrated_threshold`` resolves
    ``distance_threshold: auto`` (else the default threshold)."""
    config.validate(source)
    threshold = config.distance_threshold
    if threshold == "auto":
        threshold = calibrated_threshold if calibrated_threshold is not None else DEFAULT_DISTANCE_THRESHOLD
    return AssociationSettings(
        distance=config.distance,
        distance_threshold=float(threshold),
        thresholds_by_shared=tuple(config.thresholds_by_shared) if config.thresholds_by_shared else None,
        ratio=float(config.ratio),
        decision_patience=config.decision_patience,
        refine_threshold=config.refine_threshold,
        identity_retention_s=config.identity_retention_s,
        constraint_horizon_s=config.constraint_horizon_s,
        refine_neighbours=config.refine_neighbours,
        online_candidates=config.online_candidates,
        stitching=config.stitching,
        gap_filling_max_s=config.gap_filling_max_s,
        splitting=config.splitting,
        min_observations=config.min_observations,
        min_part_observations=config.min_part_observations,
        refine=config.refine,
        views_overlap=config.views_overlap,
        transit_windows=[TransitWindow((w.cameras[0], w.cameras[1]), w.min_s, w.max_s) for w in config.transit_windows],
        track_timeout_s=config.track_timeout_s,
    )


class CrossCameraAssociation:
    def __init__(self, settings: AssociationSettings, num_parts: int, embedding_dim: int):
        self.settings = settings
        self.rule = settings.match_rule()
        self.tracks_seen = 0  # distinct tracks ever observed (a counter, not a set)
        self.num_embeddings = 1 + num_parts
        self.embedding_dim = embedding_dim
        self.constraints = AssociationConstraints(
            ConstraintSettings(views_overlap=settings.views_overlap, transit_windows=list(settings.transit_windows))
        )
        self.active: dict[TrackKey, Tracklet] = {}  # tracks not ended
        self.history: dict[TrackKey, Tracklet] = {}  # ended tracks, kept only for the refine pass
        self.assignments: dict[TrackKey, int] = {}  # active tracks with an id (+ history when kept)
        self.pending: set[TrackKey] = set()  # active tracks without an id
        self.identities: dict[int, Identity] = {}  # the matching set
        self.table = IdentityTable(self.num_embeddings, embedding_dim, settings.min_part_observations)
        self.stitches: list[tuple[TrackKey, TrackKey]] = []  # set by refine: (earlier, later) fragments
        self.archived_identities = 0
        self._ended_snapshots: list[TrackletSnapshot] = []
        self._next_global_id = 1
        self._next_housekeeping_s = -np.inf

    # --- bookkeeping -----------------------------------------------------------------------
    def _new_global_id(self) -> int:
        global_id = self._next_global_id
        self._next_global_id += 1
        return global_id

    def global_id(self, key: TrackKey) -> int | None:
        return self.assignments.get(key)

    def identities_issued(self) -> int:
        """How many global ids the run has given out (before any refinement merges them)."""
        return self._next_global_id - 1

    def identity_map(self) -> dict[TrackKey, int]:
        return dict(self.assignments)

    def tracklet(self, key: TrackKey) -> Tracklet | None:
        return self.active.get(key) or self.history.get(key)

    def all_tracklets(self) -> dict[TrackKey, Tracklet]:
        """History and active tracks (recorded runs: every track of the run)."""
        return {**self.history, **self.active}

    def snapshots(self) -> list[TrackletSnapshot]:
        """Part memories of the tracks still held (recorded runs: all; live runs: the active ones)."""
        return [tracklet.snapshot(self.assignments.get(key)) for key, tracklet in self.all_tracklets().items()]

    def drain_ended_snapshots(self) -> list[TrackletSnapshot]:
        """Live runs: the part memories of the tracks ended since the last call (then forgotten)."""
        snapshots, self._ended_snapshots = self._ended_snapshots, []
        return snapshots

    def state_size(self) -> dict[str, int]:
        """How much the association holds (for the memory benchmark and the live status)."""
        return {
            "active_tracks": len(self.active),
            "history_tracks": len(self.history),
            "assignments": len(self.assignments),
            "identities": len(self.identities),
            "table_rows": len(self.table),
            "recent_spans": sum(len(identity.recent_spans) for identity in self.identities.values()),
        }

    def _compared(self, features: PartFeatures) -> PartFeatures:
        """What the configured distance looks at: every embedding, or the foreground alone."""
        if self.settings.distance == "foreground":
            return PartFeatures(features.embeddings[:, :1], torch.ones(len(features), 1, dtype=torch.bool))
        return features

    def feature_distances(self, left: PartFeatures, right: PartFeatures) -> tuple[np.ndarray, np.ndarray]:
        """(distances float64, shared int64), both [len(left), len(right)]; inf where nothing is shared."""
        if len(left) == 0 or len(right) == 0:
            return np.zeros((len(left), len(right))), np.zeros((len(left), len(right)), dtype=np.int64)
        left, right = self._compared(left), self._compared(right)
        distances = visible_part_distance(left, right).double().numpy()
        return distances, shared_embedding_counts(left, right).numpy()

    # --- online ----------------------------------------------------------------------------
    def observe(
        self,
        key: TrackKey,
        timestamp_s: float,
        frame_index: int,
        embeddings: np.ndarray | None = None,
        visibility: np.ndarray | None = None,
        box: tuple[float, float, float, float] | None = None,
    ) -> list[IdentityEvent]:
        """One tracked box; embeddings float32 [1+K, D] and visibility bool [1+K] when extracted."""
        events = []
        tracklet = self.active.get(key)
        if tracklet is None:
            tracklet = self.history.pop(key, None)
            if tracklet is None:
                tracklet = Tracklet(
                    key, PartMemory.zeros(self.num_embeddings, self.embedding_dim),
                    timestamp_s, timestamp_s, frame_index, frame_index,
                )
                self.tracks_seen += 1
            # A track the tracker brought back after it was reported ended starts again: every
            # track_started is followed by one track_ended (at the latest when the run ends).
            events.append(IdentityEvent("track_started", key.camera, key.track_id, timestamp_s, frame_index,
                                        global_id=self.assignments.get(key)))
            self.active[key] = tracklet
            self._reactivate(key, tracklet)
        tracklet.observe(timestamp_s, frame_index, embeddings, visibility, box)
        global_id = self.assignments.get(key)
        if global_id is not None:
            identity = self.identities[global_id]
            identity.last_seen_s = max(identity.last_seen_s, timestamp_s)
            if embeddings is not None:
                identity.memory.add(embeddings, visibility)
                self.table.mark(global_id)
        return events

    def _reactivate(self, key: TrackKey, tracklet: Tracklet) -> None:
        """A new track, or an ended one the tracker brought back: back into the active state."""
        global_id = self.assignments.get(key)
        identity = self.identities.get(global_id) if global_id is not None else None
        if identity is None:
            self.assignments.pop(key, None)
            self.pending.add(key)
            return
        identity.active_members.add(key)
        identity.recent_spans = [span for span in identity.recent_spans if span.key != key]

    def step(self, timestamp_s: float) -> list[IdentityEvent]:
        """End stale tracks, re-check constraints, assign the ready tracks. Call once per time step."""
        events = []
        stale = [
            key for key, tracklet in self.active.items()
            if timestamp_s - tracklet.last_timestamp_s > self.settings.track_timeout_s
        ]
        for key in sorted(stale):
            tracklet = self.active[key]
            events.append(
                IdentityEvent(
                    "track_ended", key.camera, key.track_id, tracklet.last_timestamp_s, tracklet.last_frame,
                    global_id=self.assignments.get(key),
                )
            )
            self._end_track(key)
        events.extend(self._enforce_constraints(timestamp_s))
        if timestamp_s >= self._next_housekeeping_s:
            self._housekeeping(timestamp_s)
            self._next_housekeeping_s = timestamp_s + 1.0
        ready = [key for key in self.pending if self.active[key].observations >= self.settings.min_observations]
        if ready:
            events.extend(self._assign(ready, timestamp_s))
        return events

    def end_of_run_events(self) -> list[IdentityEvent]:
        """``track_ended`` for every track still active when the run stops (at its last box, with its
        current global id); the state is left as it is (the sinks still read it)."""
        return [
            IdentityEvent("track_ended", key.camera, key.track_id, tracklet.last_timestamp_s, tracklet.last_frame,
                          global_id=self.assignments.get(key))
            for key, tracklet in sorted(self.active.items())
        ]

    def _end_track(self, key: TrackKey) -> None:
        tracklet = self.active.pop(key)
        self.pending.discard(key)
        global_id = self.assignments.get(key)
        if global_id is not None and global_id in self.identities:
            identity = self.identities[global_id]
            identity.active_members.discard(key)
            identity.recent_spans.append(TrackSpan(key, tracklet.first_timestamp_s, tracklet.last_timestamp_s))
        if self.settings.keeps_history:
            self.history[key] = tracklet
        else:
            self._ended_snapshots.append(tracklet.snapshot(global_id))
            self.assignments.pop(key, None)

    def _housekeeping(self, timestamp_s: float) -> None:
        """Forget ended members past the constraint horizon and archive identities past the retention."""
        horizon = timestamp_s - self.settings.constraint_horizon_s
        retention = timestamp_s - self.settings.identity_retention_s
        for global_id in list(self.identities):
            identity = self.identities[global_id]
            identity.recent_spans = [span for span in identity.recent_spans if span.last_timestamp_s >= horizon]
            if not identity.active_members and identity.last_seen_s < retention:
                del self.identities[global_id]
                self.table.remove(global_id)
                self.archived_identities += 1

    def _spans(self, identity: Identity) -> list:
        return [self.active[key] for key in sorted(identity.active_members)] + list(identity.recent_spans)

    def _allowed(self, identity: Identity, tracklet: Tracklet) -> bool:
        return self.constraints.group_allowed(self._spans(identity), [tracklet])

    def _enforce_constraints(self, timestamp_s: float) -> list[IdentityEvent]:
        """Detach a member that has come to overlap another member of its identity."""
        events = []
        with_active = {self.assignments[key] for key in self.active if key in self.assignments}
        for global_id in sorted(with_active):
            identity = self.identities.get(global_id)
            if identity is None or not identity.active_members:
                continue
            if len(identity.active_members) + len(identity.recent_spans) < 2:
                continue
            while True:
                conflict = self._first_conflict(identity)
                if conflict is None:
                    break
                self._detach(identity, conflict)
                tracklet = self.active[conflict]
                events.append(
                    IdentityEvent(
                        "identity_changed", conflict.camera, conflict.track_id, timestamp_s, tracklet.last_frame,
                        None, global_id,
                    )
                )
        return events

    def _first_conflict(self, identity: Identity) -> TrackKey | None:
        """The active member to detach when two members may not be one person, else None."""
        spans = self._spans(identity)
        for index, first in enumerate(spans):
            for second in spans[index + 1 :]:
                if first.key not in identity.active_members and second.key not in identity.active_members:
                    continue
                if self.constraints.pair_allowed(first, second):
                    continue
                candidates = [span for span in (first, second) if span.key in identity.active_members]
                return min(candidates, key=lambda span: (span.observations, span.key)).key
        if not self.constraints.timeline_allowed(spans):
            return min(identity.active_members, key=lambda key: (self.active[key].observations, key))
        return None

    def _detach(self, identity: Identity, key: TrackKey) -> None:
        tracklet = self.active[key]
        identity.memory.remove(tracklet.memory)
        identity.active_members.discard(key)
        self.table.mark(identity.global_id)
        self.assignments.pop(key, None)
        self.pending.add(key)

    def _assign(self, ready: list[TrackKey], timestamp_s: float) -> list[IdentityEvent]:
        ready.sort()
        self.table.refresh(self.identities)
        ready_features = memories_as_part_features(
            [self.active[key].memory for key in ready], self.settings.min_part_observations
        )
        # The visible-part distance reads every identity's 1+K embeddings; past a few thousand
        # identities only the ``online_candidates`` nearest by the foreground (one matrix product on
        # a contiguous [N, D] copy) are re-scored, the others count as infinitely far.
        # Columns below are those scored: every identity, or the nearest candidates.
        if len(self.table) > self.settings.online_candidates:
            rows = self.table.nearest_by_foreground(
                ready_features.embeddings[:, 0].numpy(), self.settings.online_candidates
            )
            distances, shared = self.feature_distances(ready_features, self.table.features(rows))
            identity_ids = [self.table.ids[row] for row in rows.tolist()]
        else:
            distances, shared = self.feature_distances(ready_features, self.table.features())
            identity_ids = list(self.table.ids)
        under = self.rule.under_threshold(distances, shared)
        # Constraints are checked nearest first, only as far as the decision needs: every identity
        # under the threshold, and at least the two nearest allowed ones (for the ratio test).
        candidate = np.zeros(distances.shape, dtype=bool)
        undecided = set()
        patience = self.settings.decision_patience * self.settings.min_observations
        for row, key in enumerate(ready):
            finite = np.flatnonzero(np.isfinite(distances[row]))
            nearest_allowed = []
            for column in finite[np.argsort(distances[row, finite], kind="stable")]:
                if not under[row, column] and len(nearest_allowed) >= 2:
                    break
                if self._allowed(self.identities[identity_ids[column]], self.active[key]):
                    nearest_allowed.append(distances[row, column])
                    candidate[row, column] = under[row, column]
            if candidate[row].any() and len(nearest_allowed) > 1:
                if not self.rule.decisive(nearest_allowed[0], nearest_allowed[1]):
                    if self.active[key].observations < patience:
                        undecided.add(row)
        cost = np.where(candidate, distances, np.inf)
        cost[list(undecided)] = np.inf
        matches: dict[int, int] = {}
        if cost.size and np.isfinite(cost).any():
            rows, columns = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e6))
            matches = {row: column for row, column in zip(rows, columns) if np.isfinite(cost[row, column])}
        events = []
        unmatched = [row for row in range(len(ready)) if row not in matches and row not in undecided]
        for group in self._group_new_tracks([ready[row] for row in unmatched], ready_features[unmatched]):
            global_id = self._new_global_id()
            self.identities[global_id] = Identity(
                global_id, PartMemory.zeros(self.num_embeddings, self.embedding_dim), set(), [], timestamp_s
            )
            for key in group:
                events.append(self._join(key, global_id, None, timestamp_s))
        for row, column in sorted(matches.items()):
            events.append(self._join(ready[row], identity_ids[column], float(cost[row, column]), timestamp_s))
        return events

    def _join(self, key: TrackKey, global_id: int, distance: float | None, timestamp_s: float) -> IdentityEvent:
        tracklet = self.active[key]
        identity = self.identities[global_id]
        identity.active_members.add(key)
        identity.memory.merge(tracklet.memory)
        identity.last_seen_s = max(identity.last_seen_s, tracklet.last_timestamp_s)
        self.assignments[key] = global_id
        self.pending.discard(key)
        self.table.mark(global_id)
        return IdentityEvent(
            "identity_assigned", key.camera, key.track_id, timestamp_s, tracklet.last_frame, global_id, distance=distance
        )

    def _group_new_tracks(self, keys: list[TrackKey], features: PartFeatures) -> list[list[TrackKey]]:
        """Tracks of one step that no identity took, grouped when they match each other (greedy by distance)."""
        if len(keys) < 2:
            return [[key] for key in keys]
        distances, shared = self.feature_distances(features, features)
        match = self.rule.under_threshold(distances, shared)
        np.fill_diagonal(match, False)
        groups = {index: [index] for index in range(len(keys))}
        owner = list(range(len(keys)))
        for flat in np.argsort(np.where(match, distances, np.inf), axis=None):
            first, second = divmod(int(flat), len(keys))
            if not match[first, second]:
                break
            a, b = owner[first], owner[second]
            if a == b:
                continue
            members = [self.active[keys[index]] for index in groups[a]]
            others = [self.active[keys[index]] for index in groups[b]]
            if not self.constraints.group_allowed(members, others):
                continue
            groups[a].extend(groups.pop(b))
            for index in groups[a]:
                owner[index] = a
        return [[keys[index] for index in sorted(group)] for _, group in sorted(groups.items())]

    # --- offline refinement ----------------------------------------------------------------
    def refine(self, timestamp_s: float) -> list[IdentityEvent]:
        """Stitch fragments, re-cluster all tracklets with features; returns the identity changes it made."""
        from pipeline.refinement import refine_clusters
        from pipeline.track_repair import stitch_fragments

        tracklets = self.all_tracklets()
        keys = sorted(key for key, tracklet in tracklets.items() if tracklet.observations > 0)
        if not keys:
            return []
        items = [tracklets[key] for key in keys]
        features = memories_as_part_features([item.memory for item in items], self.settings.min_part_observations)
        compared = self._compared(features)
        rule = self.settings.refine_rule()
        self.stitches = stitch_fragments(items, compared, rule, self.settings.stitching)
        index = {key: position for position, key in enumerate(keys)}
        counts = np.stack([item.memory.counts for item in items])
        if self.settings.distance == "foreground":
            counts = np.maximum(counts[:, :1], 1)
        clusters = refine_clusters(
            items,
            compared,
            counts,
            rule,
            self.constraints,
            must_link=[(index[earlier], index[later]) for earlier, later in self.stitches],
            neighbours=self.settings.refine_neighbours,
            min_part_observations=self.settings.min_part_observations,
        )
        return self._adopt_clusters([[keys[position] for position in cluster] for cluster in clusters], timestamp_s)

    def _adopt_clusters(self, clusters: list[list[TrackKey]], timestamp_s: float) -> list[IdentityEvent]:
        """Give each cluster the online id covering most of its boxes (if still free), else a new id."""
        tracklets = self.all_tracklets()
        order = sorted(range(len(clusters)), key=lambda c: (-sum(tracklets[k].boxes for k in clusters[c]), c))
        taken: set[int] = set()
        new_assignments: dict[TrackKey, int] = {}
        for index in order:
            votes: dict[int, int] = {}
            for key in clusters[index]:
                if key in self.assignments:
                    votes[self.assignments[key]] = votes.get(self.assignments[key], 0) + tracklets[key].boxes
            candidates = [gid for gid, _ in sorted(votes.items(), key=lambda item: (-item[1], item[0])) if gid not in taken]
            global_id = candidates[0] if candidates else self._new_global_id()
            taken.add(global_id)
            for key in clusters[index]:
                new_assignments[key] = global_id
        events = []
        for key, global_id in sorted(new_assignments.items()):
            previous = self.assignments.get(key)
            if previous != global_id:
                tracklet = tracklets[key]
                kind = "identity_assigned" if previous is None else "identity_changed"
                events.append(  # told at the track's last box: a time and a frame of the same moment
                    IdentityEvent(kind, key.camera, key.track_id, tracklet.last_timestamp_s, tracklet.last_frame,
                                  global_id, previous)
                )
        self.assignments = new_assignments
        self.pending = {key for key in self.active if key not in new_assignments}
        self.identities = {}
        for key, global_id in new_assignments.items():
            tracklet = tracklets[key]
            identity = self.identities.setdefault(
                global_id,
                Identity(global_id, PartMemory.zeros(self.num_embeddings, self.embedding_dim), set(), [], -np.inf),
            )
            identity.memory.merge(tracklet.memory)
            identity.last_seen_s = max(identity.last_seen_s, tracklet.last_timestamp_s)
            if key in self.active:
                identity.active_members.add(key)
            else:
                identity.recent_spans.append(TrackSpan(key, tracklet.first_timestamp_s, tracklet.last_timestamp_s))
        self.table = IdentityTable(self.num_embeddings, self.embedding_dim, self.settings.min_part_observations)
        for global_id in sorted(self.identities):
            self.table.mark(global_id)
        return events
