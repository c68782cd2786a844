"""Annotated frames in a crowd: labels that do not cover each other, strips that do not blink."""

import numpy as np

from pipeline.records import TrackBox
from pipeline.sinks.drawing import AnnotationStyle, HeldVisibility, annotate_frame, draw_track_box, layout_box_annotation

STYLE = AnnotationStyle.for_height(360)
VISIBLE = (True, True, False, True, True, True, True, False, False)


def box(track_id, xyxy, frame=1, visibility=VISIBLE, global_id=None):
    return TrackBox("cam1", frame, frame / 10, track_id, tuple(float(v) for v in xyxy), 0.9, visibility, global_id)


def overlap(first, second):
    width = min(first[2], second[2]) - max(first[0], second[0]) + 1
    height = min(first[3], second[3]) - max(first[1], second[1]) + 1
    return max(width, 0) * max(height, 0)


def test_a_lone_box_keeps_its_label_above_its_top_left_corner():
    layout = layout_box_annotation((100, 120, 140, 220), "G3 T1", 9, (640, 360), STYLE)
    assert layout.label[0] == 100 and layout.label[3] < 120


def test_labels_of_people_walking_side_by_side_do_not_cover_each_other():
    image = np.zeros((360, 640, 3), np.uint8)
    crowd = [box(1, (100, 120, 140, 220), global_id=1), box(2, (108, 122, 150, 224), global_id=2),
             box(3, (116, 118, 158, 219), global_id=3)]
    taken = []
    for person in crowd:
        taken.append(draw_track_box(image, person, STYLE, taken).tab)
    for index, first in enumerate(taken):
        for second in taken[index + 1:]:
            assert overlap(first, second) == 0, (first, second)
    # Without the rule all three tabs would start at their boxes' top-left corners, 8 px apart.
    naive = [layout_box_annotation(person.box, "G1 T1", 9, (640, 360), STYLE).tab for person in crowd]
    assert overlap(naive[0], naive[1]) > 0


def test_annotate_frame_draws_every_label_once_in_a_crowd():
    image = np.zeros((360, 640, 3), np.uint8)
    crowd = [box(track, (100 + 6 * track, 120, 140 + 6 * track, 220), global_id=track) for track in range(1, 4)]
    annotated = annotate_frame(image, crowd)
    assert annotated.shape == image.shape and annotated.any()


def test_visibility_is_held_between_extractions_and_then_dropped():
    held = HeldVisibility(max_frames=3)
    assert held.apply(1, [box(7, (0, 0, 10, 30), frame=1)])[0].visibility == VISIBLE
    assert held.apply(2, [box(7, (0, 0, 10, 30), frame=2, visibility=None)])[0].visibility == VISIBLE
    changed = tuple(not value for value in VISIBLE)
    assert held.apply(3, [box(7, (0, 0, 10, 30), frame=3, visibility=changed)])[0].visibility == changed
    assert held.apply(4, [box(7, (0, 0, 10, 30), frame=4, visibility=None)])[0].visibility == changed
    assert held.apply(5, [box(8, (50, 0, 60, 30), frame=5, visibility=None)])[0].visibility is None  # never had one
    filled_in = TrackBox("cam1", 6, 0.6, 7, (0.0, 0.0, 10.0, 30.0), 0.0, None, None, interpolated=True)
    assert held.apply(6, [filled_in])[0].visibility is None  # a box filled in after the run saw nothing
    held.apply(9, [])  # 5 frames after the last visibility: evicted
    assert held.apply(10, [box(7, (0, 0, 10, 30), frame=10, visibility=None)])[0].visibility is None
