"""python -m train --config FILE --data-root DIR [--dataset NAME] [--output DIR] [--epochs N] [--resume]
[--initial-weights CHECKPOINT]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from reid.errors import UserError, run_command_line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train", description="Train a BPSEMA model.")
    parser.add_argument("--config", help="model/training YAML (not needed with --resume)")
    parser.add_argument("--data-root", required=True, help="directory holding the dataset folder (or a synthetic world)")
    parser.add_argument("--dataset", help="dataset name (default: the config's train.dataset)")
    parser.add_argument("--test-dataset", help="evaluate on this dataset instead (default: train.test_dataset or --dataset)")
    parser.add_argument("--output", default="runs/train", help="where checkpoints, logs and results go")
    parser.add_argument("--epochs", type=int, help="override train.epochs")
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                        help="override one setting of --config by its dotted key, the value read as YAML "
                             "(repeatable), e.g. --set input.height=256 --set input.width=128")
    parser.add_argument("--resume", action="store_true", help="continue from OUTPUT/last.pt")
    parser.add_argument("--initial-weights", metavar="CHECKPOINT",
                        help="fine-tune: start from this checkpoint's network weights (overrides train.initial_weights)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--workers", type=int, help="data-loading workers (default: train.num_workers)")
    parser.add_argument("--no-evaluate", action="store_true", help="skip the evaluation at the end")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user-facing errors")
    arguments = parser.parse_args(argv)

    from reid.checkpoint import checkpoint_config, read_checkpoint
    from reid.config import load_config
    from train.datasets import load_dataset
    from train.trainer import Trainer

    output = Path(arguments.output)
    if arguments.resume:
        if arguments.overrides:
            raise UserError("--set changes a new run's config; --resume continues with the run's own")
        last = output / "last.pt"
        config = checkpoint_config(read_checkpoint(last), source=str(last))
    elif arguments.config:
        config = load_config(arguments.config, arguments.overrides)
    else:
        raise UserError("--config is required (or --resume with an existing OUTPUT/last.pt)")
    if arguments.epochs is not None:
        if arguments.epochs <= 0:
            raise UserError(f"--epochs must be positive, got {arguments.epochs}")
        config.train.epochs = arguments.epochs
    if arguments.initial_weights:
        if arguments.resume:
            raise UserError("--initial-weights starts a new run; --resume continues one (give one of them)")
        config.train.initial_weights = arguments.initial_weights
    if arguments.dataset:
        config.train.dataset = arguments.dataset
    if arguments.test_dataset:
        config.train.test_dataset = arguments.test_dataset

    dataset = load_dataset(config.train.dataset, arguments.data_root)
    print(dataset.summary(), flush=True)
    test_dataset = None
    if config.train.test_dataset and config.train.test_dataset != config.train.dataset:
        test_dataset = load_dataset(config.train.test_dataset, arguments.data_root)
        print(test_dataset.summary(), flush=True)

    trainer = Trainer(config, dataset, output, test_dataset, device=arguments.device, num_workers=arguments.workers,
                      load_initial_weights=not arguments.resume)
    if arguments.resume:
        start = trainer.resume()
        print(f"resuming after epoch {start} from {output / 'last.pt'}", flush=True)
    trainer.fit(config.train.epochs, evaluate_at_end=not arguments.no_evaluate)
    print(f"checkpoint: {output / 'last.pt'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command_line(main))
