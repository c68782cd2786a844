"""The issue's reference world (3 cameras, 40 identities, 60 s at 10 fps, 640x360). Slow: ~20-30 s."""

from __future__ import annotations

from collections import defaultdict

import pytest

from pipeline.synthetic import WorldConfig, generate_world, read_ground_truth


@pytest.mark.slow
def test_default_world_has_a_modest_reid_set_and_people_in_several_cameras(tmp_path):
    world = generate_world(tmp_path, WorldConfig(), progress=False)
    assert (world.width, world.height, world.num_frames, len(world.cameras)) == (640, 360, 600, 3)
    total = sum(world.reid.images.values())
    assert 500 <= total <= 5000
    assert world.reid_occluded.images["query"] >= 50
    assert world.reid.identities["bounding_box_train"] + world.reid.identities["query"] <= 40
    cameras = defaultdict(set)
    for camera in world.cameras:
        for row in read_ground_truth(world.path(camera.ground_truth)):
            cameras[row.person_id].add(camera.camera_id)
    assert sum(len(seen) >= 2 for seen in cameras.values()) >= 30
    assert {(t.from_camera, t.to_camera) for t in world.transit_times} >= {(1, 2), (2, 3), (2, 1), (3, 2)}
