"""Gap filling and stitching inside one camera, after a recorded run."""

import numpy as np
import pytest
import torch

from pipeline.match_rule import MatchRule
from pipeline.records import TrackKey
from pipeline.track_repair import StitchSettings, TrackBoxHistory, fill_track_gaps, stitch_fragments
from pipeline.tracklets import PartMemory, Tracklet
from reid.features import PartFeatures


def test_gaps_are_filled_linearly_and_long_gaps_are_left_alone():
    frames = np.array([1, 4, 5, 20])
    boxes = np.array([[0, 0, 10, 30], [30, 0, 40, 30], [40, 0, 50, 30], [0, 0, 10, 30]], dtype=float)
    filled_frames, filled_boxes = fill_track_gaps(frames, boxes, max_gap_frames=3)
    assert filled_frames.tolist() == [2, 3]  # frames 6..19 (14 missing) are past the limit
    np.testing.assert_allclose(filled_boxes, [[10, 0, 20, 30], [20, 0, 30, 30]])  # 1/3 and 2/3 of the way
    assert fill_track_gaps(frames, boxes, max_gap_frames=0)[0].size == 0


def test_the_history_fills_by_seconds_and_across_a_stitch():
    history = TrackBoxHistory()
    first, second = TrackKey("cam1", 1), TrackKey("cam1", 2)
    for frame in (1, 2, 5):  # 10 fps: a 0.2 s gap (frames 3, 4)
        history.add(first, frame, (frame - 1) / 10, (frame, 0, frame + 10, 30))
    for frame in (40, 41):  # 3.4 s after the first track ends
        history.add(second, frame, (frame - 1) / 10, (frame, 0, frame + 10, 30))
    within = history.filled_boxes(max_gap_s=0.3)
    assert [(key, frame) for key, frame, _, _ in within] == [(first, 3), (first, 4)]
    assert within[0][2] == pytest.approx(0.2) and within[0][3] == pytest.approx((3.0, 0.0, 13.0, 30.0))
    across = history.filled_boxes(max_gap_s=0.3, stitches=[(first, second)])
    assert [frame for key, frame, _, _ in across if key == first] == [3, 4, *range(6, 40)]


def tracklet(track_id, start, end, first_box, last_box, look):
    memory = PartMemory.zeros(1, 2)
    memory.add(np.array([look], dtype=float), np.array([True]))
    return Tracklet(TrackKey("cam1", track_id), memory, start, end, 1, 2, 1, 1, first_box, last_box)


def features(items):
    return PartFeatures(
        torch.tensor(np.stack([item.memory.mean_embeddings() for item in items])),
        torch.ones(len(items), 1, dtype=torch.bool),
    )


def test_stitching_links_the_near_alike_fragment_and_nothing_else():
    look, other = [1.0, 0.0], [0.0, 1.0]
    items = [
        tracklet(1, 0.0, 5.0, (0, 0, 20, 60), (100, 0, 120, 60), look),
        tracklet(2, 6.0, 9.0, (110, 0, 130, 60), (200, 0, 220, 60), look),  # 1 s later, 10 px on: stitched
        tracklet(3, 6.0, 9.0, (600, 0, 620, 60), (600, 0, 620, 60), look),  # too far for 1 s
        tracklet(4, 5.5, 9.0, (105, 0, 125, 60), (105, 0, 125, 60), other),  # near, but someone else
        tracklet(5, 20.0, 25.0, (100, 0, 120, 60), (100, 0, 120, 60), look),  # too late
    ]
    rule = MatchRule.single(0.5)
    links = stitch_fragments(items, features(items), rule, StitchSettings(max_gap_s=3.0))
    assert links == [(TrackKey("cam1", 1), TrackKey("cam1", 2))]
    assert stitch_fragments(items, features(items), rule, StitchSettings(enabled=False)) == []
