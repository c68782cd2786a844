"""User-facing failures: one clear line and exit code 2, a traceback only with ``--debug``."""

from __future__ import annotations

import sys
import traceback
from typing import Callable, Sequence


class UserError(Exception):
    """A failure the user can fix (bad input, missing file, weights not available offline).

    Its message is printed as one line; command-line entry points exit with code 2.
    """


EXIT_USER_ERROR = 2


def run_command_line(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run a CLI ``main(argv)``; turn ``UserError`` into one line on stderr and exit code 2.

    ``--debug`` anywhere in argv is removed before ``main`` sees it and makes the traceback visible.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments
    arguments = [argument for argument in arguments if argument != "--debug"]
    try:
        code = main(arguments)
    except UserError as error:
        if debug:
            traceback.print_exc()
        message = " ".join(str(error).split())
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(code or 0)
