"""The pipeline's stages as small objects, shared by the in-process runner and the Ray runner.

Per time step, in this order (the order both runners keep, so that they give identical results)::

    decode + detect           per camera (batched across cameras in process)
    cut_camera_crops          per camera: the detections' crops and the crop rule
    FeatureExtractionStage    ONE extractor call for the crops of all cameras of the step
    TrackingStage             per camera: its tracker, joined back to the features by ``det_ind``
    AssociationStage          observes every camera's tracked boxes in camera order, steps, writes sinks

Only plain data crosses a stage boundary (``CameraCrops``, ``DetectionFeatures``, ``TrackedFrame``),
so a runner may place the stages in other processes or on other machines.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from pipeline.association import AssociationSettings, CrossCameraAssociation
from pipeline.config import CropRule, OutputConfig, TrackerConfig
from pipeline.extraction import DetectionFeatures, crop_is_usable, cut_crop
from pipeline.records import Detections, Frame, IdentityEvent, TrackBox, TrackedFrame, TrackKey
from pipeline.sinks import Sink, SinkGroup, SinkSettings, build_sinks
from pipeline.track_repair import TrackBoxHistory
from pipeline.track_splitting import TrackSplitter

STAGES = ("decode", "detect", "extract", "track", "associate", "write")


class StageClock:
    """Seconds spent in each stage (busy time), in ``seconds`` keyed by the names in ``STAGES``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {stage: 0.0 for stage in STAGES}

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - started

    def add(self, seconds: Mapping[str, float]) -> None:
        """Add another clock's seconds (e.g. one Ray actor's) to this one."""
        for stage, value in seconds.items():
            self.seconds[stage] = self.seconds.get(stage, 0.0) + float(value)


# --- crops and features -----------------------------------------------------------------------


@dataclass(frozen=True)
class CameraCrops:
    """One frame's detection crops for the feature extractor.

    crops: BGR uint8 [h_i, w_i, 3], one per detection in detection order; usable: bool [N], the
    crop passed the crop rule (only usable crops feed the part memory).
    """

    camera: str
    crops: tuple[np.ndarray, ...]
    usable: np.ndarray

    def __len__(self) -> int:
        return len(self.crops)


def cut_camera_crops(frame: Frame, detections: Detections, rule: CropRule) -> CameraCrops:
    """The crops of one frame's detections (copies, so they travel without the whole frame)."""
    height, width = frame.image.shape[:2]
    crops = tuple(np.ascontiguousarray(cut_crop(frame.image, box)) for box in detections.boxes)
    usable = np.array([crop_is_usable(box, width, height, rule) for box in detections.boxes], dtype=bool)
    return CameraCrops(frame.camera, crops, usable)


@dataclass(frozen=True)
class ExtractorDescription:
    """What the part-feature extractor produces: K body parts, D-dimensional embeddings."""

    num_parts: int
    embedding_dim: int
    part_names: tuple[str, ...]
    description: str


class FeatureExtractionStage:
    """Part features for the crops of all cameras of one time step, in ONE extractor call.

    extractor: a ``reid.runtime`` part-feature extractor (``extract(crops) -> PartFeatures``).
    The same crops in the same order always give the same features, wherever this stage runs.
    """

    def __init__(self, extractor):
        self.extractor = extractor

    def describe(self) -> ExtractorDescription:
        info = getattr(self.extractor, "info", None)
        description = info.describe() if info is not None and hasattr(info, "describe") else repr(self.extractor)
        return ExtractorDescription(
            int(self.extractor.num_parts),
            int(self.extractor.embedding_dim),
            tuple(self.extractor.part_names),
            description,
        )

    def extract(self, crop_sets: Sequence[CameraCrops]) -> list[DetectionFeatures]:
        """One ``DetectionFeatures`` per element of ``crop_sets``, in the same order."""
        crops = [crop for crop_set in crop_sets for crop in crop_set.crops]
        features = self.extractor.extract(crops)
        embeddings = features.embeddings.numpy()
        visibility = features.visibility.numpy()
        results, start = [], 0
        for crop_set in crop_sets:
            block = slice(start, start + len(crop_set))
            results.append(DetectionFeatures(embeddings[block], visibility[block], np.asarray(crop_set.usable, bool)))
            start += len(crop_set)
        return results


