"""python -m train.calibrate_visibility --checkpoint FILE --dataset NAME --data-root DIR [--data-root DIR ...]
[--rule calibrated|classifier] [--split train query gallery] [--below-visibility 0.7]
[--classifier-input log_probability] [--score attention_mass]

Fits the visibility rule of a checkpoint on labelled crops and writes it into the checkpoint in
place (a training checkpoint keeps its training state): per-part thresholds on one score
(``--rule calibrated``, the default for a checkpoint that has no fitted rule yet) or per-part
linear classifiers over the pixel classifier's probability maps or their logarithm (``--rule
classifier``, ``--classifier-input``). The crops come from the named splits (``--split``, default
``train``) of every ``--data-root`` (worlds or corpora of a training seed namespace), only those
whose annotated visible share is below ``--below-visibility`` when it is given (the worlds' own
rule for occluded queries is 0.7), at most ``--max-samples`` drawn reproducibly. ``--score`` sets
the score the thresholds apply to. Prints the per-part balanced accuracy on the crops used.
"""

from __future__ import annotations

import argparse
import sys
import typing
from pathlib import Path
from typing import Sequence

from reid.config import VisibilityClassifierInput
from reid.errors import UserError, run_command_line

SCORES = ("max_probability", "attention_mass")
RULES = ("calibrated", "classifier")
SPLITS = ("train", "query", "gallery")
CLASSIFIER_INPUTS = typing.get_args(VisibilityClassifierInput)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.calibrate_visibility", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path, help="checkpoint to calibrate (rewritten in place)")
    parser.add_argument("--dataset", required=True, help="dataset whose training split has part labels, e.g. synthetic_occluded")
    parser.add_argument("--data-root", required=True, action="append",
                        help="directory holding the dataset folder (or a corpus/world); repeatable")
    parser.add_argument("--rule", choices=RULES, help="visibility rule to fit (default: the checkpoint's fitted "
                        "rule, else calibrated)")
    parser.add_argument("--split", choices=SPLITS, nargs="+", default=["train"],
                        help="which splits' crops to fit on (default train)")
    parser.add_argument("--below-visibility", type=float, metavar="V",
                        help="only crops whose annotations.csv gives a visible share below V (synthetic worlds "
                        "and corpora), e.g. 0.7: the worlds' occluded crops")
    parser.add_argument("--classifier-input", choices=CLASSIFIER_INPUTS,
                        help="with --rule classifier: what the classifiers read, the probability maps or their "
                        "logarithm (default: the checkpoint's setting, else probability)")
    parser.add_argument("--classifier-l2", type=float,
                        help="with --rule classifier: L2 penalty of the classifiers' weights (default: "
                        "reid.visibility_calibration.DEFAULT_CLASSIFIER_L2)")
    parser.add_argument("--score", choices=SCORES, help="score to threshold (default: the checkpoint's)")
    parser.add_argument("--max-samples", type=int, default=4000, help="training crops drawn reproducibly (default 4000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of that draw (default 0)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user-facing errors")
    arguments = parser.parse_args(argv)
    if arguments.max_samples < 50:
        raise UserError(f"--max-samples must be at least 50, got {arguments.max_samples}")
    if arguments.classifier_l2 is not None and not arguments.classifier_l2 > 0:
        raise UserError(f"--classifier-l2 must be positive, got {arguments.classifier_l2}")
    if arguments.below_visibility is not None and not 0 < arguments.below_visibility <= 1:
        raise UserError(f"--below-visibility must be in (0, 1], got {arguments.below_visibility}")

    import torch

    from reid.checkpoint import read_checkpoint, save_checkpoint, save_inference_checkpoint
    from reid.config import config_from_dict
    from reid.model import BPSEMA, VISIBILITY_RULE_KEYS
    from reid.visibility_calibration import DEFAULT_CLASSIFIER_L2
    from train.datasets import load_dataset, samples_below_visibility
    from train.part_visibility import calibrate_visibility
    from train.trainer import augmentation_settings

    payload = read_checkpoint(arguments.checkpoint)
    datasets = [load_dataset(arguments.dataset, root) for root in arguments.data_root]
    splits = list(dict.fromkeys(arguments.split))
    samples = [sample for dataset in datasets for split in splits for sample in getattr(dataset, split)]
    if arguments.below_visibility is not None:
        samples = [sample for dataset in datasets
                   for sample in samples_below_visibility(dataset, splits, arguments.below_visibility)]
    what = " + ".join(splits) + (f" (visible share below {arguments.below_visibility:g})"
                                 if arguments.below_visibility is not None else "")
    if not samples:
        raise UserError(f"dataset '{arguments.dataset}' has no {what} crops to calibrate on")
    config = config_from_dict(payload["config"], source=str(arguments.checkpoint))
    fitted_rule = config.model.visibility if config.model.visibility in RULES else "calibrated"
    config.model.visibility = arguments.rule or fitted_rule
    if arguments.classifier_input is not None:
        if config.model.visibility != "classifier":
            raise UserError("--classifier-input applies to --rule classifier only")
        config.model.visibility_classifier_input = arguments.classifier_input
    if arguments.score:
        config.model.visibility_score = arguments.score
    model = BPSEMA(config, pretrained=False, num_classes=payload["num_classes"])
    reference = model.state_dict()
    weights = {key: value.float() if value.is_floating_point() else value for key, value in payload["model"].items()
               if not key.startswith(VISIBILITY_RULE_KEYS) or key in reference}  # a switched rule drops the old one's
    for key in reference:
        if key.startswith(VISIBILITY_RULE_KEYS):
            weights.setdefault(key, reference[key].clone())
    model.load_state_dict(weights, strict=not payload.get("inference_only"))
    model.eval()
    with torch.no_grad():  # not torch.set_grad_enabled(False): main() must not leave autograd off for its caller
        report = calibrate_visibility(model, samples, augmentation_settings(config), datasets[0].name,
                                      max_samples=arguments.max_samples, seed=arguments.seed,
                                      classifier_l2=arguments.classifier_l2 or DEFAULT_CLASSIFIER_L2)
    print(report.table())
    print(f"fitted on {min(len(samples), arguments.max_samples)} {what} crops of {len(datasets)} dataset(s)"
          + (f", reading the {config.model.visibility_classifier_input.replace('_', ' ')}"
             if config.model.visibility == "classifier" else ""))
    if config.model.visibility == "calibrated":
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
