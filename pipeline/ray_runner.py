"""The Ray runner: the stages of ``pipeline.stages`` placed on Ray actors (``--runner ray``).

    one CameraWorker per camera      (decode,) detect, cut crops, track
    one or more ExtractorWorkers     ONE batch of crops from all cameras per step (a GPU each where present)
    one AssociationWorker            cross-camera association and the sinks (on the driver's node)

The step loop is ``pipeline.step_driver.drive``, the in-process runner's; this module only decides
where the stages of a step run, so both runners give the same results. Per step, one extractor call
gets every crop of the step in camera order; each camera tracks with its own features; the
association observes the tracked boxes in camera order, steps and writes. Ray runs the calls of one
caller on one actor in submission order, so the driver waits only for what it needs to plan the
next step, and a few steps may be in flight (``steps_in_flight``).

Recorded files: each camera actor decodes its own video; the driver plans the steps of
``SynchronizedReader`` (``StepScheduler``) from the small ``DecodedFrame`` heads, and step n+1
decodes while step n runs on. Live URLs: the driver's ``LiveReader`` holds the streams (one
reconnecting thread per camera, on the driver's node); a step carries the frames of the cameras that
have a new one, so a slow or dead camera holds nobody back, and each frame travels to its camera
actor through the object store. Frames travel to the association only when the video sink is on.

Ray is optional: it is imported only when ``RayRunner.run`` starts, and a missing Ray is one
``UserError``. With no address the runner calls ``ray.init()`` (a new local Ray unless
``RAY_ADDRESS`` or a ``ray start`` cluster says otherwise) and ``ray.shutdown()`` at the end; with
an address it connects to that cluster and at the end only disconnects (the cluster keeps running);
inside a process already connected to Ray it uses that connection and leaves it open. On a cluster,
every node needs this package installed, and the video files and detections must be readable under
the same paths where the camera actors run (they prefer the driver's node); outputs are written on
the driver's node.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from reid.log_levels import current_verbosity

from pipeline.association import AssociationSettings, association_settings
from pipeline.config import CropRule, DetectorConfig, PipelineConfig, TrackerConfig
from pipeline.extraction import DetectionFeatures
from pipeline.live_sources import LiveReader, streams_are_live
from pipeline.live_status import LiveCameraStatus
from pipeline.records import TrackedFrame
from pipeline.sources import next_step_cameras, step_tolerance_s
from pipeline.stages import (
    AssociationOutcome,
    AssociationStage,
    CameraCrops,
    ExtractorDescription,
    FeatureExtractionStage,
    StageClock,
    TrackingStage,
    cut_camera_crops,
    sink_settings_for,
)
from pipeline.step_driver import RunSummary, StepDone, StepPolicy, drive
from reid.errors import UserError

RAY_MISSING = "the Ray runner needs Ray: install the ray extra: pip install '.[ray]'"
DEFAULT_STEPS_IN_FLIGHT = 4


def import_ray():
    """The ``ray`` module, or a one-line ``UserError`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(RAY_MISSING) from None
    return ray


# --- what the actors load and exchange ---------------------------------------------------------


@dataclass(frozen=True)
class ExtractorSpec:
    """How an extractor actor loads its own part-feature extractor (sessions and engines do not
    travel between processes): the arguments of ``reid.runtime.load_extractor``."""

    model: str
    backend: str = "auto"
    max_batch: int = 64
    device: str | None = None

    def load(self):
        from reid.runtime import load_extractor

        return load_extractor(self.model, backend=self.backend, max_batch=self.max_batch, device=self.device)


@dataclass(frozen=True)
class CameraInfo:
    """A camera actor's opened video: its frame rate, frame count, and first timestamp."""

    camera: str
    fps: float
    frame_count: int
    first_timestamp_s: float


@dataclass(frozen=True)
class DecodedFrame:
    """What the driver learns from one decode + detect: enough to plan the next step.

    next_timestamp_s: the timestamp of the camera's next frame, None when the camera has ended.
    """

    camera: str
    frame_index: int
    timestamp_s: float
    detections: int
    next_timestamp_s: float | None


@dataclass(frozen=True)
class StepPlan:
    """One time step: its index, time, and the cameras that take part (in camera order)."""

    step: int
    timestamp_s: float
    cameras: tuple[str, ...]


class StepScheduler:
    """The steps ``SynchronizedReader`` yields (its rule, ``pipeline.sources.next_step_cameras``),
    planned from each camera actor's next timestamp without the frames. After ``next_step``, every
    camera of the plan must report its following timestamp through ``advance`` before the next plan."""

    def __init__(self, cameras: Sequence[CameraInfo]):
        if not cameras:
            raise ValueError("no camera to schedule")
        self.next_timestamps: dict[str, float | None] = {info.camera: info.first_timestamp_s for info in cameras}
        self.tolerance_s = step_tolerance_s(info.fps for info in cameras)
        self.waiting: set[str] = set()
        self.step = 0

    def next_step(self) -> StepPlan | None:
        if self.waiting:
            raise RuntimeError(f"cameras {sorted(self.waiting)} have not reported their next frame")
        found = next_step_cameras(self.next_timestamps, self.tolerance_s)
        if found is None:
            return None
        now, cameras = found
        self.waiting = set(cameras)
        plan = StepPlan(self.step, now, cameras)
        self.step += 1
        return plan

    def advance(self, camera: str, next_timestamp_s: float | None) -> None:
        self.next_timestamps[camera] = next_timestamp_s
        self.waiting.discard(camera)


# --- placement --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActorResources:
    """Ray resources one actor reserves (fractions allowed)."""

    num_cpus: float
    num_gpus: float = 0.0


@dataclass(frozen=True)
class RayPlacement:
    """Resources of each kind of actor, and how many extractor actors to start."""

    camera: ActorResources
    extractor: ActorResources
    association: ActorResources
    extractor_actors: int


def _share(total: float, users: int) -> float:
    """An equal share of ``total`` for ``users`` actors, at most 1, rounded down to 1/100."""
    if users <= 0 or total <= 0:
        return 0.0
    return min(1.0, math.floor(100 * total / users) / 100)


def plan_placement(
    cluster_resources: Mapping[str, float],
    cameras: int,
    extractor_actors: int | None = None,
    detector_on_gpu: bool = False,
) -> RayPlacement:
    """Every actor fits at once (CPU shares of at most one core each); each extractor actor gets a
    GPU where the cluster has GPUs (default: one extractor actor per GPU, at least one). When YOLO
    runs on a GPU too, extractors and cameras share the GPUs equally."""
    gpus = float(cluster_resources.get("GPU", 0.0))
    cpus = float(cluster_resources.get("CPU", 0.0))
    if extractor_actors is None:
        extractor_actors = max(1, int(gpus))
    if extractor_actors < 1:
        raise UserError(f"the Ray runner needs at least one extractor actor, got {extractor_actors}")
    cpu_share = _share(cpus, cameras + extractor_actors + 1)
    extractor_gpus = camera_gpus = 0.0
    if gpus > 0:
        gpu_users = extractor_actors + (cameras if detector_on_gpu else 0)
        extractor_gpus = _share(gpus, gpu_users)
        camera_gpus = extractor_gpus if detector_on_gpu else 0.0
    return RayPlacement(
        camera=ActorResources(cpu_share, camera_gpus),
        extractor=ActorResources(cpu_share, extractor_gpus),
        association=ActorResources(cpu_share),
        extractor_actors=extractor_actors,
    )


def _absolute(path: str) -> str:
    """A relative file path made absolute: actors may run in another directory (or on another node)."""
    if "://" in str(path) or Path(path).is_absolute():
        return str(path)
    return str(Path(path).resolve())


def _with_absolute_paths(config: DetectorConfig) -> DetectorConfig:
    """The detector config with its local files (detections directory, YOLO weights here) absolute."""
    changes = {}
    if config.detections_dir:
        changes["detections_dir"] = _absolute(config.detections_dir)
    if Path(config.weights).exists():
        changes["weights"] = _absolute(config.weights)
    return dataclasses.replace(config, **changes)


def detector_uses_gpu(config: DetectorConfig) -> bool:
    return config.backend == "yolo" and str(config.device).strip().lower() not in ("cpu", "")


# --- the actors (plain classes; ``ray.remote`` wraps them at run time) ---------------------------


class CameraWorker:
    """One camera: detects, cuts the detections' crops, and tracks. A recorded camera decodes its own
    video (``open``, ``decode_and_detect``); a live one gets each frame from the driver, whose
    reconnecting reader holds the stream (``open_live``, ``detect_frame``)."""

    def __init__(self, camera: str, path: str, detector: DetectorConfig, tracker: TrackerConfig, crops: CropRule,
                 verbosity: str = "normal"):
        self.camera = camera
        self.verbosity = verbosity  # the driver's --quiet/--verbose, for BoxMOT's and ultralytics' loggers here
        self.path = path
        self.detector_config = detector
        self.tracker_config = tracker
        self.crop_rule = crops
        self.clock = StageClock()
        self.pending: dict[int, tuple] = {}  # frame_index -> (Frame, Detections) detected, not yet tracked
        self.source = None
        self.tracking: TrackingStage | None = None

    def _load_detector(self) -> None:
        import torch

        from pipeline.detection import build_detector
        from reid.log_levels import set_verbosity

        set_verbosity(self.verbosity)
        # Ray gives an actor its thread budget through OMP_NUM_THREADS (1 for a share of one CPU or less),
        # which PyTorch follows and ONNX Runtime does not: an ONNX Runtime detector gets the same budget.
        self.detector = build_detector(self.detector_config, [self.camera], threads=torch.get_num_threads())

    def open(self) -> CameraInfo:
        """Open the video, the detector and the tracker; a ``UserError`` names what is wrong."""
        from pipeline.sources import VideoFileSource

        self._load_detector()
        self.source = VideoFileSource(self.camera, self.path)
        self.tracking = TrackingStage(self.camera, self.tracker_config, self.source.fps)
        self.head = self.source.read()
        return CameraInfo(self.camera, self.source.fps, self.source.frame_count, self.head.timestamp_s)

    def open_live(self) -> None:
        """Load the detector; the tracker is built at the first frame (with the stream's measured fps)."""
        self._load_detector()

    def _detect(self, frame, cut_crops: bool) -> tuple[int, CameraCrops | None]:
        """Detect ``frame`` (it waits here for ``track``); its crops when features are extracted this step."""
        with self.clock.measure("detect"):
            detections = self.detector.detect([frame])[0]
        crops = None
        if cut_crops:
            with self.clock.measure("extract"):
                crops = cut_camera_crops(frame, detections, self.crop_rule)
        self.pending[frame.frame_index] = (frame, detections)
        return len(detections), crops

    def decode_and_detect(
        self, cut_crops: bool, keep_image: bool
    ) -> tuple[DecodedFrame, CameraCrops | None, np.ndarray | None]:
        """The camera's next frame, detected; its crops when features are extracted this step, its
        image when the video sink draws it."""
        frame = self.head
        if frame is None:
            raise RuntimeError(f"camera {self.camera}: no frame left (the driver scheduled past the end)")
        with self.clock.measure("decode"):
            self.head = self.source.read()
        detections, crops = self._detect(frame, cut_crops)
        decoded = DecodedFrame(
            self.camera, frame.frame_index, frame.timestamp_s, detections,
            None if self.head is None else self.head.timestamp_s,
        )
        return decoded, crops, frame.image if keep_image else None

    def detect_frame(self, frame, cut_crops: bool, fps: float) -> tuple[int, CameraCrops | None]:
        """A live frame from the driver: its detection count and (when extracting) its crops."""
        if self.tracking is None:
            self.tracking = TrackingStage(self.camera, self.tracker_config, fps)
        return self._detect(frame, cut_crops)

    def track(self, frame_index: int, features: DetectionFeatures | None) -> TrackedFrame:
        if frame_index != min(self.pending, default=frame_index):
            raise RuntimeError(f"camera {self.camera}: frame {frame_index} tracked before frame {min(self.pending)}")
        frame, detections = self.pending.pop(frame_index)
        with self.clock.measure("track"):
            return self.tracking.track(frame, detections, features)

    def timings(self) -> dict[str, float]:
        return dict(self.clock.seconds)

    def close(self) -> None:
        if self.source is not None:
            self.source.close()


class ExtractorWorker:
    """Loads a part-feature extractor and runs one batch per step: the crops of all its cameras."""

    def __init__(self, spec: ExtractorSpec):
        self.spec = spec
        self.stage: FeatureExtractionStage | None = None
        self.clock = StageClock()

    def load(self) -> ExtractorDescription:
        self.stage = FeatureExtractionStage(self.spec.load())
        return self.stage.describe()

    def extract(self, *crop_sets: CameraCrops) -> DetectionFeatures | tuple[DetectionFeatures, ...]:
        """One ``DetectionFeatures`` per camera (a Ray call with ``num_returns=len(crop_sets)``)."""
        with self.clock.measure("extract"):
            features = self.stage.extract(crop_sets)
        return features[0] if len(features) == 1 else tuple(features)

    def timings(self) -> dict[str, float]:
        return dict(self.clock.seconds)

    def close(self) -> None:
        close = getattr(self.stage.extractor if self.stage else None, "close", None)
        if close is not None:
            close()


class AssociationWorker:
    """Cross-camera association and the sinks (one per run)."""

    def __init__(self):
        self.stage: AssociationStage | None = None
        self.last_timestamp_s = -float("inf")

    def start(
        self,
        settings: AssociationSettings,
        extractor: ExtractorDescription,
        output_dir: str,
        cameras: list[str],
        video_fps: dict[str, float],
        output,
        video_sources: dict[str, str] | None = None,
        model: str | None = None,
    ) -> None:
        self.stage = AssociationStage(
            settings, extractor, output_dir, cameras,
            sink_settings_for(output, video_fps, extractor.part_names, video_sources, model),
        )

    def process_step(self, timestamp_s: float, image_cameras: tuple[str, ...], *values) -> int:
        """values: the step's ``TrackedFrame``s in camera order, then the images of ``image_cameras``
        (only with the video sink). Returns the number of global identities seen so far."""
        # Steps never go back in time; two may share one (a live packet whose newest frame is no newer
        # than the previous packet's keeps that packet's time, see ``LiveReader``).
        if timestamp_s < self.last_timestamp_s:
            raise RuntimeError(f"association: step at {timestamp_s} s after the one at {self.last_timestamp_s} s")
        self.last_timestamp_s = timestamp_s
        count = len(values) - len(image_cameras)
        images = dict(zip(image_cameras, values[count:])) if image_cameras else None
        self.stage.process_step(timestamp_s, values[:count], images)
        return self.stage.identities_seen()

    def finish(self, last_timestamp_s: float) -> AssociationOutcome:
        return self.stage.finish(last_timestamp_s)

    def timings(self) -> dict[str, float]:
        return dict(self.stage.clock.seconds) if self.stage else {}

    def close(self) -> None:
        if self.stage is not None:
            self.stage.close()


# --- the connection and the running actors -----------------------------------------------------


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """A ``host:port`` (or ``ray://host:port``) nobody listens on is one line now, not minutes of
    Ray retrying; other forms ("auto", "local") are left to Ray."""
    import socket

    host, separator, port = address.split("://", 1)[-1].rpartition(":")
    if not separator or not port.isdigit() or not host:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise UserError(f"cannot reach the Ray cluster at {address}: {error.strerror or error}") from None


@dataclass
class RayConnection:
    """This process's connection to Ray. ``connected_here``: this runner called ``ray.init`` and
    calls ``ray.shutdown`` at the end, which stops a local Ray it started and only disconnects from
    an existing cluster."""

    ray: Any
    address: str | None
    connected_here: bool

    @classmethod
    def open(cls, ray, address: str | None) -> "RayConnection":
        if ray.is_initialized():
            return cls(ray, address, False)
        if address:
            _check_reachable(address)
        try:
            ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
        except (ConnectionError, ValueError) as error:
            where = f"the Ray cluster at {address}" if address else "Ray"
            raise UserError(f"cannot connect to {where}: {' '.join(str(error).split())}") from None
        return cls(ray, address, True)

    def close(self) -> None:
        if self.connected_here:
            self.ray.shutdown()


@dataclass
class RayDeployment:
    """The actors of one run (camera order = the order of the streams that opened)."""

    cameras: dict[str, Any]
    infos: list[CameraInfo]  # recorded cameras' videos (empty for live cameras)
    extractors: list[Any]
    association: Any
    extractor: ExtractorDescription
    placement: RayPlacement
    notes: list[str] = field(default_factory=list)
    reader: LiveReader | None = None  # live cameras' reader on the driver, opened once the actors are ready

    def actors(self) -> list[Any]:
        return [*self.cameras.values(), *self.extractors, self.association]


def _node_cpus(ray, node_id: str) -> float:
    """The CPUs a node of the cluster offers (0 when it is not found)."""
    for node in ray.nodes():
        if node.get("NodeID") == node_id and node.get("Alive", True):
            return float(node.get("Resources", {}).get("CPU", 0.0))
    return 0.0


def _unwrap(ray, error: Exception) -> Exception:
    """A ``UserError`` raised inside an actor, as the driver's own one-line error."""
    cause = getattr(error, "cause", None)
    if isinstance(error, ray.exceptions.RayTaskError) and isinstance(cause, UserError):
        return UserError(str(cause))
    return error


class RayRunner:
    """Runs the pipeline's stages on Ray actors, with the results of ``InProcessRunner``.

    extractor: an ``ExtractorSpec`` (each extractor actor loads its own); address: a Ray cluster
    (``host:port`` or ``ray://host:port``), None for ``ray.init()``; extractor_actors: how many
    (default one per GPU, at least one); steps_in_flight: how many steps the association may lag
    behind the driver. ``stop_requested`` ends the run cleanly after the steps in flight.
    Live URLs are read on the driver's node by ``pipeline.live_sources.LiveReader`` (each camera by
    its own reconnecting thread; a step holds the cameras that have a new frame, so a slow or dead
    camera delays nobody); their frames go to the camera actors through Ray's object store.
    """

    def __init__(
        self,
        config: PipelineConfig,
        streams: list[tuple[str, str]],
        extractor: ExtractorSpec,
        output_dir: str | Path,
        progress: bool = True,
        config_source: str = "<config>",
        duration_s: float | None = None,
        address: str | None = None,
        extractor_actors: int | None = None,
        steps_in_flight: int = DEFAULT_STEPS_IN_FLIGHT,
    ):
        self.config = config
        self.streams = streams
        self.live = streams_are_live(streams)
        self.extractor_spec = extractor
        self.output_dir = Path(output_dir)
        self.progress = progress
        self.association_settings = association_settings(config.association, config_source)
        self.duration_s = duration_s if duration_s is not None else config.sources.duration_s  # live sources only
        self.address = address
        self.extractor_actors = extractor_actors
        self.steps_in_flight = max(1, steps_in_flight)
        self.stop_requested = threading.Event()
        import_ray()  # a missing Ray is one line before anything starts

    def run(self, max_steps: int | None = None) -> RunSummary:
        started_run = time.perf_counter()
        ray = import_ray()
        connection = RayConnection.open(ray, self.address)
        deployment = None
        try:
            deployment = self._deploy(ray, self._open_live_reader if self.live else None)
            executor = (RayLiveExecutor(ray, deployment, self, deployment.reader) if deployment.reader is not None
                        else RayFileExecutor(ray, deployment, self))
            return drive(
                executor, StepPolicy.for_config(self.config, max_steps, self.stop_requested), self.output_dir,
                started_run, progress=self.progress, progress_label="pipeline (ray)",
                status_every_s=self.config.output.status_every_s,
            )
        except ray.exceptions.RayError as error:
            unwrapped = _unwrap(ray, error)
            if unwrapped is error:
                raise
            raise unwrapped from None
        finally:
            try:
                if deployment is not None:
                    self._release(ray, deployment)
            finally:
                try:
                    if deployment is not None and deployment.reader is not None:
                        deployment.reader.close()
                finally:
                    connection.close()

    def _open_live_reader(self) -> LiveReader:
        return LiveReader(self.streams, self.config.live, stop_event=self.stop_requested, duration_s=self.duration_s,
                          require_all_cameras=not self.config.sources.continue_on_error)

    # --- start and stop the actors -------------------------------------------------------------
    def _deploy(self, ray, open_reader: Callable[[], LiveReader] | None) -> RayDeployment:
        """Start every actor. ``open_reader`` opens the live cameras' reader once the actors are ready
        (so no frame is dropped while they start); None: the camera actors read their files."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        placement = plan_placement(
            ray.cluster_resources(), len(self.streams), self.extractor_actors, detector_uses_gpu(self.config.detector)
        )
        try:
            driver_node = ray.get_runtime_context().get_node_id()
        except Exception:  # noqa: BLE001 - Ray Client drivers run on no node
            driver_node = None

        def options(resources: ActorResources, near_driver: bool, strict: bool) -> dict:
            chosen = {"num_cpus": resources.num_cpus, "num_gpus": resources.num_gpus}
            if near_driver and driver_node:
                chosen["scheduling_strategy"] = NodeAffinitySchedulingStrategy(driver_node, soft=not strict)
                if strict and _node_cpus(ray, driver_node) < resources.num_cpus:
                    chosen["num_cpus"] = 0  # a head node started with --num-cpus=0 still hosts the sinks
            return chosen

        camera_class = ray.remote(CameraWorker)
        extractor_class = ray.remote(ExtractorWorker)
        association_class = ray.remote(AssociationWorker)
        started: list[Any] = []
        reader = None
        try:
            # Every actor process starts (and imports) at once; the cameras open while the first
            # extractor loads its model, which fills the export cache for the other extractors.
            detector = _with_absolute_paths(self.config.detector)
            candidates = {
                camera: camera_class.options(**options(placement.camera, True, False)).remote(
                    camera, path if open_reader is not None else _absolute(path), detector, self.config.tracker,
                    self.config.extractor.crops, current_verbosity(),
                )
                for camera, path in self.streams
            }
            started.extend(candidates.values())
            extractors = [
                extractor_class.options(**options(placement.extractor, False, False)).remote(self.extractor_spec)
                for _ in range(placement.extractor_actors)
            ]
            started.extend(extractors)
            association = association_class.options(**options(placement.association, True, True)).remote()
            started.append(association)
            first_load = extractors[0].load.remote()
            if open_reader is not None:
                ray.get([actor.open_live.remote() for actor in candidates.values()])
            else:
                cameras, infos = self._open_recorded(ray, candidates)
                video_fps = {info.camera: info.fps for info in infos}
                video_sources = {camera: str(Path(path).resolve()) for camera, path in self.streams}
            description = ray.get(first_load)
            ray.get([actor.load.remote() for actor in extractors[1:]])
            if open_reader is not None:
                reader = open_reader()
                cameras, infos = candidates, []
                video_fps = {source.camera: source.fps for source in reader.sources}
                video_sources: dict[str, str] = {}
            ray.get(
                association.start.remote(
                    self.association_settings,
                    description,
                    str(self.output_dir.resolve()),
                    list(video_fps),
                    video_fps,
                    self.config.output,
                    video_sources,
                    self.extractor_spec.model,
                )
            )
        except BaseException:
            for actor in started:
                ray.kill(actor)
            if reader is not None:
                reader.close()
            raise
        device = "a GPU" if placement.extractor.num_gpus >= 1 else (
            f"{placement.extractor.num_gpus:g} GPU" if placement.extractor.num_gpus else "CPU"
        )
        notes = [
            f"Ray: {len(cameras)} camera actors, {len(extractors)} extractor actor(s) on {device} each, "
            f"1 association actor; stage seconds are busy time summed over actors running in parallel"
        ]
        return RayDeployment(cameras, infos, extractors, association, description, placement, notes, reader)

    def _open_recorded(self, ray, candidates: dict[str, Any]) -> tuple[dict[str, Any], list[CameraInfo]]:
        """Each camera actor opens its video; an unreadable one is an error, or dropped with a warning."""
        opened = {camera: actor.open.remote() for camera, actor in candidates.items()}
        cameras, infos = {}, []
        for camera, reference in opened.items():
            try:
                infos.append(ray.get(reference))
                cameras[camera] = candidates[camera]
            except ray.exceptions.RayTaskError as error:
                unwrapped = _unwrap(ray, error)
                if not isinstance(unwrapped, UserError) or not self.config.sources.continue_on_error:
                    raise
                ray.kill(candidates[camera])
                print(f"warning: {unwrapped}; continuing without it", file=sys.stderr)
        if not cameras:
            raise UserError("no readable video source")
        return cameras, infos

    def _release(self, ray, deployment: RayDeployment) -> None:
        """Close the sinks (nothing written is lost, also after an error), then end the actors (their
        videos and models are released with their processes)."""
        try:
            ray.get(deployment.association.close.remote(), timeout=120)
        finally:
            for actor in deployment.actors():
                ray.kill(actor)


# --- the steps on Ray (``pipeline.step_driver.StepExecutor``) ------------------------------------


class _RayExecutor:
    """What both Ray executors share: extraction, tracking and association of a step submitted
    without waiting (Ray runs one caller's calls on an actor in submission order), with at most
    ``steps_in_flight`` association steps outstanding."""

    def __init__(self, ray, deployment: RayDeployment, runner: RayRunner):
        self.ray = ray
        self.deployment = deployment
        self.video = bool(runner.config.output.videos)
        self.steps_in_flight = runner.steps_in_flight
        self.extractor_description = deployment.extractor.description
        self.notes = list(deployment.notes)
        self.clock = StageClock()  # the driver's own share (decoding live streams)
        self._reports: deque = deque()  # (identities-seen reference, detection-count references)
        self._identities = 0
        self._crops = 0

    def _submit(self, step: int, timestamp_s: float, cameras: tuple[str, ...], frame_indices: Sequence[int],
                crop_sets: Sequence[Any] | None, images: Sequence[Any], counts: Sequence[Any] = ()) -> None:
        """crop_sets: per camera, its crops (references) when the step extracts, else None; counts:
        references to detection counts still to be added to the crops."""
        deployment = self.deployment
        if crop_sets is not None:
            extractor = deployment.extractors[step % len(deployment.extractors)]
            features = extractor.extract.options(num_returns=len(cameras)).remote(*crop_sets)
            features = [features] if len(cameras) == 1 else list(features)
        else:
            features = [None] * len(cameras)
        tracked = [
            deployment.cameras[camera].track.remote(frame_index, camera_features)
            for camera, frame_index, camera_features in zip(cameras, frame_indices, features)
        ]
        report = deployment.association.process_step.remote(
            timestamp_s, cameras if self.video else (), *tracked, *(images if self.video else ())
        )
        self._reports.append((report, tuple(counts)))
        while len(self._reports) > self.steps_in_flight:
            self._settle_oldest()

    def _settle_oldest(self) -> None:
        report, counts = self._reports.popleft()
        self._identities = self.ray.get(report)
        self._crops += sum(self.ray.get(list(counts))) if counts else 0

    def identities_seen(self) -> int:
        return self._identities

    def finish(self, last_timestamp_s: float) -> AssociationOutcome:
        while self._reports:
            self._settle_oldest()
        return self.ray.get(self.deployment.association.finish.remote(last_timestamp_s))

    def crops(self) -> int:
        return self._crops

    def stage_seconds(self) -> dict[str, float]:
        clock = StageClock()
        clock.add(self.clock.seconds)
        for seconds in self.ray.get([actor.timings.remote() for actor in self.deployment.actors()]):
            clock.add(seconds)
        return dict(clock.seconds)


class RayFileExecutor(_RayExecutor):
    """Recorded files: the camera actors decode their own videos; the driver plans each step from the
    small ``DecodedFrame`` heads, and step n+1 decodes while step n is extracted, tracked and associated."""

    live = False

    def __init__(self, ray, deployment: RayDeployment, runner: RayRunner):
        super().__init__(ray, deployment, runner)
        self.cameras = [info.camera for info in deployment.infos]
        self.total_steps = max((info.frame_count for info in deployment.infos), default=0) or None
        self.scheduler = StepScheduler(deployment.infos)
        self._in_flight = None
        self._started = False

    def _decode(self, plan: StepPlan | None, policy: StepPolicy):
        if plan is None or not policy.allowed(plan.step):
            return None
        extract = policy.extracts(plan.step)
        outputs = {
            camera: self.deployment.cameras[camera].decode_and_detect.options(num_returns=3).remote(extract, self.video)
            for camera in plan.cameras
        }
        return plan, extract, outputs

    def run_step(self, policy: StepPolicy) -> StepDone | None:
        if not self._started:
            self._started = True
            self._in_flight = self._decode(self.scheduler.next_step(), policy)
        if self._in_flight is None:
            return None
        plan, extract, outputs = self._in_flight
        decoded = self.ray.get([outputs[camera][0] for camera in plan.cameras])
        for frame in decoded:
            self.scheduler.advance(frame.camera, frame.next_timestamp_s)
        self._in_flight = self._decode(self.scheduler.next_step(), policy)  # step n+1 decodes while step n runs on
        if extract:
            self._crops += sum(frame.detections for frame in decoded)
        self._submit(
            plan.step, plan.timestamp_s, plan.cameras, [frame.frame_index for frame in decoded],
            [outputs[camera][1] for camera in plan.cameras] if extract else None,
            [outputs[camera][2] for camera in plan.cameras],
        )
        return StepDone(plan.step, plan.timestamp_s, plan.cameras)

    def camera_status(self) -> dict[str, LiveCameraStatus]:
        return {}


class RayLiveExecutor(_RayExecutor):
    """Live URLs: the driver's ``LiveReader`` yields the frames of the cameras that have a new one; each
    goes to its camera actor for detection, then the step runs on like a recorded one."""

    live = True

    def __init__(self, ray, deployment: RayDeployment, runner: RayRunner, reader: LiveReader):
        super().__init__(ray, deployment, runner)
        self.reader = reader
        self.cameras = [source.camera for source in reader.sources]
        self.total_steps = None
        self._sources = {source.camera: source for source in reader.sources}
        self._iterator = iter(reader)

    def run_step(self, policy: StepPolicy) -> StepDone | None:
        with self.clock.measure("decode"):
            packet = next(self._iterator, None)
        if packet is None:
            return None
        extract = policy.extracts(packet.step)
        cameras = tuple(frame.camera for frame in packet.frames)
        detected = [
            self.deployment.cameras[frame.camera].detect_frame.options(num_returns=2).remote(
                frame, extract, self._sources[frame.camera].fps
            )
            for frame in packet.frames
        ]
        self._submit(
            packet.step, packet.timestamp_s, cameras, [frame.frame_index for frame in packet.frames],
            [crops for _, crops in detected] if extract else None,
            [frame.image for frame in packet.frames],
            counts=[count for count, _ in detected] if extract else (),
        )
        return StepDone(packet.step, packet.timestamp_s, cameras)

    def camera_status(self) -> dict[str, LiveCameraStatus]:
        return self.reader.status()
