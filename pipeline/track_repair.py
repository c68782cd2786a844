"""Recover, after a recorded run, what detection and tracking lost inside one camera.

- ``fill_track_gaps``: a track missed for a few frames (an occluder, a missed detection) gets
  boxes interpolated linearly between the detections on either side of the gap.
- ``stitch_fragments``: a track that ends and another that starts shortly after, near where the
  first one ended, looking alike, are one person's fragments: they are linked (and the gap between
  them is filled like any other gap).
"""

from __future__ import annotations

import numpy as np

from reid.distance import paired_visible_part_distance
from reid.features import PartFeatures
from pipeline.config import StitchSettings  # noqa: F401 - defined with the config it comes from
from pipeline.match_rule import MatchRule
from pipeline.records import TrackKey


def box_centre_and_height(box) -> tuple[np.ndarray, float]:
    x1, y1, x2, y2 = (float(value) for value in box)
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2]), max(y2 - y1, 1.0)


def stitch_fragments(
    tracklets: list, features: PartFeatures, rule: MatchRule, settings: StitchSettings
) -> list[tuple[TrackKey, TrackKey]]:
    """Links (earlier key, later key) between fragments of one camera, each fragment linked at
    most once forward and once backward, greedy by appearance distance.

    tracklets: ``Tracklet``s with ``first_box``/``last_box``; features: their compared part
    features, one row per tracklet, in the same order.
    """
    if not settings.enabled or len(tracklets) < 2:
        return []
    candidates: list[tuple[float, int, int]] = []
    by_camera: dict[str, list[int]] = {}
    for index, tracklet in enumerate(tracklets):
        by_camera.setdefault(tracklet.key.camera, []).append(index)
    for indices in by_camera.values():
        indices.sort(key=lambda index: tracklets[index].first_timestamp_s)
        starts = np.array([tracklets[index].first_timestamp_s for index in indices])
        for earlier in indices:
            first = tracklets[earlier]
            if first.last_box is None:
                continue
            low = np.searchsorted(starts, first.last_timestamp_s, side="right")
            high = np.searchsorted(starts, first.last_timestamp_s + settings.max_gap_s, side="right")
            for later in indices[low:high]:
                second = tracklets[later]
                if second.first_box is None:
                    continue
                gap = second.first_timestamp_s - first.last_timestamp_s
                end_centre, end_height = box_centre_and_height(first.last_box)
                start_centre, start_height = box_centre_and_height(second.first_box)
                height = (end_height + start_height) / 2
                if np.linalg.norm(start_centre - end_centre) > (settings.max_speed * gap + settings.slack) * height:
                    continue
                candidates.append((0.0, earlier, later))
    if not candidates:
        return []
    earlier_rows = np.array([candidate[1] for candidate in candidates])
    later_rows = np.array([candidate[2] for candidate in candidates])
    distances, shared = paired_visible_part_distance(
        features.embeddings.numpy(), features.visibility.numpy(), earlier_rows, later_rows
    )
    thresholds = rule.thresholds(shared) * settings.threshold_scale
    links, used_forward, used_backward = [], set(), set()
    for position in np.argsort(distances, kind="stable"):
        if not distances[position] < thresholds[position]:
            continue
        earlier, later = int(earlier_rows[position]), int(later_rows[position])
        if earlier in used_forward or later in used_backward:
            continue
        used_forward.add(earlier)
        used_backward.add(later)
        links.append((tracklets[earlier].key, tracklets[later].key))
    return sorted(links)


