#!/usr/bin/env python
"""Multi-camera occluded person re-identification: detect, track, describe body parts, and give one
global identity to one person across cameras.

  python run_pipeline.py --demo
  python run_pipeline.py --config configs/pipeline/files.yaml --source cam1=a.mp4 --source cam2=b.mp4 --reid MODEL
  python run_pipeline.py --world DIR --reid MODEL [--config FILE]
  python run_pipeline.py --world DIR --reid MODEL --runner ray [--ray-address HOST:PORT]
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Sequence

from reid.errors import UserError, run_command_line

REPOSITORY = Path(__file__).resolve().parent
DEMO_CONFIG = REPOSITORY / "configs" / "pipeline" / "demo.yaml"


def _parse_sources(values: list[str]) -> list[tuple[str, str]]:
    streams = []
    for value in values:
        name, separator, path = value.partition("=")
        if not separator or not name or not path:
            raise UserError(f"--source expects NAME=PATH, got '{value}'")
        streams.append((name, path))
    names = [name for name, _ in streams]
    if len(set(names)) != len(names):
        raise UserError(f"--source names must be unique, got {names}")
    return streams


def _selfcheck(config: str | None) -> int:
    from reid.selfcheck import DEFAULT_CONFIG, run_selfcheck

    summary = run_selfcheck(config or DEFAULT_CONFIG)
    for key, value in summary.items():
        print(f"{key:>20}: {value}")
    print("self-check passed")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_pipeline.py", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--demo", action="store_true", help="the offline demo on a cached synthetic world")
    parser.add_argument("--retrain", action="store_true",
                        help="with --demo: train a small model on the demo world (cached) instead of using the "
                             "shipped models/bpsema_small_synthetic.pt")
    parser.add_argument("--config", help="pipeline YAML (configs/pipeline/*.yaml); with --selfcheck, a model YAML")
    parser.add_argument("--source", action="append", default=[], metavar="NAME=PATH", help="a camera (repeatable)")
    parser.add_argument("--world", help="a synthetic world directory: its videos, public detections and ground truth")
    parser.add_argument("--reid", help="part-feature model: checkpoint (.pt), .onnx or .engine")
    parser.add_argument("--output", help="output directory (default: the config's output.directory)")
    parser.add_argument("--distance", choices=["visible_parts", "global"], help="override association.distance")
    parser.add_argument("--distance-threshold", type=float, help="override association.distance_threshold")
    parser.add_argument("--duration", type=float, help="live sources: stop after this many seconds")
    parser.add_argument("--max-steps", type=int, help="stop after this many time steps")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--runner", choices=["inprocess", "ray"], default="inprocess",
                        help="run the stages in this process (default) or on Ray actors (the ray extra)")
    parser.add_argument("--ray-address", metavar="ADDR",
                        help="with --runner ray: an existing Ray cluster (host:port or ray://host:port); "
                             "default: a local Ray started for this run")
    parser.add_argument("--selfcheck", action="store_true", help="build the model and run it on random input")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user-facing errors")
    arguments = parser.parse_args(argv)
    if arguments.selfcheck:
        return _selfcheck(arguments.config)
    if not (arguments.demo or arguments.world or arguments.config):
        parser.print_help()
        return 2
    if arguments.retrain and not arguments.demo:
        raise UserError("--retrain is for --demo")
    if arguments.ray_address and arguments.runner != "ray":
        raise UserError("--ray-address is for --runner ray")

    from pipeline.config import DemoConfig, load_pipeline_config
    from pipeline.demo import ensure_model, ensure_world, shipped_model, world_streams

    progress = not arguments.no_progress
    config_path = arguments.config or (str(DEMO_CONFIG) if (arguments.demo or arguments.world) else None)
    config = load_pipeline_config(config_path)
    if arguments.distance:
        config.association.distance = arguments.distance
    if arguments.distance_threshold is not None:
        config.association.distance_threshold = arguments.distance_threshold

    world_directory = None
    model = arguments.reid or config.extractor.model
    if arguments.demo:
        demo = config.demo or DemoConfig()
        world_directory = Path(arguments.world) if arguments.world else ensure_world(demo, progress)
        if not model:
            model = str(ensure_model(demo, world_directory, progress) if arguments.retrain else shipped_model(demo))
    elif arguments.world:
        world_directory = Path(arguments.world)
    if world_directory is not None:
        streams = world_streams(world_directory)
        config.detector.backend = "detections"
        config.detector.detections_dir = str(world_directory / "det")
    else:
        streams = _parse_sources(arguments.source) or [(s.name, s.path) for s in config.sources.streams]
    if not streams:
        raise UserError("no camera given: use --source NAME=PATH, sources.streams in the config, or --world")
    if not model:
        raise UserError("no part-feature model: give --reid MODEL (checkpoint, .onnx or .engine) or use --demo")
    output = Path(arguments.output or config.output.directory)
    from pipeline.calibration import resolve_distance_threshold

    threshold, origin = resolve_distance_threshold(config.association, model)
    print(f"association: {config.association.distance} distance, threshold {threshold:.3f} ({origin})", flush=True)

    extractor = None
    if arguments.runner == "ray":
        from pipeline.ray_runner import ExtractorSpec, RayRunner

        spec = ExtractorSpec(model, backend=config.extractor.backend, max_batch=config.extractor.batch_size)
        runner = RayRunner(config, streams, spec, output, progress=progress, config_source=config_path,
                           duration_s=arguments.duration, address=arguments.ray_address)
        print(f"runner: ray ({arguments.ray_address or 'local'}); each extractor actor loads {model}", flush=True)
    else:
        from pipeline.runner import InProcessRunner
        from reid.runtime import load_extractor

        extractor = load_extractor(model, backend=config.extractor.backend, max_batch=config.extractor.batch_size)
        print(f"part-feature extractor: {extractor.info.describe()}", flush=True)
        runner = InProcessRunner(
            config, streams, extractor, output, progress=progress, config_source=config_path,
            duration_s=arguments.duration,
        )

    def stop(signum, frame):  # flush and close every sink, then exit
        print(f"\nstopping on signal {signum}: finishing the current step and closing outputs", file=sys.stderr)
        runner.stop_requested.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = runner.run(max_steps=arguments.max_steps)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if extractor is not None:
            extractor.close()
    if summary.extractor and extractor is None:
        print(f"part-feature extractor: {summary.extractor}")
    print(summary.table())
    print(f"outputs in {output}")

    if world_directory is not None and (world_directory / "gt").is_dir():
        from pipeline.mtmc_evaluation import evaluate_mtmc

        report = evaluate_mtmc(world_directory / "gt", output / "mot")
        (output / "mtmc.json").write_text(json.dumps(report.to_json_dict(), indent=2) + "\n")
        print(report.table())
        print(f"multi-camera IDF1: {100 * report.multi_camera.idf1:.1f}% "
              f"(distance: {config.association.distance}; details in {output / 'mtmc.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(run_command_line(main))
