"""Person detector speed: frames per second of the shipped YOLO on each runtime, side by side.

    python benchmarks/detector.py                       # the demo world, 320 px
    python benchmarks/detector.py --sizes 256,320,384,416,640 --world DIR

What is timed is the pipeline's own detection stage (``pipeline.detection.build_detector(...).detect``):
one call per time step on the frames of all cameras of the world (one batch), letterboxing, the
network and non-maximum suppression included. Three runtimes:
- ``ultralytics PyTorch``: ultralytics' predictor on the ``.pt`` (``detector.runtime: ultralytics``);
- ``ultralytics ONNX Runtime``: its predictor on the ``.onnx`` exported by ultralytics' exporter with
  a dynamic input (``--onnx``, or exported here into a temporary directory), in ONNX Runtime's
  session with ultralytics' options (busy-waiting worker threads);
- ``ours, ONNX Runtime``: the same graph in ``pipeline.detector_onnxruntime`` (the project's session
  options: worker threads sleep between runs; what ``detector.runtime: auto`` runs on the CPU).
All three letterbox 640x360 frames to the same rectangle (384x224 at 384 px).
Rounds alternate the runtimes so that a slow spell on a shared machine hits all of them; the figure
is the median step time over all rounds, as frames per second (cameras / step time). Alone in the
process, the two ONNX Runtime sessions run at about the same speed; the difference that matters is
beside the part-feature extractor (``python benchmarks/detector_runtime.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY_ROOT))
SHIPPED = REPOSITORY_ROOT / "models" / "yolo11n_synthetic_person.pt"


def step_batches(world: Path, steps: int):
    """``steps`` lists of Frames (all cameras of one frame number) from the world's videos."""
    from itertools import islice

    from train.detector_dataset import load_world_or_fail, world_frame_batches

    return list(islice(world_frame_batches(world, load_world_or_fail(world), every_n_frames=3), steps))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(SHIPPED))
    parser.add_argument("--onnx", help="an exported .onnx (default: export the weights into a temporary directory)")
    parser.add_argument("--world", help="a synthetic world (default: the demo's, generated and cached on first use)")
    parser.add_argument("--sizes", default="320", help="comma-separated inference sizes")
    parser.add_argument("--steps", type=int, default=40, help="time steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()

    from pipeline.config import DemoConfig, DetectorConfig
    from pipeline.detection import build_detector
    from pipeline.detector_export import export_detector_onnx

    if arguments.world:
        world = Path(arguments.world)
    else:
        from pipeline.demo import ensure_world

        world = ensure_world(DemoConfig(), progress=False)
    batches = step_batches(world, arguments.steps)
    cameras = len(batches[0])
    with tempfile.TemporaryDirectory() as scratch:
        onnx = Path(arguments.onnx) if arguments.onnx else export_detector_onnx(arguments.weights, scratch)
        sizes = [int(size) for size in arguments.sizes.split(",")]
        detectors = {}
        for size in sizes:
            for runtime, weights, choice in (("ultralytics PyTorch", arguments.weights, "ultralytics"),
                                             ("ultralytics ONNX Runtime", str(onnx), "ultralytics"),
                                             ("ours, ONNX Runtime", str(onnx), "onnxruntime")):
                detector = build_detector(DetectorConfig(backend="yolo", weights=weights, image_size=size,
                                                         runtime=choice), [])
                detector.detect(batches[0])  # warm-up (first call builds the predictor)
                detectors[(size, runtime)] = detector
        timings: dict[tuple[int, str], list[float]] = {key: [] for key in detectors}
        for _ in range(arguments.rounds):
            for key, detector in detectors.items():
                for batch in batches:
                    started = time.perf_counter()
                    detector.detect(batch)
                    timings[key].append(time.perf_counter() - started)
    print(f"world {world} ({cameras} cameras per step), {arguments.steps} steps x {arguments.rounds} rounds, "
          f"torch threads {__import__('torch').get_num_threads()}")
    print(f"{'size':>5} | {'runtime':<24} | {'ms/step':>8} | {'frames/s':>8}")
    for (size, runtime), values in timings.items():
        step = statistics.median(values)
        print(f"{size:>5} | {runtime:<24} | {1000 * step:8.1f} | {cameras / step:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
