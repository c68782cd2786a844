"""What crosses stage boundaries in the pipeline (one definition each).

Identity keys (design): a track is ``TrackKey(camera, track_id)``; a global id is an int issued
by the association stage and never reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np


class TrackKey(NamedTuple):
    camera: str
    track_id: int


@dataclass(frozen=True)
class Frame:
    """One decoded frame. image: BGR uint8 [H, W, 3]; frame_index is 1-based in its camera."""

    camera: str
    frame_index: int
    timestamp_s: float
    image: np.ndarray


@dataclass(frozen=True)
class FramePacket:
    """The frames of all cameras that belong to one time step (cameras without a frame are absent).
    timestamp_s never decreases from one packet to the next; live packets may share one."""

    step: int
    timestamp_s: float
    frames: tuple[Frame, ...]


@dataclass(frozen=True)
class Detections:
    """Person detections in one frame. boxes: float32 [N, 4] x1,y1,x2,y2 pixels; scores: float32 [N]."""

    camera: str
    frame_index: int
    boxes: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)

    @staticmethod
    def empty(camera: str, frame_index: int) -> "Detections":
        return Detections(camera, frame_index, np.zeros((0, 4), np.float32), np.zeros(0, np.float32))


@dataclass(frozen=True)
class TrackBox:
    """One tracked box in one frame, as the sinks receive it.

    visibility: the 1+K part visibility of this box's crop (None when no features were extracted,
    e.g. a tiny or truncated crop); global_id: the identity known when the box was emitted (None
    while the track is not yet associated); interpolated: the box was not detected but filled in
    after the run across a short gap of its track (``pipeline.track_repair``; score 0).
    """

    camera: str
    frame_index: int
    timestamp_s: float
    track_id: int
    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float
    visibility: tuple[bool, ...] | None = None
    global_id: int | None = None
    interpolated: bool = False

    @property
    def key(self) -> TrackKey:
        return TrackKey(self.camera, self.track_id)


EventKind = Literal["track_started", "track_ended", "identity_assigned", "identity_changed"]


@dataclass(frozen=True)
class IdentityEvent:
    """A change worth telling: a track starts or ends, or gets / changes its global identity."""

    kind: EventKind
    camera: str
    track_id: int
    timestamp_s: float
    frame_index: int
    global_id: int | None = None
    previous_global_id: int | None = None
    distance: float | None = None  # the visible-part distance that decided an assignment

    def to_json_dict(self) -> dict:
        return {key: value for key, value in self.__dict__.items()}


@dataclass
class TrackletSnapshot:
    """A track's part memory, as stored by the sinks.

    embeddings: float32 [1+K, D] visibility-weighted mean per part (L2-normalised, zeros where never
    visible); counts: int [1+K] visible observations per part.
    """

    key: TrackKey
    embeddings: np.ndarray
    counts: np.ndarray
    first_timestamp_s: float
    last_timestamp_s: float
    first_frame: int
    last_frame: int
    global_id: int | None = None
    observations: int = 0
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrackedFrame:
    """One camera's tracked boxes in one frame, joined with the part features of their detections.

    boxes float32 [M, 4] xyxy; track_ids int64 [M]; scores float32 [M]. When features were
    extracted for the frame: embeddings float32 [M, 1+K, D] and visibility bool [M, 1+K] (rows
    without features are zeros), has_features bool [M] (the box came from a detection, so it has
    features), usable bool [M] (its crop passed the crop rule); otherwise all three are None.
    """

    camera: str
    frame_index: int
    timestamp_s: float
    boxes: np.ndarray
    track_ids: np.ndarray
    scores: np.ndarray
    embeddings: np.ndarray | None = None
    visibility: np.ndarray | None = None
    has_features: np.ndarray | None = None
    usable: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.track_ids)

    def box_features(self, row: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(embeddings [1+K, D] for the part memory or None, visibility [1+K] for the sinks or None).

        Embeddings only for usable crops; visibility for every box that has features.
        """
        if self.has_features is None or not self.has_features[row]:
            return None, None
        embeddings = self.embeddings[row] if self.usable[row] else None
        return embeddings, self.visibility[row]
