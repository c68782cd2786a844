"""Pipeline configuration (configs/pipeline/*.yaml), validated at load like the model configs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reid.config import ConfigError, build_typed_config, read_yaml_mapping
from pipeline.association_constraints import TransitWindow

if TYPE_CHECKING:
    from pipeline.association import AssociationSettings
from pipeline.track_repair import StitchSettings
from pipeline.live_sources import LiveSettings


@dataclass
class SourceConfig:
    name: str
    path: str  # a video file or any URL OpenCV/FFmpeg reads (rtsp://...)


@dataclass
class SourcesConfig:
    streams: list[SourceConfig] = field(default_factory=list)
    continue_on_error: bool = False  # an unreadable camera is dropped with a warning instead of stopping
    duration_s: float | None = None  # live sources: stop after this long (None: until SIGINT/SIGTERM)


@dataclass
class DetectorConfig:
    backend: Literal["yolo", "detections"] = "yolo"
    weights: str = "yolo11n.pt"  # a .pt file, or a .yaml to build a random (untrained) YOLO
    image_size: int = 640
    confidence: float = 0.25
    iou: float = 0.7
    device: str = "cpu"
    detections_dir: str | None = None  # for backend "detections": MOTChallenge det/<camera>.txt files
    min_score: float = 0.0


@dataclass
class TrackerConfig:
    name: Literal["bytetrack", "botsort", "ocsort", "deepocsort", "strongsort", "hybridsort", "boosttrack"] = "bytetrack"
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class CropRule:
    min_height: int = 32
    min_width: int = 12
    max_truncation: float = 0.35  # fraction of the box outside the frame


@dataclass
class ExtractorConfig:
    model: str | None = None  # checkpoint (.pt), .onnx or .engine
    backend: Literal["auto", "tensorrt", "onnxruntime", "torch"] = "auto"
    batch_size: int = 64
    every_n_frames: int = 1  # extract features every n-th frame (appearance trackers need 1)
    crops: CropRule = field(default_factory=CropRule)


DEFAULT_DISTANCE_THRESHOLD = 0.7  # used for "auto" before a model is calibrated


@dataclass
class TransitWindowConfig:
    cameras: list[str]
    min_s: float = 0.0
    max_s: float = float("inf")


@dataclass
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
    gap_filling_max_s: float = 2.0  # recorded runs: fill track gaps up to this long (0: off)

    def settings(self, source: str = "<config>", calibrated_threshold: float | None = None) -> "AssociationSettings":
        """The association's settings; ``calibrated_threshold`` resolves ``distance_threshold: auto``."""
        from pipeline.association import AssociationSettings  # imported here: torch is not needed to read YAML

        threshold = self.distance_threshold
        if threshold == "auto":
            threshold = calibrated_threshold if calibrated_threshold is not None else DEFAULT_DISTANCE_THRESHOLD
        windows = []
        for index, window in enumerate(self.transit_windows):
            if len(window.cameras) != 2:
                raise ConfigError(f"{source}: key 'association.transit_windows[{index}].cameras': expected 2 cameras")
            windows.append(TransitWindow((window.cameras[0], window.cameras[1]), window.min_s, window.max_s))
        if not 0 < self.ratio <= 1:
            raise ConfigError(f"{source}: key 'association.ratio': expected a number in (0, 1], got {self.ratio}")
        return AssociationSettings(
            distance=self.distance,
            distance_threshold=float(threshold),
            thresholds_by_shared=tuple(self.thresholds_by_shared) if self.thresholds_by_shared else None,
            ratio=float(self.ratio),
            decision_patience=self.decision_patience,
            refine_threshold=self.refine_threshold,
            identity_retention_s=self.identity_retention_s,
            constraint_horizon_s=self.constraint_horizon_s,
            refine_neighbours=self.refine_neighbours,
            online_candidates=self.online_candidates,
            stitching=self.stitching,
            gap_filling_max_s=self.gap_filling_max_s,
            min_observations=self.min_observations,
            min_part_observations=self.min_part_observations,
            refine=self.refine,
            views_overlap=self.views_overlap,
            transit_windows=windows,
            track_timeout_s=self.track_timeout_s,
        )


@dataclass
class OutputConfig:
    directory: str = "outputs/pipeline"
    mot: bool = True
    events: bool = True
    sqlite: bool = True
    videos: bool = False
    status_every_s: float = 5.0  # live sources: a status line this often (0: never)


@dataclass
class DemoWorldConfig:
    cameras: int = 3
    identities: int = 40
    seconds: float = 60.0
    fps: float = 10.0
    seed: int = 0


@dataclass
class DemoConfig:
    """The offline demo: a synthetic world (cached) and the shipped part model; with ``--retrain``,
    a small model trained on the world's ReID split instead (cached)."""

    world: DemoWorldConfig = field(default_factory=DemoWorldConfig)
    model: str = "models/bpsema_small_synthetic.pt"  # relative to the repository
    model_config: str = "configs/model/small_synthetic.yaml"
    dataset: str = "synthetic"
    epochs: int = 8


@dataclass
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


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    values = read_yaml_mapping(path)
    association = values.get("association") if isinstance(values, dict) else None
    if isinstance(association, dict) and "distance" in association:
        association["distance"] = distance_name(association["distance"], f"{path}: association.distance")
    config = build_typed_config(PipelineConfig, values, str(path))
    config.association.settings(str(path))  # validates the transit windows
    return config
