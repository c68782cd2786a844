"""How much a command prints, for our own lines and for the libraries' loggers (BoxMOT, ultralytics).

    quiet    our results and warnings only; the libraries' warnings and errors
    normal   + what the run is doing (start-up lines, progress on a terminal); the libraries' warnings
    verbose  + the libraries' INFO lines (BoxMOT's tracker settings, ultralytics' model summaries),
             OpenCV's warnings and FFmpeg's own log lines

OpenCV and FFmpeg print a line on every failed or re-opened stream (``[tcp @ 0x..] Connection
refused``, ``VIDEOIO(FFMPEG) ... can't be used to capture by name``): a live run with a camera down
would print them at every retry, while the status line already says the camera is down and why.
So below ``verbose`` OpenCV logs errors only and FFmpeg nothing (``OPENCV_FFMPEG_LOGLEVEL=-8``,
unless the user set it; written before any stream is opened).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Literal

Verbosity = Literal["quiet", "normal", "verbose"]
LIBRARY_LOGGERS = ("boxmot", "ultralytics")
_LIBRARY_LEVELS = {"quiet": logging.ERROR, "normal": logging.WARNING, "verbose": logging.INFO}
_current: Verbosity = "normal"
FFMPEG_LOG_LEVEL_VARIABLE = "OPENCV_FFMPEG_LOGLEVEL"
FFMPEG_QUIET = "-8"  # AV_LOG_QUIET


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
    _set_video_library_levels(verbosity)


def _set_video_library_levels(verbosity: Verbosity) -> None:
    import cv2

    levels = cv2.utils.logging
    levels.setLogLevel(levels.LOG_LEVEL_WARNING if verbosity == "verbose" else levels.LOG_LEVEL_ERROR)
    if verbosity != "verbose" and FFMPEG_LOG_LEVEL_VARIABLE not in os.environ:
        os.environ[FFMPEG_LOG_LEVEL_VARIABLE] = FFMPEG_QUIET


def current_verbosity() -> Verbosity:
    return _current


def say(message: str, *, error_stream: bool = False) -> None:
    """A line about what the run is doing (not a result): shown unless quiet."""
    if _current != "quiet":
        print(message, file=sys.stderr if error_stream else sys.stdout, flush=True)
