"""The online association's decisions and its bounded state: ratio test, shared-part thresholds,
tracks of one step matched with each other, constraints re-checked as tracks grow, eviction."""

import numpy as np
import pytest

from pipeline.association import AssociationSettings, CrossCameraAssociation
from pipeline.match_rule import MatchRule
from pipeline.records import TrackKey

K, D = 2, 4
ALL = np.array([True, True, True])


def unit(vectors):
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def person(seed: int) -> np.ndarray:
    return unit(np.random.default_rng(seed).standard_normal((1 + K, D)))


def feed(association, camera, track_id, start, frames, embeddings, visibility=ALL, fps=10.0, step=False):
    key = TrackKey(camera, track_id)
    for offset in range(frames):
        timestamp = start + offset / fps
        association.observe(key, timestamp, int(round(timestamp * fps)) + 1, embeddings, visibility, (0, 0, 10, 30))
        if step:
            association.step(timestamp)
    return key


def make(**overrides):
    # refine=True keeps ended tracks (and their ids) in the history; live runs (refine=False) forget them
    settings = dict(distance_threshold=0.5, min_observations=3, refine=True, ratio=1.0)
    settings.update(overrides)
    return CrossCameraAssociation(AssociationSettings(**settings), num_parts=K, embedding_dim=D)


def test_match_rule_thresholds_by_shared_count_and_ratio():
    rule = MatchRule((0.2, 0.5, 0.6), ratio=0.8)
    assert rule.thresholds(np.array([0, 1, 2, 3, 7])).tolist() == [-np.inf, 0.2, 0.5, 0.6, 0.6]
    assert rule.under_threshold(np.array([0.3, 0.3, np.inf]), np.array([1, 2, 3])).tolist() == [False, True, False]
    assert rule.decisive(0.4, 0.5)  # 0.4 <= 0.8 * 0.5
    assert not rule.decisive(0.41, 0.5)
    assert rule.decisive(0.9, np.inf)
    with pytest.raises(ValueError):
        MatchRule((0.5,), ratio=0.0)


def test_a_pair_sharing_only_the_foreground_is_judged_by_the_one_embedding_threshold():
    foreground_only = np.array([True, False, False])
    near = unit(person(1) + 0.2 * person(8))  # foreground distance about 0.2-0.3
    distance = float(np.linalg.norm(near[0] - person(1)[0]))
    for thresholds, same in (((distance / 2, 1.0, 1.0), False), ((distance * 2, 0.01, 0.01), True)):
        association = make(thresholds_by_shared=thresholds)
        a = feed(association, "cam1", 1, 0.0, 4, person(1), foreground_only)
        association.step(0.4)
        b = feed(association, "cam2", 1, 5.0, 4, near, ALL)
        association.step(5.4)
        assert (association.global_id(a) == association.global_id(b)) is same, thresholds


def test_an_ambiguous_track_waits_for_the_ratio_test_then_takes_its_best():
    twin_a, twin_b = person(1), unit(person(1) + 0.02 * person(5))
    association = make(ratio=0.5, decision_patience=2, views_overlap=False)  # patience: 2 x 3 observations
    first = feed(association, "cam1", 1, 0.0, 4, twin_a)
    association.step(0.4)
    second = feed(association, "cam2", 1, 0.0, 4, twin_b)  # other camera, same time: another person
    association.step(0.4)
    assert association.global_id(first) != association.global_id(second)
    between = unit(1.1 * twin_a + twin_b)  # a little nearer the first twin
    third = feed(association, "cam3", 1, 10.0, 3, between)
    association.step(10.2)
    assert association.global_id(third) is None  # both twins are about as close: undecided
    feed(association, "cam3", 1, 10.3, 3, between)
    association.step(10.5)
    assert association.global_id(third) == association.global_id(first)  # patience spent: the best


def test_two_tracks_entering_overlapping_views_in_one_step_get_one_new_id():
    association = make(views_overlap=True)
    a = feed(association, "cam1", 1, 0.0, 3, person(1))
    b = feed(association, "cam2", 7, 0.0, 3, person(1))
    c = feed(association, "cam3", 2, 0.0, 3, person(2))
    events = association.step(0.2)
    assert association.global_id(a) == association.global_id(b) != association.global_id(c)
    assert sum(event.kind == "identity_assigned" for event in events) == 3


