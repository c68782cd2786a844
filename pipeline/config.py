"""Pipeline configuration (configs/pipeline/*.yaml): typed sections validated by pydantic at load,
with the rules of the model configs (``reid.config.config_section``)."""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Any, Literal, Sequence

from reid.config import (
    ConfigError,
    InconsistentSettingsError,
    apply_overrides,
    build_typed_config,
    config_section,
    overridden_source,
    read_yaml_mapping,
)


@config_section
class StitchSettings:
    """Which fragments of one camera may be one track.

    max_gap_s: the later fragment starts at most this long after the earlier one ends;
    max_speed: the centre moves at most this many box heights per second across the gap (plus
    ``slack`` box heights); threshold_scale: appearance must pass the match rule's threshold
    times this (same camera, same light: the rule's cross-camera threshold is conservative).
    """

    enabled: bool = True
    max_gap_s: float = 3.0
    max_speed: float = 1.5
    slack: float = 0.5
    threshold_scale: float = 1.0


@config_section
class TrackSplitSettings:
    """Where a tracker's track is cut because its appearance changed (``pipeline/track_splitting.py``).

    threshold: foreground distance beyond which a crop looks like someone else; ``auto``: the model's
    calibrated single-image foreground threshold (no calibration: no splitting). consecutive: crops
    in a row beyond it that cut the track. min_observations: crops a segment holds before it is
    judged. forget_after_s: a tracker track unseen this long is forgotten (bounded state).
    """

    enabled: bool = True
    threshold: float | Literal["auto"] = "auto"
    consecutive: int = 2
    min_observations: int = 4
    forget_after_s: float = 30.0

    @property
    def cut_threshold(self) -> float | None:
        """The threshold that cuts tracks; None when splitting is off or ``auto`` was not resolved
        (``pipeline.calibration.resolve_split_threshold``: no calibration)."""
        return None if not self.enabled or self.threshold == "auto" else float(self.threshold)


