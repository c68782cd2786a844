"""One BoxMOT tracker per camera. Appearance trackers get our foreground embedding through
``boxmot.structures.Detections.embeddings``; tracks are joined back to detections by ``det_ind``."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import torch

from pipeline.config import TrackerConfig
from pipeline.records import Detections

TRACKER_CLASSES = {
    "bytetrack": "ByteTrack",
    "botsort": "BotSort",
    "ocsort": "OcSort",
    "deepocsort": "DeepOcSort",
    "strongsort": "StrongSort",
    "hybridsort": "HybridSort",
    "boosttrack": "BoostTrack",
    "occluboost": "OccluBoost",
}
APPEARANCE_TRACKERS = {"botsort", "deepocsort", "strongsort", "hybridsort", "boosttrack", "occluboost"}


def accepted_parameters(tracker_class: type) -> set[str]:
    """Keyword parameters of the tracker's constructor, its base classes' included (OccluBoost takes
    BoostTrack's ``use_cmc`` through ``**kwargs``)."""
    names: set[str] = set()
    for klass in tracker_class.__mro__:
        constructor = klass.__dict__.get("__init__")
        if constructor is not None:
            names.update(inspect.signature(constructor).parameters)
    return names


@dataclass(frozen=True)
class TrackedDetections:
    """Tracker output for one frame. boxes float32 [M, 4] xyxy; track_ids int64 [M]; scores
    float32 [M]; detection_indices int64 [M] into the frame's ``Detections`` (-1 when none)."""

    boxes: np.ndarray
    track_ids: np.ndarray
    scores: np.ndarray
    detection_indices: np.ndarray


class CameraTracker:
    def __init__(self, camera: str, config: TrackerConfig, frame_rate: float):
        import boxmot

        self.camera = camera
        self.uses_appearance = config.name in APPEARANCE_TRACKERS
        tracker_class = getattr(boxmot, TRACKER_CLASSES[config.name])
        accepted = accepted_parameters(tracker_class)
        parameters = dict(config.parameters)
        if "frame_rate" in accepted:
            parameters.setdefault("frame_rate", int(round(frame_rate)))
        # camera-motion compensation off: static surveillance cameras (BoT-SORT and BoostTrack call it
        # use_cmc, DeepOCSORT cmc_off; HybridSORT has no switch)
        if "use_cmc" in accepted:
            parameters.setdefault("use_cmc", False)
        if "cmc_off" in accepted:
            parameters.setdefault("cmc_off", True)
        try:
            self.tracker = tracker_class(**parameters)
        except TypeError as error:  # a misspelt or unknown tracker.parameters key
            from reid.errors import UserError

            raise UserError(f"tracker.parameters for {config.name}: {error}") from None

    def update(
        self, detections: Detections, image: np.ndarray, timestamp_s: float, embeddings: np.ndarray | None = None
    ) -> TrackedDetections:
        """embeddings: float32 [N, D] per detection, used by appearance trackers only."""
        if self.uses_appearance:
            from boxmot.structures import Boxes
            from boxmot.structures import Detections as BoxmotDetections

            if embeddings is None:
                raise ValueError(f"tracker for {self.camera} uses appearance: embeddings are required")
            inputs = BoxmotDetections(
                geometry=Boxes(torch.from_numpy(detections.boxes.astype(np.float32)).reshape(-1, 4)),
                scores=torch.from_numpy(detections.scores.astype(np.float32)),
                class_ids=torch.zeros(len(detections), dtype=torch.int64),
                sample_id=f"{self.camera}:{detections.frame_index}",
                # A copy: arrays that came through Ray's object store are read-only (torch warns on them).
                embeddings=torch.tensor(embeddings, dtype=torch.float32).reshape(len(detections), embeddings.shape[-1]),
            )
        else:
            inputs = np.concatenate(
                [detections.boxes.reshape(-1, 4), detections.scores.reshape(-1, 1), np.zeros((len(detections), 1))], axis=1
            ).astype(np.float32)
        output = self.tracker.update(inputs, image, timestamp_s=timestamp_s)
        return _as_tracked(output)


def _as_tracked(output) -> TrackedDetections:
    if isinstance(output, np.ndarray):
        rows = output.reshape(-1, 8) if output.size else np.zeros((0, 8))
        return TrackedDetections(
            rows[:, :4].astype(np.float32),
            rows[:, 4].astype(np.int64),
            rows[:, 5].astype(np.float32),
            rows[:, 7].astype(np.int64),
        )
    boxes = output.geometry.values.detach().cpu().numpy().astype(np.float32).reshape(-1, 4)
    detection_indices = (
        output.detection_indices.detach().cpu().numpy().astype(np.int64)
        if output.detection_indices is not None
        else np.full(len(boxes), -1, dtype=np.int64)
    )
    return TrackedDetections(
        boxes,
        output.track_ids.detach().cpu().numpy().astype(np.int64),
        output.scores.detach().cpu().numpy().astype(np.float32),
        detection_indices,
    )
