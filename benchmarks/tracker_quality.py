"""Tracker quality on synthetic worlds: the configured pipeline's IDF1 with each tracker variant, side by side.

    python benchmarks/tracker_quality.py --world DIR [--world DIR ...] [--detector {detections,yolo}]
        [--tracker NAME[:KEY=VALUE,...] ...] [--reid MODEL] [--cache DIR] [--explain]

Per world, detection and feature extraction run once (the demo config's pipeline) and the tracker's
inputs of every frame (detections, part features, frame time) are cached (``--cache``, default
``~/.cache/bpsema/tracker_quality``; one recording per world, model file content and detector). Then
each tracker variant tracks the recorded inputs of every camera, the configured association stage
(refine, stitching, gap filling) runs on its tracks, and ``pipeline.mtmc_evaluation`` scores them:
multi-camera IDF1, the cameras' own IDF1 (global ids, cameras scored alone and summed) and their
identity switches. ``--explain`` adds where the identity errors sit (``association_quality.py``'s
breakdown: impure tracks, false and missed merges).

A variant is a BoxMOT tracker name with parameters, e.g. ``botsort`` (no parameters: the config's own
``tracker.parameters``), ``botsort:appearance_thresh=0.4,proximity_thresh=0.6`` (the config's parameters
with these on top), ``deepocsort`` (BoxMOT's defaults). The first variant is the baseline; the table
gives each variant's difference from it. Nothing is fitted to the worlds: compare variants on worlds
of several seeds and shapes before changing the config.
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))
sys.path.insert(0, str(REPOSITORY / "benchmarks"))

from association_quality import (  # noqa: E402
    ground_truth_tables,
    identity_breakdown,
    recording_path,
    replay,
    use_detector,
)

from pipeline.config import TrackerConfig  # noqa: E402
from pipeline.records import Frame  # noqa: E402
from pipeline.stages import AssociationStage, TrackingStage  # noqa: E402


@dataclass(frozen=True)
class TrackerInput:
    """What one camera's tracker got at one frame (``TrackingStage.track``'s arguments, the image
    reduced to its shape: the trackers run without camera-motion compensation and with our embeddings,
    so they never look at pixels)."""

    camera: str
    frame_index: int
    timestamp_s: float
    image_shape: tuple[int, ...]
    frame_rate: float
    detections: object  # pipeline.records.Detections
    features: object  # pipeline.extraction.DetectionFeatures | None


@dataclass(frozen=True)
class TrackerRecording:
    """A world's tracker inputs. steps: per association step, its time and its cameras' (camera,
    frame_index) in the order the pipeline tracked them; description: the extractor's."""

    description: object
    steps: list[tuple[float, list[tuple[str, int]]]]
    inputs: dict[tuple[str, int], TrackerInput]


@dataclass(frozen=True)
class TrackerVariant:
    """label: as given on the command line; parameters: all the tracker is built with."""

    label: str
    name: str
    parameters: dict


def parse_variant(text: str, configured: TrackerConfig) -> TrackerVariant:
    """``NAME[:KEY=VALUE,...]``; values are read as YAML scalars. The configured tracker's name starts
    from its ``tracker.parameters``, another name from BoxMOT's defaults."""
    import yaml

    from pipeline.tracking import TRACKER_CLASSES

    name, _, rest = text.partition(":")
    if name not in TRACKER_CLASSES:
        raise SystemExit(f"tracker variant {text!r}: unknown tracker {name!r} (one of {', '.join(TRACKER_CLASSES)})")
    parameters = dict(configured.parameters) if name == configured.name else {}
    for item in filter(None, rest.split(",")):
        key, separator, value = item.partition("=")
        if not separator:
            raise SystemExit(f"tracker variant {text!r}: {item!r} is not KEY=VALUE")
        parameters[key.strip()] = yaml.safe_load(value)
    return TrackerVariant(text, name, parameters)


class _RecordingTrackingStage(TrackingStage):
    inputs: dict = {}

    def __init__(self, camera, config, frame_rate):
        super().__init__(camera, config, frame_rate)
        self.frame_rate = frame_rate

    def track(self, frame, detections, features):
        _RecordingTrackingStage.inputs[(frame.camera, frame.frame_index)] = TrackerInput(
            frame.camera, frame.frame_index, frame.timestamp_s, tuple(frame.image.shape), self.frame_rate,
            detections, features,
        )
        return super().track(frame, detections, features)


class _StepMarkingAssociationStage(AssociationStage):
    steps: list = []

    def process_step(self, timestamp_s, tracked_frames, images=None):
        _StepMarkingAssociationStage.steps.append(
            (timestamp_s, [(frame.camera, frame.frame_index) for frame in tracked_frames])
        )
        super().process_step(timestamp_s, tracked_frames, None)


def record_world(world: Path, model: str, cache: Path, config, config_name: str) -> TrackerRecording:
    """The world's tracker inputs (cached under the world, the model's bytes and ``config_name``: the
    config file and detector that made them)."""
    from pipeline.demo import world_streams
    from pipeline.runner import InProcessRunner
    from reid.runtime import load_extractor

    path = recording_path(cache, world, model, config_name)
    if path.is_file():  # plain tuples on disk: the classes of a script have no importable module name
        with open(path, "rb") as handle:
            description, steps, inputs = pickle.load(handle)
        return TrackerRecording(description, steps, {key: TrackerInput(*fields) for key, fields in inputs.items()})
    extractor = load_extractor(model, backend=config.extractor.backend, max_batch=config.extractor.batch_size)
    _RecordingTrackingStage.inputs, _StepMarkingAssociationStage.steps = {}, []
    with tempfile.TemporaryDirectory() as output:
        runner = InProcessRunner(
            config, world_streams(world), extractor, output, progress=False,
            association_stage=_StepMarkingAssociationStage, tracking_stage=_RecordingTrackingStage,
        )
        runner.run()
    recording = TrackerRecording(runner.extraction.describe(), _StepMarkingAssociationStage.steps,
                                 _RecordingTrackingStage.inputs)
    _RecordingTrackingStage.inputs, _StepMarkingAssociationStage.steps = {}, []
    cache.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        inputs = {key: tuple(getattr(value, field.name) for field in dataclasses.fields(value))
                  for key, value in recording.inputs.items()}
        pickle.dump((recording.description, recording.steps, inputs), handle, protocol=pickle.HIGHEST_PROTOCOL)
    return recording


