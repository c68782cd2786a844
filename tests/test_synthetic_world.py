"""The generated world on disk: files, formats, boxes, visibility against the renderer, detections."""

from __future__ import annotations

import json
from collections import defaultdict

import cv2
import numpy as np
import pytest

from pipeline.synthetic import (
    CameraRenderer,
    WorldConfig,
    generate_world,
    load_world,
    plan_world,
    read_detections,
    read_ground_truth,
)

CONFIG = WorldConfig(cameras=3, identities=12, seconds=40, fps=4, width=384, height=216, seed=3)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return generate_world(tmp_path_factory.mktemp("world"), CONFIG, progress=False)


@pytest.fixture(scope="module")
def plan():
    return plan_world(CONFIG)


def test_every_camera_has_video_ground_truth_and_detections(world):
    assert [c.camera_id for c in world.cameras] == [1, 2, 3]
    for camera in world.cameras:
        for relative in (camera.video, camera.ground_truth, camera.detections):
            assert world.path(relative).is_file(), relative
        assert camera.ground_truth_rows == len(read_ground_truth(world.path(camera.ground_truth))) > 0
        assert camera.detection_rows == len(read_detections(world.path(camera.detections))) > 0


def test_videos_are_readable_with_the_configured_size_and_length(world):
    for camera in world.cameras:
        capture = cv2.VideoCapture(str(world.path(camera.video)))
        assert capture.isOpened()
        frames = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            assert image.shape == (CONFIG.height, CONFIG.width, 3)
            frames += 1
        capture.release()
        assert frames == CONFIG.num_frames


def test_load_world_reads_back_what_generate_world_returned(world):
    loaded = load_world(world.root)
    assert loaded == world
    assert loaded.config == CONFIG
    data = json.loads((world.root / "world.json").read_text())
    assert data["fps"] == CONFIG.fps and data["num_frames"] == CONFIG.num_frames
    assert len(data["identities"]) == CONFIG.identities


def test_ground_truth_format_and_boxes_inside_frames(world):
    for camera in world.cameras:
        lines = world.path(camera.ground_truth).read_text().splitlines()
        rows = read_ground_truth(world.path(camera.ground_truth))
        keys = set()
        for line, row in zip(lines, rows):
            values = line.split(",")
            assert len(values) == 9 and values[6] == "1" and values[7] == "1"
            assert 1 <= row.frame <= CONFIG.num_frames
            assert 1 <= row.person_id <= CONFIG.identities
            assert row.w > 0 and row.h > 0
            assert row.x >= 0 and row.y >= 0
            assert row.x + row.w <= CONFIG.width and row.y + row.h <= CONFIG.height
            assert 0.0 <= row.visibility <= 1.0
            keys.add((row.frame, row.person_id))
        assert len(keys) == len(rows), "one row per person and frame"
        assert [(r.frame, r.person_id) for r in rows] == sorted((r.frame, r.person_id) for r in rows)


def test_detections_format_and_boxes_inside_frames(world):
    for camera in world.cameras:
        for line in world.path(camera.detections).read_text().splitlines():
            values = line.split(",")
            assert len(values) == 10 and values[1] == "-1" and values[7:] == ["-1", "-1", "-1"]
            frame, x, y, w, h, score = int(values[0]), *map(float, values[2:7])
            assert 1 <= frame <= CONFIG.num_frames
            assert 0 <= x and 0 <= y and w > 0 and h > 0
            assert x + w <= CONFIG.width + 1e-6 and y + h <= CONFIG.height + 1e-6
            assert 0 < score < 1


def test_world_has_occlusion_and_people_in_several_cameras(world):
    visibilities = [r.visibility for c in world.cameras for r in read_ground_truth(world.path(c.ground_truth))]
    assert min(visibilities) < 0.5 and max(visibilities) == 1.0
    assert np.mean(np.array(visibilities) < 0.9) > 0.05
    assert sum(len(i.cameras_seen) >= 2 for i in world.identities) >= CONFIG.identities // 2


