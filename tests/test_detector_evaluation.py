"""Person AP50 by pycocotools: boxes under the visibility floor are ignored regions (hand-computed cases)."""

import pytest

from train.detector_evaluation import coco_ground_truth, coco_scores

IMAGES = [{"id": 1, "width": 640, "height": 360}]
VISIBLE = (1, 100.0, 100.0, 40.0, 100.0, 0.9)  # image, x, y, w, h, visibility
HIDDEN = (1, 300.0, 120.0, 40.0, 100.0, 0.1)


def detection(box, score):
    return {"image_id": 1, "category_id": 1, "bbox": list(box[1:5]), "score": score}


def scores(boxes, detections, min_visibility=0.3):
    return coco_scores(coco_ground_truth(IMAGES, boxes, min_visibility), detections)


def test_every_person_found_scores_one():
    ap50, _, recall = scores([VISIBLE, HIDDEN], [detection(VISIBLE, 0.9), detection(HIDDEN, 0.8)], min_visibility=0.0)
    assert ap50 == pytest.approx(1.0) and recall == pytest.approx(1.0)


def test_a_missed_hidden_person_costs_nothing_under_the_floor_and_half_without_it():
    found = [detection(VISIBLE, 0.9)]
    assert scores([VISIBLE, HIDDEN], found)[0] == pytest.approx(1.0)
    # Counted, the miss caps recall at 1/2: COCO's 101-point precision is 1 up to recall 0.50 -> 51/101.
    assert scores([VISIBLE, HIDDEN], found, min_visibility=0.0)[0] == pytest.approx(51 / 101)


def test_a_detection_on_an_ignored_person_is_not_a_false_positive():
    found = [detection(HIDDEN, 0.99), detection(VISIBLE, 0.5)]
    assert scores([VISIBLE, HIDDEN], found)[0] == pytest.approx(1.0)


def test_a_false_positive_ranked_first_halves_the_precision():
    stray = {"image_id": 1, "category_id": 1, "bbox": [500.0, 10.0, 30.0, 80.0], "score": 0.9}
    # Ranking: FP (precision 0), TP (precision 1/2 at recall 1): interpolated precision 1/2 everywhere.
    assert scores([VISIBLE], [stray, detection(VISIBLE, 0.8)])[0] == pytest.approx(0.5)
    # Ranked after the true positive, it costs nothing: precision 1 is reached at full recall first.
    assert scores([VISIBLE], [detection(VISIBLE, 0.95), stray])[0] == pytest.approx(1.0)


def test_a_box_off_by_more_than_half_is_a_miss_at_iou_one_half():
    x, y, w, h = VISIBLE[1:5]
    shifted = {"image_id": 1, "category_id": 1, "bbox": [x + 0.4 * w, y, w, h], "score": 0.9}  # IoU 0.6/1.4
    assert scores([VISIBLE], [shifted])[0] == pytest.approx(0.0)
    nudged = {"image_id": 1, "category_id": 1, "bbox": [x + 0.2 * w, y, w, h], "score": 0.9}  # IoU 0.8/1.2
    assert scores([VISIBLE], [nudged])[0] == pytest.approx(1.0)


def test_no_detection_scores_zero():
    assert scores([VISIBLE], []) == (0.0, 0.0, 0.0)