# --- tracking ---------------------------------------------------------------------------------


class TrackingStage:
    """One camera's tracker (BoxMOT); its output is joined back to the detections' features."""

    def __init__(self, camera: str, config: TrackerConfig, frame_rate: float):
        from pipeline.tracking import CameraTracker

        self.camera = camera
        self.tracker = CameraTracker(camera, config, frame_rate)

    @property
    def uses_appearance(self) -> bool:
        return self.tracker.uses_appearance

    def track(self, frame: Frame, detections: Detections, features: DetectionFeatures | None) -> TrackedFrame:
        foreground = features.embeddings[:, 0] if features is not None else None
        if self.tracker.uses_appearance and foreground is None:
            raise RuntimeError("appearance trackers need features on every frame (extractor.every_n_frames: 1)")
        tracked = self.tracker.update(detections, frame.image, frame.timestamp_s, foreground)
        result = dict(
            camera=frame.camera,
            frame_index=frame.frame_index,
            timestamp_s=frame.timestamp_s,
            boxes=tracked.boxes,
            track_ids=tracked.track_ids,
            scores=tracked.scores,
        )
        if features is None:
            return TrackedFrame(**result)
        indices = np.asarray(tracked.detection_indices, dtype=np.int64).reshape(-1)
        has_features = (indices >= 0) & (indices < len(features.usable))
        safe = np.where(has_features, indices, 0)
        embeddings = np.zeros((len(indices), *features.embeddings.shape[1:]), dtype=features.embeddings.dtype)
        visibility = np.zeros((len(indices), *features.visibility.shape[1:]), dtype=bool)
        usable = np.zeros(len(indices), dtype=bool)
        if has_features.any():
            embeddings[has_features] = features.embeddings[safe[has_features]]
            visibility[has_features] = features.visibility[safe[has_features]]
            usable[has_features] = features.usable[safe[has_features]]
        return TrackedFrame(
            **result, embeddings=embeddings, visibility=visibility, has_features=has_features, usable=usable
        )


# --- association and sinks --------------------------------------------------------------------


def sink_settings_for(
    output: OutputConfig,
    video_fps: Mapping[str, float],
    part_names: Sequence[str],
    video_sources: Mapping[str, str] | None = None,
    model: str | None = None,
) -> SinkSettings:
    """The sinks the output configuration turns on.

    video_sources: the recorded file of each camera (camera -> path), so that its annotated video is
    drawn after the run with the final ids; live cameras (absent) are drawn online. model: the
    run's part-feature model file (recorded in the store, for the web app's search).
    """
    return SinkSettings(
        mot=output.mot,
        events=output.events,
        sqlite=output.sqlite,
        video=output.videos,
        video_fps=dict(video_fps),
        part_names=tuple(part_names),
        video_sources={camera: str(Path(path).resolve()) for camera, path in dict(video_sources or {}).items()},
        run_metadata={"reid_model": str(Path(model).resolve())} if model else {},
    )


@dataclass(frozen=True)
class AssociationOutcome:
    """The end of a run: tracks seen and global identities in the final map."""

    tracks: int
    identities: int
    filled_boxes: int = 0  # boxes gap filling added after the run
    tracks_split: int = 0  # tracks cut where their appearance changed


