"""python -m train.evaluate --checkpoint FILE --dataset NAME --data-root DIR [--json FILE]"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from reid.help_format import DefaultsHelpFormatter
from reid.errors import run_command_line


def main(argv: Sequence[str] | None = None) -> int:
    from train.datasets import DATASETS  # light: no torch

    names = ", ".join(f"{name} ({layout.directory}/)" for name, layout in DATASETS.items())
    parser = argparse.ArgumentParser(
        prog="python -m train.evaluate",
        description="Evaluate a checkpoint on a ReID dataset's query and gallery (Market-1501 protocol: Rank-1/5/10, "
                    "mAP), by visible-part distance and by the global embedding.",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("--checkpoint", required=True, metavar="FILE", help="a checkpoint written by python -m train")
    parser.add_argument("--dataset", required=True, metavar="NAME", choices=list(DATASETS),
                        help=f"one of: {names}")
    parser.add_argument("--data-root", required=True, metavar="DIR",
                        help="the directory holding the dataset's folder (for synthetic: a world or corpus directory)")
    parser.add_argument("--json", metavar="FILE", help="also write the results here as JSON")
    parser.add_argument("--batch-size", type=int, default=64, help="crops per forward pass")
    parser.add_argument("--workers", type=int, default=2, help="data loader processes")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user-facing errors")
    arguments = parser.parse_args(argv)

    import torch

    from reid.checkpoint import load_model
    from train.datasets import load_dataset
    from train.evaluation import evaluate_model
    from train.trainer import augmentation_settings

    model = load_model(arguments.checkpoint)
    device = arguments.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    dataset = load_dataset(arguments.dataset, arguments.data_root)
    print(dataset.summary(), flush=True)
    report = evaluate_model(
        model, dataset, augmentation_settings(model.config), batch_size=arguments.batch_size, num_workers=arguments.workers
    )
    print(report.table())
    if arguments.json:
        report.write_json(arguments.json)
        print(f"results written to {arguments.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command_line(main))
