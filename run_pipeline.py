#!/usr/bin/env python
"""Multi-camera occluded person re-identification: detect, track, describe body parts, and give one
global identity to one person across cameras.

  python run_pipeline.py --demo
  python run_pipeline.py --config configs/pipeline/files.yaml --source cam1=a.mp4 --source cam2=b.mp4 --reid MODEL
  python run_pipeline.py --world DIR --reid MODEL [--config FILE] [--detector detections]
  python run_pipeline.py --world DIR --reid MODEL --runner ray [--ray-address HOST:PORT]
"""

from __future__ import annotations

import argparse
import json
import signal
import textwrap
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


def _check_inputs_before_loading(streams: list[tuple[str, str]], model: str, config) -> None:
    """Mistakes a user can fix, reported before any model loads: a missing video file, a missing
    part-feature model, missing detector weights or public detections."""
    from pipeline.yolo_weights import local_weights_or_fail
    from pipeline.sources import require_video_file

    if not config.sources.continue_on_error:
        for camera, path in streams:
            require_video_file(camera, path)
    if not Path(model).is_file():
        raise UserError(f"part-feature model not found: {model}")
    detector = config.detector
    if detector.backend == "yolo":
        local_weights_or_fail(detector.weights)
    elif detector.detections_dir and not Path(detector.detections_dir).is_dir():
        raise UserError(f"public detections directory not found: {detector.detections_dir} (detector.detections_dir)")


