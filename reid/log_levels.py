"""How much a command prints, for our own lines and for the libraries' loggers (BoxMOT, ultralytics).

    quiet    our results and warnings only; the libraries' warnings and errors
    normal   + what the run is doing (start-up lines, progress on a terminal); the libraries' warnings
    verbose  + the libraries' INFO lines (BoxMOT's tracker settings, ultralytics' model summaries)
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

Verbosity = Literal["quiet", "normal", "verbose"]
LIBRARY_LOGGERS = ("boxmot", "ultralytics")
_LIBRARY_LEVELS = {"quiet": logging.ERROR, "normal": logging.WARNING, "verbose": logging.INFO}
_current: Verbosity = "normal"


def verbosity_from_flags(quiet: bool, verbose: bool) -> Verbosity:
    return "quiet" if quiet else "verbose" if verbose else "normal"


def set_verbosity(verbosity: Verbosity, import_libraries: bool = True) -> None:
    """Set our level and the libraries' loggers. Both libraries set their logger's level when first
    imported, so ``import_libraries`` imports them first (a run uses them anyway)."""
    global _current
    if verbosity not in _LIBRARY_LEVELS:
        raise ValueError(f"unknown verbosity {verbosity!r}")
    _current = verbosity
    if import_libraries:
        for name in LIBRARY_LOGGERS:
            try:
                __import__(f"{name}.utils")
            except ImportError:  # pragma: no cover - both are project dependencies
                pass
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(_LIBRARY_LEVELS[verbosity])


def current_verbosity() -> Verbosity:
    return _current


def say(message: str, *, error_stream: bool = False) -> None:
    """A line about what the run is doing (not a result): shown unless quiet."""
    if _current != "quiet":
        print(message, file=sys.stderr if error_stream else sys.stdout, flush=True)
