"""What the synthetic generators' command lines share."""

from __future__ import annotations

import argparse
import sys


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument error is one line on stderr and exit code 2 (argparse would print the usage first)."""

    def error(self, message: str):
        print(f"error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)