class AssociationStage:
    """Cross-camera association and the sinks it writes (one instance per run).

    Per step it observes every camera's tracked boxes in the order given, then ends stale tracks
    and assigns the ready ones, then writes the step to the sinks; ``finish`` refines (recorded
    files) and finalizes the sinks; ``close`` always.
    """

    def __init__(
        self,
        settings: AssociationSettings,
        extractor: ExtractorDescription,
        output_dir: str | Path,
        cameras: Sequence[str],
        sinks: SinkSettings,
        extra_sinks: Sequence[Sink] = (),
    ):
        self.settings = settings
        self.clock = StageClock()
        self.association = CrossCameraAssociation(settings, extractor.num_parts, extractor.embedding_dim)
        # Recorded runs (those that refine) keep every box for the gap filling after the run.
        self.box_history = TrackBoxHistory() if settings.refine and settings.gap_filling_max_s > 0 else None
        # Tracker tracks are cut where their appearance changes; every id after this is the splitter's.
        self.splitter = TrackSplitter(settings.splitting)
        self.sink = SinkGroup([*build_sinks(output_dir, list(cameras), sinks), *extra_sinks])

    def identities_seen(self) -> int:
        """Global ids given out so far (a live run forgets ended tracks, so their assignments cannot
        be counted)."""
        return self.association.identities_issued()

    def process_step(
        self,
        timestamp_s: float,
        tracked_frames: Sequence[TrackedFrame],
        images: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """One time step; images (BGR by camera) are only needed by the video sink."""
        association = self.association
        rows: list[tuple[TrackedFrame, TrackKey, np.ndarray, float, np.ndarray | None]] = []
        events: list[IdentityEvent] = []
        with self.clock.measure("associate"):
            tracked_frames = [self.splitter.relabel(tracked) for tracked in tracked_frames]
            self.splitter.forget_before(timestamp_s)
            for tracked in tracked_frames:
                for row in range(len(tracked)):
                    key = TrackKey(tracked.camera, int(tracked.track_ids[row]))
                    embeddings, visibility = tracked.box_features(row)
                    box = tuple(float(value) for value in tracked.boxes[row])
                    started = association.observe(
                        key, tracked.timestamp_s, tracked.frame_index, embeddings,
                        visibility if embeddings is not None else None, box,
                    )
                    events.extend(started)
                    if self.box_history is not None:
                        self.box_history.add(key, tracked.frame_index, tracked.timestamp_s, box)
                    rows.append((tracked, key, box, float(tracked.scores[row]), visibility))
            events.extend(association.step(timestamp_s))
            ended = association.drain_ended_snapshots()
        with self.clock.measure("write"):
            boxes = [
                TrackBox(
                    tracked.camera, tracked.frame_index, tracked.timestamp_s, key.track_id,
                    box, score,
                    None if visibility is None else tuple(bool(v) for v in visibility),
                    association.global_id(key),
                )
                for tracked, key, box, score, visibility in rows
            ]
            self.sink.write_step(boxes, events, dict(images) if images is not None else None)
            if ended:
                self.sink.write_tracklets(ended)

    def finish(self, last_timestamp_s: float) -> AssociationOutcome:
        """Refine (when configured), write the tracklets and the final identity map."""
        with self.clock.measure("associate"):
            final_events = self.association.refine(last_timestamp_s) if self.settings.refine else []
            final_events += self.association.end_of_run_events()
            identity_map = self.association.identity_map()
            added = self.filled_boxes(identity_map)
        with self.clock.measure("write"):
            if final_events:
                self.sink.write_step([], final_events, None)
            self.sink.write_tracklets(self.association.snapshots())
            self.sink.finalize(identity_map, added)
        # A recorded run holds every track: its identities are the final map's (after refinement); a
        # live run holds only the active tracks, so it counts the ids it gave out.
        identities = (len(set(identity_map.values())) if self.settings.keeps_history
                      else self.association.identities_issued())
        return AssociationOutcome(self.association.tracks_seen, identities, len(added), self.splitter.splits)

    def filled_boxes(self, identity_map: dict[TrackKey, int]) -> list[TrackBox]:
        """The boxes gap filling adds to a recorded run (tracks with a final id only)."""
        if self.box_history is None:
            return []
        filled = self.box_history.filled_boxes(self.settings.gap_filling_max_s, self.association.stitches)
        # A filled box never gives its identity a second box in one camera frame (a stitched gap may
        # hold another member of the identity).
        occupied = self.box_history.occupied(identity_map)
        added = []
        for key, frame, timestamp, box in filled:
            global_id = identity_map.get(key)
            if global_id is None or (key.camera, frame, global_id) in occupied:
                continue
            occupied.add((key.camera, frame, global_id))
            added.append(TrackBox(key.camera, frame, timestamp, key.track_id, box, 0.0, None, global_id, interpolated=True))
        return added

    def close(self) -> None:
        self.sink.close()