@config_section(frozen=True)
class LiveSettings:
    """How live cameras are read (candidates for a ``live:`` section of the pipeline config).

    queue_size: frames kept per camera while the pipeline is busy (the newest ones; older ones are
    dropped and counted); 1 always hands on the newest frame, more lets a briefly slow pipeline catch
    up without drops at the cost of up to ``queue_size / fps`` seconds of extra latency.
    reconnect_initial_s / reconnect_max_s: back-off before reopening a failed stream, doubling after
    each consecutive failure up to the maximum. default_fps: frame rate assumed when the stream does
    not report one. open_timeout_s / read_timeout_s: how long opening a stream / waiting for its next
    frame may take before the camera counts as down. startup_wait_s: how long the reader waits at
    start for every camera's first frame. status_window_s: the window of the measured frame rate.
    min_camera_fps: the slowest frame rate a camera may have (slower reported rates count as unknown);
    read_timeout_s must cover two of its frame intervals and open_timeout_s one (checked here).
    ffmpeg_capture_options: FFmpeg options for OpenCV (``key;value|key;value``), used unless the user
    already set the ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` environment variable. RTSP over TCP survives
    reconnects reliably. ``probesize;32`` ends FFmpeg's stream analysis at the first frame: frame size
    and rate come from what the stream announces (SDP, H.264 parameter sets); cameras that announce
    neither need a longer analysis (e.g. ``analyzeduration;500000``, the earlier default). Measured on
    GStreamer's RTSP server at 0.3 fps, from server start to first frame: 6.8 s with that analysis (the
    open waits for three frames), 3.4 s with ``probesize;32`` and one decoder thread (one frame).
    decoder_threads: FFmpeg decoding threads per camera (0: OpenCV's choice, one per CPU). Frame
    threading holds each picture back by threads - 1 frames (with 2 threads the first frame above came
    after 6.8 s, not 3.4); one thread per camera keeps the latency at the stream's own, and many
    cameras still decode in parallel.
    parallel_opens: cameras open their streams at the same time (``OPENCV_FFMPEG_IS_THREAD_SAFE=1``,
    unless the user set it); OpenCV otherwise opens one stream at a time in the whole process.
    """

    queue_size: int = 1
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 8.0
    default_fps: float = 25.0
    open_timeout_s: float = 5.0
    read_timeout_s: float = 2.0
    startup_wait_s: float = 5.0
    status_window_s: float = 3.0
    ffmpeg_capture_options: str = "rtsp_transport;tcp|probesize;32"
    decoder_threads: int = 1
    parallel_opens: bool = True
    # The slowest camera the run must take (frames per second). A frame that takes most of
    # read_timeout_s to arrive counts as a hung stream, so read_timeout_s must span two of its frames.
    min_camera_fps: float = 1.0

    def __post_init__(self) -> None:
        problems = []
        if self.queue_size < 1:
            problems.append("queue_size must be at least 1")
        if self.reconnect_initial_s <= 0 or self.reconnect_max_s < self.reconnect_initial_s:
            problems.append("reconnect back-off needs 0 < reconnect_initial_s <= reconnect_max_s")
        for name in ("default_fps", "open_timeout_s", "read_timeout_s", "status_window_s"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive")
        if self.min_camera_fps > 0 and self.read_timeout_s < 2.0 / self.min_camera_fps:
            problems.append(
                f"read_timeout_s ({self.read_timeout_s:g}) must span two frames of the slowest camera "
                f"(min_camera_fps {self.min_camera_fps:g}: at least {2.0 / self.min_camera_fps:g} s), or frames "
                "of that camera would count as a stalled stream")
        if self.min_camera_fps > 0 and self.open_timeout_s < 1.0 / self.min_camera_fps:
            problems.append(
                f"open_timeout_s ({self.open_timeout_s:g}) must span one frame of the slowest camera "
                f"(min_camera_fps {self.min_camera_fps:g}: at least {1.0 / self.min_camera_fps:g} s): opening a "
                "stream reads its first frame")
        if self.decoder_threads < 0:
            problems.append("decoder_threads must not be negative (0: OpenCV's choice)")
        if self.startup_wait_s < 0:
            problems.append("startup_wait_s must not be negative")
        if problems:
            raise InconsistentSettingsError("live settings: " + "; ".join(problems))


@config_section
class SourceConfig:
    name: str
    path: str  # a video file or any URL OpenCV/FFmpeg reads (rtsp://...)


@config_section
class SourcesConfig:
    streams: list[SourceConfig] = field(default_factory=list)
    continue_on_error: bool = False  # an unreadable camera is dropped with a warning instead of stopping
    duration_s: float | None = None  # live sources: stop after this long (None: until SIGINT/SIGTERM)


@config_section
class DetectorConfig:
    backend: Literal["yolo", "detections"] = "yolo"
    weights: str = "yolo11n.pt"  # a .pt file, or a .yaml to build a random (untrained) YOLO
    image_size: int = 640
    confidence: float = 0.25
    iou: float = 0.7
    device: str = "cpu"
    detections_dir: str | None = None  # for backend "detections": MOTChallenge det/<camera>.txt files
    min_score: float = 0.0
    # YOLO on recorded files: decode and detect the next steps in a thread (one PyTorch thread) while
    # the current step is extracted, tracked and associated (pipeline.detection_ahead)
    run_ahead: bool = True
    # What runs YOLO: "ultralytics" its predictor on the weights as given (PyTorch for a .pt);
    # "onnxruntime" our ONNX Runtime session on the CPU (a .pt is exported once by ultralytics'
    # exporter and cached; pipeline.detector_onnxruntime); "auto" onnxruntime where device is cpu and
    # the weights are a .pt or .onnx, else ultralytics. Same boxes; 1.7x the frames/s on 2 cores.
    runtime: Literal["auto", "ultralytics", "onnxruntime"] = "auto"


@config_section
class TrackerConfig:
    name: Literal["bytetrack", "botsort", "ocsort", "deepocsort", "strongsort", "hybridsort", "boosttrack", "occluboost"] = (
        "bytetrack"
    )
    parameters: dict[str, Any] = field(default_factory=dict)


@config_section
class CropRule:
    min_height: int = 32
    min_width: int = 12
    max_truncation: float = 0.35  # fraction of the box outside the frame


@config_section
class ExtractorConfig:
    model: str | None = None  # checkpoint (.pt), .onnx or .engine
    backend: Literal["auto", "tensorrt", "onnxruntime", "torch"] = "auto"
    batch_size: int = 64
    every_n_frames: int = 1  # extract features every n-th frame (appearance trackers need 1)
    crops: CropRule = field(default_factory=CropRule)


DEFAULT_DISTANCE_THRESHOLD = 0.7  # used for "auto" before a model is calibrated


@config_section
class TransitWindowConfig:
    cameras: list[str]
    min_s: float = 0.0
    max_s: float = float("inf")


@config_section
class AssociationConfig:
    distance: Literal["visible_parts", "foreground"] = "visible_parts"
    # A number, or "auto": the threshold calibrated for the model and this distance
    # (python -m train.calibrate_association; the demo calibrates its model after training).
    distance_threshold: float | Literal["auto"] = "auto"
    # Thresholds for 1, 2, ... shared embeddings; with "auto", the model's tracklet calibration.
    thresholds_by_shared: list[float] | None = None
    ratio: float = 0.9  # online: the best identity's distance at most this times the second best's
    decision_patience: int = 4
    refine_threshold: float | None = None
    min_observations: int = 5
    min_part_observations: int = 1
    refine: bool = True
    views_overlap: bool = True
    transit_windows: list[TransitWindowConfig] = field(default_factory=list)
    track_timeout_s: float = 2.0
    identity_retention_s: float = 600.0  # identities unseen this long leave the matching set
    constraint_horizon_s: float = 120.0
    refine_neighbours: int = 20
    online_candidates: int = 64  # online: identities re-scored per ready track, nearest by foreground
    stitching: StitchSettings = field(default_factory=StitchSettings)
    splitting: TrackSplitSettings = field(default_factory=TrackSplitSettings)
    gap_filling_max_s: float = 2.0  # recorded runs: fill track gaps up to this long (0: off)

    def validate(self, source: str = "<config>") -> None:
        """What the field types cannot say: two cameras per transit window, a ratio in (0, 1]."""
        for index, window in enumerate(self.transit_windows):
            if len(window.cameras) != 2:
                raise ConfigError(f"{source}: key 'association.transit_windows[{index}].cameras': expected 2 cameras")
        if not 0 < self.ratio <= 1:
            raise ConfigError(f"{source}: key 'association.ratio': expected a number in (0, 1], got {self.ratio}")
        splitting = self.splitting
        if splitting.consecutive < 1 or splitting.min_observations < 1 or splitting.forget_after_s <= 0:
            raise ConfigError(f"{source}: key 'association.splitting': consecutive and min_observations must be at "
                              "least 1 and forget_after_s positive")
        if splitting.threshold != "auto" and splitting.threshold <= 0:
            raise ConfigError(f"{source}: key 'association.splitting.threshold': expected a positive number or auto")


@config_section
class OutputConfig:
    directory: str = "outputs/pipeline"
    mot: bool = True
    events: bool = True
    sqlite: bool = True
    videos: bool = False
    status_every_s: float = 5.0  # live sources: a status line this often (0: never)


@config_section
class DemoWorldConfig:
    cameras: int = 3
    identities: int = 40
    seconds: float = 60.0
    fps: float = 10.0
    seed: int = 0


@config_section
class DemoConfig:
    """The offline demo: a synthetic world (cached) and the shipped part model; with ``--retrain``,
    a small model trained on the world's ReID split instead (cached)."""

    world: DemoWorldConfig = field(default_factory=DemoWorldConfig)
    model: str = "models/bpsema_small_synthetic.pt"  # relative to the repository
    # The int8 graph of ``model`` (python -m reid.export ... --precision int8), run instead of it where
    # the extractor would run on ONNX Runtime on the CPU (no CUDA device); None: always ``model``.
    cpu_model: str | None = None
    model_config: str = "configs/model/small_synthetic.yaml"
    dataset: str = "synthetic"
    epochs: int = 8


@config_section
class PipelineConfig:
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    extractor: ExtractorConfig = field(default_factory=ExtractorConfig)
    association: AssociationConfig = field(default_factory=AssociationConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    live: LiveSettings = field(default_factory=LiveSettings)
    demo: DemoConfig | None = None


def distance_name(value: str, source: str) -> str:
    """``association.distance``'s value under its current name: the foreground embedding was once
    called "global" (still accepted, with one deprecation line on stderr)."""
    if value == "global":
        import sys

        print(f"warning: {source}: distance 'global' is now called 'foreground' (the foreground embedding alone); "
              "'global' will stop being accepted", file=sys.stderr)
        return "foreground"
    return value


def load_pipeline_config(path: str | Path, overrides: Sequence[str] = ()) -> PipelineConfig:
    """Read and validate a pipeline YAML, with ``KEY=VALUE`` overrides (``reid.config.apply_overrides``:
    ``run_pipeline.py --set``)."""
    values = apply_overrides(read_yaml_mapping(path), overrides)
    path = overridden_source(path, overrides)
    association = values.get("association") if isinstance(values, dict) else None
    if isinstance(association, dict) and "distance" in association:
        association["distance"] = distance_name(association["distance"], f"{path}: association.distance")
    config = build_typed_config(PipelineConfig, values, str(path))
    config.association.validate(str(path))
    return config
