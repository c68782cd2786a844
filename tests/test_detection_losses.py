"""benchmarks/detection_losses.py: its one-to-one matching and what it calls a duplicate, on a
hand-made frame."""

import importlib.util

import numpy as np

from tests.conftest import REPOSITORY_ROOT


def _benchmark():
    spec = importlib.util.spec_from_file_location("detection_losses", REPOSITORY_ROOT / "benchmarks/detection_losses.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_second_box_on_a_matched_person_is_a_duplicate_and_a_far_box_is_not():
    benchmark = _benchmark()
    people = np.array([[0, 0, 10, 20], [100, 0, 10, 20]], float)  # x, y, w, h
    boxes = np.array([
        [0, 0, 10, 20],     # person 0 exactly
        [0, 4, 10, 20],     # person 0 again, 4 px lower: IoU 16 * 10 / (2 * 200 - 160) = 2/3
        [101, 0, 10, 20],   # person 1: IoU 9 * 20 / (400 - 180) = 0.818
        [300, 300, 10, 20],  # nobody
    ], float)
    truth_matched, taken, overlaps = benchmark.match_to_ground_truth(boxes, people)
    assert truth_matched.tolist() == [True, True]
    assert taken.tolist() == [True, False, True, False]
    np.testing.assert_allclose(overlaps[1, 0], 2 / 3)
    assert benchmark.duplicate_boxes(truth_matched, taken, overlaps).tolist() == [False, True, False, False]


def test_no_boxes_or_no_people_match_nothing():
    benchmark = _benchmark()
    truth_matched, taken, overlaps = benchmark.match_to_ground_truth(np.zeros((0, 4)), np.array([[0, 0, 5, 5]], float))
    assert truth_matched.tolist() == [False] and taken.size == 0 and overlaps.shape == (0, 1)
    truth_matched, taken, overlaps = benchmark.match_to_ground_truth(np.array([[0, 0, 5, 5]], float), np.zeros((0, 4)))
    assert truth_matched.size == 0 and taken.tolist() == [False] and overlaps.shape == (1, 0)


def test_visibility_bands_and_their_rows(tmp_path):
    benchmark = _benchmark()
    # Bands [0, .08), [.08, .2), [.2, .3), [.3, .5), [.5, .75), [.75, 1]; an edge opens the next band.
    assert benchmark.visibility_band(np.array([0.0, 0.079, 0.08, 0.25, 0.3, 0.74, 0.75, 1.0])).tolist() == [
        0, 0, 1, 2, 3, 4, 5, 5]
    ground_truth = tmp_path / "cam1.txt"
    ground_truth.write_text("1,3,0,0,10,20,1,1,0.9\n2,3,0,0,10,20,1,1,0.1\n1,4,50,0,10,20,1,1,0.4\n")
    by_frame = benchmark.ground_truth_visibility_by_frame(ground_truth)
    assert {frame: values.tolist() for frame, values in by_frame.items()} == {1: [0.9, 0.4], 2: [0.1]}


def test_people_alone_in_a_group_and_overlapping_by_their_nearest_neighbour():
    benchmark = _benchmark()
    people = np.array([
        [0, 0, 10, 20],     # nearest is the second, 6 px apart: IoU 4 * 20 / (400 - 80) = 0.25: alone
        [6, 0, 10, 20],     # nearest is the third, 2 px apart: IoU 8 * 20 / (400 - 160) = 2/3: overlapping
        [8, 0, 10, 20],
        [200, 0, 10, 20],   # and the next, 3.5 px apart: IoU 6.5 * 20 / (400 - 130) = 0.481: in a group
        [203.5, 0, 10, 20],
    ], float)
    nearest = benchmark.nearest_person_overlap(people)
    np.testing.assert_allclose(nearest, [0.25, 2 / 3, 2 / 3, 130 / 270, 130 / 270])
    assert benchmark.group_band(nearest).tolist() == [0, 2, 2, 1, 1]
    assert benchmark.group_band(np.array([0.3, 0.5])).tolist() == [1, 2]  # an edge goes up
    assert benchmark.nearest_person_overlap(np.array([[0, 0, 10, 20]], float)).tolist() == [0.0]