def track_recording(recording: TrackerRecording, variant: TrackerVariant) -> list:
    """Every camera's tracker of ``variant`` over the recorded inputs: the association steps, each
    (time, its ``TrackedFrame``s), as ``association_quality.replay`` takes them."""
    config = TrackerConfig(name=variant.name, parameters=dict(variant.parameters))
    trackers: dict[str, TrackingStage] = {}
    images: dict[tuple[int, ...], np.ndarray] = {}
    steps = []
    for timestamp_s, keys in recording.steps:
        tracked = []
        for key in keys:
            recorded = recording.inputs[key]
            if recorded.camera not in trackers:
                trackers[recorded.camera] = TrackingStage(recorded.camera, config, recorded.frame_rate)
            image = images.setdefault(recorded.image_shape, np.zeros(recorded.image_shape, dtype=np.uint8))
            frame = Frame(recorded.camera, recorded.frame_index, recorded.timestamp_s, image)
            tracked.append(trackers[recorded.camera].track(frame, recorded.detections, recorded.features))
        steps.append((timestamp_s, tracked))
    return steps


def main(argv=None) -> int:
    from pipeline.association import association_settings
    from pipeline.calibration import resolve_distance_threshold
    from pipeline.config import load_pipeline_config
    from pipeline.mtmc_evaluation import evaluate_mtmc
    from reid.log_levels import set_verbosity

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", action="append", required=True, type=Path)
    parser.add_argument("--reid", default=str(REPOSITORY / "models/bpsema_small_synthetic.pt"))
    parser.add_argument("--config", default=str(REPOSITORY / "configs/pipeline/demo.yaml"))
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/bpsema/tracker_quality")
    parser.add_argument("--detector", choices=("detections", "yolo"), default="yolo",
                        help="the config's YOLO on the videos (default) or the world's public detections")
    parser.add_argument("--tracker", action="append", default=[], dest="variants", metavar="NAME[:KEY=VALUE,...]",
                        help="a tracker variant (repeatable; the first is the baseline; default: the config's)")
    parser.add_argument("--explain", action="store_true", help="where each variant's identity errors sit")
    arguments = parser.parse_args(argv)

    set_verbosity("normal")
    config = load_pipeline_config(arguments.config)
    use_detector(config, arguments.detector)
    config.output.videos = False
    variants = [parse_variant(text, config.tracker) for text in (arguments.variants or [config.tracker.name])]
    _, origin = resolve_distance_threshold(config.association, arguments.reid)
    settings = association_settings(config.association)
    print(f"thresholds: {origin}")
    rows: dict[str, dict[str, tuple[float, float, int]]] = defaultdict(dict)
    for world in arguments.world:
        config.detector.detections_dir = str(world / "det")
        started = time.perf_counter()
        recording = record_world(world, arguments.reid, arguments.cache, config,
                                 f"{Path(arguments.config).stem}_{arguments.detector}")
        cameras = sorted({camera for camera, _ in recording.inputs})
        print(f"{world}: {len(recording.steps)} steps, {len(cameras)} cameras "
              f"(recorded in {time.perf_counter() - started:.0f} s)", flush=True)
        tables = ground_truth_tables(world / "gt") if arguments.explain else None
        for variant in variants:
            started = time.perf_counter()
            steps = track_recording(recording, variant)
            tracking_seconds = time.perf_counter() - started
            with tempfile.TemporaryDirectory() as output:
                result = replay((recording.description, steps), settings, cameras, Path(output))
                report = evaluate_mtmc(world / "gt", Path(output) / "mot")
            scores = (report.multi_camera.idf1, report.per_camera_total.idf1, report.per_camera_total.num_switches)
            rows[world.name][variant.label] = scores
            print(f"  {variant.label}: multi-camera IDF1 {100 * scores[0]:5.1f}  cameras' IDF1 {100 * scores[1]:5.1f}"
                  f"  switches {scores[2]}  (tracking {tracking_seconds:.0f} s)", flush=True)
            if arguments.explain:
                print(f"    {identity_breakdown(result['stage'], tables)}", flush=True)
    labels = [variant.label for variant in variants]
    widths = [max(len(label), 14) for label in labels]
    print()
    print("multi-camera IDF1 (difference from the first variant)")
    print(f"{'world':>12} | " + " | ".join(f"{label:>{width}}" for label, width in zip(labels, widths)))
    for world, values in rows.items():
        baseline = values[labels[0]][0]
        cells = [f"{100 * values[labels[0]][0]:{widths[0]}.1f}"] + [
            f"{f'{100 * values[label][0]:.1f} ({100 * (values[label][0] - baseline):+.1f})':>{width}}"
            for label, width in zip(labels[1:], widths[1:])
        ]
        print(f"{world:>12} | " + " | ".join(cells))
    means = [100 * np.mean([values[label][0] for values in rows.values()]) for label in labels]
    cells = [f"{means[0]:{widths[0]}.1f}"] + [
        f"{f'{mean:.1f} ({mean - means[0]:+.1f})':>{width}}" for mean, width in zip(means[1:], widths[1:])
    ]
    print(f"{'mean':>12} | " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
