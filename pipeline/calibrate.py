"""python -m pipeline.calibrate --reid MODEL --dataset NAME --data-root DIR [--false-match-rate F]"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from reid.errors import run_command_line


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.calibration import DEFAULT_FALSE_MATCH_RATE

    parser = argparse.ArgumentParser(prog="python -m pipeline.calibrate", description="Calibrate association thresholds for a model.")
    parser.add_argument("--reid", required=True, help="checkpoint (.pt), .onnx or .engine")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--false-match-rate", type=float, default=DEFAULT_FALSE_MATCH_RATE)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user-facing errors")
    arguments = parser.parse_args(argv)

    from pipeline.calibration import calibrate, write_calibration
    from reid.runtime import load_extractor
    from train.datasets import load_dataset

    dataset = load_dataset(arguments.dataset, arguments.data_root)
    extractor = load_extractor(arguments.reid)
    calibration = calibrate(extractor, dataset.query + dataset.gallery, dataset.name, arguments.false_match_rate)
    path = write_calibration(arguments.reid, calibration)
    for mode, threshold in calibration.thresholds.items():
        print(f"{mode:>14}: threshold {threshold:.3f} (same-identity median {calibration.same_identity_median[mode]:.3f}, "
              f"different-identity median {calibration.different_identity_median[mode]:.3f})")
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command_line(main))
