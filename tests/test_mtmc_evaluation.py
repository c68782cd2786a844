"""Multi-camera evaluation against hand-made cases whose scores are worked out in the comments."""

from __future__ import annotations

import json
import runpy
import sys

import numpy as np
import pytest

from pipeline.evaluate import main as evaluate_main
from pipeline.mtmc_evaluation import evaluate_mtmc, iou_xywh, read_mot_file
from reid.errors import UserError, run_command_line

BOX = (10.0, 10.0, 20.0, 40.0)  # x, y, w, h


def write_ground_truth(directory, camera, rows):
    """rows: (frame, person_id, (x, y, w, h)[, visibility])."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for row in rows:
        frame, person, (x, y, w, h), *rest = row
        visibility = rest[0] if rest else 1.0
        lines.append(f"{frame},{person},{x},{y},{w},{h},1,1,{visibility}\n")
    (directory / f"{camera}.txt").write_text("".join(lines))


def write_prediction(directory, camera, rows):
    """rows: (frame, global_id, (x, y, w, h))."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"{frame},{identity},{x},{y},{w},{h},0.9,-1,-1,-1\n" for frame, identity, (x, y, w, h) in rows]
    (directory / f"{camera}.txt").write_text("".join(lines))


def track(identity, frames, box=BOX):
    return [(frame, identity, box) for frame in frames]


@pytest.fixture
def directories(tmp_path):
    return tmp_path / "gt", tmp_path / "mot"


def test_iou_of_known_boxes():
    iou = iou_xywh(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5], [0, 0, 5, 10]]))
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0, 0.5]])


def test_perfect_prediction_scores_one(directories):
    gt, mot = directories
    box_b = (100.0, 20.0, 30.0, 60.0)
    for camera in ("cam1", "cam2"):
        write_ground_truth(gt, camera, track(1, range(1, 11)) + track(2, range(3, 9), box_b))
        # Global ids are arbitrary numbers: only their consistency across frames and cameras counts.
        write_prediction(mot, camera, track(41, range(1, 11)) + track(42, range(3, 9), box_b))
    report = evaluate_mtmc(gt, mot)
    for scores in (report.multi_camera, *report.per_camera.values(), report.per_camera_total):
        assert (scores.idf1, scores.idp, scores.idr, scores.mota, scores.motp) == (1.0, 1.0, 1.0, 1.0, 1.0)
        assert scores.num_switches == scores.num_false_positives == scores.num_misses == 0
    assert report.multi_camera.num_objects == 2 * (10 + 6)
    assert report.multi_camera.num_unique_objects == 2


def test_global_id_that_differs_between_cameras_halves_multi_camera_idf1(directories):
    # One person, 10 frames in each camera, predicted as id 7 in cam1 and id 9 in cam2.
    # Per camera: perfect. Merged: the person (20 boxes) can be paired with one id only:
    # IDTP = 10, IDFN = 10, IDFP = 10 -> IDF1 = 2*10 / (20 + 20) = 0.5, IDP = IDR = 0.5.
    gt, mot = directories
    write_ground_truth(gt, "cam1", track(1, range(1, 11)))
    write_ground_truth(gt, "cam2", track(1, range(1, 11)))
    write_prediction(mot, "cam1", track(7, range(1, 11)))
    write_prediction(mot, "cam2", track(9, range(1, 11)))
    report = evaluate_mtmc(gt, mot)
    assert report.per_camera["cam1"].idf1 == 1.0 and report.per_camera["cam2"].idf1 == 1.0
    assert report.per_camera_total.idf1 == 1.0
    merged = report.multi_camera
    assert (merged.idtp, merged.idfp, merged.idfn) == (10, 10, 10)
    assert merged.idf1 == pytest.approx(0.5)
    assert merged.idp == pytest.approx(0.5) and merged.idr == pytest.approx(0.5)
    assert report.frame_offsets == {"cam1": 0, "cam2": 10}


