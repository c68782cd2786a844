"""Sinks: MOT files, events log, SQLite database, annotated video, drawing, the factory."""

from __future__ import annotations

import json
import math
import sqlite3

import cv2
import numpy as np
import pytest

from pipeline.records import IdentityEvent, TrackBox, TrackKey, TrackletSnapshot
from pipeline.sinks import Sink, SinkGroup, SinkSettings, build_sinks
from pipeline.sinks.drawing import (
    STRIP_BACKGROUND,
    UNASSIGNED_COLOUR,
    AnnotationStyle,
    annotate_frame,
    draw_track_box,
    identity_colour,
    layout_box_annotation,
)
from pipeline.sinks.events_sink import EventsSink
from pipeline.sinks.mot_sink import MotSink
from pipeline.sinks.sqlite_sink import SqliteSink
from pipeline.sinks.video_sink import VideoSink
from reid.errors import UserError
from tests.test_sinks_final_record import decode


def box(camera, frame, track_id, xyxy, global_id=None, score=0.9, visibility=None):
    return TrackBox(camera, frame, frame / 10, track_id, tuple(float(v) for v in xyxy), score, visibility, global_id)


def read_lines(path):
    return path.read_text().splitlines()


# ------------------------------------------------------------------------------------------ MOT


def test_mot_rows_are_online_then_rewritten_with_final_ids(tmp_path):
    sink = MotSink(tmp_path / "mot", ["cam1", "cam2", "cam3"])
    # Frame 1: cam1 track 1 not yet associated, track 2 is person 5; cam2 track 1 is person 5.
    sink.write_step([box("cam1", 1, 1, (10, 20, 40, 80)), box("cam1", 1, 2, (50, 20, 70, 60), 5),
                     box("cam2", 1, 1, (0, 0, 10, 10), 5)], [])
    # Frame 2: cam1 track 1 gets id 7.
    sink.write_step([box("cam1", 2, 2, (52, 20, 72, 60), 5), box("cam1", 2, 1, (12, 20, 42, 80), 7, score=0.5)], [])
    partial = tmp_path / "mot" / "cam1.txt.partial"
    assert read_lines(partial) == [  # online ids, flushed before any close
        "1,5,50.00,20.00,20.00,40.00,0.9000,-1,-1,-1",
        "2,5,52.00,20.00,20.00,40.00,0.9000,-1,-1,-1",
        "2,7,12.00,20.00,30.00,60.00,0.5000,-1,-1,-1",
    ]
    # Offline refinement: cam1 track 1 is person 3 (also its box of frame 1, written before it had an id).
    sink.finalize({TrackKey("cam1", 1): 3, TrackKey("cam1", 2): 5, TrackKey("cam2", 1): 5})
    assert read_lines(tmp_path / "mot" / "cam1.txt") == [
        "1,3,10.00,20.00,30.00,60.00,0.9000,-1,-1,-1",
        "1,5,50.00,20.00,20.00,40.00,0.9000,-1,-1,-1",
        "2,3,12.00,20.00,30.00,60.00,0.5000,-1,-1,-1",
        "2,5,52.00,20.00,20.00,40.00,0.9000,-1,-1,-1",
    ]
    assert read_lines(tmp_path / "mot" / "cam2.txt") == ["1,5,0.00,0.00,10.00,10.00,0.9000,-1,-1,-1"]
    assert (tmp_path / "mot" / "cam3.txt").read_text() == ""  # a camera nobody walked through
    assert sorted(path.name for path in (tmp_path / "mot").iterdir()) == ["cam1.txt", "cam2.txt", "cam3.txt"]
    sink.close()  # idempotent after finalize


def test_mot_close_without_finalize_keeps_online_ids_and_tracks_missing_from_the_map_too(tmp_path):
    sink = MotSink(tmp_path / "mot", ["cam1"])
    sink.write_step([box("cam1", 2, 1, (0, 0, 10, 10), 4), box("cam1", 2, 2, (0, 0, 10, 10))], [])
    sink.write_step([box("cam1", 1, 3, (0, 0, 10, 10), 2)], [])  # out of order: sorted on close
    sink.close()
    sink.close()
    assert [line.split(",")[:2] for line in read_lines(tmp_path / "mot" / "cam1.txt")] == [["1", "2"], ["2", "4"]]

    finalized = MotSink(tmp_path / "again", ["cam1"])
    finalized.write_step([box("cam1", 1, 1, (0, 0, 10, 10), 4), box("cam1", 1, 2, (0, 0, 10, 10), 6)], [])
    finalized.finalize({TrackKey("cam1", 2): 9})  # track 1 absent: keeps its online id 4
    assert [line.split(",")[:2] for line in read_lines(tmp_path / "again" / "cam1.txt")] == [["1", "4"], ["1", "9"]]


