"""MOTChallenge text output, one file per camera: ``frame,global_id,x,y,w,h,conf,-1,-1,-1``.

Frames are 1-based; x, y, w, h are the box's top-left corner, width and height in pixels (from the
tracker's x1, y1, x2, y2); the id column holds the cross-camera global id. Files are sorted by
frame, then id. Boxes of tracks without a global id are not written.

While the run goes on, each step is appended and flushed to two files per camera:

- ``{camera}.txt.partial``: MOT rows with the global ids known at that moment (a crash loses
  nothing: rename it to ``{camera}.txt`` to use it);
- ``{camera}.tracks.partial``: every box with its local track id (``frame,track_id,online_id,
  x,y,w,h,conf``; online_id -1 while unassigned), so that ``finalize`` can give each box the final
  id of its track, even boxes emitted before their track was associated.

``finalize(identities, added_boxes)`` rewrites every camera's ``{camera}.txt`` atomically (temporary
file then rename) from the journal with the final ids, plus the boxes filled in after the run
(``added_boxes``, also with their track's final id; one whose track has no id is not written);
``close`` without ``finalize`` writes ``{camera}.txt`` from the online rows. Both remove the
``.partial`` files.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence, TextIO

from pipeline.records import IdentityEvent, TrackBox, TrackKey
from pipeline.sinks.base import Sink, camera_file_stem, ensure_output_directory
from reid.errors import UserError

UNASSIGNED = -1
WORLD_COORDINATES = "-1,-1,-1"


def box_geometry_text(box: TrackBox) -> str:
    """``x,y,w,h,conf`` of a box as written in MOT files (pixels, 2 decimals; conf 4 decimals).

    Raises ValueError for a non-finite coordinate or score, or a frame index below 1.
    """
    x1, y1, x2, y2 = (float(value) for value in box.box)
    score = float(box.score)
    if not all(math.isfinite(value) for value in (x1, y1, x2, y2, score)):
        raise ValueError(
            f"box of track {box.camera}/{box.track_id} at frame {box.frame_index} is not finite: {box.box}"
        )
    if int(box.frame_index) < 1:
        raise ValueError(f"frame indices are 1-based, got {box.frame_index} for {box.camera}/{box.track_id}")
    return f"{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{score:.4f}"


def mot_row(frame: int, global_id: int, geometry_text: str) -> str:
    """One MOT line (without newline) from a frame, a global id and ``box_geometry_text``."""
    return f"{frame},{global_id},{geometry_text},{WORLD_COORDINATES}"


def _sort_key(line: str) -> tuple[int, int]:
    frame, identity = line.split(",", 2)[:2]
    return int(frame), int(identity)


def write_text_atomically(path: Path, lines: list[str]) -> None:
    """Write ``lines`` (each without newline) to ``path`` through a temporary file and a rename."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="ascii") as handle:
        handle.writelines(line + "\n" for line in lines)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class MotSink(Sink):
    """Writes ``directory/{camera}.txt`` for every camera (see the module docstring)."""

    def __init__(self, directory: str | Path, cameras: Sequence[str] = ()):
        self.directory = ensure_output_directory(directory)
        self._online: dict[str, TextIO] = {}
        self._journal: dict[str, TextIO] = {}
        self._closed = False
        self._finalized = False
        for camera in cameras:
            self._open(camera)

    def online_path(self, camera: str) -> Path:
        return self.directory / f"{camera_file_stem(camera)}.txt.partial"

    def journal_path(self, camera: str) -> Path:
        return self.directory / f"{camera_file_stem(camera)}.tracks.partial"

    def final_path(self, camera: str) -> Path:
        return self.directory / f"{camera_file_stem(camera)}.txt"

    @property
    def cameras(self) -> list[str]:
        return list(self._online)

    def _open(self, camera: str) -> None:
        if camera in self._online:
            return
        online_path, journal_path = self.online_path(camera), self.journal_path(camera)
        try:
            online = open(online_path, "w", encoding="ascii")
        except OSError as error:
            raise UserError(f"cannot write {online_path}: {error.strerror or error}") from None
        try:
            journal = open(journal_path, "w", encoding="ascii")
        except OSError as error:
            online.close()
            raise UserError(f"cannot write {journal_path}: {error.strerror or error}") from None
        self._online[camera], self._journal[camera] = online, journal

    def write_step(self, boxes: list[TrackBox], events: list[IdentityEvent], frames=None) -> None:
        if self._closed:
            raise RuntimeError("MotSink.write_step after close")
        # Format everything first: a bad box fails the step before a single byte is written.
        online_lines: dict[str, list[str]] = {}
        journal_lines: dict[str, list[str]] = {}
        for box in boxes:
            camera_file_stem(box.camera)
            geometry = box_geometry_text(box)
            online_id = UNASSIGNED if box.global_id is None else int(box.global_id)
            frame, track_id = int(box.frame_index), int(box.track_id)
            journal_lines.setdefault(box.camera, []).append(f"{frame},{track_id},{online_id},{geometry}")
            if online_id != UNASSIGNED:
                online_lines.setdefault(box.camera, []).append(mot_row(frame, online_id, geometry))
        for camera in journal_lines:
            self._open(camera)
        for camera, lines in journal_lines.items():
            journal = self._journal[camera]
            journal.write("".join(line + "\n" for line in lines))
            journal.flush()
            rows = sorted(online_lines.get(camera, []), key=_sort_key)
            if rows:
                online = self._online[camera]
                online.write("".join(line + "\n" for line in rows))
                online.flush()

    def _close_files(self) -> None:
        for handle in [*self._online.values(), *self._journal.values()]:
            if not handle.closed:
                handle.close()

    def _remove_partials(self) -> None:
        for camera in self._online:
            for path in (self.online_path(camera), self.journal_path(camera)):
                path.unlink(missing_ok=True)

    def finalize(self, identities: dict[TrackKey, int], added_boxes: Sequence[TrackBox] = ()) -> None:
        """Rewrite each camera's file with the final id of every box's track (online id if absent),
        the added boxes included (their id: the map's, else their own ``global_id``)."""
        if self._closed:
            raise RuntimeError("MotSink.finalize after close")
        final_ids = {(str(key[0]), int(key[1])): int(value) for key, value in identities.items() if value is not None}
        added_rows: dict[str, list[str]] = {}
        for box in added_boxes:
            geometry = box_geometry_text(box)
            global_id = final_ids.get((camera_file_stem(box.camera), int(box.track_id)), box.global_id)
            if global_id is not None:
                added_rows.setdefault(box.camera, []).append(mot_row(int(box.frame_index), int(global_id), geometry))
        for camera in added_rows:
            self._open(camera)
        for handle in self._journal.values():
            handle.flush()
        for camera in self._online:
            rows = added_rows.get(camera, [])
            with open(self.journal_path(camera), encoding="ascii") as journal:
                for line in journal:
                    frame, track_id, online_id, geometry = line.rstrip("\n").split(",", 3)
                    global_id = final_ids.get((camera, int(track_id)), int(online_id))
                    if global_id != UNASSIGNED:
                        rows.append(mot_row(int(frame), global_id, geometry))
            write_text_atomically(self.final_path(camera), sorted(rows, key=_sort_key))
        self._finalized = True
        self.close()

    def close(self) -> None:
        """Without ``finalize``: ``{camera}.txt`` gets the online rows. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._close_files()
        if not self._finalized:
            for camera in self._online:
                lines = self.online_path(camera).read_text(encoding="ascii").splitlines()
                write_text_atomically(self.final_path(camera), sorted(filter(None, lines), key=_sort_key))
        self._remove_partials()
