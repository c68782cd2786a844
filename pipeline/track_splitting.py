"""Split a tracker's track where its appearance changes.

The trackers match boxes by position (ByteTrack: IoU only), so when two people cross, a track can
jump from one to the other and carry on with the second person. The association decides per track,
so no decision of its own can undo such a jump: the whole track goes to one identity and the other
person's boxes are wrong. This stage runs before the association and watches each track's
foreground embedding (index 0 of the part features): when ``consecutive`` usable crops in a row lie
farther than ``threshold`` from the running mean of the track's current segment (that segment
having at least ``min_observations`` crops), a new segment starts at that crop under a new track
id. Crops without features (``every_n_frames`` > 1, or too small) carry the current segment's id.

Track ids after this stage are the stage's own, issued per camera in order of first appearance
(1, 2, ...): a split needs ids that no tracker id can collide with. The threshold is, by default,
the model's calibrated single-image foreground distance (``python -m train.calibrate_association``;
a 2 % false-match rate between different people), so a segment is cut only where two crops in a
row look like someone else.

State is one entry per tracker track of the last ``forget_after_s`` seconds of stream time; older
entries are evicted once per second of stream time (a track the tracker revives after that gets a
new id, which the association treats as a new track).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from pipeline.config import TrackSplitSettings
from pipeline.records import TrackedFrame


@dataclass
class _Segment:
    """The current segment of one tracker track: sum float64 [D] of its usable foreground
    embeddings, their count, the crops in a row that looked like someone else, last time seen."""

    track_id: int
    sum: np.ndarray | None
    observations: int
    strikes: int
    last_seen_s: float


class TrackSplitter:
    """Relabels tracked frames (``TrackedFrame.track_ids``) with segment ids; see the module docstring.

    No cut threshold (``settings.cut_threshold`` None: splitting off, or no calibrated model): ids
    pass through renumbered only (each tracker track is one segment).
    """

    def __init__(self, settings: TrackSplitSettings):
        self.settings = settings
        self.threshold = settings.cut_threshold
        self.forget_after_s = settings.forget_after_s
        self._segments: dict[tuple[str, int], _Segment] = {}
        self._issued: dict[str, int] = {}
        self.splits = 0
        self._last_sweep_s = -float("inf")

    def __len__(self) -> int:
        """Tracker tracks held (bounded by the tracks seen within ``forget_after_s``)."""
        return len(self._segments)

    def relabel(self, tracked: TrackedFrame) -> TrackedFrame:
        """The same frame with each box's segment id in ``track_ids``."""
        if not len(tracked):
            return tracked
        track_ids = np.empty_like(tracked.track_ids)
        for row in range(len(tracked)):
            segment = self._segment(tracked.camera, int(tracked.track_ids[row]), tracked.timestamp_s)
            embeddings, _ = tracked.box_features(row)
            if embeddings is not None:
                self._observe(tracked.camera, segment, embeddings[0])
            track_ids[row] = segment.track_id
        return replace(tracked, track_ids=track_ids)

    def forget_before(self, timestamp_s: float) -> None:
        """Evict the tracks not seen since ``timestamp_s - forget_after_s`` (a scan at most once per
        second of stream time: the entries are few, the steps many)."""
        if timestamp_s < self._last_sweep_s + 1.0:
            return
        self._last_sweep_s = timestamp_s
        horizon = timestamp_s - self.forget_after_s
        stale = [key for key, segment in self._segments.items() if segment.last_seen_s < horizon]
        for key in stale:
            del self._segments[key]

    def _segment(self, camera: str, tracker_id: int, timestamp_s: float) -> _Segment:
        segment = self._segments.get((camera, tracker_id))
        if segment is None:
            segment = _Segment(self._new_id(camera), None, 0, 0, timestamp_s)
            self._segments[(camera, tracker_id)] = segment
        segment.last_seen_s = max(segment.last_seen_s, timestamp_s)
        return segment

    def _observe(self, camera: str, segment: _Segment, foreground: np.ndarray) -> None:
        """foreground: float32 [D], L2-normalised."""
        foreground = foreground.astype(np.float64)
        if self.threshold is not None and segment.observations >= self.settings.min_observations:
            mean = segment.sum / max(float(np.linalg.norm(segment.sum)), 1e-12)
            distance = float(np.linalg.norm(foreground - mean))
            segment.strikes = segment.strikes + 1 if distance > self.threshold else 0
            if segment.strikes >= self.settings.consecutive:
                segment.track_id = self._new_id(camera)
                segment.sum, segment.observations, segment.strikes = None, 0, 0
                self.splits += 1
        segment.sum = foreground.copy() if segment.sum is None else segment.sum + foreground
        segment.observations += 1

    def _new_id(self, camera: str) -> int:
        self._issued[camera] = self._issued.get(camera, 0) + 1
        return self._issued[camera]
