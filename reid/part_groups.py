"""Declarative tables for coarse human parsing: the 36 keypoint/limb confidence channels of
the reference part labels and how they group into K body parts.

The reference labels (OpenPifPaf confidence fields, see ``shared/notes/reference-bpbreid.md``
section 2) hold 17 COCO keypoint channels followed by 19 limb channels. A body part is the
per-pixel maximum over its channels, clamped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

COCO_KEYPOINTS: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

# Limbs as (keypoint a, keypoint b), in the reference channel order (channels 17..35).
LIMBS: tuple[tuple[str, str], ...] = (
    ("left_ankle", "left_knee"),
    ("left_knee", "left_hip"),
    ("right_ankle", "right_knee"),
    ("right_knee", "right_hip"),
    ("left_hip", "right_hip"),
    ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"),
    ("left_shoulder", "right_shoulder"),
    ("left_shoulder", "left_elbow"),
    ("right_shoulder", "right_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_elbow", "right_wrist"),
    ("left_eye", "right_eye"),
    ("nose", "left_eye"),
    ("nose", "right_eye"),
    ("left_eye", "left_ear"),
    ("right_eye", "right_ear"),
    ("left_ear", "left_shoulder"),
    ("right_ear", "right_shoulder"),
)


def limb_name(a: str, b: str) -> str:
    return f"{a}-{b}"


# All 36 channel names of a part-label field, in file order.
CONFIDENCE_FIELD_CHANNELS: tuple[str, ...] = COCO_KEYPOINTS + tuple(limb_name(a, b) for a, b in LIMBS)
NUM_CONFIDENCE_FIELD_CHANNELS = len(CONFIDENCE_FIELD_CHANNELS)  # 36

_HEAD = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_eye-right_eye",
    "nose-left_eye",
    "nose-right_eye",
    "left_eye-left_ear",
    "right_eye-right_ear",
    "left_ear-left_shoulder",
    "right_ear-right_shoulder",
)

# K=8 ("eight"), used for the occluded datasets.
PARTS_EIGHT: dict[str, tuple[str, ...]] = {
    "head": _HEAD,
    "left_arm": ("left_shoulder", "left_elbow", "left_wrist", "left_shoulder-left_elbow", "left_elbow-left_wrist"),
    "right_arm": (
        "right_shoulder",
        "right_elbow",
        "right_wrist",
        "right_shoulder-right_elbow",
        "right_elbow-right_wrist",
    ),
    "torso": (
        "left_hip",
        "right_hip",
        "left_hip-right_hip",
        "left_shoulder-left_hip",
        "right_shoulder-right_hip",
        "left_shoulder-right_shoulder",
    ),
    "left_leg": ("left_knee", "left_ankle-left_knee", "left_knee-left_hip", "left_hip-right_hip"),
    "right_leg": ("right_knee", "right_ankle-right_knee", "right_knee-right_hip"),
    "left_feet": ("left_ankle",),
    "right_feet": ("right_ankle",),
}

# K=5 ("five_v"), used for the holistic datasets.
PARTS_FIVE: dict[str, tuple[str, ...]] = {
    "head": _HEAD,
    "upper_arms_torso": (
        "left_elbow",
        "right_elbow",
        "left_shoulder-left_elbow",
        "right_shoulder-right_elbow",
        "left_shoulder",
        "right_shoulder",
        "left_shoulder-right_shoulder",
    ),
    "lower_arms_torso": (
        "left_wrist",
        "right_wrist",
        "left_elbow-left_wrist",
        "right_elbow-right_wrist",
        "left_hip",
        "right_hip",
        "right_shoulder-right_hip",
    ),
    "legs": (
        "left_hip",
        "right_hip",
        "left_knee",
        "right_knee",
        "left_ankle-left_knee",
        "right_ankle-right_knee",
        "left_knee-left_hip",
        "right_knee-right_hip",
    ),
    "feet": ("left_ankle", "right_ankle"),
}

PART_GROUPINGS: dict[int, dict[str, tuple[str, ...]]] = {5: PARTS_FIVE, 8: PARTS_EIGHT}


@dataclass(frozen=True)
class PartGrouping:
    """K named body parts, each a set of confidence-field channel indices."""

    names: tuple[str, ...]
    channel_indices: tuple[tuple[int, ...], ...]

    @property
    def num_parts(self) -> int:
        return len(self.names)


def part_grouping(num_parts: int) -> PartGrouping:
    """The grouping table for K = ``num_parts`` (5 or 8)."""
    if num_parts not in PART_GROUPINGS:
        raise ValueError(f"no part grouping for K={num_parts}; known: {sorted(PART_GROUPINGS)}")
    table = PART_GROUPINGS[num_parts]
    index = {name: i for i, name in enumerate(CONFIDENCE_FIELD_CHANNELS)}
    return PartGrouping(
        names=tuple(table),
        channel_indices=tuple(tuple(index[channel] for channel in channels) for channels in table.values()),
    )


def part_names(num_parts: int) -> tuple[str, ...]:
    """Names of the K body parts (index 1..K of ``PartFeatures``)."""
    return part_grouping(num_parts).names


def mirrored_part_order(num_parts: int) -> tuple[int, ...]:
    """For each of the K parts, the index of the part it becomes in a left-right mirrored image.

    The parts are the person's own left and right (the labels come from a 3D body), so mirroring
    the image turns the left arm into a right arm: ``maps[mirrored_part_order(K)]`` relabels
    mirrored maps [K, h, w]. Parts without a side map to themselves (identity for K=5).
    """
    names = part_names(num_parts)
    index = {name: i for i, name in enumerate(names)}

    def mirrored(name: str) -> str:
        return name.replace("left", "\0").replace("right", "left").replace("\0", "right")

    return tuple(index[mirrored(name)] for name in names)
