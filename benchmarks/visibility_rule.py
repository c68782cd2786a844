"""Part-visibility rules compared on worlds held out from their fit: two-fold cross-validation over
synthetic worlds, printed side by side.

    python benchmarks/visibility_rule.py --checkpoint models/bpsema_small_synthetic.pt \
        --data-root W0 --data-root W1 ... [--below-visibility 0.7]

The worlds are cut into two halves (the first and the second half of the ``--data-root`` list).
Every variant is fitted (``reid.visibility_calibration.fit_visibility_classifier``, balanced class
weights, ``--l2``) on one half and judged on the other half's occluded queries, then the other way
round. Variants: what the classifiers read (the ``probability`` maps or their ``log_probability``)
times what they are fitted on (the occluded ``queries`` alone, or every crop whose annotated visible
share is below ``--below-visibility``: ``occluded crops`` of the train, query and gallery splits).
Printed per variant: the mean over held-out worlds of each world's mean per-part balanced
accuracy, the worst world's, and the per-part balanced accuracy over all held-out queries pooled.
The network runs once per crop; the fits take seconds.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY_ROOT))  # runnable from a checkout without installing it

FITTING_SETS = ("queries", "occluded crops")


@dataclass
class WorldMaps:
    """One world's probability maps [N, K+1, h, w] and label visibility bool [N, K]: its occluded
    queries, and its other occluded crops (train and gallery splits)."""

    name: str
    query_maps: object
    query_truth: object
    other_maps: object
    other_truth: object


def world_maps(model, root: Path, below_visibility: float) -> WorldMaps:
    import torch

    from reid.errors import UserError
    from train.datasets import load_dataset, samples_below_visibility
    from train.part_visibility import concatenated_test_outputs, label_visibility
    from train.trainer import augmentation_settings

    dataset = load_dataset("synthetic_occluded", root)
    settings = augmentation_settings(model.config)
    parts = []
    for samples in (dataset.query, samples_below_visibility(dataset, ["train", "gallery"], below_visibility)):
        if not samples:  # e.g. a world whose train and gallery crops are all holistic
            parts += [torch.zeros(0), torch.zeros(0, model.num_parts, dtype=torch.bool)]
            continue
        truth = label_visibility(samples, model.num_parts, dataset.name)
        if truth is None:
            raise UserError(f"{root}: the crops have no part-label files")
        maps = concatenated_test_outputs(model, samples, settings, lambda output: output.part_attention,
                                         root.name, progress=False)
        parts += [maps, truth]
    return WorldMaps(root.name, *parts)


def fit_and_judge(train: list[WorldMaps], test: list[WorldMaps], classifier_input: str, fitting_set: str, l2: float):
    """Fit on ``train``, judge on ``test``'s queries: (per-world mean balanced accuracy [W],
    pooled per-part balanced accuracy [K])."""
    import torch

    from reid.modules.part_visibility_classifier import visibility_classifier_features
    from reid.visibility_calibration import balanced_accuracy, fit_visibility_classifier

    maps = [world.query_maps for world in train]
    truth = [world.query_truth for world in train]
    if fitting_set == "occluded crops":
        maps += [world.other_maps for world in train if len(world.other_maps)]
        truth += [world.other_truth for world in train if len(world.other_maps)]
    features = visibility_classifier_features(torch.cat(maps), classifier_input)
    weight, bias = fit_visibility_classifier(features, torch.cat(truth), l2=l2)

    def predict(world_maps):
        return visibility_classifier_features(world_maps, classifier_input) @ weight.T + bias >= 0

    per_world = torch.stack([balanced_accuracy(predict(world.query_maps), world.query_truth).nanmean() for world in test])
    pooled = balanced_accuracy(torch.cat([predict(world.query_maps) for world in test]),
                               torch.cat([world.query_truth for world in test]))
    return per_world, pooled, len(features)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(REPOSITORY_ROOT / "models/bpsema_small_synthetic.pt"))
    parser.add_argument("--data-root", action="append", required=True, type=Path,
                        help="a synthetic world (repeatable; at least 2, cut into two halves in the order given)")
    parser.add_argument("--below-visibility", type=float, default=0.7,
                        help="occluded crops: annotated visible share below this (default 0.7, the worlds' query rule)")
    parser.add_argument("--l2", type=float, help="L2 penalty of the classifiers (default: the fitting default)")
    arguments = parser.parse_args(argv)
    if len(arguments.data_root) < 2:
        parser.error("give at least two --data-root worlds (one per half)")

    import torch

    from reid.checkpoint import load_model
    from reid.cpu_cores import cpu_core_count
    from reid.modules.part_visibility_classifier import CLASSIFIER_INPUTS
    from reid.visibility_calibration import DEFAULT_CLASSIFIER_L2

    torch.set_num_threads(cpu_core_count())
    l2 = arguments.l2 or DEFAULT_CLASSIFIER_L2
    model = load_model(arguments.checkpoint).eval()
    if not hasattr(model, "visibility_classifier"):
        print("note: the checkpoint has no classifier rule; its maps are used all the same")
    worlds = []
    for root in arguments.data_root:
        with torch.no_grad():
            worlds.append(world_maps(model, root, arguments.below_visibility))
        print(f"{root}: {len(worlds[-1].query_truth)} occluded queries, {len(worlds[-1].other_truth)} other occluded crops",
              flush=True)
    half = len(worlds) // 2
    folds = ((worlds[:half], worlds[half:]), (worlds[half:], worlds[:half]))
    print(f"\ntwo folds of {half} / {len(worlds) - half} worlds; L2 {l2:g}; balanced accuracy on the held-out worlds' "
          "occluded queries (%)")
    header = (f"{'reads':<16} {'fitted on':<15} | {'crops':>11} | {'world mean':>10} | {'worst world':>11} | pooled: "
              + " ".join(f"{name[:7]:>7}" for name in model.part_names) + " |    mean")
    print(header)
    for classifier_input in CLASSIFIER_INPUTS:
        for fitting_set in FITTING_SETS:
            results = [fit_and_judge(train, test, classifier_input, fitting_set, l2) for train, test in folds]
            per_world = torch.cat([result[0] for result in results])
            pooled = torch.stack([result[1] for result in results]).mean(dim=0)
            crops = "/".join(str(result[2]) for result in results)
            print(f"{classifier_input:<16} {fitting_set:<15} | {crops:>11} | {100 * per_world.mean():10.1f} | "
                  f"{100 * per_world.min():11.1f} | pooled: " + " ".join(f"{100 * value:7.1f}" for value in pooled)
                  + f" | {100 * pooled.mean():7.1f}", flush=True)
    return 0


if __name__ == "__main__":
    from reid.errors import run_command_line

    sys.exit(run_command_line(main))
