"""The in-process runner: wires sources -> detect -> extract -> track -> tracklets -> associate -> sinks.

One ``FramePacket`` (the frames of all cameras at one time step) flows through the stages of
``pipeline.stages``; the only thing flowing back is the global id a track receives. Part features
are extracted for the detections of all cameras in one batch, before tracking, so appearance
trackers get our foreground embedding; tracks are joined back to their detection's part features
by ``det_ind``. The step loop is ``pipeline.step_driver.drive``; ``pipeline.ray_runner`` places the
same stages on Ray.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pipeline.association import association_settings
from pipeline.config import PipelineConfig
from pipeline.detection import build_detector
from pipeline.detection_ahead import DetectionAhead
from pipeline.extraction import DetectionFeatures
from pipeline.live_sources import LiveReader, streams_are_live
from pipeline.live_status import LiveCameraStatus
from pipeline.sources import SynchronizedReader, open_sources
from pipeline.stages import (
    AssociationOutcome,
    AssociationStage,
    FeatureExtractionStage,
    StageClock,
    TrackingStage,
    cut_camera_crops,
    sink_settings_for,
)
from pipeline.step_driver import RunSummary, StepDone, StepPolicy, drive

# CPU threads of a detector that decodes and detects one step ahead in a thread (measured on the
# demo, 2 cores: see docs/figures.md, "YOLO on ONNX Runtime").
DETECTOR_THREADS_AHEAD = 1


class InProcessRunner:
    """Runs every stage in this process, one time step after the other (the default runner); on
    recorded files YOLO detects the next steps in a thread meanwhile (``detector.run_ahead``).

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
        tracking_stage=TrackingStage,
    ):
        self.config = config
        self.association_stage = association_stage  # the class (or factory) of the association stage
        self.tracking_stage = tracking_stage  # the class (or factory) of a camera's tracking stage
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
        if streams_are_live(self.streams):
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
        executor = InProcessExecutor(self, self._open_reader())
        try:
            executor.start()
            return drive(
                executor, StepPolicy.for_config(self.config, max_steps, self.stop_requested), self.output_dir,
                started_run, progress=self.progress, status_every_s=self.config.output.status_every_s,
                live_view=self.live_view,
            )
        finally:
            executor.close()


class InProcessExecutor:
    """The stages of one step, one after the other in this process (``pipeline.step_driver.StepExecutor``)."""

    def __init__(self, runner: InProcessRunner, reader):
        self.runner = runner
        self.reader = reader
        self.live = isinstance(reader, LiveReader)
        sources = reader.sources
        self.cameras = [source.camera for source in sources]
        self.total_steps = None if self.live else (max((source.frame_count for source in sources), default=0) or None)
        self.extractor_description = runner.extractor_description
        self.notes: list[str] = []
        self.clock = StageClock()
        self.association = None
        self._crops = 0
        self._iterator = iter(reader)
        # A tracker is built at its camera's first frame: a live camera that connects late has
        # reported its frame rate by then (before, its source only knows the default).
        self._trackers: dict[str, TrackingStage] = {}
        self._source_of = {source.camera: source for source in sources}
        self._ahead: DetectionAhead | None = None
        self._torch_threads: int | None = None

    def _runs_ahead(self) -> bool:
        """Detect ahead in a thread: recorded files with YOLO (live frames are taken as they come;
        reading public detections costs nothing)."""
        detector = self.runner.config.detector
        return detector.run_ahead and detector.backend == "yolo" and not self.live

    def start(self) -> None:
        runner, sources = self.runner, self.reader.sources
        ahead = self._runs_ahead()
        # One thread for a detector that runs ahead, beside the extractor's: two each oversubscribe
        # the cores (benchmarks/detection_ahead.py).
        self.detector = build_detector(runner.config.detector, self.cameras,
                                       threads=DETECTOR_THREADS_AHEAD if ahead else None)
        if ahead:
            import torch

            # The same for a PyTorch detector (torch's threads are global); restored in close().
            self._torch_threads = torch.get_num_threads()
            torch.set_num_threads(1)
            self._ahead = DetectionAhead(self._iterator, self.detector.detect)
            self.notes.append("decode and detect ran one step ahead in a thread, beside the other stages "
                              "(their seconds overlap; detector.run_ahead)")
        extractor = runner.extraction.describe()
        self.association = runner.association_stage(
            runner.association_settings,
            extractor,
            runner.output_dir,
            self.cameras,
            sink_settings_for(
                runner.config.output,
                {source.camera: source.fps for source in sources},
                extractor.part_names,
                {} if self.live else {source.camera: source.path for source in sources},
                runner.model,
            ),
            **({"extra_sinks": [runner.live_view.sink]} if runner.live_view is not None else {}),
        )

    def _tracker_for(self, camera: str) -> TrackingStage:
        if camera not in self._trackers:
            self._trackers[camera] = self.runner.tracking_stage(camera, self.runner.config.tracker, self._source_of[camera].fps)
        return self._trackers[camera]

    def run_step(self, policy: StepPolicy) -> StepDone | None:
        clock = self.clock
        if self._ahead is not None:
            detected = self._ahead.next_step()
            if detected is None:
                return None
            packet, detections = detected.packet, detected.detections
            # Busy seconds of the thread: they overlap the other stages' (the summary's note says so).
            clock.add({"decode": detected.decode_seconds, "detect": detected.detect_seconds})
        else:
            with clock.measure("decode"):
                packet = next(self._iterator, None)
            if packet is None:
                return None
            with clock.measure("detect"):
                detections = self.detector.detect(list(packet.frames))
        frames = list(packet.frames)
        features: list[DetectionFeatures | None] = [None] * len(frames)
        if policy.extracts(packet.step):
            with clock.measure("extract"):
                crop_sets = [
                    cut_camera_crops(frame, frame_detections, self.runner.config.extractor.crops)
                    for frame, frame_detections in zip(frames, detections)
                ]
                features = self.runner.extraction.extract(crop_sets)
            self._crops += sum(len(crop_set) for crop_set in crop_sets)
        with clock.measure("track"):
            tracked = [
                self._tracker_for(frame.camera).track(frame, frame_detections, frame_features)
                for frame, frame_detections, frame_features in zip(frames, detections, features)
            ]
        self.association.process_step(packet.timestamp_s, tracked, {frame.camera: frame.image for frame in frames})
        return StepDone(packet.step, packet.timestamp_s, tuple(frame.camera for frame in frames))

    def camera_status(self) -> dict[str, LiveCameraStatus]:
        return self.reader.status() if self.live else {}

    def identities_seen(self) -> int:
        return self.association.identities_seen()

    def finish(self, last_timestamp_s: float) -> AssociationOutcome:
        outcome = self.association.finish(last_timestamp_s)
        self.clock.add(self.association.clock.seconds)
        return outcome

    def crops(self) -> int:
        return self._crops

    def stage_seconds(self) -> dict[str, float]:
        return dict(self.clock.seconds)

    def close(self) -> None:
        try:
            if self._ahead is not None:
                self._ahead.close()
            if self.association is not None:
                self.association.close()
        finally:
            if self._torch_threads is not None:
                import torch

                torch.set_num_threads(self._torch_threads)
            self.reader.close()
