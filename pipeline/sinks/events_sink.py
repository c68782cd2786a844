"""``events.jsonl``: one JSON object per ``IdentityEvent`` (its ``to_json_dict()``), flushed per step.

Each line reads e.g.::

    {"kind": "identity_assigned", "camera": "cam2", "track_id": 4, "timestamp_s": 12.4,
     "frame_index": 311, "global_id": 7, "previous_global_id": null, "distance": 0.41}

Numpy scalars become plain numbers and non-finite floats become ``null``, so every line is
strict JSON.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from pipeline.records import IdentityEvent, TrackBox
from pipeline.sinks.base import Sink, ensure_output_directory
from reid.errors import UserError


def _plain(value):
    """A JSON-safe version of ``value``: numpy scalars/arrays to Python, NaN and inf to None."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.floating) and value.dtype.itemsize < 8:
        value = float(str(value))  # float32 0.4 -> 0.4, not 0.4000000059604645
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def event_json_line(event: IdentityEvent) -> str:
    """The event as one line of strict JSON (no newline)."""
    return json.dumps(_plain(event.to_json_dict()), allow_nan=False, separators=(", ", ": "))


class EventsSink(Sink):
    """Appends identity events to a JSON-lines file (created fresh for the run)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        ensure_output_directory(self.path.parent)
        try:
            self._handle = open(self.path, "w", encoding="utf-8")
        except OSError as error:
            raise UserError(f"cannot write {self.path}: {error.strerror or error}") from None

    def write_step(self, boxes: list[TrackBox], events: list[IdentityEvent], frames=None) -> None:
        if self._handle.closed:
            raise RuntimeError("EventsSink.write_step after close")
        lines = [event_json_line(event) for event in events]  # all or nothing for this step
        if lines:
            self._handle.write("".join(line + "\n" for line in lines))
            self._handle.flush()

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()
