"""The in-process runner: wires sources -> detect -> extract -> track -> tracklets -> associate -> sinks.

One ``FramePacket`` (the frames of all cameras at one time step) flows through the stages of
``pipeline.stages``; the only thing flowing back is the global id a track receives. Part features
are extracted for the detections of all cameras in one batch, before tracking, so appearance
trackers get our foreground embedding; tracks are joined back to their detection's part features
by ``det_ind``. ``pipeline.ray_runner`` places the same stages on Ray.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from reid.log_levels import say
from reid.progress import progress_bar

from pipeline.association import association_settings
from pipeline.tracking import APPEARANCE_TRACKERS
from pipeline.config import PipelineConfig
from pipeline.detection import build_detector
from pipeline.extraction import DetectionFeatures
from pipeline.live_sources import LiveReader, is_live_url
from pipeline.live_status import format_status_line
from pipeline.sources import SynchronizedReader, open_sources
from pipeline.stages import (
    STAGES,
    AssociationStage,
    FeatureExtractionStage,
    StageClock,
    TrackingStage,
    cut_camera_crops,
    sink_settings_for,
)
from reid.errors import UserError


@dataclass
class RunSummary:
    """What a run did: frames read, tracks and identities found, and the seconds per stage."""

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
        lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)


class InProcessRunner:
    """Runs every stage in this process, one time step after the other (the default runner).

    streams: (camera, path or live URL) pairs; extractor: a ``reid.runtime`` part-feature
    extractor; duration_s: live sources stop after this long (default: the config's).
    ``stop_requested`` (a ``threading.Event``) ends the run cleanly after the current step.
    """

    def __init__(
        self,
        config: PipelineConfig,
        streams: list[tuple[str, str]],
        extractor,
        output_dir: str | Path,
        progress: bool = True,
        config_source: str = "<config>",
        duration_s: float | None = None,
        association_stage=AssociationStage,
        model: str | None = None,
        live_view=None,
    ):
        self.config = config
        self.association_stage = association_stage  # the class (or factory) of the association stage
        self.streams = streams
        self.extraction = FeatureExtractionStage(extractor)
        self.extractor_description = self.extraction.describe().description
        self.output_dir = Path(output_dir)
        self.progress = progress
        self.association_settings = association_settings(config.association, config_source)
        self.stop_requested = threading.Event()
        self.duration_s = duration_s if duration_s is not None else config.sources.duration_s
        self.model = model  # the part-feature model file, recorded in the store
        # The web app's live view (pipeline.web.live.LiveView): its sink gets every step's frames and
        # boxes, and it is told the cameras' health and the identity count.
        self.live_view = live_view

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

    def run(self, max_steps: int | None = None) -> RunSummary:
        started_run = time.perf_counter()
        clock = StageClock()
        reader = self._open_reader()
        sources = reader.sources
        live = isinstance(reader, LiveReader)
        cameras = [source.camera for source in sources]
        next_status = time.monotonic() + self.config.output.status_every_s
        next_view_report = 0.0
        association = None
        try:
            detector = build_detector(self.config.detector, cameras)
            # A tracker is built at its camera's first frame: a live camera that connects late has
            # reported its frame rate by then (before, its source only knows the default).
            trackers: dict[str, TrackingStage] = {}
            source_of = {source.camera: source for source in sources}

            def tracker_for(camera: str) -> TrackingStage:
                if camera not in trackers:
                    trackers[camera] = TrackingStage(camera, self.config.tracker, source_of[camera].fps)
                return trackers[camera]

            extractor = self.extraction.describe()
            association = self.association_stage(
                self.association_settings,
                extractor,
                self.output_dir,
                cameras,
                sink_settings_for(
                    self.config.output,
                    {source.camera: source.fps for source in sources},
                    extractor.part_names,
                    {} if live else {source.camera: source.path for source in sources},
                    self.model,
                ),
                **({"extra_sinks": [self.live_view.sink]} if self.live_view is not None else {}),
            )
            every = max(1, self.config.extractor.every_n_frames)
            appearance = self.config.tracker.name in APPEARANCE_TRACKERS
            frames_per_camera = {camera: 0 for camera in cameras}
            crops, steps, last_timestamp = 0, 0, 0.0
            total = max((source.frame_count for source in sources), default=0) or None
            bar = progress_bar(total=total, desc="pipeline", unit="step", enabled=self.progress and not live)
            iterator = iter(reader)
            while max_steps is None or steps < max_steps:
                if self.stop_requested.is_set():
                    break
                with clock.measure("decode"):
                    packet = next(iterator, None)
                if packet is None:
                    break
                frames = list(packet.frames)
                last_timestamp = packet.timestamp_s

                with clock.measure("detect"):
                    detections = detector.detect(frames)

                features: list[DetectionFeatures | None] = [None] * len(frames)
                if appearance or packet.step % every == 0:
                    with clock.measure("extract"):
                        crop_sets = [
                            cut_camera_crops(frame, frame_detections, self.config.extractor.crops)
                            for frame, frame_detections in zip(frames, detections)
                        ]
                        features = self.extraction.extract(crop_sets)
                    crops += sum(len(crop_set) for crop_set in crop_sets)

                with clock.measure("track"):
                    tracked = [
                        tracker_for(frame.camera).track(frame, frame_detections, frame_features)
                        for frame, frame_detections, frame_features in zip(frames, detections, features)
                    ]
                association.process_step(packet.timestamp_s, tracked, {frame.camera: frame.image for frame in frames})
                for frame in frames:
                    frames_per_camera[frame.camera] += 1
                steps += 1
                bar.update(1)
                if self.live_view is not None and time.monotonic() >= next_view_report:
                    next_view_report = time.monotonic() + 0.5
                    self.live_view.report(reader.status() if live else {}, association.identities_seen())
                if live and self.config.output.status_every_s > 0 and time.monotonic() >= next_status:
                    next_status = time.monotonic() + self.config.output.status_every_s
                    say(format_status_line(reader.status(), association.identities_seen()), error_stream=True)
            bar.close()

            outcome = association.finish(last_timestamp)
            if self.live_view is not None:
                self.live_view.report(reader.status() if live else {}, outcome.identities, running=False)
            clock.add(association.clock.seconds)
            return RunSummary(
                output_dir=self.output_dir,
                cameras=cameras,
                frames_per_camera=frames_per_camera,
                steps=steps,
                seconds=time.perf_counter() - started_run,
                stage_seconds=clock.seconds,
                tracks=outcome.tracks,
                identities=outcome.identities,
                crops=crops,
                extractor=self.extractor_description,
            )
        finally:
            if association is not None:
                association.close()
            reader.close()
