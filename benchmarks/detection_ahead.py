"""The demo's pipeline with YOLO detecting one step ahead in a thread, against one stage after the other.

    python benchmarks/detection_ahead.py [--steps 200] [--rounds 1]

Runs the demo's first ``--steps`` steps (the demo world, its config, its YOLO and the part model the
demo runs on this machine; no videos written) with ``detector.run_ahead`` off and on, alternated
``--rounds`` times, and prints the wall seconds of each (median of the rounds), their ratio, and
whether both runs gave the same number of tracks and identities. ``pipeline.detection_ahead`` says why it helps on a small CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))  # runnable from a checkout without installing it


def timed_run(run_ahead: bool, steps: int):
    """(wall seconds, tracks, identities, busy seconds per stage) of one run of the demo's first ``steps`` steps."""
    from benchmarks.pipeline import demo_run

    summary, _ = demo_run(steps, run_ahead)
    return summary.seconds, summary.tracks, summary.identities, summary.stage_seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="time steps of the demo (3 frames each)")
    parser.add_argument("--rounds", type=int, default=1, help="alternated rounds; the median is printed")
    arguments = parser.parse_args()
    if arguments.steps < 1 or arguments.rounds < 1:
        print("error: --steps and --rounds must be at least 1", file=sys.stderr)
        return 2
    from reid.log_levels import set_verbosity

    set_verbosity("quiet")
    from benchmarks.pipeline import run_details, tracks_and_identities_agree
    from benchmarks.rounds import alternated_rounds

    results = alternated_rounds((False, True), arguments.rounds, lambda run_ahead: timed_run(run_ahead, arguments.steps))
    seconds = {mode: statistics.median(run[0] for run in runs) for mode, runs in results.items()}

    for mode, label in ((False, "one stage after the other"), (True, "detection one step ahead")):
        print(f"{label:<26} {seconds[mode]:7.1f} s  {run_details(results[mode][-1])}")
    print(f"ahead / plain: {seconds[True] / seconds[False]:.2f}x the time over {arguments.steps} steps; "
          f"tracks and identities {tracks_and_identities_agree(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
