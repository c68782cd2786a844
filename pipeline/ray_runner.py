"""The Ray runner: the stages of ``pipeline.stages`` placed on Ray actors (``--runner ray``).

    one CameraWorker per camera      decode, detect, cut crops, track      (files read in step by timestamp)
    one or more ExtractorWorkers     ONE batch of crops from all cameras per step (a GPU each where present)
    one AssociationWorker            cross-camera association and the sinks (on the driver's node)

The driver keeps the in-process runner's order of operations, so both runners give the same
results: per step, the cameras that take part (``StepScheduler``, the rule of
``SynchronizedReader``) decode and detect; one extractor call gets every crop of the step in camera
order; each camera tracks with its own features; the association observes the tracked boxes in
camera order, steps and writes. Ray runs the calls of one caller on one actor in submission order,
so the driver only waits for the small ``DecodedFrame`` heads it needs to plan the next step: step
n+1 decodes while step n is extracted, tracked and associated, and a few steps may be in flight.
Frames travel to the association only when the video sink is on (each once, through the object
store).

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
from typing import Any, Mapping, Sequence

import numpy as np
from reid.log_levels import current_verbosity
from reid.progress import progress_bar

from pipeline.association import AssociationSettings, association_settings
from pipeline.config import CropRule, DetectorConfig, PipelineConfig, TrackerConfig
from pipeline.extraction import DetectionFeatures
from pipeline.live_sources import is_live_url
from pipeline.runner import RunSummary
from pipeline.stages import (
    AssociationOutcome,
    AssociationStage,
    CameraCrops,
    ExtractorDescription,
    FeatureExtractionStage,
    StageClock,
    TrackedFrame,
    TrackingStage,
    cut_camera_crops,
    sink_settings_for,
)
from pipeline.tracking import APPEARANCE_TRACKERS
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
    """The steps ``SynchronizedReader`` yields, computed from each camera's next timestamp: a step
    is at the earliest pending timestamp and takes every camera whose next frame lies within half
    the finest frame interval of it. After ``next_step``, every camera of the plan must report its
    following timestamp through ``advance`` before the next plan."""

    def __init__(self, cameras: Sequence[CameraInfo]):
        if not cameras:
            raise ValueError("no camera to schedule")
        self.order = [info.camera for info in cameras]
        self.next_timestamps: dict[str, float | None] = {info.camera: info.first_timestamp_s for info in cameras}
        self.tolerance_s = 0.5 / max(info.fps for info in cameras)
        self.waiting: set[str] = set()
        self.step = 0

    def next_step(self) -> StepPlan | None:
        if self.waiting:
            raise RuntimeError(f"cameras {sorted(self.waiting)} have not reported their next frame")
        live = [camera for camera in self.order if self.next_timestamps[camera] is not None]
        if not live:
            return None
        now = min(self.next_timestamps[camera] for camera in live)
        cameras = tuple(camera for camera in live if self.next_timestamps[camera] <= now + self.tolerance_s)
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
    """One camera: decodes its video, detects, cuts the detections' crops, and tracks."""

    def __init__(self, camera: str, path: str, detector: DetectorConfig, tracker: TrackerConfig, crops: CropRule,
                 verbosity: str = "normal"):
        self.camera = camera
        self.verbosity = verbosity  # the driver's --quiet/--verbose, for BoxMOT's and ultralytics' loggers here
        self.path = path
        self.detector_config = detector
        self.tracker_config = tracker
        self.crop_rule = crops
        self.clock = StageClock()
        self.pending: dict[int, tuple] = {}  # frame_index -> (Frame, Detections) decoded, not yet tracked
        self.source = None

    def open(self) -> CameraInfo:
        """Open the video, the detector and the tracker; a ``UserError`` names what is wrong."""
        from pipeline.detection import build_detector
        from pipeline.sources import VideoFileSource

        from reid.log_levels import set_verbosity

        set_verbosity(self.verbosity)
        self.source = VideoFileSource(self.camera, self.path)
        self.detector = build_detector(self.detector_config, [self.camera])
        self.tracking = TrackingStage(self.camera, self.tracker_config, self.source.fps)
        self.head = self.source.read()
        return CameraInfo(self.camera, self.source.fps, self.source.frame_count, self.head.timestamp_s)

    def decode_and_detect(
        self, cut_crops: bool, keep_image: bool
    ) -> tuple[DecodedFrame, CameraCrops | None, np.ndarray | None]:
        """The camera's next frame, detected; its crops when features are extracted this step, its
        image when the video sink draws it. The frame waits here for ``track``."""
        frame = self.head
        if frame is None:
            raise RuntimeError(f"camera {self.camera}: no frame left (the driver scheduled past the end)")
        with self.clock.measure("decode"):
            self.head = self.source.read()
        with self.clock.measure("detect"):
            detections = self.detector.detect([frame])[0]
        crops = None
        if cut_crops:
            with self.clock.measure("extract"):
                crops = cut_camera_crops(frame, detections, self.crop_rule)
        self.pending[frame.frame_index] = (frame, detections)
        decoded = DecodedFrame(
            self.camera, frame.frame_index, frame.timestamp_s, len(detections),
            None if self.head is None else self.head.timestamp_s,
        )
        return decoded, crops, frame.image if keep_image else None

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
        if not timestamp_s > self.last_timestamp_s:
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
    infos: list[CameraInfo]
    extractors: list[Any]
    association: Any
    extractor: ExtractorDescription
    placement: RayPlacement
    notes: list[str] = field(default_factory=list)

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
        self.extractor_spec = extractor
        self.output_dir = Path(output_dir)
        self.progress = progress
        self.association_settings = association_settings(config.association, config_source)
        self.duration_s = duration_s  # live sources only; the Ray runner reads recorded files
        self.address = address
        self.extractor_actors = extractor_actors
        self.steps_in_flight = max(1, steps_in_flight)
        self.stop_requested = threading.Event()
        import_ray()  # a missing Ray is one line before anything starts

    def run(self, max_steps: int | None = None) -> RunSummary:
        started_run = time.perf_counter()
        if any(is_live_url(path) for _, path in self.streams):
            raise UserError("the Ray runner reads recorded files; run live URLs with --runner inprocess")
        ray = import_ray()
        connection = RayConnection.open(ray, self.address)
        deployment = None
        try:
            deployment = self._deploy(ray)
            return self._drive(ray, deployment, max_steps, started_run)
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
                connection.close()

    # --- start and stop the actors -------------------------------------------------------------
    def _deploy(self, ray) -> RayDeployment:
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
        try:
            # Every actor process starts (and imports) at once; the cameras open while the first
            # extractor loads its model, which fills the export cache for the other extractors.
            detector = _with_absolute_paths(self.config.detector)
            candidates = {
                camera: camera_class.options(**options(placement.camera, True, False)).remote(
                    camera, _absolute(path), detector, self.config.tracker, self.config.extractor.crops,
                    current_verbosity(),
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
            opened = {camera: actor.open.remote() for camera, actor in candidates.items()}
            first_load = extractors[0].load.remote()

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
            description = ray.get(first_load)
            ray.get([actor.load.remote() for actor in extractors[1:]])
            ray.get(
                association.start.remote(
                    self.association_settings,
                    description,
                    str(self.output_dir.resolve()),
                    [info.camera for info in infos],
                    {info.camera: info.fps for info in infos},
                    self.config.output,
                    {camera: str(Path(path).resolve()) for camera, path in self.streams},
                    self.extractor_spec.model,
                )
            )
        except BaseException:
            for actor in started:
                ray.kill(actor)
            raise
        device = "a GPU" if placement.extractor.num_gpus >= 1 else (
            f"{placement.extractor.num_gpus:g} GPU" if placement.extractor.num_gpus else "CPU"
        )
        notes = [
            f"Ray: {len(cameras)} camera actors, {len(extractors)} extractor actor(s) on {device} each, "
            f"1 association actor; stage seconds are busy time summed over actors running in parallel"
        ]
        return RayDeployment(cameras, infos, extractors, association, description, placement, notes)

    def _release(self, ray, deployment: RayDeployment) -> None:
        """Close the sinks (nothing written is lost, also after an error), then end the actors (their
        videos and models are released with their processes)."""
        try:
            ray.get(deployment.association.close.remote(), timeout=120)
        finally:
            for actor in deployment.actors():
                ray.kill(actor)

    # --- the steps -----------------------------------------------------------------------------
    def _drive(self, ray, deployment: RayDeployment, max_steps: int | None, started_run: float) -> RunSummary:
        every = max(1, self.config.extractor.every_n_frames)
        appearance = self.config.tracker.name in APPEARANCE_TRACKERS
        video = bool(self.config.output.videos)
        scheduler = StepScheduler(deployment.infos)
        frames_per_camera = {info.camera: 0 for info in deployment.infos}
        crops, steps, last_timestamp = 0, 0, 0.0
        reports: deque = deque()
        total = max((info.frame_count for info in deployment.infos), default=0) or None
        bar = progress_bar(total=total, desc="pipeline (ray)", unit="step", enabled=self.progress)

        def allowed(step: int) -> bool:
            return (max_steps is None or step < max_steps) and not self.stop_requested.is_set()

        def decode(plan: StepPlan | None):
            if plan is None or not allowed(plan.step):
                return None
            extract = appearance or plan.step % every == 0
            outputs = {
                camera: deployment.cameras[camera].decode_and_detect.options(num_returns=3).remote(extract, video)
                for camera in plan.cameras
            }
            return plan, extract, outputs

        in_flight = decode(scheduler.next_step())
        while in_flight is not None:
            plan, extract, outputs = in_flight
            decoded = ray.get([outputs[camera][0] for camera in plan.cameras])
            for frame in decoded:
                scheduler.advance(frame.camera, frame.next_timestamp_s)
            in_flight = decode(scheduler.next_step())  # step n+1 decodes while step n runs on

            if extract:
                extractor = deployment.extractors[plan.step % len(deployment.extractors)]
                features = extractor.extract.options(num_returns=len(plan.cameras)).remote(
                    *[outputs[camera][1] for camera in plan.cameras]
                )
                features = [features] if len(plan.cameras) == 1 else list(features)
                crops += sum(frame.detections for frame in decoded)
            else:
                features = [None] * len(plan.cameras)
            tracked = [
                deployment.cameras[camera].track.remote(frame.frame_index, camera_features)
                for camera, frame, camera_features in zip(plan.cameras, decoded, features)
            ]
            images = [outputs[camera][2] for camera in plan.cameras] if video else []
            reports.append(
                deployment.association.process_step.remote(
                    plan.timestamp_s, plan.cameras if video else (), *tracked, *images
                )
            )
            while len(reports) > self.steps_in_flight:
                ray.get(reports.popleft())
            for camera in plan.cameras:
                frames_per_camera[camera] += 1
            last_timestamp = plan.timestamp_s
            steps += 1
            bar.update(1)
        ray.get(list(reports))
        bar.close()

        outcome: AssociationOutcome = ray.get(deployment.association.finish.remote(last_timestamp))
        clock = StageClock()
        for seconds in ray.get([actor.timings.remote() for actor in deployment.actors()]):
            clock.add(seconds)
        return RunSummary(
            output_dir=self.output_dir,
            cameras=[info.camera for info in deployment.infos],
            frames_per_camera=frames_per_camera,
            steps=steps,
            seconds=time.perf_counter() - started_run,
            stage_seconds=clock.seconds,
            tracks=outcome.tracks,
            identities=outcome.identities,
            crops=crops,
            extractor=deployment.extractor.description,
            notes=list(deployment.notes),
        )
