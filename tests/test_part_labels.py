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
