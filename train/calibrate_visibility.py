"""python -m train.calibrate_visibility --checkpoint FILE --dataset NAME --data-root DIR [--score attention_mass]

Fits the per-part visibility thresholds of a checkpoint (``visibility: calibrated``; a checkpoint
with another rule is switched to it) on labelled training crops and writes them into the
checkpoint in place (a training checkpoint keeps its training state). ``--score`` also sets the
score the thresholds apply to. Prints the per-part balanced accuracy on the crops used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from reid.errors import UserError, run_command_line

SCORES = ("max_probability", "attention_mass")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.calibrate_visibility", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path, help="checkpoint to calibrate (rewritten in place)")
    parser.add_argument("--dataset", required=True, help="dataset whose training split has part labels, e.g. synthetic_occluded")
    parser.add_argument("--data-root", required=True, help="directory holding the dataset folder (or a corpus/world)")
    parser.add_argument("--score", choices=SCORES, help="score to threshold (default: the checkpoint's)")
    parser.add_argument("--max-samples", type=int, default=4000, help="training crops drawn reproducibly (default 4000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of that draw (default 0)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user-facing errors")
    arguments = parser.parse_args(argv)
    if arguments.max_samples < 50:
        raise UserError(f"--max-samples must be at least 50, got {arguments.max_samples}")

    import torch

    from reid.checkpoint import read_checkpoint, save_checkpoint, save_inference_checkpoint
    from reid.config import config_from_dict
    from reid.model import BPSEMA
    from train.datasets import load_dataset
    from train.part_visibility import calibrate_visibility
    from train.trainer import augmentation_settings

    payload = read_checkpoint(arguments.checkpoint)
    dataset = load_dataset(arguments.dataset, arguments.data_root)
    if not dataset.train:
        raise UserError(f"dataset '{arguments.dataset}' has no training split to calibrate on")
    config = config_from_dict(payload["config"], source=str(arguments.checkpoint))
    config.model.visibility = "calibrated"
    if arguments.score:
        config.model.visibility_score = arguments.score
    model = BPSEMA(config, pretrained=False, num_classes=payload["num_classes"])
    weights = {key: value.float() if value.is_floating_point() else value for key, value in payload["model"].items()}
    weights.setdefault("visibility_thresholds", model.visibility_thresholds.clone())
    model.load_state_dict(weights, strict=not payload.get("inference_only"))
    model.eval()
    torch.set_grad_enabled(False)
    report = calibrate_visibility(model, dataset.train, augmentation_settings(config), dataset.name,
                                  max_samples=arguments.max_samples, seed=arguments.seed)
    print(report.table())
    print("thresholds:", ", ".join(f"{name} {value:.4f}" for name, value in zip(model.part_names, model.visibility_thresholds.tolist())))
    epoch = int(payload.get("epoch", 0))
    if payload.get("inference_only"):
        save_inference_checkpoint(arguments.checkpoint, model, epoch=epoch)
    else:
        save_checkpoint(arguments.checkpoint, model, epoch=epoch, training=payload.get("training"))
    print(f"written to {arguments.checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command_line(main))
