"""YOLO detection beside an ONNX Runtime extractor whose idle threads spin, or sleep.

    python benchmarks/onnxruntime_spinning.py [--steps 100] [--rounds 3]

The pipeline alternates, step after step, YOLO's detection (PyTorch) on the frames of all cameras
and the part-feature extractor (ONNX Runtime) on their crops, in one process. ONNX Runtime's worker
threads busy-wait after each run by default (``session.intra_op.allow_spinning``), which takes the
cores PyTorch then needs. This runs the demo's first ``--steps`` steps (the demo world, its YOLO,
the demo's part model as the CPU runs it) with the extractor spinning and not spinning, alternated
``--rounds`` times, and prints each stage's seconds per 100 steps (median of the rounds) side by side.
``reid.runtime.onnxruntime_backend.session_options`` turns spinning off.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))  # runnable from a checkout without installing it

from benchmarks.rounds import alternated_rounds  # noqa: E402


def demo_steps(steps: int):
    """The frames of the demo's first ``steps`` time steps (one list of ``Frame`` per step)."""
    from pipeline.config import load_pipeline_config
    from pipeline.demo import ensure_world, world_streams
    from pipeline.sources import SynchronizedReader, open_sources

    config = load_pipeline_config(REPOSITORY / "configs/pipeline/demo.yaml")
    world = ensure_world(config.demo)
    reader = SynchronizedReader(open_sources(world_streams(world), False))
    packets = []
    try:
        for packet in reader:
            packets.append(list(packet.frames))
            if len(packets) == steps:
                break
    finally:
        reader.close()
    return config, packets


def timed_round(detector, extractor, packets, crop_rule) -> tuple[float, float]:
    from pipeline.stages import cut_camera_crops

    detect_s = extract_s = 0.0
    for frames in packets:
        started = time.perf_counter()
        detections = detector.detect(frames)
        detected = time.perf_counter()
        crops = [crop for frame, found in zip(frames, detections) for crop in cut_camera_crops(frame, found, crop_rule).crops]
        extractor.extract(crops)
        detect_s += detected - started
        extract_s += time.perf_counter() - detected
    return detect_s, extract_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="demo time steps per round (3 frames each)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each setting, alternated")
    arguments = parser.parse_args(argv)

    from pipeline.demo import shipped_model
    from pipeline.detection import YoloDetector
    from reid.log_levels import set_verbosity
    from reid.runtime.backend_selection import load_extractor
    from reid.runtime.onnxruntime_backend import OnnxRuntimeExtractor

    set_verbosity("quiet")
    config, packets = demo_steps(arguments.steps)
    model = shipped_model(config.demo, "onnxruntime")
    if model.suffix != ".onnx":  # a checkpoint: its fp32 graph, exported once into the extractor cache
        model = load_extractor(model, backend="onnxruntime", device="cpu").info.model_path
    detector = YoloDetector(config.detector)
    extractors = {
        spinning: OnnxRuntimeExtractor(model, "cpu", config.extractor.batch_size, spinning=spinning)
        for spinning in (True, False)
    }
    timed_round(detector, extractors[False], packets[:10], config.extractor.crops)  # warm-up
    seconds = alternated_rounds(extractors, arguments.rounds,
                                lambda spinning: timed_round(detector, extractors[spinning], packets, config.extractor.crops))
    scale = 100 / len(packets)
    print(f"{len(packets)} demo steps ({sum(len(frames) for frames in packets)} frames), {arguments.rounds} rounds; "
          f"extractor {model.name}; seconds per 100 steps, median")
    print(f"{'ONNX Runtime threads':22s} | {'detect':>7s} | {'extract':>7s} | {'both':>7s}")
    medians = {}
    for spinning, rounds in seconds.items():
        detect = statistics.median(d for d, _ in rounds) * scale
        extract = statistics.median(e for _, e in rounds) * scale
        medians[spinning] = detect + extract
        print(f"{'spinning (ORT default)' if spinning else 'sleeping (ours)':22s} | {detect:7.2f} | {extract:7.2f} | "
              f"{detect + extract:7.2f}")
    print(f"detect + extract with sleeping threads: {medians[True] / medians[False]:.2f}x as fast")
    return 0


if __name__ == "__main__":
    sys.exit(main())
