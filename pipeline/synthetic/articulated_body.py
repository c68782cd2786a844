"""The articulated body: proportions, a walking gait, and 3D joint positions for one instant.

Joints are in the person's own frame, metres: (forward, left, up), origin on the ground between
the feet. The first 17 joints are the COCO keypoints in COCO order; the rest are helper points
used to draw the body.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reid.part_groups import COCO_KEYPOINTS

# The 17 COCO keypoints, in COCO order, are defined once for the project in reid.part_groups.
COCO_JOINT_NAMES: tuple[str, ...] = COCO_KEYPOINTS
HELPER_JOINT_NAMES: tuple[str, ...] = ("neck", "pelvis", "head_centre", "left_toe", "right_toe")
JOINT_NAMES: tuple[str, ...] = COCO_JOINT_NAMES + HELPER_JOINT_NAMES
JOINT = {name: index for index, name in enumerate(JOINT_NAMES)}
NUM_COCO_JOINTS = len(COCO_JOINT_NAMES)

# Proportions as fractions of the body height (standing).
ANKLE_HEIGHT = 0.045
KNEE_HEIGHT = 0.285
HIP_HEIGHT = 0.530
SHOULDER_HEIGHT = 0.820
NECK_HEIGHT = 0.860
HEAD_CENTRE_HEIGHT = 0.932
HEAD_RADIUS = 0.062
HIP_HALF_WIDTH = 0.085
SHOULDER_HALF_WIDTH = 0.108
UPPER_ARM = 0.172
FOREARM = 0.150
FOOT_LENGTH = 0.120

# Face keypoints relative to the head centre, in head radii (forward, left, up).
FACE_POINTS = {
    "nose": (0.95, 0.0, -0.15),
    "left_eye": (0.78, 0.36, 0.12),
    "right_eye": (0.78, -0.36, 0.12),
    "left_ear": (-0.05, 0.92, 0.0),
    "right_ear": (-0.05, -0.92, 0.0),
}

# Gait: one cycle (two steps) covers this many body heights of ground.
STRIDE_PER_HEIGHT = 0.80
THIGH_SWING_DEG = 24.0
KNEE_BEND_DEG = 40.0
ARM_SWING_DEG = 20.0
ELBOW_BEND_DEG = 12.0


@dataclass(frozen=True)
class BodyShape:
    height_m: float
    build: float  # width multiplier around 1.0

    @property
    def stride_length(self) -> float:
        return STRIDE_PER_HEIGHT * self.height_m


def sample_body_shape(rng: np.random.Generator) -> BodyShape:
    height = float(np.clip(rng.normal(1.72, 0.09), 1.52, 1.98))
    build = float(np.clip(rng.normal(1.0, 0.09), 0.82, 1.25))
    return BodyShape(round(height, 3), round(build, 3))


def gait_phase(shape: BodyShape, walked_metres: float) -> float:
    return 2.0 * math.pi * walked_metres / shape.stride_length


def pose_joints(shape: BodyShape, phase: float, amplitude: float = 1.0) -> np.ndarray:
    """Joint positions [len(JOINT_NAMES), 3] for gait ``phase`` (radians); amplitude 0 = standing."""
    h = shape.height_m
    b = shape.build
    points: dict[str, tuple[float, float, float]] = {}
    thigh_length = (HIP_HEIGHT - KNEE_HEIGHT) * h
    shin_length = (KNEE_HEIGHT - ANKLE_HEIGHT) * h
    for side, sign, offset in (("left", 1.0, 0.0), ("right", -1.0, math.pi)):
        p = phase + offset
        thigh = math.radians(THIGH_SWING_DEG) * amplitude * math.sin(p)
        knee = math.radians(4.0 + KNEE_BEND_DEG * amplitude * max(0.0, math.cos(p + 0.2)) ** 3)
        shin = thigh - knee
        hip = (0.0, sign * HIP_HALF_WIDTH * h * b, HIP_HEIGHT * h)
        knee_point = (hip[0] + thigh_length * math.sin(thigh), hip[1], hip[2] - thigh_length * math.cos(thigh))
        ankle = (knee_point[0] + shin_length * math.sin(shin), hip[1], knee_point[2] - shin_length * math.cos(shin))
        points[f"{side}_hip"] = hip
        points[f"{side}_knee"] = knee_point
        points[f"{side}_ankle"] = ankle
        points[f"{side}_toe"] = (ankle[0] + FOOT_LENGTH * h, ankle[1], ankle[2] - 0.6 * ANKLE_HEIGHT * h)

    for side, sign, offset in (("left", 1.0, math.pi), ("right", -1.0, 0.0)):
        p = phase + offset  # arms swing against the leg on the same side
        swing = math.radians(ARM_SWING_DEG) * amplitude * math.sin(p)
        bend = math.radians(ELBOW_BEND_DEG + 14.0 * amplitude * max(0.0, math.sin(p)))
        shoulder = (0.0, sign * SHOULDER_HALF_WIDTH * h * b, SHOULDER_HEIGHT * h)
        outward = sign * 0.025 * h * b
        elbow = (UPPER_ARM * h * math.sin(swing), shoulder[1] + outward, shoulder[2] - UPPER_ARM * h * math.cos(swing))
        wrist = (
            elbow[0] + FOREARM * h * math.sin(swing + bend),
            elbow[1] + 0.3 * outward,
            elbow[2] - FOREARM * h * math.cos(swing + bend),
        )
        points[f"{side}_shoulder"] = shoulder
        points[f"{side}_elbow"] = elbow
        points[f"{side}_wrist"] = wrist

    head_x, head_z = 0.012 * h, HEAD_CENTRE_HEIGHT * h
    r = HEAD_RADIUS * h
    points["head_centre"] = (head_x, 0.0, head_z)
    points["neck"] = (0.0, 0.0, NECK_HEIGHT * h)
    points["pelvis"] = (0.0, 0.0, HIP_HEIGHT * h)
    for name, (f, l, u) in FACE_POINTS.items():
        points[name] = (head_x + r * f, r * l, head_z + r * u)

    joints = np.array([points[name] for name in JOINT_NAMES])
    # Keep the lower foot on the ground: the body drops as the legs spread.
    joints[:, 2] -= min(points["left_ankle"][2], points["right_ankle"][2]) - ANKLE_HEIGHT * h
    toes = [JOINT["left_toe"], JOINT["right_toe"]]
    joints[toes, 2] = np.maximum(joints[toes, 2], 0.0)
    return joints