def test_transit_times_are_positive_and_match_the_ground_truth(world):
    spans = defaultdict(list)
    for camera in world.cameras:
        frames = defaultdict(list)
        for row in read_ground_truth(world.path(camera.ground_truth)):
            frames[row.person_id].append(row.frame)
        for pid, seen in frames.items():
            spans[pid].append((min(seen), max(seen), camera.camera_id))
    expected = defaultdict(list)
    for visits in spans.values():
        visits.sort()
        for (_, last, a), (first, _, b) in zip(visits, visits[1:]):
            expected[(a, b)].append((first - last) / CONFIG.fps)
    assert world.transit_times, "people must walk from one camera to another"
    for transit in world.transit_times:
        values = expected[(transit.from_camera, transit.to_camera)]
        assert transit.count == len(values)
        assert transit.min_s == pytest.approx(min(values), abs=1e-3)
        assert transit.max_s == pytest.approx(max(values), abs=1e-3)
        assert transit.min_s > 0, "camera views do not overlap"
        assert transit.zone_distance_m > 10


def _frames_to_check(rows, count=5):
    by_frame = defaultdict(list)
    for row in rows:
        by_frame[row.frame].append(row)
    occluded = [f for f, rs in sorted(by_frame.items()) if any(0.05 < r.visibility < 0.9 for r in rs)]
    step = max(1, len(occluded) // count)
    return {f: by_frame[f] for f in occluded[::step][:count]}


def test_ground_truth_visibility_matches_the_rendered_occlusion(world, plan):
    checked = hidden_by_people = hidden_by_occluders = 0
    for camera in world.cameras:
        renderer = CameraRenderer(plan, camera.camera_id)
        rows = read_ground_truth(world.path(camera.ground_truth))
        for frame, frame_rows in _frames_to_check(rows).items():
            full = renderer.render(frame, effects=False)
            assert {r.person_id for r in frame_rows} == {o.person_id for o in full.observations}
            for row in frame_rows:
                alone = renderer.render(frame, only={row.person_id}, static_occluders=False, effects=False)
                body = alone.labels == row.person_id
                visible = full.labels == row.person_id
                assert not (visible & ~body).any(), "visible pixels must be body pixels"
                hidden = body & ~visible
                assert (full.labels[hidden] != 0).all(), "hidden body pixels are covered by something"
                hidden_by_people += bool((full.labels[hidden] > 0).any())
                hidden_by_occluders += bool((full.labels[hidden] < 0).any())
                np.testing.assert_array_equal(full.image[visible], alone.image[visible])
                observation = next(o for o in full.observations if o.person_id == row.person_id)
                if observation.truncated:
                    continue  # the body outside the frame cannot be counted from the frame
                assert row.visibility == pytest.approx(visible.sum() / body.sum(), abs=6e-5)
                ys, xs = np.nonzero(body)
                assert (row.x, row.y, row.w, row.h) == (xs.min(), ys.min(), np.ptp(xs) + 1, np.ptp(ys) + 1)
                checked += 1
    assert checked >= 10
    assert hidden_by_people >= 1 and hidden_by_occluders >= 1, "people hide each other, and occluders hide people"


def test_detections_miss_occluded_people_more_often(world):
    def iou(a, b):
        ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
        w = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
        h = max(0.0, min(ay1, by1) - max(a[1], b[1]))
        inter = w * h
        return inter / (a[2] * a[3] + b[2] * b[3] - inter)

    found = {"visible": [], "occluded": []}
    for camera in world.cameras:
        detections = defaultdict(list)
        for d in read_detections(world.path(camera.detections)):
            detections[d.frame].append((d.x, d.y, d.w, d.h))
        for row in read_ground_truth(world.path(camera.ground_truth)):
            box = (row.x, row.y, row.w, row.h)
            hit = any(iou(box, d) > 0.3 for d in detections[row.frame])
            if row.visibility >= 0.9:
                found["visible"].append(hit)
            elif row.visibility < 0.4:
                found["occluded"].append(hit)
    assert len(found["visible"]) > 50 and len(found["occluded"]) > 10
    assert np.mean(found["visible"]) > 0.75
    assert np.mean(found["occluded"]) < np.mean(found["visible"]) - 0.3
