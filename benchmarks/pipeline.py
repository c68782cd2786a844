"""Pipeline cost: time per stage and frames/s per camera on the demo world.

    python benchmarks/pipeline.py [--steps N]

The demo world comes from the demo's cache (made on first use, as `run_pipeline.py --demo`); the part
model is the one the demo runs (the shipped checkpoint, its int8 graph where ONNX Runtime runs on the CPU).
"Outside the models" = decode + track + associate + write (with public detections the detector
costs nothing; with YOLO, detection is the second model). The association's cost at scale (step
time against the number of known identities, the refine pass over many tracklets, memory of a long
live run) is ``benchmarks/association.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))


def demo_run(steps: int | None, run_ahead: bool = False, detector_runtime: str | None = None):
    """One in-process run of the demo's first ``steps`` steps as the demo runs them (its world, config,
    YOLO and part model; no videos written); detector_runtime: ``detector.runtime`` (None: the demo's).
    -> (``RunSummary``, the extractor's description)."""
    from pipeline.calibration import resolve_distance_threshold
    from pipeline.config import DemoConfig, load_pipeline_config
    from pipeline.demo import ensure_world, shipped_model, world_streams
    from pipeline.runner import InProcessRunner
    from reid.runtime import load_extractor

    config = load_pipeline_config(REPOSITORY / "configs/pipeline/demo.yaml")
    demo = config.demo or DemoConfig()
    world = ensure_world(demo)
    model = shipped_model(demo, config.extractor.backend)  # what the demo runs (its int8 graph on a CPU)
    resolve_distance_threshold(config.association, model)
    config.output.videos = False
    config.detector.run_ahead = run_ahead
    if detector_runtime is not None:
        config.detector.runtime = detector_runtime
    with load_extractor(model, backend=config.extractor.backend, max_batch=config.extractor.batch_size) as extractor:
        with tempfile.TemporaryDirectory() as output:
            summary = InProcessRunner(config, world_streams(world), extractor, output, progress=False).run(max_steps=steps)
        return summary, extractor.info.describe()


def busy_seconds(stages: dict[str, float]) -> str:
    """'decode 0.6, detect 24.2, ...': the busy seconds of each stage that ran."""
    return ", ".join(f"{stage} {value:.1f}" for stage, value in stages.items() if value > 0)


def run_details(run) -> str:
    """'(182 tracks, 48 identities; busy s: ...)' of one run, a tuple (seconds, tracks, identities, busy
    seconds per stage)."""
    _, tracks, identities, stages = run
    return f"({tracks} tracks, {identities} identities; busy s: {busy_seconds(stages)})"


def tracks_and_identities_agree(results: dict) -> str:
    """Whether every run of every variant (variant -> runs, each a tuple of seconds, tracks,
    identities, ...) gave the same tracks and identities."""
    same = {run[1:3] for runs in results.values() for run in runs}
    return "the same in every run" if len(same) == 1 else "DIFFER: " + str(sorted(same))


def stage_timings(steps: int | None) -> None:
    from reid.log_levels import set_verbosity

    set_verbosity("normal")
    # One stage after the other, so that the busy seconds per stage add up to the run's time (with
    # detector.run_ahead, decoding and detection overlap the rest: benchmarks/detection_ahead.py).
    summary, extractor = demo_run(steps, run_ahead=False)
    print(f"extractor: {extractor}")
    print(summary.table())
    models = summary.stage_seconds["extract"] + summary.stage_seconds["detect"]
    outside = sum(summary.stage_seconds[s] for s in ("decode", "track", "associate", "write"))
    print(f"outside the two models: {outside:.2f} s of {summary.seconds:.2f} s = {100 * outside / summary.seconds:.1f}% "
          f"(models {models:.2f} s; target < 30%)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="limit the demo run (default: the whole world)")
    arguments = parser.parse_args()
    stage_timings(arguments.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
