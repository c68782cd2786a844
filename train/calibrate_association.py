"""python -m train.calibrate_association --reid MODEL --dataset NAME --data-root DIR [--false-match-rate F]
[--tracklet-false-match-rate F] [--tracklet-size N]"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from reid.errors import run_command_line


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.calibration import DEFAULT_FALSE_MATCH_RATE, DEFAULT_TRACKLET_FALSE_MATCH_RATE, DEFAULT_TRACKLET_SIZE

    parser = argparse.ArgumentParser(prog="python -m train.calibrate_association", description="Calibrate the association's thresholds for a part model on a ReID dataset (writes MODEL.calibration.json).")
    parser.add_argument("--reid", required=True, help="checkpoint (.pt), .onnx or .engine")
    parser.add_argument("--dataset", required=True, metavar="NAME",
                        help="a ReID dataset name of python -m train.evaluate (e.g. synthetic_occluded)")
    parser.add_argument("--data-root", required=True, metavar="DIR",
                        help="the directory holding the dataset (a world or a corpus for the synthetic ones)")
    parser.add_argument("--false-match-rate", type=float, default=DEFAULT_FALSE_MATCH_RATE,
                        help=f"image pairs of different people under the image threshold (default {DEFAULT_FALSE_MATCH_RATE})")
    parser.add_argument("--tracklet-false-match-rate", type=float, default=DEFAULT_TRACKLET_FALSE_MATCH_RATE,
                        help="tracklet pairs of different people under the association's thresholds "
                             f"(default {DEFAULT_TRACKLET_FALSE_MATCH_RATE})")
    parser.add_argument("--tracklet-size", type=int, default=DEFAULT_TRACKLET_SIZE,
                        help=f"images per pseudo-tracklet (default {DEFAULT_TRACKLET_SIZE})")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user-facing errors")
    arguments = parser.parse_args(argv)

    from pipeline.calibration import calibrate, write_calibration
    from reid.runtime import load_extractor
    from train.datasets import load_dataset

    dataset = load_dataset(arguments.dataset, arguments.data_root)
    extractor = load_extractor(arguments.reid)
    calibration = calibrate(
        extractor, dataset.query + dataset.gallery, dataset.name, arguments.false_match_rate,
        arguments.tracklet_false_match_rate, arguments.tracklet_size,
    )
    path = write_calibration(arguments.reid, calibration)
    for mode, threshold in calibration.thresholds.items():
        print(f"{mode:>14}: threshold {threshold:.3f} (same-identity median {calibration.same_identity_median[mode]:.3f}, "
              f"different-identity median {calibration.different_identity_median[mode]:.3f})")
    for mode, thresholds in calibration.tracklet_thresholds_by_shared.items():
        shown = ", ".join(f"{value:.3f}" for value in thresholds)
        print(f"{mode:>14}: tracklet thresholds by shared embeddings [{shown}] "
              f"(same person, other camera, accepted: {100 * calibration.tracklet_same_identity_recall[mode]:.1f}% "
              f"of {calibration.tracklets} tracklets' pairs)")
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command_line(main))