def fill_track_gaps(frames: np.ndarray, boxes: np.ndarray, max_gap_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes for the frames a track missed, interpolated linearly across gaps of at most
    ``max_gap_frames`` missing frames.

    frames: int [N] (any order, unique); boxes: float [N, 4] x1, y1, x2, y2.
    Returns (int64 [M] the filled frames, float64 [M, 4] their boxes), sorted by frame.
    """
    frames = np.asarray(frames, dtype=np.int64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(frames) < 2 or max_gap_frames <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 4))
    order = np.argsort(frames, kind="stable")
    frames, boxes = frames[order], boxes[order]
    missing = np.diff(frames) - 1
    filled_frames, filled_boxes = [], []
    for position in np.flatnonzero((missing > 0) & (missing <= max_gap_frames)):
        start, end = frames[position], frames[position + 1]
        between = np.arange(start + 1, end)
        weight = ((between - start) / (end - start))[:, None]
        filled_frames.append(between)
        filled_boxes.append((1 - weight) * boxes[position] + weight * boxes[position + 1])
    if not filled_frames:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 4))
    return np.concatenate(filled_frames), np.concatenate(filled_boxes)



class TrackBoxHistory:
    """Every box of every track of a recorded run, for gap filling after the run.

    Holds, per track, frame indices, timestamps and boxes (x1, y1, x2, y2): a recorded run's size,
    released when the run ends. Live runs do not keep one.
    """

    def __init__(self) -> None:
        self._frames: dict[TrackKey, list[int]] = {}
        self._timestamps: dict[TrackKey, list[float]] = {}
        self._boxes: dict[TrackKey, list[tuple[float, float, float, float]]] = {}

    def add(self, key: TrackKey, frame_index: int, timestamp_s: float, box) -> None:
        self._frames.setdefault(key, []).append(int(frame_index))
        self._timestamps.setdefault(key, []).append(float(timestamp_s))
        self._boxes.setdefault(key, []).append(tuple(float(value) for value in box))

    def occupied(self, identity_map: dict[TrackKey, int]) -> set[tuple[str, int, int]]:
        """(camera, frame_index, global id) of every recorded box whose track has an id."""
        return {
            (key.camera, frame, identity_map[key])
            for key, frames in self._frames.items()
            if key in identity_map
            for frame in frames
        }

    def filled_boxes(
        self, max_gap_s: float, stitches: list[tuple[TrackKey, TrackKey]] = ()
    ) -> list[tuple[TrackKey, int, float, tuple[float, float, float, float]]]:
        """(key, frame_index, timestamp_s, box) for every interpolated box: gaps of at most
        ``max_gap_s`` inside each track, and the whole gap between stitched fragments (given to the
        earlier fragment's key)."""
        filled = []
        for key, frames in self._frames.items():
            frames_array, timestamps = np.array(frames), np.array(self._timestamps[key])
            rate = frames_per_second(frames_array, timestamps)
            if rate is None or max_gap_s <= 0:
                continue
            new_frames, new_boxes = fill_track_gaps(frames_array, np.array(self._boxes[key]), int(round(max_gap_s * rate)))
            filled.extend(self._rows(key, new_frames, new_boxes, frames_array, timestamps))
        for earlier, later in stitches:
            if earlier not in self._frames or later not in self._frames:
                continue
            end = int(np.argmax(self._frames[earlier]))
            start = int(np.argmin(self._frames[later]))
            frames_array = np.array([self._frames[earlier][end], self._frames[later][start]])
            timestamps = np.array([self._timestamps[earlier][end], self._timestamps[later][start]])
            boxes = np.array([self._boxes[earlier][end], self._boxes[later][start]])
            new_frames, new_boxes = fill_track_gaps(frames_array, boxes, int(frames_array[1] - frames_array[0]))
            filled.extend(self._rows(earlier, new_frames, new_boxes, frames_array, timestamps))
        return filled

    @staticmethod
    def _rows(key, new_frames, new_boxes, frames, timestamps):
        order = np.argsort(frames)
        new_timestamps = np.interp(new_frames, frames[order], timestamps[order])
        return [
            (key, int(frame), float(timestamp), tuple(float(value) for value in box))
            for frame, timestamp, box in zip(new_frames, new_timestamps, new_boxes)
        ]


def frames_per_second(frames: np.ndarray, timestamps: np.ndarray) -> float | None:
    """The track's frame rate from its own frame indices and timestamps (None for a single frame)."""
    span_frames = frames.max() - frames.min()
    span_seconds = timestamps.max() - timestamps.min()
    if span_frames <= 0 or span_seconds <= 0:
        return None
    return float(span_frames / span_seconds)
