"""Tracks cut where their appearance changes (pipeline/track_splitting.py), on hand-made features."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.association import AssociationSettings
from pipeline.config import TrackSplitSettings
from pipeline.records import TrackedFrame
from pipeline.sinks import SinkSettings
from pipeline.stages import AssociationStage, ExtractorDescription
from pipeline.track_splitting import TrackSplitter

PARTS, DIM = 2, 8
A, B = np.eye(DIM, dtype=np.float32)[0], np.eye(DIM, dtype=np.float32)[1]  # ||A - B|| = sqrt(2) = 1.41


def frame(camera, index, rows, fps=10.0):
    """rows: (tracker id, appearance vector or None for a box without features, x position)."""
    boxes = np.array([[x, 20.0, x + 20.0, 80.0] for _, _, x in rows], dtype=np.float32).reshape(-1, 4)
    embeddings = np.zeros((len(rows), 1 + PARTS, DIM), dtype=np.float32)
    has_features = np.array([vector is not None for _, vector, _ in rows])
    for row, (_, vector, _) in enumerate(rows):
        if vector is not None:
            embeddings[row] = vector
    return TrackedFrame(
        camera, index, (index - 1) / fps, boxes, np.array([track for track, _, _ in rows], dtype=np.int64),
        np.full(len(rows), 0.9, dtype=np.float32), embeddings, np.ones((len(rows), 1 + PARTS), dtype=bool),
        has_features, has_features.copy(),
    )


def splitter(threshold=1.1, **settings):
    return TrackSplitter(TrackSplitSettings(threshold=threshold, **settings))


def relabelled_ids(splitter, appearances, camera="cam1", tracker_id=7):
    return [int(splitter.relabel(frame(camera, index + 1, [(tracker_id, vector, 10.0)])).track_ids[0])
            for index, vector in enumerate(appearances)]


def test_a_track_that_changes_person_is_cut_at_the_second_crop_in_a_row_that_looks_like_someone_else():
    cutter = splitter()
    # 6 crops of A, then B: the first B is one strike (kept), the second cuts the track.
    assert relabelled_ids(cutter, [A] * 6 + [B] * 3) == [1] * 7 + [2] * 2
    assert cutter.splits == 1


def test_one_odd_crop_a_young_segment_or_no_threshold_never_cut():
    assert relabelled_ids(splitter(), [A] * 6 + [B] + [A] * 3) == [1] * 10  # one odd crop: no cut
    # Two crops are not yet a segment to judge (min_observations 4): B joins it.
    assert relabelled_ids(splitter(), [A, A, B, B, B]) == [1] * 5
    assert relabelled_ids(splitter(threshold="auto"), [A] * 6 + [B] * 4) == [1] * 10  # unresolved: no calibration
    assert relabelled_ids(splitter(enabled=False), [A] * 6 + [B] * 4) == [1] * 10
    # Within the threshold (a slightly different view of A) is no strike.
    near_a = (A + 0.3 * B) / np.linalg.norm(A + 0.3 * B)  # ||near_a - A|| = 0.30
    assert relabelled_ids(splitter(), [A] * 6 + [near_a] * 4) == [1] * 10


def test_boxes_without_features_carry_the_segment_and_ids_are_per_camera():
    cutter = splitter()
    ids = relabelled_ids(cutter, [A] * 5 + [None, B, None, B, None])
    assert ids == [1] * 8 + [2, 2]  # the box without features between the strikes stays in segment 1
    # Another tracker track in the same camera gets the next id; another camera counts from 1.
    second = cutter.relabel(frame("cam1", 11, [(7, A, 10.0), (9, A, 50.0)]))
    assert second.track_ids.tolist() == [2, 3]
    assert cutter.relabel(frame("cam2", 1, [(7, A, 10.0)])).track_ids.tolist() == [1]


def test_forgotten_tracks_are_evicted_and_a_revived_one_is_new():
    cutter = TrackSplitter(TrackSplitSettings(threshold=1.1, forget_after_s=5.0))
    cutter.relabel(frame("cam1", 1, [(1, A, 10.0), (2, B, 50.0)]))  # t = 0 s
    cutter.relabel(frame("cam1", 41, [(2, B, 50.0)]))  # t = 4 s
    assert len(cutter) == 2
    cutter.forget_before(6.0)  # track 1 last seen at 0 s, more than 5 s before
    assert len(cutter) == 1
    assert cutter.relabel(frame("cam1", 61, [(1, A, 10.0)])).track_ids.tolist() == [3]


def run_stage(tmp_path, splitting):
    """cam1: one tracker track that follows A for frames 1-10, then B (crossing); cam2 sees A and B
    as two tracks all along. Returns {(camera, frame): final global id} of cam1 and cam2's ids."""
    settings = AssociationSettings(
        distance_threshold=0.7, min_observations=3, refine=True, gap_filling_max_s=0.0,
        splitting=splitting, views_overlap=True,
    )
    description = ExtractorDescription(PARTS, DIM, ("upper", "lower"), "hand-made")
    stage = AssociationStage(settings, description, tmp_path, ["cam1", "cam2"],
                             SinkSettings(events=False, sqlite=False))
    try:
        for index in range(1, 21):
            cam1 = frame("cam1", index, [(5, A if index <= 10 else B, 10.0 + index)])
            cam2 = frame("cam2", index, [(1, A, 10.0), (2, B, 60.0)])
            stage.process_step((index - 1) / 10.0, [cam1, cam2])
        stage.finish(1.9)
    finally:
        stage.close()
    rows = {camera: np.loadtxt(tmp_path / "mot" / f"{camera}.txt", delimiter=",", ndmin=2) for camera in ("cam1", "cam2")}
    cam1 = {int(row[0]): int(row[1]) for row in rows["cam1"]}
    cam2 = {int(row[2]): int(row[1]) for row in rows["cam2"]}  # x position 10 is A, 60 is B
    return cam1, cam2[10], cam2[60]


def test_the_association_gives_each_half_of_a_switched_track_its_own_person(tmp_path):
    cam1, identity_a, identity_b = run_stage(tmp_path / "split", TrackSplitSettings(threshold=1.1))
    assert identity_a != identity_b
    assert {cam1[index] for index in range(1, 12)} == {identity_a}  # frame 11: the first strike, still A's
    assert {cam1[index] for index in range(12, 21)} == {identity_b}
    # Without the cut the whole track has one identity: half of its boxes are wrong, whichever it is.
    cam1, identity_a, identity_b = run_stage(tmp_path / "whole", TrackSplitSettings(threshold=1.1, enabled=False))
    assert len(set(cam1.values())) == 1


def test_bad_split_settings_are_one_config_error(tmp_path):
    from pipeline.config import load_pipeline_config
    from reid.errors import UserError

    path = tmp_path / "bad.yaml"
    path.write_text("association:\n  splitting:\n    consecutive: 0\n")
    with pytest.raises(UserError, match="association.splitting"):
        load_pipeline_config(path)
    path.write_text("association:\n  splitting:\n    threshhold: 1.0\n")
    with pytest.raises(UserError, match="threshhold"):
        load_pipeline_config(path)
