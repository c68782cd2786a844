"""The run's ``tracks.sqlite`` as the web app reads it: read-only, one query per question.

Stores of schema version 2 (before thumbnails and camera sources) stay readable: what they lack is
reported as absent (no thumbnail, no recorded video). The schema itself is defined once, in
``pipeline.sinks.sqlite_sink``.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.records import TrackBox
from reid.errors import UserError

STORE_NAME = "tracks.sqlite"

IDENTITY_SORT_COLUMNS = {
    "global_id": "global_id",
    "first_time_s": "first_time_s",
    "last_time_s": "last_time_s",
    "num_tracks": "num_tracks",
    "num_cameras": "num_cameras",
}

IDENTITY_ROWS = """
SELECT global_id, MIN(first_time_s) AS first_time_s, MAX(last_time_s) AS last_time_s,
       COUNT(*) AS num_tracks, COUNT(DISTINCT camera) AS num_cameras, GROUP_CONCAT(DISTINCT camera) AS cameras
FROM tracks WHERE global_id IS NOT NULL {restriction} GROUP BY global_id
"""


@dataclass(frozen=True)
class IdentitySummary:
    """One global identity of the run, over all its tracks (times in seconds of the run)."""

    global_id: int
    cameras: tuple[str, ...]
    first_time_s: float
    last_time_s: float
    num_tracks: int


@dataclass(frozen=True)
class TrackSummary:
    """One (camera, local track) of the run with its final global id (None: never associated)."""

    camera: str
    track_id: int
    global_id: int | None
    first_frame: int
    last_frame: int
    first_time_s: float
    last_time_s: float


@dataclass(frozen=True)
class TrackletGallery:
    """Every stored track's part memory, in one block for distance computations.

    cameras, track_ids: [N]; global_ids: int64 [N] (-1: never associated); embeddings: float32
    [N, 1+K, D]; visibility: bool [N, 1+K] (the part was seen at least once in the track).
    """

    cameras: tuple[str, ...]
    track_ids: np.ndarray
    global_ids: np.ndarray
    embeddings: np.ndarray
    visibility: np.ndarray

    def __len__(self) -> int:
        return len(self.cameras)


def _connect_read_only(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    return connection


class ResultsStore:
    """Read-only access to a run's ``tracks.sqlite`` (thread-safe: one lock around the connection).

    ready: for a live run, whether the run has created its store yet (the app must not open the
    previous run's file that the run is about to replace); recorded runs are always ready.
    """

    def __init__(self, results_dir: str | Path, ready: Callable[[], bool] | None = None):
        self.results_dir = Path(results_dir)
        self.path = self.results_dir / STORE_NAME
        self._ready = ready
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._columns: dict[str, set[str]] = {}
        if ready is None:
            if not self.path.is_file():
                raise UserError(f"no {STORE_NAME} in {self.results_dir}: give the output directory of a run (--results)")
            self._open()

    # --- connection ---------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection | None:
        if self._connection is None and (self._ready is None or self._ready()) and self.path.is_file():
            try:
                connection = _connect_read_only(self.path)
                tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if "tracks" not in tables:
                    raise UserError(f"{self.path} is not a pipeline results store (no tracks table)")
                self._columns = {
                    table: {row[1] for row in connection.execute(f"PRAGMA table_info({table})")} for table in tables
                }
            except sqlite3.Error as error:
                raise UserError(f"cannot read {self.path}: {error}") from None
            self._connection = connection
        return self._connection

    def _query(self, sql: str, parameters: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            connection = self._open()
            if connection is None:
                return []
            return connection.execute(sql, parameters).fetchall()

    def has_table(self, table: str) -> bool:
        with self._lock:
            self._open()
            return table in self._columns

    def _has_column(self, table: str, column: str) -> bool:
        with self._lock:
            self._open()
            return column in self._columns.get(table, set())

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    # --- the run ------------------------------------------------------------------------------
    def metadata(self) -> dict[str, str]:
        return {row["key"]: row["value"] for row in self._query("SELECT key, value FROM metadata")}

    def cameras(self) -> dict[str, str | None]:
        """Camera -> its recorded video file (None: live camera or a store older than version 3), in run order."""
        source = "source" if self._has_column("cameras", "source") else "NULL AS source"
        rows = self._query(f"SELECT camera, {source} FROM cameras ORDER BY position")
        return {row["camera"]: row["source"] for row in rows}

    def part_names(self) -> list[str]:
        """The 1+K names of a visibility vector (foreground first)."""
        return [row["name"] for row in self._query("SELECT name FROM parts ORDER BY part")]

    def counts(self) -> tuple[int, int]:
        """(global identities, tracks)."""
        rows = self._query("SELECT COUNT(DISTINCT global_id), COUNT(*) FROM tracks")
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    # --- identities ---------------------------------------------------------------------------
    @staticmethod
    def _identity(row: sqlite3.Row) -> IdentitySummary:
        cameras = tuple(sorted(set((row["cameras"] or "").split(",")) - {""}))
        return IdentitySummary(int(row["global_id"]), cameras, float(row["first_time_s"]), float(row["last_time_s"]),
                               int(row["num_tracks"]))

    def identities_page(self, page: int, per_page: int, sort: str) -> tuple[int, list[IdentitySummary]]:
        """(total number of identities, the identities of 1-based ``page``) ordered by ``sort``
        (a key of ``IDENTITY_SORT_COLUMNS``, a leading ``-`` for descending; ties by global id)."""
        descending = sort.startswith("-")
        column = IDENTITY_SORT_COLUMNS[sort.lstrip("-")]
        order = f"{column} {'DESC' if descending else 'ASC'}, global_id ASC"
        total = self._query("SELECT COUNT(DISTINCT global_id) FROM tracks WHERE global_id IS NOT NULL")
        rows = self._query(
            IDENTITY_ROWS.format(restriction="") + f" ORDER BY {order} LIMIT ? OFFSET ?",
            (per_page, (page - 1) * per_page),
        )
        return (int(total[0][0]) if total else 0), [self._identity(row) for row in rows]

    def identity(self, global_id: int) -> IdentitySummary | None:
        rows = self._query(IDENTITY_ROWS.format(restriction="AND global_id = ?"), (global_id,))
        return self._identity(rows[0]) if rows else None

    def identity_tracks(self, global_id: int) -> list[TrackSummary]:
        rows = self._query(
            "SELECT * FROM tracks WHERE global_id = ? ORDER BY first_time_s, camera, track_id", (global_id,)
        )
        return [self._track(row) for row in rows]

    @staticmethod
    def _track(row: sqlite3.Row) -> TrackSummary:
        return TrackSummary(row["camera"], int(row["track_id"]), None if row["global_id"] is None else int(row["global_id"]),
                            int(row["first_frame"]), int(row["last_frame"]), float(row["first_time_s"]),
                            float(row["last_time_s"]))

    def associated_tracks(self) -> list[TrackSummary]:
        """Every track with a global id, by camera and track id."""
        rows = self._query("SELECT * FROM tracks WHERE global_id IS NOT NULL ORDER BY camera, track_id")
        return [self._track(row) for row in rows]

    def track(self, camera: str, track_id: int) -> TrackSummary | None:
        rows = self._query("SELECT * FROM tracks WHERE camera = ? AND track_id = ?", (camera, track_id))
        return self._track(rows[0]) if rows else None

    # --- pictures -----------------------------------------------------------------------------
    def thumbnail(self, camera: str, track_id: int) -> bytes | None:
        """The track's best crop (JPEG), None when the store has none."""
        if not self.has_table("thumbnails"):
            return None
        rows = self._query("SELECT jpeg FROM thumbnails WHERE camera = ? AND track_id = ?", (camera, track_id))
        return bytes(rows[0][0]) if rows else None

    def identity_thumbnail(self, global_id: int) -> bytes | None:
        """The best crop over the identity's tracks (JPEG), None when the store has none."""
        if not self.has_table("thumbnails"):
            return None
        rows = self._query(
            "SELECT n.jpeg FROM thumbnails n JOIN tracks t USING (camera, track_id) WHERE t.global_id = ? "
            "ORDER BY n.quality DESC LIMIT 1",
            (global_id,),
        )
        return bytes(rows[0][0]) if rows else None

    def frame_boxes(self, camera: str, frame: int) -> list[TrackBox]:
        """The boxes of one camera frame with their final global ids (``TrackBox.global_id``)."""
        interpolated = "b.interpolated" if self._has_column("boxes", "interpolated") else "0 AS interpolated"
        rows = self._query(
            f"SELECT b.track_id, b.timestamp_s, b.x1, b.y1, b.x2, b.y2, b.score, b.visibility, {interpolated}, "
            "coalesce(t.global_id, b.online_global_id) AS global_id "
            "FROM boxes b LEFT JOIN tracks t USING (camera, track_id) WHERE b.camera = ? AND b.frame = ? "
            "ORDER BY b.track_id",
            (camera, frame),
        )
        return [
            TrackBox(
                camera, frame, float(row["timestamp_s"]), int(row["track_id"]),
                (float(row["x1"]), float(row["y1"]), float(row["x2"]), float(row["y2"])), float(row["score"]),
                None if row["visibility"] is None else tuple(value == "1" for value in row["visibility"]),
                None if row["global_id"] is None else int(row["global_id"]),
                bool(row["interpolated"]),
            )
            for row in rows
        ]

    def track_sample_frames(self, camera: str, track_id: int, count: int) -> list[tuple[int, float]]:
        """Up to ``count`` (frame, timestamp) of the track's detected boxes (not those gap filling
        added), spread evenly over it."""
        detected = " AND interpolated = 0" if self._has_column("boxes", "interpolated") else ""
        rows = self._query(
            f"SELECT frame, timestamp_s FROM boxes WHERE camera = ? AND track_id = ?{detected} ORDER BY frame",
            (camera, track_id),
        )
        if not rows or count <= 0:
            return []
        picks = np.unique(np.linspace(0, len(rows) - 1, num=min(count, len(rows))).round().astype(int))
        return [(int(rows[index][0]), float(rows[index][1])) for index in picks]

    # --- part memories ------------------------------------------------------------------------
    def tracklet_count(self) -> int:
        rows = self._query("SELECT COUNT(*) FROM (SELECT DISTINCT camera, track_id FROM tracklet_features)")
        return int(rows[0][0]) if rows else 0

    def tracklet_gallery(self) -> TrackletGallery:
        """Every stored part memory (``tracklet_features``) with its track's final global id."""
        rows = self._query(
            "SELECT f.camera, f.track_id, f.part, f.count, f.embedding, coalesce(t.global_id, -1) AS global_id "
            "FROM tracklet_features f LEFT JOIN tracks t USING (camera, track_id) ORDER BY f.camera, f.track_id, f.part"
        )
        num_embeddings = len(self.part_names()) or 1
        if not rows:
            return TrackletGallery((), np.zeros(0, np.int64), np.zeros(0, np.int64),
                                   np.zeros((0, num_embeddings, 1), np.float32), np.zeros((0, num_embeddings), bool))
        dimension = len(rows[0]["embedding"]) // 4
        index: dict[tuple[str, int], int] = {}
        for row in rows:
            index.setdefault((row["camera"], int(row["track_id"])), len(index))
        embeddings = np.zeros((len(index), num_embeddings, dimension), np.float32)
        visibility = np.zeros((len(index), num_embeddings), bool)
        global_ids = np.full(len(index), -1, np.int64)
        for row in rows:
            position, part = index[(row["camera"], int(row["track_id"]))], int(row["part"])
            if part >= num_embeddings:
                continue
            embeddings[position, part] = np.frombuffer(row["embedding"], "<f4")
            visibility[position, part] = int(row["count"]) > 0
            global_ids[position] = int(row["global_id"])
        keys = list(index)
        return TrackletGallery(tuple(camera for camera, _ in keys), np.array([track for _, track in keys], np.int64),
                               global_ids, embeddings, visibility)


def recorded_model(results_dir: str | Path) -> str | None:
    """The part-feature model file the run recorded in its store (None: not recorded)."""
    store = ResultsStore(results_dir)
    try:
        return store.metadata().get("reid_model")
    finally:
        store.close()
