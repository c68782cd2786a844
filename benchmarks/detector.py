"""Person detector speed: frames per second of the shipped YOLO, PyTorch and ONNX Runtime side by side.

    python benchmarks/detector.py                       # the demo world, 320 px, PyTorch and ONNX Runtime
    python benchmarks/detector.py --sizes 256,320,416,640 --world DIR

What is timed is the pipeline's own detection stage (``pipeline.detection.YoloDetector.detect``):
one call per time step on the frames of all cameras of the world (one batch), letterboxing, the
network and non-maximum suppression included. PyTorch runs the ``.pt`` (rectangular letterbox:
640x360 becomes 320x192 at 320 px); ONNX Runtime runs the ``.onnx`` exported by ultralytics'
exporter with a dynamic input (``yolo export ... format=onnx dynamic=True``; exported here into a
temporary directory when ``--onnx`` is not given), which ultralytics feeds square (320x320).
Rounds alternate the backends so that a slow spell on a shared machine hits both; the figure is
the median step time over all rounds, as frames per second (cameras / step time).
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
    from pipeline.detection import YoloDetector, export_detector_onnx

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
            for backend, weights in (("PyTorch", arguments.weights), ("ONNX Runtime", str(onnx))):
                detector = YoloDetector(DetectorConfig(backend="yolo", weights=weights, image_size=size))
                detector.detect(batches[0])  # warm-up (first call builds the predictor)
                detectors[(size, backend)] = detector
        timings: dict[tuple[int, str], list[float]] = {key: [] for key in detectors}
        for _ in range(arguments.rounds):
            for key, detector in detectors.items():
                for batch in batches:
                    started = time.perf_counter()
                    detector.detect(batch)
                    timings[key].append(time.perf_counter() - started)
    print(f"world {world} ({cameras} cameras per step), {arguments.steps} steps x {arguments.rounds} rounds, "
          f"torch threads {__import__('torch').get_num_threads()}")
    print(f"{'size':>5} | {'backend':<13} | {'ms/step':>8} | {'frames/s':>8}")
    for (size, backend), values in timings.items():
        step = statistics.median(values)
        print(f"{size:>5} | {backend:<13} | {1000 * step:8.1f} | {cameras / step:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