def test_mot_failed_step_writes_nothing_and_keeps_earlier_rows(tmp_path):
    sink = MotSink(tmp_path / "mot", ["cam1"])
    sink.write_step([box("cam1", 1, 1, (0, 0, 10, 10), 1)], [])
    with pytest.raises(ValueError, match="not finite"):
        sink.write_step([box("cam1", 2, 1, (0, 0, 10, 10), 1), box("cam1", 2, 2, (math.nan, 0, 10, 10), 2)], [])
    sink.close()
    assert read_lines(tmp_path / "mot" / "cam1.txt") == ["1,1,0.00,0.00,10.00,10.00,0.9000,-1,-1,-1"]


# --------------------------------------------------------------------------------------- events


def test_events_are_json_lines_flushed_per_step(tmp_path):
    sink = EventsSink(tmp_path / "events.jsonl")
    started = IdentityEvent("track_started", "cam1", 3, 0.5, 5)
    assigned = IdentityEvent("identity_assigned", "cam2", 4, 1.25, 12, np.int64(7), None, np.float32(0.25))
    changed = IdentityEvent("identity_changed", "cam2", 4, 2.0, 20, 3, 7, math.nan)
    sink.write_step([], [started])
    sink.write_step([], [assigned, changed])
    lines = read_lines(tmp_path / "events.jsonl")  # readable before close
    records = [json.loads(line) for line in lines]
    assert records[0] == started.to_json_dict()
    assert records[1]["global_id"] == 7 and records[1]["distance"] == 0.25 and records[1]["kind"] == "identity_assigned"
    assert records[2]["distance"] is None and records[2]["previous_global_id"] == 7
    sink.close()
    sink.close()


# --------------------------------------------------------------------------------------- SQLite


def test_sqlite_records_steps_tracklets_and_final_identities(tmp_path):
    path = tmp_path / "tracks.sqlite"
    sink = SqliteSink(path, ["cam1", "cam2"], ("foreground", "head", "legs"))
    sink.write_step([box("cam1", 1, 1, (0, 0, 10, 20), visibility=(True, False, True))], [])
    sink.write_step(
        [box("cam1", 2, 1, (1, 0, 11, 20), 4, visibility=(True, True, False)), box("cam2", 2, 8, (5, 5, 9, 9), 4)],
        [IdentityEvent("identity_assigned", "cam1", 1, 0.2, 2, 4)],
    )
    # A crash here: another connection (another process) sees both committed steps.
    reader = sqlite3.connect(path)
    assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert reader.execute("SELECT count(*) FROM boxes").fetchone() == (3,)
    assert reader.execute(
        "SELECT visibility, online_global_id FROM boxes WHERE camera='cam1' ORDER BY frame"
    ).fetchall() == [("101", None), ("110", 4)]
    assert reader.execute("SELECT * FROM tracks ORDER BY camera").fetchall() == [
        ("cam1", 1, 4, 1, 2, 0.1, 0.2),
        ("cam2", 8, 4, 2, 2, 0.2, 0.2),
    ]
    assert reader.execute("SELECT * FROM identities").fetchall() == [(4, "cam1", 1, 1, 0.1, 2)]
    reader.close()

    embeddings = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    sink.write_tracklets([TrackletSnapshot(TrackKey("cam1", 1), embeddings, np.array([2, 1, 0]), 0.1, 0.2, 1, 2, 4, 2)])
    with pytest.raises(ValueError):  # a failed step leaves the database as it was
        sink.write_step([box("cam1", 3, 1, (0, 0, 10, 10), 4), box("cam1", 3, 2, (0, 0, math.inf, 10))], [])
    sink.finalize({TrackKey("cam1", 1): 4, TrackKey("cam2", 8): 6})
    sink.close()
    sink.close()

    database = sqlite3.connect(path)
    assert database.execute("SELECT count(*) FROM boxes").fetchone() == (3,)
    assert database.execute("SELECT camera, track_id, global_id FROM tracks ORDER BY camera").fetchall() == [
        ("cam1", 1, 4), ("cam2", 8, 6),
    ]
    assert database.execute("SELECT global_id, first_camera, num_tracks FROM identities ORDER BY global_id").fetchall() == [
        (4, "cam1", 1), (6, "cam2", 1),
    ]
    rows = database.execute("SELECT part, count, embedding FROM tracklet_features ORDER BY part").fetchall()
    assert [(part, count) for part, count, _ in rows] == [(0, 2), (1, 1), (2, 0)]
    np.testing.assert_array_equal(np.stack([np.frombuffer(blob, "<f4") for *_, blob in rows]), embeddings)
    assert database.execute("SELECT name FROM parts ORDER BY part").fetchall() == [("foreground",), ("head",), ("legs",)]
    assert database.execute("SELECT value FROM metadata WHERE key='finalized'").fetchone() == ("1",)
    assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# ---------------------------------------------------------------------------------------- video


