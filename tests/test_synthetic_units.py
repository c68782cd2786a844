"""Pieces of the synthetic world on their own: configuration, body, cast, detections, part fields."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.synthetic.camera_effects import CAMERA_EFFECTS, CameraEffects, CameraEffectsApplier
from pipeline.synthetic.articulated_body import JOINT, BodyShape, gait_phase, pose_joints
from pipeline.synthetic.config import WorldConfig, WorldConfigError
from pipeline.synthetic.detections import DetectionNoise, detect_frame
from pipeline.synthetic.identities import sample_identities
from pipeline.synthetic.part_labels import (
    NUM_CHANNELS,
    OCCLUDED_DUKE_MASK_SUFFIX,
    cell_centres,
    confidence_fields,
    field_shape,
    part_label_path,
)
from pipeline.synthetic.random_streams import random_stream
from pipeline.synthetic.render import PersonObservation
from reid.part_groups import COCO_KEYPOINTS, CONFIDENCE_FIELD_CHANNELS, LIMBS


@pytest.mark.parametrize(
    "overrides",
    [{"cameras": 1}, {"cameras": 9}, {"identities": 0}, {"seconds": 0}, {"fps": -2}, {"width": 10}, {"seed": -1},
     {"cameras": 2.5}, {"test_fraction": 1.0}],
)
def test_bad_configurations_are_refused_with_the_field_named(overrides):
    with pytest.raises(WorldConfigError, match=next(iter(overrides))):
        WorldConfig(**overrides).validated()


def test_configuration_round_trips_and_rejects_unknown_keys():
    config = WorldConfig(cameras=4, seed=7)
    assert WorldConfig.from_dict(config.to_dict()) == config
    with pytest.raises(WorldConfigError, match="colour"):
        WorldConfig.from_dict({**config.to_dict(), "colour": 1})


def test_random_streams_depend_only_on_seed_purpose_and_index():
    assert random_stream(1, "a", 2).uniform() == random_stream(1, "a", 2).uniform()
    draws = {random_stream(s, p, i).uniform() for s, p, i in [(1, "a", 2), (2, "a", 2), (1, "b", 2), (1, "a", 3)]}
    assert len(draws) == 4


def test_walking_body_keeps_a_foot_on_the_ground_and_its_proportions():
    body = BodyShape(height_m=1.8, build=1.0)
    lowest, spreads = [], []
    for walked in np.linspace(0.0, body.stride_length, 16, endpoint=False):
        joints = pose_joints(body, gait_phase(body, walked))
        ankles = joints[[JOINT["left_ankle"], JOINT["right_ankle"]]]
        lowest.append(ankles[:, 2].min())
        spreads.append(abs(ankles[0, 0] - ankles[1, 0]))
        assert joints[JOINT["nose"], 2] > joints[JOINT["left_shoulder"], 2] > joints[JOINT["left_hip"], 2]
        assert joints[JOINT["left_hip"], 2] > joints[JOINT["left_knee"], 2] > joints[JOINT["left_ankle"], 2]
        assert joints[JOINT["left_shoulder"], 1] > 0 > joints[JOINT["right_shoulder"], 1]  # left is +y
    assert np.allclose(lowest, lowest[0])
    assert max(spreads) > 0.3 * body.height_m  # legs really swing
    standing = pose_joints(body, 1.0, amplitude=0.0)
    assert abs(standing[JOINT["left_ankle"], 0] - standing[JOINT["right_ankle"], 0]) < 0.05


def test_cast_has_lookalikes_that_differ_only_above_or_below():
    cast = sample_identities(60, seed=0)
    by_id = {i.person_id: i for i in cast}
    upper_twins = [i for i in cast if i.shares_upper_with]
    lower_twins = [i for i in cast if i.shares_lower_with]
    assert upper_twins and lower_twins
    for twin in upper_twins:
        model = by_id[twin.shares_upper_with].appearance
        assert twin.appearance.upper == model.upper and twin.appearance.lower.colour_name != model.lower.colour_name
    for twin in lower_twins:
        model = by_id[twin.shares_lower_with].appearance
        assert twin.appearance.lower == model.lower and twin.appearance.upper.colour_name != model.upper.colour_name
    assert len({i.appearance for i in cast}) == len(cast)
    assert len({i.body.height_m for i in cast}) > 30


def _observation(person_id: int, visibility: float) -> PersonObservation:
    return PersonObservation(
        person_id=person_id,
        box=(100, 50, 40, 110),
        amodal_box=(100, 50, 40, 110),
        visible_box=(100, 50, 40, max(1, int(110 * visibility))),
        visibility=visibility,
        visible_pixels=int(1000 * visibility),
        body_pixels=1000,
        depth=10.0,
        keypoints=np.zeros((17, 2)),
    )


def test_detections_miss_more_with_occlusion_and_add_false_positives():
    rng = random_stream(0, "test_detections")
    noise = DetectionNoise(false_positives_per_frame=0.5)
    rates = {}
    false_positives = 0
    for visibility in (1.0, 0.6, 0.3):
        hits = 0
        for frame in range(1, 401):
            detections = detect_frame(frame, [_observation(1, visibility)], 640, 360, rng, noise)
            near = [d for d in detections if abs(d.x - 100) < 20 and abs(d.y - 50) < 30]
            hits += bool(near)
            false_positives += len(detections) - len(near)
        rates[visibility] = hits / 400
    assert rates[1.0] > 0.9 > rates[0.6] + 0.05 > rates[0.3] + 0.1
    assert false_positives > 100


def test_field_shape_follows_the_stride_8_pifpaf_grid():
    assert field_shape(128, 64) == (17, 9)
    assert field_shape(256, 128) == (33, 17)
    assert field_shape(129, 65) == (17, 9)
    assert field_shape(130, 66) == (19, 11)


def test_confidence_fields_peak_at_joints_follow_limbs_and_respect_the_visible_mask():
    height, width = 160, 64
    joints = np.zeros((17, 2))
    ys = np.linspace(20, 150, 17)
    joints[:, 0] = 32 + 10 * np.sin(np.arange(17))
    joints[:, 1] = ys
    visible = np.ones((height, width), dtype=bool)
    visible[110:, :] = False  # an occluder hides everything below row 110
    fields = confidence_fields(joints, visible, person_height_px=150)
    assert fields.shape == (NUM_CHANNELS, *field_shape(height, width)) and fields.dtype == np.float32
    assert len(CONFIDENCE_FIELD_CHANNELS) == NUM_CHANNELS == 36
    rows, cols = cell_centres(height, width)
    cell = np.hypot(height / len(rows), width / len(cols))
    for k in range(17):
        if joints[k, 1] < 100:
            i, j = np.unravel_index(np.argmax(fields[k]), fields[k].shape)
            assert np.hypot(cols[j] - joints[k, 0], rows[i] - joints[k, 1]) <= cell
            assert fields[k].max() > 0.5
        elif joints[k, 1] > 120:
            assert fields[k].max() == 0.0
    assert np.all(fields[:, rows > 113, :] == 0.0)
    for index, (a, b) in enumerate(LIMBS):
        ka, kb = COCO_KEYPOINTS.index(a), COCO_KEYPOINTS.index(b)
        if joints[ka, 1] < 100 and joints[kb, 1] < 100:
            middle = (joints[ka] + joints[kb]) / 2
            i, j = np.argmin(np.abs(rows - middle[1])), np.argmin(np.abs(cols - middle[0]))
            assert fields[17 + index, i, j] > 0.4, (a, b)


def test_part_label_paths_follow_the_reference_loaders(tmp_path):
    image = tmp_path / "query" / "0001_c2_f0000046.jpg"
    expected = tmp_path / "masks/pifpaf_maskrcnn_filtering/query/0001_c2_f0000046.npy"
    assert part_label_path(tmp_path, image, ".npy") == expected
    occluded = part_label_path(tmp_path, image, OCCLUDED_DUKE_MASK_SUFFIX)
    assert occluded.name == "0001_c2_f0000046.jpg.confidence_fields.npy"


def test_camera_effects_cast_colour_blur_and_add_noise():
    grey = np.full((90, 160, 3), 128, dtype=np.uint8)
    checker = np.kron((np.indices((9, 16)).sum(axis=0) % 2) * 200 + 28, np.ones((10, 10)))
    checker = np.repeat(checker[..., None], 3, axis=2).astype(np.uint8)
    warm = CameraEffects("warm", (0.8, 1.0, 1.2), 0.0, 1.0, 0.0, 0.0, 1.0)
    out = CameraEffectsApplier(warm, 160, 90, seed=0, camera_id=1).apply(grey, 1).reshape(-1, 3).mean(axis=0)
    assert out[2] > out[1] > out[0]  # BGR: more red, less blue
    blurry = CameraEffects("blurry", (1.0, 1.0, 1.0), 0.0, 1.0, 3.0, 0.0, 1.0)
    sharp = CameraEffects("sharp", (1.0, 1.0, 1.0), 0.0, 1.0, 0.0, 0.0, 1.0)
    assert CameraEffectsApplier(blurry, 160, 90, 0, 1).apply(checker, 1).std() < 0.9 * checker.std()
    assert CameraEffectsApplier(sharp, 160, 90, 0, 1).apply(checker, 1).std() == checker.std()
    noisy = CameraEffects("noisy", (1.0, 1.0, 1.0), 0.0, 1.0, 0.0, 6.0, 1.0)
    assert 5.0 < CameraEffectsApplier(noisy, 160, 90, 0, 1).apply(grey, 1).astype(float).std() < 7.0
    looks = {(e.channel_gains_bgr, e.brightness, e.viewing_scale) for e in CAMERA_EFFECTS}
    assert len(looks) == len(CAMERA_EFFECTS) >= 8
