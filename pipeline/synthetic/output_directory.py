"""Claiming an output directory for a world: refuse foreign data, replace a previous world.

Kept free of heavy imports so the CLI can check the directory before loading the renderer.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MARKER_FILE = ".synthetic_world"
OWNED_ENTRIES = ("videos", "gt", "det", "reid", "reid_occluded", "world.json")


class WorldOutputError(RuntimeError):
    """The output directory cannot be used (one user-facing line)."""


def prepare_output_directory(out_dir: str | Path) -> Path:
    """Create ``out_dir`` (or reuse one this generator wrote), emptied of a previous world's files."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise WorldOutputError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER_FILE).exists():
        raise WorldOutputError(f"{out} is not empty and was not written by the synthetic world generator")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER_FILE).write_text("written by python -m pipeline.synthetic\n", encoding="ascii")
        for name in OWNED_ENTRIES:  # a previous world here is replaced, never mixed with the new one
            entry = out / name
            if entry.is_dir():
                shutil.rmtree(entry)
            elif entry.exists():
                entry.unlink()
        for name in ("videos", "gt", "det"):
            (out / name).mkdir()
    except OSError as error:
        raise WorldOutputError(f"cannot write to {out}: {error.strerror or error}") from error
    return out
