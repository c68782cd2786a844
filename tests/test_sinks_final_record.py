"""One truth per run: after ``finalize`` the MOT files, the database and the videos of recorded
cameras show the same final id for every box, the boxes filled in after the run included."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import cv2
import numpy as np
import pytest

from pipeline.records import TrackBox, TrackKey
from pipeline.sinks import SinkGroup, SinkSettings, build_sinks
from pipeline.sinks.drawing import (
    UNASSIGNED_COLOUR,
    AnnotationStyle,
    annotate_frame,
    box_label,
    identity_colour,
    layout_box_annotation,
)
from reid.errors import UserError

WIDTH, HEIGHT = 320, 240
SOURCE_FRAMES = 10
STEPS = 7  # the run stops early (--max-steps): source frames 8..10 are never processed
PART_NAMES = ("head", "legs")

# Hand-made run on cam1 (recorded) and cam2 (live). Per track: its box, its online id per frame
# (None: not yet associated), the frames it was tracked in.
TRACK_BOXES = {1: (20, 70, 100, 200), 2: (200, 70, 280, 200), 3: (130, 150, 180, 230)}
ONLINE_IDS = {
    1: {1: None, 2: 2, 3: 2, 6: 2, 7: 2},  # lost at frames 4-5, filled in after the run
    2: {frame: 5 for frame in range(1, STEPS + 1)},
    3: {1: 7, 2: 7},
}
IDENTITY_MAP = {TrackKey("cam1", 1): 3, TrackKey("cam1", 2): 5, TrackKey("cam2", 1): 9}  # refinement: 2 -> 3
FINAL_IDS = {1: 3, 2: 5, 3: 7}  # track 3 is absent from the map: it keeps its online id 7
# Boxes filled in after the run: track 1 across its gap, and track 4, which never got an id.
ADDED = [TrackBox("cam1", frame, (frame - 1) / 10, 1, TRACK_BOXES[1], 0.0, None, None, True) for frame in (4, 5)]
ADDED.append(TrackBox("cam1", 3, 0.2, 4, (240, 10, 300, 60), 0.0, None, None, True))
LIVE_BOX = (60, 60, 160, 200)


def background(frame_index: int) -> int:
    """The grey level of source frame ``frame_index`` (each frame its own, to check frame alignment;
    20 apart, as two mp4v encodings shift a grey by up to about 8)."""
    return 20 + 20 * frame_index


def write_source_video(path) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for frame_index in range(1, SOURCE_FRAMES + 1):
        writer.write(np.full((HEIGHT, WIDTH, 3), background(frame_index), np.uint8))
    writer.release()


def online_box(track_id: int, frame_index: int) -> TrackBox:
    visibility = (True, True, False) if track_id == 2 else None
    return TrackBox("cam1", frame_index, (frame_index - 1) / 10, track_id, TRACK_BOXES[track_id], 0.9, visibility,
                    ONLINE_IDS[track_id][frame_index])


def run(tmp_path, finalize: bool):
    """Drive MOT + SQLite + video sinks through the run; returns the output directory."""
    source = tmp_path / "cam1_source.mp4"
    write_source_video(source)
    settings = SinkSettings(video=True, events=False, part_names=PART_NAMES, video_sources={"cam1": str(source)})
    output = tmp_path / "out"
    group = SinkGroup(build_sinks(output, ["cam1", "cam2"], settings))
    for frame_index in range(1, STEPS + 1):
        boxes = [online_box(track_id, frame_index) for track_id in ONLINE_IDS if frame_index in ONLINE_IDS[track_id]]
        boxes.append(TrackBox("cam2", frame_index, (frame_index - 1) / 10, 1, LIVE_BOX, 0.8, None, 8))
        # The recorded camera's image is not the source's (the sink must re-read the file).
        frames = {"cam1": np.zeros((HEIGHT, WIDTH, 3), np.uint8), "cam2": np.full((HEIGHT, WIDTH, 3), 60, np.uint8)}
        group.write_step(boxes, [], frames)
    assert not (output / "videos" / "cam1.mp4").exists() and not (output / "videos" / "cam1.partial.mp4").exists()
    if finalize:
        group.finalize(dict(IDENTITY_MAP), list(ADDED))
    group.close()
    return output


def decode(path) -> tuple[list[np.ndarray], float]:
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), path
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames, fps


def label_tab_colour(image: np.ndarray, drawn: TrackBox) -> np.ndarray:
    """Median BGR over the label tab of ``drawn`` (as the sink must have drawn it)."""
    num_squares = 0 if drawn.visibility is None else len(drawn.visibility)
    layout = layout_box_annotation(drawn.box, box_label(drawn), num_squares, (WIDTH, HEIGHT),
                                   AnnotationStyle.for_height(HEIGHT))
    x1, y1, x2, y2 = layout.label
    return np.median(image[y1:y2 + 1, x1:x2 + 1].reshape(-1, 3), axis=0)


def assert_colour(measured: np.ndarray, expected, far_from=None) -> None:
    expected = np.array(expected, float)
    assert np.abs(measured - expected).max() < 40, (measured, expected)
    if far_from is not None:
        assert np.abs(measured - np.array(far_from, float)).max() > 60, (measured, far_from)


def mot_rows(path) -> set[tuple]:
    rows = set()
    for line in path.read_text().splitlines():
        frame, global_id, x, y, w, h = line.split(",")[:6]
        rows.add((int(frame), int(global_id), float(x), float(y), float(w), float(h)))
    return rows


def expected_rows(final: bool) -> set[tuple]:
    """The MOT rows of cam1: final (every box, added ones too, with its track's final id) or online
    (the tracked boxes with the id each had online); boxes without an id have no row."""
    boxes = [online_box(track, frame) for track in ONLINE_IDS for frame in ONLINE_IDS[track]]
    rows = set()
    for box in boxes + ADDED if final else boxes:
        global_id = FINAL_IDS.get(box.track_id) if final else box.global_id
        if global_id is not None:
            x1, y1, x2, y2 = box.box
            rows.add((box.frame_index, global_id, float(x1), float(y1), float(x2 - x1), float(y2 - y1)))
    return rows


def test_ids_differ_enough_in_colour_for_the_video_checks():
    for online, final in [(2, 3), (8, 9), (None, 3)]:
        assert np.abs(np.array(identity_colour(online)) - np.array(identity_colour(final))).max() > 100


def test_mot_file_holds_the_final_id_of_every_box_added_boxes_included(tmp_path):
    output = run(tmp_path, finalize=True)
    rows = mot_rows(output / "mot" / "cam1.txt")
    assert rows == expected_rows(final=True)
    assert (4, 3, 20.0, 70.0, 80.0, 130.0) in rows and (5, 3, 20.0, 70.0, 80.0, 130.0) in rows  # the gap, filled
    assert not any(row[1] == 2 for row in rows)  # the online id of track 1 is gone
    lines = (output / "mot" / "cam1.txt").read_text().splitlines()
    assert lines == sorted(lines, key=lambda line: tuple(int(value) for value in line.split(",")[:2]))
    assert "4,3,20.00,70.00,80.00,130.00,0.0000,-1,-1,-1" in lines
    assert sorted(path.name for path in (output / "mot").iterdir()) == ["cam1.txt", "cam2.txt"]


def test_database_agrees_with_the_mot_file_box_for_box(tmp_path):
    output = run(tmp_path, finalize=True)
    database = sqlite3.connect(output / "tracks.sqlite")
    rows = database.execute(
        "SELECT b.frame, t.global_id, b.x1, b.y1, b.x2 - b.x1, b.y2 - b.y1, b.track_id, b.interpolated "
        "FROM boxes b JOIN tracks t USING (camera, track_id) WHERE b.camera = 'cam1'"
    ).fetchall()
    assert len(rows) == sum(len(frames) for frames in ONLINE_IDS.values()) + len(ADDED)
    assert {row[:6] for row in rows if row[1] is not None} == mot_rows(output / "mot" / "cam1.txt")
    assert sorted((row[0], row[6]) for row in rows if row[7]) == [(3, 4), (4, 1), (5, 1)]
    assert [row[1] for row in rows if row[6] == 4] == [None]  # no id: in the database, not in the MOT file
    identities = database.execute("SELECT global_id FROM identities ORDER BY global_id").fetchall()
    assert identities == [(3,), (5,), (7,), (9,)]  # 9: the live camera's track, renamed from 8
    assert database.execute("SELECT value FROM metadata WHERE key = 'schema_version'").fetchone() == ("3",)
    database.close()


def test_recorded_video_is_rendered_from_the_source_with_the_final_ids(tmp_path):
    output = run(tmp_path, finalize=True)
    frames, fps = decode(output / "videos" / "cam1.mp4")
    assert len(frames) == STEPS and frames[0].shape == (HEIGHT, WIDTH, 3)
    assert fps == pytest.approx(10.0)  # the source's rate
    for frame_index, image in enumerate(frames, start=1):
        assert abs(float(np.median(image[5:40, 5:40])) - background(frame_index)) < 10, frame_index
        for track_id, online_ids in ONLINE_IDS.items():
            if frame_index in online_ids:
                online = online_box(track_id, frame_index)
                final = replace(online, global_id=FINAL_IDS[track_id])
                far_from = identity_colour(online.global_id) if online.global_id != final.global_id else None
                assert_colour(label_tab_colour(image, final), identity_colour(final.global_id), far_from)
    for added in ADDED:
        drawn = replace(added, global_id=FINAL_IDS.get(added.track_id))  # track 4: grey, no id
        assert_colour(label_tab_colour(frames[added.frame_index - 1], drawn), identity_colour(drawn.global_id))
    assert sorted(path.name for path in (output / "videos").iterdir()) == ["cam1.mp4", "cam2.mp4"]


def test_live_camera_is_still_drawn_online(tmp_path):
    output = run(tmp_path, finalize=True)
    frames, _ = decode(output / "videos" / "cam2.mp4")
    assert len(frames) == STEPS
    drawn = TrackBox("cam2", 3, 0.2, 1, LIVE_BOX, 0.8, None, 8)
    for image in frames:
        assert_colour(label_tab_colour(image, drawn), identity_colour(8), identity_colour(9))
        assert abs(float(np.median(image[5:40, 250:300])) - 60) < 6  # its own frames, not a source file


def test_close_without_finalize_renders_the_recorded_video_with_the_online_ids(tmp_path):
    output = run(tmp_path, finalize=False)
    frames, _ = decode(output / "videos" / "cam1.mp4")
    assert len(frames) == STEPS
    first = online_box(1, 1)  # not yet associated: grey
    assert_colour(label_tab_colour(frames[0], first), UNASSIGNED_COLOUR, identity_colour(3))
    assert_colour(label_tab_colour(frames[1], online_box(1, 2)), identity_colour(2), identity_colour(3))
    # No filled-in box at frames 4-5: where its label would be, the source frame shows through.
    tab = label_tab_colour(frames[3], replace(ADDED[0], global_id=3))
    assert np.abs(tab - background(4)).max() < 10, tab
    assert mot_rows(output / "mot" / "cam1.txt") == expected_rows(final=False)


def test_interpolated_boxes_have_a_dashed_outline_and_a_marked_label():
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    solid = TrackBox("cam1", 1, 0.0, 1, (40, 80, 200, 200), 0.9, None, 3)
    filled_in = TrackBox("cam1", 1, 0.0, 1, (40, 80, 200, 200), 0.0, None, 3, True)
    assert box_label(solid) == "G3 T1" and box_label(filled_in) == "G3 T1 interp"
    bottom_edges = [annotate_frame(image, [drawn])[200, 45:195].max(axis=1) for drawn in (solid, filled_in)]
    assert (bottom_edges[0] > 0).all()  # solid: every pixel of the edge is drawn
    assert 0.3 < (bottom_edges[1] > 0).mean() < 0.7  # dashed: about half of it


def test_a_missing_source_file_is_reported_when_the_sink_starts(tmp_path):
    settings = SinkSettings(video=True, video_sources={"cam1": str(tmp_path / "gone.mp4")})
    with pytest.raises(UserError, match="gone.mp4"):
        build_sinks(tmp_path / "out", ["cam1"], settings)


def render_three_recorded_cameras(tmp_path, threads: int, missing: str | None = None):
    """Cameras cam1..cam3, each its own recorded source and one track drawn at its own place with its
    own final id, rendered by ``finalize`` with ``threads`` render threads; ``missing``: a camera
    whose source file is gone by the end of the run. Returns (videos directory, the error raised)."""
    from pipeline.sinks.video_sink import VideoSink

    sources = {}
    for camera in ("cam1", "cam2", "cam3"):
        sources[camera] = tmp_path / f"{camera}_source.mp4"
        write_source_video(sources[camera])
    output = tmp_path / f"out_{threads}"
    sink = VideoSink(output, SinkSettings(video=True, video_sources={c: str(p) for c, p in sources.items()},
                                          video_render_threads=threads))
    places = {"cam1": (20, 70, 100, 200), "cam2": (120, 40, 200, 170), "cam3": (220, 90, 300, 230)}
    for frame_index in range(1, STEPS + 1):
        boxes = [TrackBox(camera, frame_index, (frame_index - 1) / 10, 1, place, 0.9, None, None)
                 for camera, place in places.items()]
        sink.write_step(boxes, [], {camera: None for camera in places})
    if missing:
        sources[missing].unlink()
    error = None
    try:
        sink.finalize({TrackKey("cam1", 1): 3, TrackKey("cam2", 1): 5, TrackKey("cam3", 1): 7})
    except UserError as raised:
        error = raised
    return output, error, places


def test_recorded_cameras_rendered_side_by_side_give_the_same_videos(tmp_path):
    """Three cameras on three render threads: the same frames as one after another, each camera
    with its own box and final id (no camera drawn into another's video)."""
    one, error_one, places = render_three_recorded_cameras(tmp_path, threads=1)
    three, error_three, _ = render_three_recorded_cameras(tmp_path, threads=3)
    assert error_one is None and error_three is None
    for camera, final_id in (("cam1", 3), ("cam2", 5), ("cam3", 7)):
        sequential, _ = decode(one / f"{camera}.mp4")
        parallel, _ = decode(three / f"{camera}.mp4")
        assert len(parallel) == len(sequential) == STEPS
        assert all(np.array_equal(a, b) for a, b in zip(sequential, parallel)), camera
        drawn = TrackBox(camera, 1, 0.0, 1, places[camera], 0.9, None, final_id)
        assert_colour(label_tab_colour(parallel[0], drawn), identity_colour(final_id))
    assert sorted(path.name for path in three.iterdir()) == ["cam1.mp4", "cam2.mp4", "cam3.mp4"]


def test_a_camera_that_fails_to_render_does_not_stop_the_others(tmp_path):
    output, error, _ = render_three_recorded_cameras(tmp_path, threads=3, missing="cam2")
    assert error is not None and "cam2" in str(error)
    assert sorted(path.name for path in output.iterdir()) == ["cam1.mp4", "cam3.mp4"]
    assert len(decode(output / "cam3.mp4")[0]) == STEPS
