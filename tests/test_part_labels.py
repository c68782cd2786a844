import torch

from reid.part_groups import CONFIDENCE_FIELD_CHANNELS, part_grouping
from reid.part_labels import group_confidence_fields, pixel_part_labels


def test_tables_cover_the_reference_channels():
    assert len(CONFIDENCE_FIELD_CHANNELS) == 36
    eight, five = part_grouping(8), part_grouping(5)
    assert eight.names == ("head", "left_arm", "right_arm", "torso", "left_leg", "right_leg", "left_feet", "right_feet")
    assert five.names == ("head", "upper_arms_torso", "lower_arms_torso", "legs", "feet")
    assert CONFIDENCE_FIELD_CHANNELS[15] == "left_ankle" and CONFIDENCE_FIELD_CHANNELS[17] == "left_ankle-left_knee"


def test_a_left_ankle_field_lands_in_the_feet_parts_only():
    fields = torch.zeros(36, 4, 2)
    fields[CONFIDENCE_FIELD_CHANNELS.index("left_ankle"), 3, 0] = 0.9
    fields[CONFIDENCE_FIELD_CHANNELS.index("nose"), 0, 1] = 1.7  # clamped to 1
    eight = group_confidence_fields(fields, 8)
    assert eight.shape == (8, 4, 2)
    assert eight[6, 3, 0] == 0.9 and eight[7].sum() == 0  # left_feet, not right_feet
    assert eight[0, 0, 1] == 1.0
    assert eight.sum() == 0.9 + 1.0
    five = group_confidence_fields(fields.unsqueeze(0), 5)
    assert five.shape == (1, 5, 4, 2) and five[0, 4, 3, 0] == 0.9


def test_pixel_labels_background_below_half_and_argmax_elsewhere():
    part_maps = torch.zeros(1, 2, 2, 2)
    part_maps[0, 0, 0, 0] = 0.9
    part_maps[0, 1, 0, 1] = 0.8
    part_maps[0, 0, 1, 0] = 0.4  # below 0.5: background
    labels = pixel_part_labels(part_maps, (2, 2))
    assert labels.tolist() == [[[1, 2], [0, 0]]]


def test_fields_from_pose_keypoints_follow_their_confidences():
    import numpy as np

    from reid.keypoint_fields import cell_centres, confidence_fields_from_keypoints
    from reid.part_groups import COCO_KEYPOINTS

    keypoints = np.tile([[32.0, 64.0]], (17, 1))
    ankle, knee = COCO_KEYPOINTS.index("left_ankle"), COCO_KEYPOINTS.index("left_knee")
    keypoints[ankle] = (20.0, 110.0)
    keypoints[knee] = (22.0, 80.0)
    confidence = np.zeros(17)
    confidence[ankle], confidence[knee] = 1.0, 0.5
    fields = confidence_fields_from_keypoints(keypoints, confidence, 128, 64)
    assert fields.shape == (36, 17, 9) and fields.dtype == np.float32
    rows, columns = cell_centres(128, 64)
    peak = np.unravel_index(fields[CONFIDENCE_FIELD_CHANNELS.index("left_ankle")].argmax(), (17, 9))
    assert abs(rows[peak[0]] - 110) <= 8 and abs(columns[peak[1]] - 20) <= 8
    assert fields[CONFIDENCE_FIELD_CHANNELS.index("nose")].max() == 0.0  # confidence 0
    limb = CONFIDENCE_FIELD_CHANNELS.index("left_ankle-left_knee")
    certain = confidence_fields_from_keypoints(keypoints, np.ones(17), 128, 64)
    assert fields[limb].max() > 0.2
    np.testing.assert_allclose(fields[limb], 0.5 * certain[limb], rtol=1e-6, atol=1e-12)  # the weaker end scales


def test_part_labels_command_writes_the_reference_format(tmp_path):
    import subprocess
    import sys

    import numpy as np

    from tests.conftest import REPOSITORY_ROOT
    from tests.reid_dataset_factory import write_duke_layout
    from train.datasets import load_dataset

    write_duke_layout(tmp_path / "DukeMTMC-reID", range(2), range(2, 3), images_per_identity=2, with_labels=False)
    command = [sys.executable, "-m", "train.part_labels", "--dataset", "dukemtmc", "--data-root", str(tmp_path)]
    completed = subprocess.run(command + ["--pose-weights", "yolo11n-pose.yaml", "--image-size", "64"],
                               capture_output=True, text=True, cwd=REPOSITORY_ROOT)
    assert completed.returncode == 0, completed.stderr[-2000:]
    dataset = load_dataset("dukemtmc", tmp_path)
    samples = dataset.train + dataset.query + dataset.gallery
    for sample in samples:
        fields = np.load(sample.label_path)
        assert fields.shape == (36, 9, 5) and fields.dtype == np.float32  # 64x32 crops
        assert 0.0 <= fields.min() and fields.max() <= 1.0
    again = subprocess.run(command + ["--pose-weights", "yolo11n-pose.yaml"], capture_output=True, text=True,
                           cwd=REPOSITORY_ROOT)
    assert "0 images need part labels" in again.stdout
    missing = subprocess.run(command + ["--pose-weights", str(tmp_path / "pose.pt")], capture_output=True, text=True,
                             cwd=REPOSITORY_ROOT)
    assert missing.returncode == 2 and str(tmp_path / "pose.pt") in missing.stderr


def test_smallest_part_first_keeps_a_foot_inside_the_shin_and_a_hand_over_the_torso():
    from reid.part_labels import part_labels_for_training, smallest_part_first_labels

    # 3 parts on a 4x2 map, cells of 2x2 input pixels: a large "leg" covering the lower half,
    # a small "foot" peaking inside it, a "torso" in the upper half with a weaker part far below it.
    maps = torch.zeros(1, 3, 8, 4)
    maps[0, 0, 4:, :] = 1.0  # leg: 16 pixels
    maps[0, 1, 6, 1] = 0.95  # foot: 1 pixel, inside the leg's cell (3, 0)
    maps[0, 2, :4, :] = 0.8  # torso
    maps[0, 1, 0, 3] = 0.3  # below 0.5: never a foreground cell by itself
    labels = smallest_part_first_labels(maps, (4, 2))
    # cell (3, 0): the leg's mean is 1.0, the foot's 0.2375 -> beyond the margin, the leg stays
    assert labels[0, 3, 0] == 1
    maps[0, 1, 6:8, 0:2] = 0.95  # now the foot fills the cell: within the margin, smaller -> foot
    labels = smallest_part_first_labels(maps, (4, 2))
    assert labels.tolist() == [[[3, 3], [3, 3], [1, 1], [2, 1]]]
    assert torch.equal(part_labels_for_training(maps, (4, 2), "smallest_part_first"), labels)
    assert torch.equal(part_labels_for_training(maps, (4, 2), "softmax_argmax"), pixel_part_labels(maps, (4, 2)))
    empty = smallest_part_first_labels(torch.zeros(1, 3, 8, 4), (4, 2))
    assert empty.sum() == 0