def _selfcheck(config: str | None, overrides: Sequence[str]) -> int:
    from reid.selfcheck import DEFAULT_CONFIG, run_selfcheck

    summary = run_selfcheck(config or DEFAULT_CONFIG, overrides=overrides)
    for key, value in summary.items():
        print(f"{key:>20}: {value}")
    print("self-check passed")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    summary, _, examples = __doc__.strip().partition("\n\n")
    parser = argparse.ArgumentParser(prog="run_pipeline.py", description=textwrap.fill(" ".join(summary.split()), 79),
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="examples:\n" + examples)
    parser.add_argument("--demo", action="store_true",
                        help="the offline demo: a synthetic 3-camera world (generated and cached on first use), the "
                             "shipped YOLO detector and part model (configs/pipeline/demo.yaml)")
    parser.add_argument("--retrain", action="store_true",
                        help="with --demo: train a small model on the demo world (cached) instead of using the "
                             "shipped models/bpsema_small_synthetic.pt")
    parser.add_argument("--config", metavar="FILE",
                        help="pipeline YAML (configs/pipeline/*.yaml; default with --demo/--world: the demo's); "
                             "with --selfcheck, a model YAML")
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                        help="override one setting of the config, by its dotted key, the value read as YAML "
                             "(repeatable), e.g. --set detector.confidence=0.3 --set output.videos=false")
    parser.add_argument("--source", action="append", default=[], metavar="NAME=PATH",
                        help="a camera: a video file or an rtsp:// URL (repeatable; default: the config's "
                             "sources.streams)")
    parser.add_argument("--world", metavar="DIR",
                        help="a synthetic world directory (python -m pipeline.synthetic): its videos as cameras, "
                             "its ground truth scored at the end")
    parser.add_argument("--reid", metavar="MODEL",
                        help="part-feature model: checkpoint (.pt), .onnx or .engine (default: the config's "
                             "extractor.model; with --demo the shipped models/bpsema_small_synthetic.pt)")
    parser.add_argument("--detector", choices=["yolo", "detections"],
                        help="override detector.backend: YOLO on the frames (detector.weights), or the public "
                             "MOTChallenge detections (with --world/--demo: the world's det/ files)")
    parser.add_argument("--output", metavar="DIR", help="output directory (default: the config's output.directory)")
    parser.add_argument("--distance", choices=["visible_parts", "foreground", "global"],
                        help="override association.distance: visible_parts (the parts both views show) or "
                             "foreground (the foreground embedding alone; 'global' is its old name) (default: the "
                             "config's, visible_parts in the shipped configs)")
    parser.add_argument("--distance-threshold", type=float, metavar="D",
                        help="override association.distance_threshold (default: the config's; 'auto' there reads "
                             "the model's calibration file)")
    parser.add_argument("--duration", type=float, metavar="SECONDS",
                        help="live sources: stop after this many seconds (default: the config's, else until Ctrl-C)")
    parser.add_argument("--max-steps", type=int, metavar="N", help="stop after this many time steps (default: all)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars (they are drawn only on a terminal anyway)")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="print only the results (run summary, scores) and warnings")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also print the libraries' INFO lines (BoxMOT's tracker settings, ultralytics)")
    parser.add_argument("--runner", choices=["inprocess", "ray"], default="inprocess",
                        help="run the stages in this process (default) or on Ray actors (the ray extra)")
    parser.add_argument("--ray-address", metavar="ADDR",
                        help="with --runner ray: an existing Ray cluster (host:port or ray://host:port); "
                             "default: a local Ray started for this run")
    parser.add_argument("--web", type=int, metavar="PORT",
                        help="serve the web app while the run goes (live camera streams, identities, search): "
                             "http://127.0.0.1:PORT/ (in-process runner only)")
    parser.add_argument("--web-host", default="127.0.0.1", metavar="HOST",
                        help="with --web: the address to bind (default 127.0.0.1; anything else needs --web-token)")
    parser.add_argument("--web-token", metavar="SECRET", help="with --web: required on every request")
    parser.add_argument("--selfcheck", action="store_true",
                        help="build the model (--config MODEL_YAML, default the paper's) and run it on random input")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user-facing errors")
    arguments = parser.parse_args(argv)
    if arguments.selfcheck:
        return _selfcheck(arguments.config, arguments.overrides)
    if not (arguments.demo or arguments.world or arguments.config):
        parser.print_help()
        return 2
    if arguments.retrain and not arguments.demo:
        raise UserError("--retrain is for --demo")
    if arguments.ray_address and arguments.runner != "ray":
        raise UserError("--ray-address is for --runner ray")
    if arguments.quiet and arguments.verbose:
        raise UserError("--quiet and --verbose exclude each other")
    for name, path in (("--world", arguments.world), ("--reid", arguments.reid), ("--config", arguments.config)):
        if path and "://" not in path and not Path(path).exists():
            raise UserError(f"{name}: {path} not found")
    from reid.log_levels import say, set_verbosity, verbosity_from_flags

    set_verbosity(verbosity_from_flags(arguments.quiet, arguments.verbose), import_libraries=False)

    from pipeline.config import DemoConfig, load_pipeline_config
    from reid.config import overridden_source
    from pipeline.demo import shipped_model, start_world, world_streams

    progress = not (arguments.no_progress or arguments.quiet)
    config_path = arguments.config or (str(DEMO_CONFIG) if (arguments.demo or arguments.world) else None)
    config = load_pipeline_config(config_path, arguments.overrides)
    if arguments.overrides:
        say("settings changed by --set: " + ", ".join(arguments.overrides))
    config_source = overridden_source(config_path, arguments.overrides)
    if arguments.detector:
        config.detector.backend = arguments.detector
    if arguments.distance:
        from pipeline.config import distance_name

        config.association.distance = distance_name(arguments.distance, "--distance")
    if arguments.distance_threshold is not None:
        config.association.distance_threshold = arguments.distance_threshold

    world_directory = None
    world_in_preparation = None
    model = arguments.reid or config.extractor.model
    if arguments.demo:
        demo = config.demo or DemoConfig()
        if arguments.world:
            world_directory = Path(arguments.world)
        else:
            world_in_preparation = start_world(demo, progress)
        if not model:
            if arguments.retrain:
                from train.demo_model import ensure_model

                world_directory = world_in_preparation.wait() if world_in_preparation else world_directory
                model = str(ensure_model(demo, world_directory, progress))
            else:
                model = str(shipped_model(demo, config.extractor.backend))
    elif arguments.world:
        world_directory = Path(arguments.world)
    if world_in_preparation is not None:
        # While the demo world renders on its first run, do the detector's once-only export and the
        # pipeline's imports (PyTorch, BoxMOT) beside it.
        from pipeline.detection import prepare_detector
        import pipeline.runner  # noqa: F401

        set_verbosity(verbosity_from_flags(arguments.quiet, arguments.verbose))  # ultralytics' export logs
        prepare_detector(config.detector)
        world_directory = world_in_preparation.wait()
    if world_directory is not None:
        streams = world_streams(world_directory)
        if config.detector.backend == "detections":
            config.detector.detections_dir = str(world_directory / "det")
    else:
        streams = _parse_sources(arguments.source) or [(s.name, s.path) for s in config.sources.streams]
    if not streams:
        raise UserError("no camera given: use --source NAME=PATH, sources.streams in the config, or --world")
    if not model:
        raise UserError("no part-feature model: give --reid MODEL (checkpoint, .onnx or .engine) or use --demo")
    _check_inputs_before_loading(streams, model, config)
    set_verbosity(verbosity_from_flags(arguments.quiet, arguments.verbose))
    output = Path(arguments.output or config.output.directory)
    from pipeline.calibration import resolve_distance_threshold
    from pipeline.detection import runs_on_onnxruntime

    threshold, origin = resolve_distance_threshold(config.association, model)
    detector = config.detector
    say("detector: " + (f"YOLO {detector.weights} at {detector.image_size} px, confidence {detector.confidence:g}, "
                         f"on {'ONNX Runtime (CPU)' if runs_on_onnxruntime(detector) else 'ultralytics'}"
                         if detector.backend == "yolo" else f"public detections from {detector.detections_dir}"))
    say(f"association: {config.association.distance} distance, threshold {threshold:.3f} ({origin})")

    if arguments.web is not None:
        if arguments.runner == "ray":
            raise UserError("--web needs the in-process runner (--runner inprocess)")
        from pipeline.web.server import check_bind

        check_bind(arguments.web_host, arguments.web, arguments.web_token)
    extractor = None
    web_server = None
    if arguments.runner == "ray":
        from pipeline.ray_runner import ExtractorSpec, RayRunner

        spec = ExtractorSpec(model, backend=config.extractor.backend, max_batch=config.extractor.batch_size)
        runner = RayRunner(config, streams, spec, output, progress=progress, config_source=config_source,
                           duration_s=arguments.duration, address=arguments.ray_address)
        say(f"runner: ray; connecting to {arguments.ray_address or 'a local Ray started for this run'} when the run "
            f"starts; each extractor actor will load {model}")
    else:
        from pipeline.runner import InProcessRunner
        from reid.runtime import load_extractor

        extractor = load_extractor(model, backend=config.extractor.backend, max_batch=config.extractor.batch_size)
        say(f"part-feature extractor: {extractor.info.describe()}")
        live_view = None
        if arguments.web is not None:
            from pipeline.web.app import WebSettings, create_app
            from pipeline.web.live import LiveView
            from pipeline.web.server import BackgroundServer

            live_view = LiveView([camera for camera, _ in streams], extractor.part_names)
            search_extractor = load_extractor(model, backend=config.extractor.backend, max_batch=8)
            app = create_app(WebSettings(output, extractor=search_extractor, token=arguments.web_token,
                                         live_view=live_view, model=str(Path(model).resolve())))
            web_server = BackgroundServer(app, arguments.web_host, arguments.web).start()
            say(f"web app on {web_server.url} (live cameras: {web_server.url}live.html)")
        runner = InProcessRunner(
            config, streams, extractor, output, progress=progress, config_source=config_source,
            duration_s=arguments.duration, model=model, live_view=live_view,
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
        if web_server is not None:
            web_server.stop()
    if summary.extractor and extractor is None:
        say(f"part-feature extractor: {summary.extractor}")
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