def test_a_reactivated_track_that_overlaps_its_identity_is_detached():
    """The tracker ends track 1, another track of the camera joins the identity, then track 1 comes
    back while the other is alive: one global id twice in one camera frame is never allowed."""
    association = make(track_timeout_s=1.0)
    look = person(1)
    first = feed(association, "cam1", 1, 0.0, 8, look, step=True)
    identity = association.global_id(first)
    association.step(2.5)  # track 1 ends
    assert first not in association.active
    second = feed(association, "cam1", 2, 3.0, 5, look, step=True)
    assert association.global_id(second) == identity
    # track 1 re-activated at 3.5 s, with more observations than track 2 so far: track 2 leaves
    for offset in range(6):
        timestamp = 3.5 + offset / 10
        association.observe(first, timestamp, 36 + offset, look, ALL, (0, 0, 10, 30))
        association.observe(second, timestamp, 36 + offset, look, ALL, (20, 0, 30, 30))
        events = association.step(timestamp)
        ids = [association.global_id(first), association.global_id(second)]
        assert ids[0] != ids[1] or ids[0] is None
    assert association.global_id(first) == identity
    assert association.global_id(second) not in (None, identity)


def test_identities_unseen_past_the_retention_leave_the_matching_set_and_state_stays_bounded():
    association = make(identity_retention_s=30.0, constraint_horizon_s=10.0, refine=False)
    sizes = []
    for index in range(60):  # a new person every 5 s, each seen for 1 s
        start = 5.0 * index
        feed(association, f"cam{index % 3}", index, start, 10, person(100 + index), step=True)
        association.step(start + 4.0)
        sizes.append(association.state_size())
    assert sizes[-1]["active_tracks"] == 0 and sizes[-1]["history_tracks"] == 0  # live: nothing kept
    assert sizes[-1]["identities"] <= 8 and sizes[-1]["table_rows"] <= sizes[-1]["identities"]
    assert association.archived_identities >= 50
    assert sizes[-1] == sizes[30]  # flat
    ended = association.drain_ended_snapshots()
    assert len(ended) == 60 and association.drain_ended_snapshots() == []


def test_an_archived_identity_is_not_matched_again_but_a_retained_one_is():
    for retention, same in ((20.0, False), (60.0, True)):
        association = make(identity_retention_s=retention)
        first = feed(association, "cam1", 1, 0.0, 5, person(1), step=True)
        association.step(3.0)
        association.step(30.0)
        again = feed(association, "cam2", 1, 31.0, 5, person(1), step=True)
        assert association.global_id(again) is not None
        assert (association.global_id(again) == association.global_id(first)) is same, retention


def test_refine_threshold_zero_means_no_merge():
    association = make(refine=True, refine_threshold=0.0, views_overlap=False)
    a = feed(association, "cam1", 1, 0.0, 2, person(1))  # too short to be decided online
    b = feed(association, "cam2", 1, 5.0, 2, person(1))
    association.refine(10.0)
    assert association.global_id(a) != association.global_id(b)
    association = make(refine=True, refine_threshold=None, views_overlap=False)
    a = feed(association, "cam1", 1, 0.0, 2, person(1))
    b = feed(association, "cam2", 1, 5.0, 2, person(1))
    association.refine(10.0)
    assert association.global_id(a) == association.global_id(b)


def test_many_identities_are_pre_filtered_by_foreground_with_the_same_decisions():
    """Past ``online_candidates`` identities only the nearest by foreground are re-scored: the
    decisions equal those of scoring every identity."""
    decisions = []
    for candidates in (8, 10_000):
        association = make(online_candidates=candidates, views_overlap=False)
        for index in range(120):  # 120 people seen one after the other in cam1
            feed(association, "cam1", index, 3.0 * index, 3, person(1000 + index), step=True)
        association.step(400.0)
        keys = [feed(association, "cam2", index, 400.0, 3, unit(person(1000 + index) + 0.05 * person(7)))
                for index in (5, 77, 119)]
        stranger = feed(association, "cam3", 1, 400.0, 3, person(5))
        association.step(400.3)
        decisions.append([association.global_id(key) for key in keys + [stranger]])
        assert [association.global_id(key) for key in keys] == [
            association.global_id(TrackKey("cam1", index)) for index in (5, 77, 119)
        ]
    assert decisions[0] == decisions[1]
