"""Retrieval quality of a part model beside the colour-histogram floor, and its part visibility
against the crops' labels, on the same query/gallery sets of synthetic worlds.

    python benchmarks/reid_quality.py --checkpoint models/bpsema_small_synthetic.pt --world DIR [--world DIR ...]
    python benchmarks/reid_quality.py --checkpoint FILE --seed 90001 --cameras 4 --identities 50   # a fresh world

For every world: holistic queries (its ``reid/`` set, DukeMTMC-reID manner) and occluded queries
(``reid_occluded/``, Occluded-Duke manner). Rows: the model with the visible-part distance, the
model's global (average-pooled) embedding alone, and the colour histogram
(``train.colour_histogram_baseline``), under the Market-1501 protocol. Then, on the occluded
queries, the per-part balanced accuracy of the predicted visibility against the parts visible in
each crop's label file (grouped field >= 0.5 somewhere). ``--json`` writes everything.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY_ROOT))  # runnable from a checkout without installing it

QUERY_SETS = (("holistic", "synthetic"), ("occluded", "synthetic_occluded"))


def _fresh_world(seed: int, cameras: int, identities: int, directory: Path) -> Path:
    from pipeline.synthetic import WorldConfig, generate_world

    config = WorldConfig(cameras=cameras, identities=identities, seconds=60, fps=10, seed=seed, write_videos=False)
    generate_world(directory, config, progress=False, workers=None)
    return directory


def evaluate_world(model, world: Path, progress: bool = False) -> dict:
    from train.datasets import load_dataset
    from train.evaluation import evaluate_colour_histogram, evaluate_model
    from train.trainer import augmentation_settings

    settings = augmentation_settings(model.config)
    result = {}
    for query_kind, dataset_name in QUERY_SETS:
        dataset = load_dataset(dataset_name, world)
        report = evaluate_model(model, dataset, settings, progress=progress)
        histogram = evaluate_colour_histogram(dataset)
        result[query_kind] = {
            "queries": report.num_query,
            "gallery": report.num_gallery,
            "visible_parts": {"rank1": report.visible_parts.rank1, "mAP": report.visible_parts.mAP},
            "global": {"rank1": report.global_.rank1, "mAP": report.global_.mAP},
            "colour_histogram": {"rank1": histogram.rank1, "mAP": histogram.mAP},
        }
        if query_kind == "occluded" and report.query_part_visibility is not None:
            result["occluded_part_visibility"] = report.query_part_visibility.to_json_dict()
    return result


def print_world(name: str, result: dict) -> None:
    print(f"\n{name}")
    print(f"  {'queries':<10} | {'n':>4} | {'visible parts R1/mAP':>21} | {'global R1/mAP':>14} | {'histogram R1/mAP':>17}")
    for query_kind, _ in QUERY_SETS:
        row = result[query_kind]
        cells = [f"{100 * row[k]['rank1']:5.1f} / {100 * row[k]['mAP']:5.1f}" for k in ("visible_parts", "global", "colour_histogram")]
        print(f"  {query_kind:<10} | {row['queries']:4d} | {cells[0]:>21} | {cells[1]:>14} | {cells[2]:>17}")
    visibility = result.get("occluded_part_visibility")
    if visibility:
        print(f"  part visibility on occluded queries: mean balanced accuracy {100 * visibility['mean_balanced_accuracy']:.1f} %")
        for part, values in visibility["parts"].items():
            print(f"    {part:<14} balanced accuracy {100 * values['balanced_accuracy']:5.1f} %"
                  f"  (labelled visible {100 * values['label_visible']:5.1f} %, predicted {100 * values['predicted_visible']:5.1f} %)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a BPSEMA checkpoint")
    parser.add_argument("--world", action="append", default=[], help="a synthetic world directory (repeatable)")
    parser.add_argument("--seed", type=int, default=90001, help="seed of a fresh world when no --world is given")
    parser.add_argument("--cameras", type=int, default=4, help="cameras of the fresh world (default 4)")
    parser.add_argument("--identities", type=int, default=50, help="people of the fresh world (default 50)")
    parser.add_argument("--json", help="write the results here")
    arguments = parser.parse_args(argv)

    import torch

    from reid.checkpoint import load_model

    model = load_model(arguments.checkpoint)
    results = {}
    with torch.no_grad(), tempfile.TemporaryDirectory() as temporary:
        worlds = [Path(w) for w in arguments.world] or [
            _fresh_world(arguments.seed, arguments.cameras, arguments.identities, Path(temporary) / "world")
        ]
        for world in worlds:
            results[str(world)] = evaluate_world(model, world)
            print_world(str(world), results[str(world)])
    if arguments.json:
        Path(arguments.json).write_text(json.dumps({"checkpoint": arguments.checkpoint, "worlds": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
