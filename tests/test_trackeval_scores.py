"""TrackEval's IDF1 and HOTA on the merged multi-camera sequence, against hand-computed cases and
against our own motmetrics evaluation on random worlds."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from pipeline.evaluate import main as evaluate_main
from pipeline.mtmc_evaluation import evaluate_mtmc
from pipeline.trackeval_scores import trackeval_scores
from reid.errors import run_command_line

BOX_A = (10.0, 10.0, 20.0, 40.0)  # x, y, w, h; A and B do not overlap
BOX_B = (100.0, 20.0, 30.0, 60.0)


def write_ground_truth(directory, camera, rows):
    """rows: (frame, person_id, (x, y, w, h), considered, visibility)."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{frame},{person},{x},{y},{w},{h},{considered},1,{visibility}\n"
        for frame, person, (x, y, w, h), considered, visibility in rows
    ]
    (directory / f"{camera}.txt").write_text("".join(lines))


def write_prediction(directory, camera, rows):
    """rows: (frame, global_id, (x, y, w, h))."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"{frame},{identity},{x},{y},{w},{h},0.9,-1,-1,-1\n" for frame, identity, (x, y, w, h) in rows]
    (directory / f"{camera}.txt").write_text("".join(lines))


def truth_track(person, frames, box, ignored_frames=()):
    return [(frame, person, box, 0 if frame in ignored_frames else 1, 1.0) for frame in frames]


def predicted_track(identity, frames, box):
    return [(frame, identity, box) for frame in frames]


@pytest.fixture
def directories(tmp_path):
    return tmp_path / "gt", tmp_path / "mot"


def write_hand_case(gt, mot):
    # cam1, frames 1-4: person 1 at A predicted as 11, person 2 at B predicted as 12.
    # cam2, frames 1-3: person 1 at A predicted as 13 (a new id: an identity switch across
    # cameras); its frame-3 box is ignored (considered = 0), so the prediction on it is removed.
    write_ground_truth(gt, "cam1", truth_track(1, range(1, 5), BOX_A) + truth_track(2, range(1, 5), BOX_B))
    write_ground_truth(gt, "cam2", truth_track(1, range(1, 4), BOX_A, ignored_frames={3}))
    write_prediction(mot, "cam1", predicted_track(11, range(1, 5), BOX_A) + predicted_track(12, range(1, 5), BOX_B))
    write_prediction(mot, "cam2", predicted_track(13, range(1, 4), BOX_A))


def test_hand_computed_case_gives_the_same_idf1_and_hota_in_both(directories):
    # Scored boxes: person 1 has 4 + 2 = 6 (cam2 frame 3 ignored), person 2 has 4: 10 in all.
    # Predictions left: id 11 x4, id 12 x4, id 13 x2 (its frame-3 box removed): 10 in all.
    # Best one-to-one id pairing: 1-11 (4 frames together), 2-12 (4); id 13 is left unpaired.
    # IDTP = 8, IDFN = 2 (person 1 in cam2), IDFP = 2 (id 13) -> IDF1 = 2*8 / (10 + 10) = 0.8,
    # IDP = IDR = 0.8. (Had the ignored box been scored: IDTP 8, IDFN 3, IDFP 3 -> 16/22.)
    # HOTA: every box is matched at IoU 1, so DetA = 10/10 = 1 at every alpha. AssA averages, over
    # the 10 true positives, TPA / (TPA + FNA + FPA) of its (person, id) pair:
    # 1-11: 4 / (6 + 4 - 4) = 4/6 (x4); 2-12: 4 / 4 = 1 (x4); 1-13: 2 / (6 + 2 - 2) = 2/6 (x2)
    # -> AssA = (4*4/6 + 4 + 2*2/6) / 10 = 11/15, HOTA = sqrt(1 * 11/15).
    gt, mot = directories
    write_hand_case(gt, mot)
    ours = evaluate_mtmc(gt, mot).multi_camera
    theirs = trackeval_scores(gt, mot)
    assert (ours.idtp, ours.idfp, ours.idfn) == (8, 2, 2)
    assert (theirs.idtp, theirs.idfp, theirs.idfn) == (8, 2, 2)
    for scores in (ours, theirs):
        assert scores.idf1 == pytest.approx(0.8) and scores.idp == pytest.approx(0.8)
        assert scores.idr == pytest.approx(0.8)
    assert (theirs.num_gt_dets, theirs.num_tracker_dets, theirs.num_gt_ids, theirs.num_tracker_ids) == (10, 10, 2, 3)
    assert theirs.num_timesteps == 4 + 3
    assert theirs.deta == pytest.approx(1.0)
    assert theirs.assa == pytest.approx(11 / 15)
    assert theirs.hota == pytest.approx(np.sqrt(11 / 15))


def test_iou_of_exactly_the_threshold_is_a_match_in_both(directories):
    # Prediction (0, 0, 5, 10) against truth (0, 0, 10, 10): IoU = 50/100 = 0.5 exactly. TrackEval's
    # Identity compares similarity >= THRESHOLD, as our distances do: an identity true positive.
    gt, mot = directories
    write_ground_truth(gt, "cam1", truth_track(1, range(1, 6), (0.0, 0.0, 10.0, 10.0)))
    write_prediction(mot, "cam1", predicted_track(3, range(1, 6), (0.0, 0.0, 5.0, 10.0)))
    assert evaluate_mtmc(gt, mot).multi_camera.idf1 == 1.0
    assert trackeval_scores(gt, mot).idf1 == 1.0


def write_random_world(gt, mot, seed):
    """3 cameras of random person tracks; predictions jittered, some dropped, ids swapped inside a
    camera and renamed across cameras, false positives, and ignored ground truth (considered 0 or
    low visibility)."""
    rng = np.random.default_rng(seed)
    for camera_index in range(3):
        camera = f"cam{camera_index + 1}"
        frame_count = int(rng.integers(15, 30))
        persons = rng.choice(8, size=int(rng.integers(3, 7)), replace=False)
        # Predicted id of each person in this camera: the shared global one, or a camera-specific one.
        predicted_id = {
            int(person): int(person) + (500 if rng.random() < 0.7 else 1000 * (camera_index + 1)) for person in persons
        }
        swapped_pair = rng.choice(persons, size=2, replace=False)
        swap_start, swap_end = sorted(rng.integers(1, frame_count + 1, size=2))
        truth_rows, predicted_rows = [], []
        for person in persons:
            first, last = sorted(rng.integers(1, frame_count + 1, size=2))
            position = rng.uniform(0, 400, size=2)
            velocity = rng.normal(0, 4, size=2)
            width = rng.uniform(20, 60)
            for frame in range(first, last + 1):
                x, y = position + velocity * (frame - first)
                box = (x, y, width, 2 * width)
                considered = 0 if rng.random() < 0.05 else 1
                truth_rows.append((frame, int(person), box, considered, round(float(rng.uniform(0, 1)), 3)))
                if rng.random() < 0.1:
                    continue  # missed
                identity = predicted_id[int(person)]
                if swap_start <= frame <= swap_end and person in swapped_pair:
                    other = swapped_pair[1] if person == swapped_pair[0] else swapped_pair[0]
                    identity = predicted_id[int(other)]  # the pair's ids exchanged: still unique per frame
                jitter = rng.normal(0, 0.08, size=4) * width  # IoU mostly above 0.5, not always
                jittered = (x + jitter[0], y + jitter[1], width + jitter[2], 2 * width + jitter[3])
                predicted_rows.append((frame, identity, jittered))
        for frame in range(1, frame_count + 1):
            if rng.random() < 0.3:
                x, y = rng.uniform(0, 450, size=2)
                predicted_rows.append((frame, 9000 + int(rng.integers(0, 3)), (x, y, 40.0, 80.0)))
        write_ground_truth(gt, camera, truth_rows)
        write_prediction(mot, camera, predicted_rows)


@pytest.mark.parametrize("seed", range(6))
def test_random_worlds_give_the_same_multi_camera_idf1(directories, seed):
    # Both take the min-cost global pairing of ground-truth and predicted ids over the same
    # candidate pairs (IoU >= 0.5 on the same IoU values), so the counts must agree exactly and the
    # fractions to rounding.
    gt, mot = directories
    write_random_world(gt, mot, seed)
    min_visibility = 0.3 if seed % 2 else 0.0
    ours = evaluate_mtmc(gt, mot, min_visibility=min_visibility).multi_camera
    theirs = trackeval_scores(gt, mot, min_visibility=min_visibility)
    assert 0.0 < ours.idf1 < 1.0  # the world is neither trivial nor hopeless
    assert (theirs.idtp, theirs.idfp, theirs.idfn) == (ours.idtp, ours.idfp, ours.idfn)
    assert (theirs.num_gt_dets, theirs.num_tracker_dets) == (ours.num_objects, ours.num_predictions)
    for name in ("idf1", "idp", "idr"):
        assert getattr(theirs, name) == pytest.approx(getattr(ours, name), abs=1e-6), name


def test_perfect_predictions_give_hota_one(directories):
    gt, mot = directories
    for camera in ("cam1", "cam2"):
        write_ground_truth(gt, camera, truth_track(1, range(1, 9), BOX_A) + truth_track(2, range(3, 7), BOX_B))
        write_prediction(mot, camera, predicted_track(21, range(1, 9), BOX_A) + predicted_track(22, range(3, 7), BOX_B))
    scores = trackeval_scores(gt, mot)
    assert scores.hota == pytest.approx(1.0, abs=1e-12)
    assert scores.deta == pytest.approx(1.0, abs=1e-12) and scores.assa == pytest.approx(1.0, abs=1e-12)
    assert scores.idf1 == 1.0
    assert all(count == 0 for count in scores.hota_fn + scores.hota_fp)


def test_a_track_split_in_two_lowers_association_not_detection(directories):
    gt, mot = directories
    write_ground_truth(gt, "cam1", truth_track(1, range(1, 11), BOX_A) + truth_track(2, range(1, 11), BOX_B))
    write_prediction(
        mot, "cam1",
        predicted_track(5, range(1, 6), BOX_A) + predicted_track(6, range(6, 11), BOX_A)
        + predicted_track(7, range(1, 11), BOX_B),
    )
    scores = trackeval_scores(gt, mot)
    assert scores.deta == pytest.approx(1.0)
    assert scores.assa < scores.deta
    assert scores.hota < 1.0


def test_command_line_prints_trackeval_beside_ours_and_writes_it_to_json(directories, tmp_path, capsys):
    gt, mot = directories
    write_hand_case(gt, mot)
    output = tmp_path / "scores.json"
    assert run_command_line(evaluate_main, ["--gt", str(gt), "--pred", str(mot), "--json", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "IDF1 80.0 (ours 80.0)" in printed and "HOTA 85.6" in printed  # sqrt(11/15) = 0.8563
    scores = json.loads(output.read_text())
    assert scores["trackeval"]["idf1"] == pytest.approx(0.8)
    assert scores["trackeval"]["hota"] == pytest.approx(np.sqrt(11 / 15))

    skipped = ["--gt", str(gt), "--pred", str(mot), "--json", str(output), "--no-trackeval"]
    assert run_command_line(evaluate_main, skipped) == 0
    assert "TrackEval" not in capsys.readouterr().out
    assert "trackeval" not in json.loads(output.read_text())


def test_missing_trackeval_is_one_line_unless_skipped(directories, monkeypatch, capsys):
    gt, mot = directories
    write_hand_case(gt, mot)
    monkeypatch.setitem(sys.modules, "trackeval", None)  # `import trackeval` now raises ImportError
    monkeypatch.setitem(sys.modules, "trackeval.metrics", None)
    assert run_command_line(evaluate_main, ["--gt", str(gt), "--pred", str(mot)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "TrackEval" in lines[0] and "--no-trackeval" in lines[0]
    assert captured.out == ""
    assert run_command_line(evaluate_main, ["--gt", str(gt), "--pred", str(mot), "--no-trackeval"]) == 0
