"""python -m train.ship --checkpoint runs/x/last.pt --out models/NAME.pt

Writes the inference-only copy of a training checkpoint (``reid.checkpoint.save_inference_checkpoint``):
fp16 weights, no identity classifiers, no optimiser state; it loads everywhere a checkpoint does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from reid.errors import UserError, run_command_line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.ship", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path, help="a training checkpoint (e.g. runs/x/last.pt)")
    parser.add_argument("--out", required=True, type=Path, help="where to write the inference-only checkpoint")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user-facing errors")
    arguments = parser.parse_args(argv)
    if arguments.out.resolve() == arguments.checkpoint.resolve():
        raise UserError("--out must differ from --checkpoint (the training checkpoint is kept)")

    from reid.checkpoint import load_model, read_checkpoint, save_inference_checkpoint

    epoch = int(read_checkpoint(arguments.checkpoint).get("epoch", 0))
    model = load_model(arguments.checkpoint)
    path = save_inference_checkpoint(arguments.out, model, epoch=epoch)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, epoch {epoch}, inference only)")
    return 0


if __name__ == "__main__":
    sys.exit(run_command_line(main))
