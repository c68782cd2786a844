#!/usr/bin/env python
"""Multi-camera occluded person re-identification pipeline: command-line entry point.

Until the offline pipeline lands, this runs the BPSEMA model's self-check on random input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from reid.errors import run_command_line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_pipeline.py", description=__doc__.splitlines()[0])
    parser.add_argument("--selfcheck", action="store_true", help="build the model and run it on random input")
    parser.add_argument("--config", default=None, help="model YAML for --selfcheck (default: the small CPU model)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user-facing errors")
    arguments = parser.parse_args(argv)
    if not arguments.selfcheck:
        parser.print_help()
        return 0
    from reid.selfcheck import DEFAULT_CONFIG, run_selfcheck

    summary = run_selfcheck(arguments.config or DEFAULT_CONFIG)
    for key, value in summary.items():
        print(f"{key:>20}: {value}")
    print("self-check passed")
    return 0


if __name__ == "__main__":
    sys.exit(run_command_line(main))
