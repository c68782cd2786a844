"""Pipeline cost: time per stage and frames/s per camera on the demo world, and the association's
time per step against the number of known identities.

    python benchmarks/pipeline.py [--steps N] [--identities 100 1000 10000] [--skip-run]

The demo world and model come from the demo's cache (made on first use, as `run_pipeline.py --demo`).
"Outside the models" = decode + track + associate + write (with public detections the detector
costs nothing; with YOLO, detection is the second model).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))


def stage_timings(steps: int | None) -> None:
    from pipeline.config import DemoConfig, load_pipeline_config
    from pipeline.demo import ensure_model, ensure_world, world_streams
    from pipeline.runner import InProcessRunner
    from reid.runtime import load_extractor

    config = load_pipeline_config(REPOSITORY / "configs/pipeline/demo.yaml")
    demo = config.demo or DemoConfig()
    world = ensure_world(demo)
    model = ensure_model(demo, world)
    config.detector.detections_dir = str(world / "det")
    from pipeline.calibration import resolve_distance_threshold

    resolve_distance_threshold(config.association, model)
    config.output.videos = False
    extractor = load_extractor(model, backend=config.extractor.backend, max_batch=config.extractor.batch_size)
    with tempfile.TemporaryDirectory() as output:
        runner = InProcessRunner(config, world_streams(world), extractor, output, progress=False)
        summary = runner.run(max_steps=steps)
    print(f"extractor: {extractor.info.describe()}")
    print(summary.table())
    models = summary.stage_seconds["extract"] + summary.stage_seconds["detect"]
    outside = sum(summary.stage_seconds[s] for s in ("decode", "track", "associate", "write"))
    print(f"outside the two models: {outside:.2f} s of {summary.seconds:.2f} s = {100 * outside / summary.seconds:.1f}% "
          f"(models {models:.2f} s; target < 30%)")


def association_scaling(counts: list[int], steps: int = 20, pending_per_step: int = 4, num_parts: int = 8, dim: int = 256) -> None:
    from pipeline.association import AssociationSettings, CrossCameraAssociation, Identity
    from pipeline.records import TrackKey
    from pipeline.tracklets import PartMemory, Tracklet

    print(f"association step with {pending_per_step} tracks to assign, K={num_parts}, D={dim}")
    print(f"{'identities':>10} | {'ms/step':>8}")
    rng = np.random.default_rng(0)
    for count in counts:
        association = CrossCameraAssociation(
            AssociationSettings(min_observations=1, distance_threshold=0.7), num_parts=num_parts, embedding_dim=dim
        )
        for index in range(count):  # identities seen before, each with one finished track
            key = TrackKey(f"cam{index % 4}", 1_000_000 + index)
            memory = PartMemory(rng.standard_normal((1 + num_parts, dim)), rng.integers(0, 5, 1 + num_parts))
            association.tracklets[key] = Tracklet(key, memory, 0.0, 1.0, 1, 10, observations=5, boxes=5)
            association.identities[index + 1] = Identity(index + 1, [key], memory.copy())
            association.assignments[key] = index + 1
            association.table.mark(index + 1)
        association._next_global_id = count + 1
        association.table.refresh(association.identities)
        elapsed = 0.0
        for step in range(steps):
            timestamp = 100.0 + step
            for pending in range(pending_per_step):
                embeddings = rng.standard_normal((1 + num_parts, dim)).astype(np.float32)
                embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
                association.observe(TrackKey("cam9", step * 100 + pending), timestamp, int(timestamp * 10),
                                    embeddings, rng.random(1 + num_parts) < 0.7)
            started = time.perf_counter()
            association.step(timestamp)
            elapsed += time.perf_counter() - started
        print(f"{count:>10} | {1000 * elapsed / steps:8.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="limit the demo run (default: the whole world)")
    parser.add_argument("--identities", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--skip-run", action="store_true", help="only the association scaling")
    arguments = parser.parse_args()
    if not arguments.skip_run:
        stage_timings(arguments.steps)
    association_scaling(arguments.identities)
    return 0


if __name__ == "__main__":
    sys.exit(main())