def test_video_is_playable_with_boxes_drawn_in_identity_colours(tmp_path):
    settings = SinkSettings(video=True, video_fps={"cam1": 12.0}, part_names=("head", "legs"))
    sink = VideoSink(tmp_path / "videos", settings)
    background = np.full((240, 320, 3), 40, np.uint8)
    for frame in range(1, 7):
        boxes = [box("cam1", frame, 1, (100, 60, 180, 220), 2, visibility=(True, True, False))]
        sink.write_step(boxes, [], {"cam1": background})
    assert background.max() == 40  # the caller's image is never drawn on
    sink.close()
    sink.close()
    assert [path.name for path in (tmp_path / "videos").iterdir()] == ["cam1.mp4"]

    frames, fps = decode(tmp_path / "videos" / "cam1.mp4")
    assert fps == pytest.approx(12.0)
    assert len(frames) == 6 and frames[0].shape == (240, 320, 3)
    # The label tab above the box is filled with identity 2's colour (mp4v is lossy: compare loosely).
    layout = layout_box_annotation((100, 60, 180, 220), "G2 T1", 3, (320, 240), AnnotationStyle.for_height(240))
    x1, y1, x2, y2 = layout.label
    tab = np.median(frames[3][y1:y2 + 1, x1:x2 + 1].reshape(-1, 3), axis=0)
    assert np.abs(tab - np.array(identity_colour(2))).max() < 40, (tab, identity_colour(2))
    assert np.abs(frames[3][5:20, 5:20].astype(int) - 40).max() < 12  # the background stays untouched


def test_video_frames_are_resized_to_the_configured_size(tmp_path):
    sink = VideoSink(tmp_path / "videos", SinkSettings(video=True, video_size={"cam2": (160, 120)}))
    for frame in range(1, 4):
        sink.write_step([], [], {"cam2": np.zeros((240, 320, 3), np.uint8)})
    sink.close()
    capture = cv2.VideoCapture(str(tmp_path / "videos" / "cam2.mp4"))
    ok, image = capture.read()
    capture.release()
    assert ok and image.shape == (120, 160, 3)


# -------------------------------------------------------------------------------------- drawing


