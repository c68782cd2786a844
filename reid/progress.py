"""Progress bars that show only on a terminal: piped to a log file, a run prints no bar lines."""

from __future__ import annotations

from tqdm import tqdm


def progress_bar(iterable=None, *, enabled: bool = True, **options) -> tqdm:
    """``tqdm(iterable, **options)``, drawn only when ``enabled`` and its stream (stderr) is a terminal
    (tqdm's ``disable=None``)."""
    return tqdm(iterable, disable=None if enabled else True, **options)
