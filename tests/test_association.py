import numpy as np
import pytest

from pipeline.association import AssociationSettings, CrossCameraAssociation
from pipeline.association_constraints import TransitWindow
from pipeline.records import TrackKey

K, D = 2, 4  # parts, embedding size: embeddings are [1+K, D]


def person(seed: int) -> np.ndarray:
    """A person's appearance: one unit vector per embedding (foreground + 2 parts)."""
    vectors = np.random.default_rng(seed).standard_normal((1 + K, D))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


ALL = np.array([True, True, True])


def feed(association, camera, track_id, start, frames, embeddings, visibility=ALL, fps=10.0):
    key = TrackKey(camera, track_id)
    for offset in range(frames):
        timestamp = start + offset / fps
        association.observe(key, timestamp, int(timestamp * fps) + 1, embeddings, visibility)
    return key


def make(**overrides):
    settings = dict(distance_threshold=0.5, min_observations=3, refine=True)
    settings.update(overrides)
    return CrossCameraAssociation(AssociationSettings(**settings), num_parts=K, embedding_dim=D)


def test_same_person_in_two_cameras_gets_one_global_id_and_a_stranger_a_new_one():
    association = make()
    a = feed(association, "cam1", 1, 0.0, 5, person(1))
    association.step(0.5)
    b = feed(association, "cam2", 1, 3.0, 5, person(1))
    c = feed(association, "cam2", 2, 3.0, 5, person(2))
    events = association.step(3.5)
    assert association.global_id(a) == association.global_id(b)
    assert association.global_id(c) not in (None, association.global_id(a))
    assigned = {(e.camera, e.track_id): e for e in events if e.kind == "identity_assigned"}
    assert assigned[("cam2", 1)].distance == pytest.approx(0.0, abs=1e-3)
    assert assigned[("cam2", 2)].distance is None  # a new identity


def test_two_tracks_of_one_camera_overlapping_in_time_are_never_one_person():
    association = make()
    first = feed(association, "cam1", 1, 0.0, 10, person(1))
    association.step(0.2)
    second = feed(association, "cam1", 2, 0.5, 5, person(1))  # identical look, same time, same camera
    association.step(1.0)
    assert association.global_id(first) != association.global_id(second)
    association.refine(2.0)
    assert association.global_id(first) != association.global_id(second)
    # after the first track ends, the same camera may see the same person again
    third = feed(association, "cam1", 3, 5.0, 5, person(1))
    association.step(6.0)
    assert association.global_id(third) == association.global_id(first)


def test_views_that_do_not_overlap_forbid_simultaneous_tracks():
    association = make(views_overlap=False)
    a = feed(association, "cam1", 1, 0.0, 5, person(1))
    b = feed(association, "cam2", 1, 0.1, 5, person(1))
    association.step(1.0)
    assert association.global_id(a) != association.global_id(b)


@pytest.mark.parametrize("gap, same", [(5.0, True), (0.5, False), (60.0, False)])
def test_transit_windows(gap, same):
    association = make(transit_windows=[TransitWindow(("cam1", "cam2"), min_s=2.0, max_s=30.0)])
    a = feed(association, "cam1", 1, 0.0, 5, person(1))  # last seen at 0.4 s
    association.step(0.4)
    b = feed(association, "cam2", 1, 0.4 + gap, 5, person(1))
    association.step(0.4 + gap + 0.5)
    assert (association.global_id(a) == association.global_id(b)) is same


def test_distance_threshold_decides_a_match():
    near = person(1) + 0.05 * person(7)
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    association = make(distance_threshold=0.2)
    a = feed(association, "cam1", 1, 0.0, 5, person(1))
    association.step(0.5)
    b = feed(association, "cam2", 1, 3.0, 5, near.astype(np.float32))
    c = feed(association, "cam3", 1, 3.0, 5, person(9))
    association.step(3.5)
    assert association.global_id(b) == association.global_id(a)
    assert association.global_id(c) != association.global_id(a)


def test_only_parts_visible_in_both_views_are_compared():
    upper_only = np.array([True, True, False])
    lower_only = np.array([True, False, True])
    look = person(1)
    impostor = look.copy()
    impostor[2] = person(5)[2]  # same foreground and upper part, different lower part
    association = make(distance_threshold=0.3)
    a = feed(association, "cam1", 1, 0.0, 5, look, upper_only)
    association.step(0.5)
    # the impostor's lower body differs, but it is hidden in the first view: parts 0 and 1 match
    b = feed(association, "cam2", 1, 3.0, 5, impostor, ALL)
    association.step(3.5)
    assert association.global_id(b) == association.global_id(a)
    # a view showing only the lower body of the true person: shares foreground + part 2
    association2 = make(distance_threshold=0.3)
    c = feed(association2, "cam1", 1, 0.0, 5, impostor, lower_only)
    association2.step(0.5)
    d = feed(association2, "cam2", 1, 3.0, 5, look, lower_only)
    association2.step(3.5)
    assert association2.global_id(d) != association2.global_id(c)


def test_nothing_shared_is_never_a_match_but_foreground_mode_compares_the_foreground():
    only_part1 = np.array([False, True, False])
    only_part2 = np.array([False, False, True])
    for mode, same in (("visible_parts", False), ("foreground", True)):
        association = make(distance=mode)
        a = feed(association, "cam1", 1, 0.0, 5, person(1), only_part1)
        association.step(0.5)
        b = feed(association, "cam2", 1, 3.0, 5, person(1), only_part2)
        association.step(3.5)
        assert (association.global_id(a) == association.global_id(b)) is same, mode


def test_refinement_merges_through_a_fuller_view_and_never_reuses_ids():
    look = person(1)
    association = make()
    a = feed(association, "cam1", 1, 0.0, 5, look, np.array([False, True, False]))
    association.step(0.5)
    b = feed(association, "cam2", 1, 3.0, 5, look, np.array([False, False, True]))
    association.step(3.5)
    assert association.global_id(a) != association.global_id(b)  # nothing shared online
    c = feed(association, "cam3", 1, 8.0, 5, look, ALL)
    association.step(8.5)
    issued_before = {association.global_id(k) for k in (a, b, c)}
    events = association.refine(9.0)
    assert association.global_id(a) == association.global_id(b) == association.global_id(c)
    assert any(e.kind == "identity_changed" for e in events)
    # a new track after refinement gets an id never issued before
    d = feed(association, "cam1", 9, 20.0, 5, person(42))
    association.step(20.5)
    assert association.global_id(d) not in issued_before


def test_track_end_events():
    association = make()
    feed(association, "cam1", 1, 0.0, 3, person(1))
    events = association.step(5.0)
    assert [e.kind for e in events].count("track_ended") == 1
    assert not [e for e in association.step(6.0) if e.kind == "track_ended"]  # reported once