def test_identity_split_inside_a_camera(directories):
    # cam1: frames 1-10 as id 5. cam2: frames 1-6 as id 5, frames 7-10 as id 6.
    # Merged: person -> id 5 gives IDTP 16, IDFN 4 (id 6's boxes), IDFP 4 -> IDF1 = 32/40 = 0.8.
    # cam2 alone: id 5 covers 6 of 10 -> IDF1 = 12/20 = 0.6, one identity switch.
    gt, mot = directories
    write_ground_truth(gt, "cam1", track(3, range(1, 11)))
    write_ground_truth(gt, "cam2", track(3, range(1, 11)))
    write_prediction(mot, "cam1", track(5, range(1, 11)))
    write_prediction(mot, "cam2", track(5, range(1, 7)) + track(6, range(7, 11)))
    report = evaluate_mtmc(gt, mot)
    assert report.multi_camera.idf1 == pytest.approx(0.8)
    assert report.per_camera["cam2"].idf1 == pytest.approx(0.6)
    assert report.per_camera["cam2"].num_switches == 1
    assert report.per_camera["cam2"].mota == pytest.approx(1 - 1 / 10)


def test_camera_without_prediction_file_counts_as_all_misses(directories):
    # cam1 perfect (10 boxes), cam2 has no prediction file (10 misses).
    # Merged: IDTP 10, IDFP 0, IDFN 10 -> IDP 1, IDR 0.5, IDF1 = 20 / (10 + 20) = 2/3.
    gt, mot = directories
    write_ground_truth(gt, "cam1", track(1, range(1, 11)))
    write_ground_truth(gt, "cam2", track(1, range(1, 11)))
    write_prediction(mot, "cam1", track(4, range(1, 11)))
    report = evaluate_mtmc(gt, mot)
    assert report.missing_predictions == ("cam2",)
    assert report.per_camera["cam2"].num_misses == 10
    assert report.per_camera["cam2"].idr == 0.0
    assert report.multi_camera.idp == pytest.approx(1.0)
    assert report.multi_camera.idr == pytest.approx(0.5)
    assert report.multi_camera.idf1 == pytest.approx(2 / 3)
    assert "cam2 (no pred)" in report.table()


@pytest.mark.parametrize(
    "shift, matched, expected_iou",
    [
        (5.0, False, 50 / 150),  # IoU 1/3 < 0.5: a miss and a false positive every frame
        (2.0, True, 80 / 120),  # IoU 2/3 >= 0.5: matched
    ],
)
def test_iou_threshold_decides_matches(directories, shift, matched, expected_iou):
    gt, mot = directories
    square = (0.0, 0.0, 10.0, 10.0)
    write_ground_truth(gt, "cam1", track(1, range(1, 11), square))
    write_prediction(mot, "cam1", track(1, range(1, 11), (shift, 0.0, 10.0, 10.0)))
    scores = evaluate_mtmc(gt, mot).per_camera["cam1"]
    if matched:
        assert (scores.num_misses, scores.num_false_positives, scores.idf1) == (0, 0, 1.0)
        assert scores.motp == pytest.approx(expected_iou)
    else:
        assert (scores.num_misses, scores.num_false_positives) == (10, 10)
        assert scores.idf1 == 0.0
        assert scores.mota == pytest.approx(1 - (10 + 10) / 10)


