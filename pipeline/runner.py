"""The in-process runner: wires sources -> detect -> extract -> track -> tracklets -> associate -> sinks.

One ``FramePacket`` (the frames of all cameras at one time step) flows through the stages; the
only thing flowing back is the global id a track receives. Part features are extracted for the
detections of all cameras in one batch, before tracking, so appearance trackers get our
foreground embedding; tracks are joined back to their detection's part features by ``det_ind``.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.association import CrossCameraAssociation
from pipeline.config import PipelineConfig
from pipeline.detection import build_detector
from pipeline.extraction import DetectionFeatures, StepFeatureExtractor
from pipeline.live_sources import LiveReader, is_live_url
from pipeline.live_status import format_status_line
from pipeline.records import FramePacket, IdentityEvent, TrackBox, TrackKey
from pipeline.sinks import SinkGroup, SinkSettings, build_sinks
from pipeline.sources import SynchronizedReader, open_sources
from pipeline.tracking import CameraTracker
from reid.errors import UserError

STAGES = ("decode", "detect", "extract", "track", "associate", "write")


@dataclass
class RunSummary:
    output_dir: Path
    cameras: list[str]
    frames_per_camera: dict[str, int]
    steps: int
    seconds: float
    stage_seconds: dict[str, float]
    tracks: int
    identities: int
    crops: int
    extractor: str = ""
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        total = max(self.seconds, 1e-9)
        lines = [
            f"{self.steps} steps, {sum(self.frames_per_camera.values())} frames from {len(self.cameras)} cameras in "
            f"{self.seconds:.1f} s; {self.tracks} tracks -> {self.identities} global identities; {self.crops} crops",
            "  stage      |  seconds | share",
        ]
        for stage in STAGES:
            seconds = self.stage_seconds.get(stage, 0.0)
            lines.append(f"  {stage:<10} | {seconds:8.2f} | {100 * seconds / total:4.1f}%")
        per_camera = ", ".join(
            f"{camera} {count / total:.1f} fps" for camera, count in self.frames_per_camera.items()
        )
        lines.append(f"  frames/s per camera: {per_camera}")
        return "\n".join(lines)


class InProcessRunner:
    def __init__(
        self,
        config: PipelineConfig,
        streams: list[tuple[str, str]],
        extractor,
        output_dir: str | Path,
        progress: bool = True,
        config_source: str = "<config>",
        duration_s: float | None = None,
    ):
        self.config = config
        self.streams = streams
        self.extractor = StepFeatureExtractor(extractor, config.extractor.crops)
        self.extractor_description = getattr(getattr(extractor, "info", None), "describe", lambda: repr(extractor))()
        self.output_dir = Path(output_dir)
        self.progress = progress
        self.association_settings = config.association.settings(config_source)
        self.stop_requested = threading.Event()
        self.duration_s = duration_s if duration_s is not None else config.sources.duration_s

    def _open_reader(self):
        """Files are read in step by timestamp; live URLs each by their own reconnecting thread."""
        live = [is_live_url(path) for _, path in self.streams]
        if any(live) and not all(live):
            raise UserError("one run reads either live URLs or recorded files, not both")
        if all(live):
            return LiveReader(
                self.streams,
                self.config.live,
                stop_event=self.stop_requested,
                duration_s=self.duration_s,
                require_all_cameras=not self.config.sources.continue_on_error,
            )
        return SynchronizedReader(open_sources(self.streams, self.config.sources.continue_on_error))

    def _track_step(
        self,
        packet: FramePacket,
        detections,
        features: list[DetectionFeatures | None],
        trackers: dict[str, CameraTracker],
        association: CrossCameraAssociation,
        timings: dict[str, float],
    ) -> tuple[list[tuple], list[IdentityEvent]]:
        """Track every camera's frame, feed the association; returns raw box rows and events."""
        rows, events = [], []
        for frame, frame_detections, frame_features in zip(packet.frames, detections, features):
            started = time.perf_counter()
            tracker = trackers[frame.camera]
            foreground = frame_features.embeddings[:, 0] if frame_features is not None else None
            if tracker.uses_appearance and foreground is None:
                raise RuntimeError("appearance trackers need features on every frame (extractor.every_n_frames: 1)")
            tracked = tracker.update(frame_detections, frame.image, frame.timestamp_s, foreground)
            timings["track"] += time.perf_counter() - started

            started = time.perf_counter()
            for box, track_id, score, detection_index in zip(
                tracked.boxes, tracked.track_ids, tracked.scores, tracked.detection_indices
            ):
                key = TrackKey(frame.camera, int(track_id))
                embeddings = visibility = None
                if frame_features is not None and 0 <= detection_index < len(frame_features.usable):
                    visibility = frame_features.visibility[detection_index]
                    if frame_features.usable[detection_index]:
                        embeddings = frame_features.embeddings[detection_index]
                events.extend(
                    association.observe(
                        key, frame.timestamp_s, frame.frame_index, embeddings, visibility if embeddings is not None else None
                    )
                )
                rows.append((frame, key, box, float(score), visibility))
            timings["associate"] += time.perf_counter() - started
        return rows, events

    def run(self, max_steps: int | None = None) -> RunSummary:
        started_run = time.perf_counter()
        timings = {stage: 0.0 for stage in STAGES}
        reader = self._open_reader()
        sources = reader.sources
        live = isinstance(reader, LiveReader)
        cameras = [source.camera for source in sources]
        next_status = time.monotonic() + self.config.output.status_every_s
        sink = None
        try:
            detector = build_detector(self.config.detector, cameras)
            trackers = {source.camera: CameraTracker(source.camera, self.config.tracker, source.fps) for source in sources}
            association = CrossCameraAssociation(
                self.association_settings, self.extractor.num_parts, self.extractor.embedding_dim
            )
            sink = SinkGroup(
                build_sinks(
                    self.output_dir,
                    cameras,
                    SinkSettings(
                        mot=self.config.output.mot,
                        events=self.config.output.events,
                        sqlite=self.config.output.sqlite,
                        video=self.config.output.videos,
                        video_fps={source.camera: source.fps for source in sources},
                        part_names=tuple(self.extractor.extractor.part_names),
                    ),
                )
            )
            every = max(1, self.config.extractor.every_n_frames)
            appearance = any(tracker.uses_appearance for tracker in trackers.values())
            frames_per_camera = {camera: 0 for camera in cameras}
            crops, steps, last_timestamp = 0, 0, 0.0
            total = max((source.frame_count for source in sources), default=0) or None
            bar = tqdm(total=total, desc="pipeline", unit="step", disable=not self.progress or live)
            iterator = iter(reader)
            while max_steps is None or steps < max_steps:
                if self.stop_requested.is_set():
                    break
                started = time.perf_counter()
                packet = next(iterator, None)
                timings["decode"] += time.perf_counter() - started
                if packet is None:
                    break
                frames = list(packet.frames)
                last_timestamp = packet.timestamp_s

                started = time.perf_counter()
                detections = detector.detect(frames)
                timings["detect"] += time.perf_counter() - started

                started = time.perf_counter()
                features: list[DetectionFeatures | None] = [None] * len(frames)
                if appearance or packet.step % every == 0:
                    features = self.extractor.extract(frames, detections)
                    crops += sum(len(d) for d in detections)
                timings["extract"] += time.perf_counter() - started

                rows, events = self._track_step(packet, detections, features, trackers, association, timings)
                started = time.perf_counter()
                events.extend(association.step(packet.timestamp_s))
                timings["associate"] += time.perf_counter() - started

                started = time.perf_counter()
                boxes = [
                    TrackBox(
                        frame.camera, frame.frame_index, frame.timestamp_s, key.track_id,
                        tuple(float(v) for v in box), score,
                        None if visibility is None else tuple(bool(v) for v in visibility),
                        association.global_id(key),
                    )
                    for frame, key, box, score, visibility in rows
                ]
                sink.write_step(boxes, events, {frame.camera: frame.image for frame in frames})
                timings["write"] += time.perf_counter() - started
                for frame in frames:
                    frames_per_camera[frame.camera] += 1
                steps += 1
                bar.update(1)
                if live and self.config.output.status_every_s > 0 and time.monotonic() >= next_status:
                    next_status = time.monotonic() + self.config.output.status_every_s
                    identities = len(set(association.assignments.values()))
                    print(format_status_line(reader.status(), identities), file=sys.stderr, flush=True)
            bar.close()

            started = time.perf_counter()
            final_events = association.refine(last_timestamp) if self.association_settings.refine else []
            timings["associate"] += time.perf_counter() - started
            started = time.perf_counter()
            if final_events:
                sink.write_step([], final_events, None)
            sink.write_tracklets(association.snapshots())
            sink.finalize(association.identity_map())
            timings["write"] += time.perf_counter() - started
            identity_map = association.identity_map()
            return RunSummary(
                output_dir=self.output_dir,
                cameras=cameras,
                frames_per_camera=frames_per_camera,
                steps=steps,
                seconds=time.perf_counter() - started_run,
                stage_seconds=timings,
                tracks=len(association.tracklets),
                identities=len(set(identity_map.values())),
                crops=crops,
                extractor=self.extractor_description,
            )
        finally:
            if sink is not None:
                sink.close()
            reader.close()
