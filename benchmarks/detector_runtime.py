"""The demo's pipeline with YOLO on ultralytics' PyTorch predictor against our ONNX Runtime session.

    python benchmarks/detector_runtime.py [--steps 200] [--rounds 2] [--threads 1,2]

Runs the demo's first ``--steps`` steps (the demo world, its config, YOLO and the part model the demo
runs on this machine; no videos written) with ``detector.runtime: ultralytics`` (PyTorch) and
``onnxruntime`` (``pipeline.detector_onnxruntime``), detection one step ahead in a thread (the demo's
way) and, for ONNX Runtime, with each thread count of ``--threads`` for the detector running ahead
(``pipeline.runner.DETECTOR_THREADS_AHEAD``). The variants alternate within each round so that a slow
spell of a shared machine hits all of them; the wall seconds printed are the median of the rounds.
Both runtimes give the same boxes, so tracks and identities must agree (printed).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))  # runnable from a checkout without installing it


def timed_run(runtime: str, threads: int, steps: int):
    """(wall seconds, tracks, identities, busy seconds per stage) of one run of the demo's first steps."""
    import pipeline.runner
    from benchmarks.pipeline import demo_run

    pipeline.runner.DETECTOR_THREADS_AHEAD = threads
    summary, _ = demo_run(steps, run_ahead=True, detector_runtime=runtime)
    return summary.seconds, summary.tracks, summary.identities, summary.stage_seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="time steps of the demo (3 frames each)")
    parser.add_argument("--rounds", type=int, default=2, help="alternated rounds; the median is printed")
    parser.add_argument("--threads", default="1,2", help="comma-separated ONNX Runtime threads of the detector ahead")
    arguments = parser.parse_args()
    try:
        thread_counts = [int(value) for value in arguments.threads.split(",")]
    except ValueError:
        print(f"error: --threads takes comma-separated integers, got {arguments.threads!r}", file=sys.stderr)
        return 2
    if arguments.steps < 1 or arguments.rounds < 1 or min(thread_counts) < 1:
        print("error: --steps, --rounds and --threads must be at least 1", file=sys.stderr)
        return 2
    from pipeline.runner import DETECTOR_THREADS_AHEAD
    from reid.log_levels import set_verbosity

    set_verbosity("quiet")
    variants = [("ultralytics", DETECTOR_THREADS_AHEAD)] + [("onnxruntime", threads) for threads in thread_counts]
    from benchmarks.pipeline import run_details, tracks_and_identities_agree
    from benchmarks.rounds import alternated_rounds

    results = alternated_rounds(variants, arguments.rounds, lambda variant: timed_run(*variant, arguments.steps))

    baseline = statistics.median(run[0] for run in results[variants[0]])
    for (runtime, threads), runs in results.items():
        seconds = statistics.median(run[0] for run in runs)
        label = "ultralytics (PyTorch, 1 torch thread)" if runtime == "ultralytics" else f"onnxruntime, {threads} thread(s)"
        print(f"{label:<38} {seconds:7.1f} s  {baseline / seconds:4.2f}x  {run_details(runs[-1])}")
    print(f"{arguments.steps} steps x {arguments.rounds} rounds; tracks and identities "
          f"{tracks_and_identities_agree(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
