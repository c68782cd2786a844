"""``tracks.sqlite``: everything the run saw, queryable with any SQLite client.

Tables (one transaction per step, WAL journal, so a crash leaves a consistent database):

- ``metadata(key, value)``: ``schema_version``, ``finalized`` ("0"/"1": whether global ids are final),
  ``reid_model`` (the part-feature model of the run, an absolute path, when known);
- ``cameras(camera, position, source)``: camera names in run order; ``source`` the recorded video file
  (absolute path; NULL for a live camera);
- ``parts(part, name)``: index into visibility strings and ``tracklet_features.part``
  (0 = foreground, 1..K = body parts);
- ``tracks(camera, track_id, global_id, first_frame, last_frame, first_time_s, last_time_s)``:
  one row per (camera, local track); ``global_id`` NULL while unassigned, final after ``finalize``;
- ``identities(global_id, first_camera, first_track_id, first_frame, first_time_s, num_tracks)``:
  one row per global id: where and when it was first seen, over how many tracks;
- ``boxes(camera, frame, track_id, timestamp_s, x1, y1, x2, y2, score, visibility,
  online_global_id, interpolated)``: every tracked box (pixels); ``visibility`` is the 1+K part
  visibility as text, e.g. ``"101100011"`` (NULL when no features were extracted);
  ``online_global_id`` is the id known when the box was emitted (the final one is
  ``tracks.global_id``); ``interpolated`` is 1 for a box filled in after the run across a gap of its
  track (inserted by ``finalize``; score 0, visibility NULL), 0 for a tracked one;
- ``tracklet_features(camera, track_id, part, count, embedding)``: the latest part memory of a
  track: ``count`` visible observations of the part, ``embedding`` float32 little-endian [D]
  (``numpy.frombuffer(blob, "<f4")``);
- ``thumbnails(camera, track_id, frame, quality, jpeg)``: the best crop of each track (most visible
  parts, then highest detection score), JPEG, at most ``THUMBNAIL_HEIGHT`` pixels tall.

Schema versions: 3 added ``cameras.source``, ``thumbnails`` and ``reid_model``; readers of version 2
stores (``pipeline.web.store``) treat them as absent.

Final id of every box::

    SELECT b.*, t.global_id FROM boxes b JOIN tracks t USING (camera, track_id)
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import cv2
import numpy as np

from pipeline.extraction import cut_crop
from pipeline.records import IdentityEvent, TrackBox, TrackKey, TrackletSnapshot
from pipeline.sinks.base import FOREGROUND_NAME, Sink, ensure_output_directory
from reid.errors import UserError

SCHEMA_VERSION = 3  # 2: boxes.interpolated; 3: cameras.source, thumbnails, metadata reid_model
THUMBNAIL_HEIGHT = 128  # pixels; smaller crops are kept at their size
THUMBNAIL_JPEG_QUALITY = 85

SCHEMA = """
CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cameras (camera TEXT PRIMARY KEY, position INTEGER NOT NULL, source TEXT);
CREATE TABLE parts (part INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE tracks (
    camera TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    global_id INTEGER,
    first_frame INTEGER NOT NULL,
    last_frame INTEGER NOT NULL,
    first_time_s REAL NOT NULL,
    last_time_s REAL NOT NULL,
    PRIMARY KEY (camera, track_id)
);
CREATE INDEX tracks_by_global_id ON tracks (global_id);
CREATE TABLE identities (
    global_id INTEGER PRIMARY KEY,
    first_camera TEXT NOT NULL,
    first_track_id INTEGER NOT NULL,
    first_frame INTEGER NOT NULL,
    first_time_s REAL NOT NULL,
    num_tracks INTEGER NOT NULL
);
CREATE TABLE boxes (
    camera TEXT NOT NULL,
    frame INTEGER NOT NULL,
    track_id INTEGER NOT NULL,
    timestamp_s REAL NOT NULL,
    x1 REAL NOT NULL,
    y1 REAL NOT NULL,
    x2 REAL NOT NULL,
    y2 REAL NOT NULL,
    score REAL NOT NULL,
    visibility TEXT,
    online_global_id INTEGER,
    interpolated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX boxes_by_frame ON boxes (camera, frame);
CREATE INDEX boxes_by_track ON boxes (camera, track_id);
CREATE TABLE tracklet_features (
    camera TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    part INTEGER NOT NULL,
    count INTEGER NOT NULL,
    embedding BLOB NOT NULL,
    PRIMARY KEY (camera, track_id, part)
);
CREATE TABLE thumbnails (
    camera TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    frame INTEGER NOT NULL,
    quality REAL NOT NULL,
    jpeg BLOB NOT NULL,
    PRIMARY KEY (camera, track_id)
);
"""

UPSERT_THUMBNAIL = """
INSERT INTO thumbnails (camera, track_id, frame, quality, jpeg) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (camera, track_id) DO UPDATE SET
    frame = excluded.frame, quality = excluded.quality, jpeg = excluded.jpeg
WHERE excluded.quality > thumbnails.quality
"""

UPSERT_TRACK = """
INSERT INTO tracks (camera, track_id, global_id, first_frame, last_frame, first_time_s, last_time_s)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (camera, track_id) DO UPDATE SET
    global_id = coalesce(excluded.global_id, tracks.global_id),
    first_frame = min(tracks.first_frame, excluded.first_frame),
    last_frame = max(tracks.last_frame, excluded.last_frame),
    first_time_s = min(tracks.first_time_s, excluded.first_time_s),
    last_time_s = max(tracks.last_time_s, excluded.last_time_s)
"""

INSERT_BOX = """
INSERT INTO boxes (camera, frame, track_id, timestamp_s, x1, y1, x2, y2, score, visibility, online_global_id,
                   interpolated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

# SQLite takes the bare columns of a MIN() aggregate from the row holding the minimum.
IDENTITIES_FROM_TRACKS = """
INSERT INTO identities (global_id, first_camera, first_track_id, first_frame, first_time_s, num_tracks)
SELECT global_id, camera, track_id, first_frame, MIN(first_time_s), COUNT(*)
FROM tracks WHERE global_id IS NOT NULL {restriction} GROUP BY global_id
"""


def visibility_text(visibility: Sequence[bool] | None) -> str | None:
    """``(True, False, True)`` -> ``"101"``; None stays None."""
    if visibility is None:
        return None
    return "".join("1" if bool(visible) else "0" for visible in visibility)


def _box_row(box: TrackBox) -> tuple:
    x1, y1, x2, y2 = (float(value) for value in box.box)
    score, timestamp = float(box.score), float(box.timestamp_s)
    if not all(math.isfinite(value) for value in (x1, y1, x2, y2, score, timestamp)):
        raise ValueError(f"box of track {box.camera}/{box.track_id} at frame {box.frame_index} is not finite")
    online_id = None if box.global_id is None else int(box.global_id)
    return (box.camera, int(box.frame_index), int(box.track_id), timestamp, x1, y1, x2, y2, score,
            visibility_text(box.visibility), online_id, int(bool(box.interpolated)))


def _track_row(box_row: tuple) -> tuple:
    """The ``UPSERT_TRACK`` row of one ``_box_row``: the track seen at that box's frame and time."""
    return box_row[0], box_row[2], box_row[10], box_row[1], box_row[1], box_row[3], box_row[3]


def _snapshot_rows(snapshot: TrackletSnapshot) -> tuple[tuple, list[tuple]]:
    embeddings = np.asarray(snapshot.embeddings, dtype="<f4")
    counts = np.asarray(snapshot.counts)
    if embeddings.ndim != 2 or counts.shape != (embeddings.shape[0],):
        raise ValueError(
            f"tracklet {snapshot.key}: embeddings must be [1+K, D] and counts [1+K], "
            f"got {embeddings.shape} and {counts.shape}"
        )
    camera, track_id = str(snapshot.key[0]), int(snapshot.key[1])
    global_id = None if snapshot.global_id is None else int(snapshot.global_id)
    track = (camera, track_id, global_id, int(snapshot.first_frame), int(snapshot.last_frame),
             float(snapshot.first_timestamp_s), float(snapshot.last_timestamp_s))
    features = [
        (camera, track_id, part, int(counts[part]), np.ascontiguousarray(embeddings[part]).tobytes())
        for part in range(embeddings.shape[0])
    ]
    return track, features


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


def thumbnail_quality(box: TrackBox) -> float:
    """How good a crop of ``box`` is as its track's picture: visible parts first, then the score.

    ``visible parts + score`` (scores lie in [0, 1], so one more visible part always wins); a box
    without features counts no visible part.
    """
    visible = 0 if box.visibility is None else sum(bool(value) for value in box.visibility)
    return float(visible) + min(max(float(box.score), 0.0), 1.0)


def encode_thumbnail(image: np.ndarray, box: Sequence[float]) -> bytes | None:
    """JPEG of the box's crop of a BGR frame, at most ``THUMBNAIL_HEIGHT`` tall (None if encoding fails)."""
    crop = cut_crop(image, np.asarray(box, dtype=np.float64))
    height, width = crop.shape[:2]
    if height > THUMBNAIL_HEIGHT:
        size = (max(1, round(width * THUMBNAIL_HEIGHT / height)), THUMBNAIL_HEIGHT)
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    encoded, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, THUMBNAIL_JPEG_QUALITY])
    return data.tobytes() if encoded else None


class SqliteSink(Sink):
    """Writes ``tracks.sqlite`` (see the module docstring). An existing database at ``path`` is replaced.

    sources: the recorded video file of each camera that has one; metadata: more ``metadata`` rows
    (e.g. ``reid_model``). The best quality seen per live track is kept in memory until the track
    ends (its ``track_ended`` event) or the run is finalized.
    """

    def __init__(
        self,
        path: str | Path,
        cameras: Sequence[str] = (),
        visibility_names: Sequence[str] = (FOREGROUND_NAME,),
        sources: Mapping[str, str] | None = None,
        metadata: Mapping[str, str] | None = None,
    ):
        self.path = Path(path)
        ensure_output_directory(self.path.parent)
        if self.path.is_dir():
            raise UserError(f"cannot create database {self.path}: a directory is in the way")
        try:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self._connection = sqlite3.connect(self.path, check_same_thread=False)
        except (OSError, sqlite3.Error) as error:
            raise UserError(f"cannot create database {self.path}: {error}") from None
        self._closed = False
        self._cameras: list[str] = []
        self._sources = {str(camera): str(source) for camera, source in dict(sources or {}).items()}
        self._best_thumbnail: dict[TrackKey, float] = {}
        try:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._connection.executescript(SCHEMA)
            with self._connection:
                self._connection.executemany(
                    "INSERT INTO metadata (key, value) VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("finalized", "0"),
                     *((str(key), str(value)) for key, value in dict(metadata or {}).items())],
                )
                self._connection.executemany(
                    "INSERT INTO parts (part, name) VALUES (?, ?)", list(enumerate(visibility_names))
                )
                self._add_cameras(cameras)
        except sqlite3.Error as error:
            self._connection.close()
            self._closed = True
            raise UserError(f"cannot create database {self.path}: {error}") from None

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection (for reading back in tests and tools); do not write through it."""
        return self._connection

    def _add_cameras(self, cameras: Iterable[str]) -> None:
        new = [camera for camera in dict.fromkeys(cameras) if camera not in self._cameras]
        self._connection.executemany(
            "INSERT INTO cameras (camera, position, source) VALUES (?, ?, ?)",
            [(camera, len(self._cameras) + offset, self._sources.get(camera)) for offset, camera in enumerate(new)],
        )
        self._cameras.extend(new)

    def _refresh_identities(self, global_ids: set[int]) -> None:
        if not global_ids:
            return
        ids = sorted(global_ids)
        marks = _placeholders(len(ids))
        self._connection.execute(f"DELETE FROM identities WHERE global_id IN ({marks})", ids)
        self._connection.execute(IDENTITIES_FROM_TRACKS.format(restriction=f"AND global_id IN ({marks})"), ids)

    def _check_open(self, call: str) -> None:
        if self._closed:
            raise RuntimeError(f"SqliteSink.{call} after close")

    def write_step(self, boxes: list[TrackBox], events: list[IdentityEvent], frames=None) -> None:
        """One transaction: boxes, their tracks' extents and ids, identity events, identities."""
        self._check_open("write_step")
        box_rows = [_box_row(box) for box in boxes]
        track_rows = [_track_row(row) for row in box_rows]
        touched = {row[10] for row in box_rows if row[10] is not None}
        reassigned = []
        for event in events:
            if event.kind in ("identity_assigned", "identity_changed") and event.global_id is not None:
                reassigned.append((int(event.global_id), str(event.camera), int(event.track_id)))
                touched.add(int(event.global_id))
            if event.previous_global_id is not None:
                touched.add(int(event.previous_global_id))
        thumbnails = self._better_thumbnails(boxes, frames or {})
        with self._connection:
            self._add_cameras(row[0] for row in box_rows)
            self._connection.executemany(INSERT_BOX, box_rows)
            self._connection.executemany(UPSERT_TRACK, track_rows)
            self._connection.executemany(
                "UPDATE tracks SET global_id = ? WHERE camera = ? AND track_id = ?", reassigned
            )
            self._connection.executemany(UPSERT_THUMBNAIL, thumbnails)
            self._refresh_identities(touched)
        for event in events:
            if event.kind == "track_ended":
                self._best_thumbnail.pop(TrackKey(str(event.camera), int(event.track_id)), None)

    def _better_thumbnails(self, boxes: Sequence[TrackBox], frames: Mapping[str, np.ndarray]) -> list[tuple]:
        """``UPSERT_THUMBNAIL`` rows for the boxes that beat their track's best crop so far."""
        rows = []
        for box in boxes:
            image = frames.get(box.camera)
            if image is None or box.interpolated:
                continue
            quality = thumbnail_quality(box)
            if quality <= self._best_thumbnail.get(box.key, -1.0):
                continue
            jpeg = encode_thumbnail(image, box.box)
            if jpeg is None:
                continue
            self._best_thumbnail[box.key] = quality
            rows.append((box.camera, int(box.track_id), int(box.frame_index), quality, jpeg))
        return rows

    def write_tracklets(self, tracklets: list[TrackletSnapshot]) -> None:
        """One transaction: replace each track's part features, extend its track row."""
        self._check_open("write_tracklets")
        rows = [_snapshot_rows(snapshot) for snapshot in tracklets]
        touched = {track[2] for track, _ in rows if track[2] is not None}
        with self._connection:
            self._add_cameras(track[0] for track, _ in rows)
            self._connection.executemany(UPSERT_TRACK, [track for track, _ in rows])
            for (camera, track_id, *_), features in rows:
                self._connection.execute(
                    "DELETE FROM tracklet_features WHERE camera = ? AND track_id = ?", (camera, track_id)
                )
                self._connection.executemany(
                    "INSERT INTO tracklet_features (camera, track_id, part, count, embedding) VALUES (?, ?, ?, ?, ?)",
                    features,
                )
            self._refresh_identities(touched)

    def finalize(self, identities: dict[TrackKey, int], added_boxes: Sequence[TrackBox] = ()) -> None:
        """One transaction: insert the added boxes (``interpolated`` = 1), set every listed track's
        final global id and rebuild ``identities``."""
        self._check_open("finalize")
        updates = [(int(value), str(key[0]), int(key[1])) for key, value in identities.items() if value is not None]
        added_rows = [_box_row(replace(box, interpolated=True)) for box in added_boxes]
        track_rows = [_track_row(row) for row in added_rows]
        with self._connection:
            self._add_cameras(row[0] for row in added_rows)
            self._connection.executemany(INSERT_BOX, added_rows)
            self._connection.executemany(UPSERT_TRACK, track_rows)
            self._connection.executemany("UPDATE tracks SET global_id = ? WHERE camera = ? AND track_id = ?", updates)
            self._connection.execute("DELETE FROM identities")
            self._connection.execute(IDENTITIES_FROM_TRACKS.format(restriction=""))
            self._connection.execute("UPDATE metadata SET value = '1' WHERE key = 'finalized'")
        self._best_thumbnail.clear()

    def close(self) -> None:
        """Checkpoint the write-ahead log into the database file and close. Idempotent."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        try:
            self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._connection.close()