def test_visibility_strip_squares_are_filled_when_visible_and_hollow_when_not():
    image = np.zeros((480, 640, 3), np.uint8)
    style = AnnotationStyle.for_height(480)
    layout = draw_track_box(image, box("cam1", 1, 3, (200, 150, 300, 400), 11, visibility=(True, False, True, False)), style)
    colour = np.array(identity_colour(11))
    centres = [((x1 + x2) // 2, (y1 + y2) // 2) for x1, y1, x2, y2 in layout.squares]
    assert len(centres) == 4
    for (x, y), visible in zip(centres, (True, False, True, False)):
        expected = colour if visible else np.array(STRIP_BACKGROUND)
        np.testing.assert_array_equal(image[y, x], expected)
    hollow = layout.squares[1]
    np.testing.assert_array_equal(image[hollow[1], hollow[0]], colour)  # a hollow square still has its outline
    # The squares sit under the label, side by side, inside the strip.
    assert all(square[1] > layout.label[3] for square in layout.squares)
    assert all(left[2] < right[0] for left, right in zip(layout.squares, layout.squares[1:]))


def test_identity_colours_are_stable_distinct_and_grey_when_unassigned():
    assert identity_colour(None) == UNASSIGNED_COLOUR
    assert identity_colour(5) == identity_colour(5)
    colours = [np.array(identity_colour(identity)) for identity in range(1, 11)]
    for index, first in enumerate(colours):
        for second in colours[index + 1:]:
            assert np.abs(first - second).max() > 30


def test_boxes_at_the_frame_edge_are_drawn_inside_the_image():
    image = np.zeros((100, 120, 3), np.uint8)
    annotated = annotate_frame(image, [box("cam1", 1, 1, (90, -5, 130, 60), None, visibility=(True,) * 9)], ("p",) * 8)
    assert annotated.shape == image.shape and annotated.any() and not image.any()


# ------------------------------------------------------------------------------ factory & group


def test_build_sinks_makes_the_enabled_sinks(tmp_path):
    settings = SinkSettings(video=True, num_parts=2, part_names=("upper", "lower"))
    sinks = build_sinks(tmp_path / "out", ["cam1", "cam2"], settings)
    assert [type(sink).__name__ for sink in sinks] == ["MotSink", "EventsSink", "SqliteSink", "VideoSink"]
    assert all(isinstance(sink, Sink) for sink in sinks)
    with SinkGroup(sinks) as group:
        group.write_step([box("cam1", 1, 1, (0, 0, 20, 40), 1, visibility=(True, True, False))],
                         [IdentityEvent("identity_assigned", "cam1", 1, 0.1, 1, 1)],
                         {"cam1": np.zeros((64, 64, 3), np.uint8)})
        group.finalize({TrackKey("cam1", 1): 1})
    names = sorted(str(path.relative_to(tmp_path / "out")) for path in (tmp_path / "out").rglob("*") if path.is_file())
    assert names == ["events.jsonl", "mot/cam1.txt", "mot/cam2.txt", "tracks.sqlite", "videos/cam1.mp4"]
    assert settings.visibility_names == ("foreground", "upper", "lower")
    assert len(build_sinks(tmp_path / "none", ["cam1"], SinkSettings(mot=False, events=False, sqlite=False))) == 0


def test_bad_output_directory_and_settings_are_reported(tmp_path):
    in_the_way = tmp_path / "file"
    in_the_way.write_text("not a directory")
    with pytest.raises(UserError, match="is a file"):
        build_sinks(in_the_way, ["cam1"])
    with pytest.raises(UserError, match="file is in the way"):
        build_sinks(in_the_way / "below", ["cam1"])
    with pytest.raises(UserError, match="camera name"):
        build_sinks(tmp_path / "out", ["../escape"])
    with pytest.raises(ValueError, match="part names"):
        SinkSettings(num_parts=3, part_names=("a", "b"))
    assert SinkSettings(num_parts=2).part_names == ("part1", "part2")


def test_sink_group_closes_every_sink_even_when_one_fails():
    class Recorder(Sink):
        def __init__(self, fail):
            self.fail, self.closed = fail, 0

        def write_step(self, boxes, events, frames=None):
            pass

        def close(self):
            self.closed += 1
            if self.fail:
                raise OSError("disk full")

    sinks = [Recorder(False), Recorder(True), Recorder(False)]
    with pytest.raises(OSError, match="disk full"):
        SinkGroup(sinks).close()
    assert [sink.closed for sink in sinks] == [1, 1, 1]


def test_the_store_keeps_the_best_crop_of_each_track(tmp_path):
    """Most visible parts first, then the score; a box without a frame or an interpolated box gives
    no crop; a track's best quality is forgotten (memory freed) when the track ends."""
    sink = SqliteSink(tmp_path / "tracks.sqlite", ["cam1"], ("foreground", "head", "torso"),
                      sources={"cam1": "/videos/cam1.mp4"}, metadata={"reid_model": "/models/m.pt"})
    frames = {frame: np.full((120, 160, 3), 20 * frame, np.uint8) for frame in range(1, 6)}
    steps = [  # frame -> (visibility, score) of track 1
        (1, (True, False, False), 0.99),
        (2, (True, True, False), 0.40),  # better: one more visible part outweighs any score
        (3, (True, True, False), 0.35),  # worse score, same parts
        (4, (True, True, False), 0.80),  # best
        (5, None, 0.95),  # no features: counts no visible part
    ]
    for frame, visibility, score in steps:
        sink.write_step([box("cam1", frame, 1, (10, 10, 50, 110), 3, score=score, visibility=visibility)], [],
                        {"cam1": frames[frame]})
    sink.write_step([box("cam1", 6, 2, (0, 0, 30, 60), 4)], [])  # no frame given: no crop
    rows = sink.connection.execute("SELECT camera, track_id, frame, quality, jpeg FROM thumbnails").fetchall()
    assert [(camera, track, frame) for camera, track, frame, _, _ in rows] == [("cam1", 1, 4)]
    assert rows[0][3] == pytest.approx(2.80)
    crop = cv2.imdecode(np.frombuffer(rows[0][4], np.uint8), cv2.IMREAD_COLOR)
    assert crop.shape[:2] == (100, 40)  # the box's own crop (under the 128 px cap)
    assert abs(int(crop.mean()) - 80) <= 2  # cut from frame 4 (grey level 80)
    assert sink.connection.execute("SELECT source FROM cameras").fetchall() == [("/videos/cam1.mp4",)]
    assert dict(sink.connection.execute("SELECT key, value FROM metadata"))["reid_model"] == "/models/m.pt"
    assert ("cam1", 1) in sink._best_thumbnail
    sink.write_step([], [IdentityEvent("track_ended", "cam1", 1, 0.6, 6)])
    assert ("cam1", 1) not in sink._best_thumbnail
    sink.close()


def test_a_thumbnail_is_at_most_128_pixels_tall():
    from pipeline.sinks.sqlite_sink import THUMBNAIL_HEIGHT, encode_thumbnail

    image = np.zeros((720, 1280, 3), np.uint8)
    crop = cv2.imdecode(np.frombuffer(encode_thumbnail(image, (100, 50, 200, 550)), np.uint8), cv2.IMREAD_COLOR)
    assert crop.shape[:2] == (THUMBNAIL_HEIGHT, 26)  # 100 x 500 scaled to 128 tall keeps the aspect