def test_min_visibility_ignores_occluded_ground_truth_and_predictions_on_it(directories):
    # Frames 1-5 fully visible, frames 6-10 at visibility 0.2. The prediction covers frames 1-5
    # and frame 6 only. Scoring everything: 4 misses (7-10). With min visibility 0.5 the occluded
    # boxes are ignored, and the prediction on frame 6 is dropped rather than a false positive.
    gt, mot = directories
    rows = [(frame, 1, BOX, 1.0) for frame in range(1, 6)] + [(frame, 1, BOX, 0.2) for frame in range(6, 11)]
    write_ground_truth(gt, "cam1", rows)
    write_prediction(mot, "cam1", track(8, range(1, 7)))
    everything = evaluate_mtmc(gt, mot).per_camera["cam1"]
    assert (everything.num_objects, everything.num_misses, everything.num_false_positives) == (10, 4, 0)
    visible_only = evaluate_mtmc(gt, mot, min_visibility=0.5).per_camera["cam1"]
    assert (visible_only.num_objects, visible_only.num_misses, visible_only.num_false_positives) == (5, 0, 0)
    assert visible_only.idf1 == 1.0


def test_prediction_camera_without_ground_truth_is_an_error(directories):
    gt, mot = directories
    write_ground_truth(gt, "cam1", track(1, range(1, 4)))
    write_prediction(mot, "cam1", track(1, range(1, 4)))
    write_prediction(mot, "cam3", track(1, range(1, 4)))
    with pytest.raises(UserError, match="cam3"):
        evaluate_mtmc(gt, mot)


def test_cameras_are_merged_in_natural_order_with_offsets_from_their_last_frames(directories):
    gt, mot = directories
    write_ground_truth(gt, "cam10", track(1, range(1, 4)))
    write_ground_truth(gt, "cam2", track(1, range(1, 6)))
    write_prediction(mot, "cam2", track(1, range(1, 13)))  # predictions run past the ground truth
    report = evaluate_mtmc(gt, mot)
    assert list(report.per_camera) == ["cam2", "cam10"]
    assert report.frame_offsets == {"cam2": 0, "cam10": 12}


def test_malformed_and_duplicate_rows_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1,1,10,10,20,40,1,1,1\n2,1,ten,10,20,40,1,1,1\n")
    with pytest.raises(UserError, match=r"bad\.txt:2"):
        read_mot_file(bad, ground_truth=True)
    duplicate = tmp_path / "duplicate.txt"
    duplicate.write_text("1,4,10,10,20,40,0.9,-1,-1,-1\n1,4,50,10,20,40,0.8,-1,-1,-1\n")
    with pytest.raises(UserError, match="id 4 appears twice in frame 1"):
        read_mot_file(duplicate, ground_truth=False)


def test_command_line_prints_table_and_writes_json(directories, tmp_path, capsys):
    gt, mot = directories
    write_ground_truth(gt, "cam1", track(1, range(1, 11)))
    write_ground_truth(gt, "cam2", track(1, range(1, 11)))
    write_prediction(mot, "cam1", track(7, range(1, 11)))
    write_prediction(mot, "cam2", track(9, range(1, 11)))
    output = tmp_path / "scores.json"
    code = run_command_line(evaluate_main, ["--gt", str(gt), "--pred", str(mot), "--json", str(output)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "multi-camera" in printed and "cam2" in printed
    scores = json.loads(output.read_text())
    assert scores["multi_camera"]["idf1"] == pytest.approx(0.5)
    assert set(scores["per_camera"]) == {"cam1", "cam2"}
    for values in (scores["multi_camera"], *scores["per_camera"].values()):
        for key in ("idf1", "idp", "idr", "motp", "precision", "recall"):
            assert 0.0 <= values[key] <= 1.0


def test_command_line_bad_path_is_exit_code_2_with_one_line(tmp_path, monkeypatch, capsys):
    # `python -m pipeline.evaluate ...`, run in this interpreter (a new one would spend seconds importing torch).
    arguments = ["--gt", str(tmp_path / "missing"), "--pred", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", ["pipeline.evaluate", *arguments])
    monkeypatch.delitem(sys.modules, "pipeline.evaluate", raising=False)  # as a fresh `-m` run sees it
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("pipeline.evaluate", run_name="__main__", alter_sys=True)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "missing" in lines[0] and lines[0].startswith("error:"), captured.err
    assert captured.out == ""
