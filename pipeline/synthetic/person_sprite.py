"""One person drawn at one instant: a small BGRA sprite (alpha = body silhouette) plus keypoints.

The body is a set of 3D primitives in the person's own frame (capsules for limbs, balls for the
head and hands, prisms for the torso, clothing patterns, hair, hat and bags). They are projected
with the person's scale at its depth and painted far-to-near, so arms and legs pass behind and
in front of the torso as the person turns.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.synthetic.articulated_body import (
    HEAD_RADIUS,
    HIP_HALF_WIDTH,
    JOINT,
    NUM_COCO_JOINTS,
    SHOULDER_HALF_WIDTH,
)
from pipeline.synthetic.identities import Identity
from pipeline.synthetic.site_layout import NEAR_DEPTH, Camera

SHIFT = 4
SCALE = 1 << SHIFT
CAPSULE, BALL, PRISM = 0, 1, 2
HEAD_BIAS = -1.0  # the head is painted after the body whatever the view
HAT_BIAS = -2.0


@dataclass(frozen=True)
class PersonSprite:
    pixels: np.ndarray  # [h, w, 4] uint8 BGRA; alpha 255 on the body
    origin: tuple[int, int]  # frame (x, y) of sprite pixel [0, 0]
    keypoints: np.ndarray  # [17, 2] float, frame coordinates, COCO order
    depth: float  # camera depth of the feet, metres
    foot: tuple[float, float]  # frame (x, y) of the ground point
    pixels_per_metre: float

    @property
    def mask(self) -> np.ndarray:
        return self.pixels[..., 3] > 0


class _Primitives:
    """Drawing primitives of one person: their 3D points (one flat list) and how to draw each."""

    def __init__(self) -> None:
        self.points: list = []
        self.items: list[tuple[int, int, int, float, tuple, float]] = []  # kind, start, count, size, colour, bias

    def add(self, kind: int, points, size: float, colour, bias: float = 0.0) -> None:
        start = len(self.points)
        self.points.extend(tuple(point) for point in points)
        self.items.append((kind, start, len(self.points) - start, size, (*colour, 255), bias))


def _prism(u0, u1, half_width0, half_width1, half_depth0, half_depth1, l_range=(-1, 1), f_range=(-1, 1), f_offset=0.0):
    return [
        (f_offset + f * hd, l * hw, u)
        for u, hw, hd in ((u0, half_width0, half_depth0), (u1, half_width1, half_depth1))
        for l in l_range
        for f in f_range
    ]


def _torso(prims: _Primitives, identity: Identity, joints: np.ndarray) -> None:
    h, b = identity.body.height_m, identity.body.build
    upper = identity.appearance.upper
    hip_u = joints[JOINT["pelvis"], 2]
    shoulder_u = joints[JOINT["left_shoulder"], 2]
    waist, top = hip_u + 0.03 * h, shoulder_u + 0.022 * h
    bottom_half_width, top_half_width = (HIP_HALF_WIDTH + 0.02) * h * b, (SHOULDER_HALF_WIDTH + 0.012) * h * b
    bottom_half_depth, top_half_depth = 0.062 * h * b, 0.070 * h * b

    def width_at(u):
        t = (u - waist) / (top - waist)
        half_width = bottom_half_width + t * (top_half_width - bottom_half_width)
        return half_width, bottom_half_depth + t * (top_half_depth - bottom_half_depth)

    def slab(u0, u1, colour, l_range=(-1, 1), bias=0.0):
        w0, d0 = width_at(u0)
        w1, d1 = width_at(u1)
        prims.add(PRISM, _prism(u0, u1, w0, w1, d0, d1, l_range), 0.0, colour, bias)

    a, second = upper.colour, upper.second_colour
    if upper.pattern == "horizontal_stripes":
        edges = np.linspace(waist, top, 7)
        for k in range(6):
            slab(edges[k], edges[k + 1], a if k % 2 == 0 else second)
    elif upper.pattern == "two_tone_vertical":
        slab(waist, top, a, (0, 1))
        slab(waist, top, second, (-1, 0))
    elif upper.pattern == "chest_band":
        band0, band1 = waist + 0.55 * (top - waist), waist + 0.75 * (top - waist)
        slab(waist, band0, a)
        slab(band0, band1, second)
        slab(band1, top, a)
    else:
        slab(waist, top, a)
        if upper.pattern == "logo":
            u0, u1 = waist + 0.55 * (top - waist), waist + 0.8 * (top - waist)
            w, d = width_at(u1)
            prims.add(PRISM, _prism(u0, u1, 0.4 * w, 0.4 * w, 0.02, 0.02, f_offset=d + 0.02), 0.0, second, 0.001)
    # Trousers/skirt waistband up to the shirt.
    lower = identity.appearance.lower
    prims.add(PRISM, _prism(hip_u - 0.06 * h, waist, bottom_half_width, bottom_half_width,
                            bottom_half_depth, bottom_half_depth), 0.0, lower.colour, 0.0005)


def _limbs(prims: _Primitives, identity: Identity, joints: np.ndarray) -> None:
    h, b = identity.body.height_m, identity.body.build
    appearance = identity.appearance
    lower, upper = appearance.lower, appearance.upper
    shin_colour = lower.colour if lower.style == "trousers" else appearance.skin
    forearm_colour = upper.colour if upper.sleeves == "long" else appearance.skin
    for side in ("left", "right"):
        hip, knee, ankle, toe = (joints[JOINT[f"{side}_{n}"]] for n in ("hip", "knee", "ankle", "toe"))
        prims.add(CAPSULE, [hip, knee], 0.085 * h * b, lower.colour)
        prims.add(CAPSULE, [knee, ankle], 0.064 * h * b, shin_colour)
        prims.add(CAPSULE, [ankle, toe], 0.048 * h, lower.shoe_colour, -0.02)
        shoulder, elbow, wrist = (joints[JOINT[f"{side}_{n}"]] for n in ("shoulder", "elbow", "wrist"))
        prims.add(CAPSULE, [shoulder, elbow], 0.060 * h * b, upper.colour)
        prims.add(CAPSULE, [elbow, wrist], 0.049 * h * b, forearm_colour)
        hand = wrist + 0.35 * (wrist - elbow) * 0.3
        prims.add(BALL, [hand], 0.026 * h, appearance.skin, -0.001)
    if lower.style == "skirt":
        hip_u = joints[JOINT["pelvis"], 2]
        knee_u = 0.5 * (joints[JOINT["left_knee"], 2] + joints[JOINT["right_knee"], 2])
        top_w, bottom_w = (HIP_HALF_WIDTH + 0.04) * h * b, (HIP_HALF_WIDTH + 0.075) * h * b
        skirt = _prism(knee_u + 0.04 * h, hip_u, bottom_w, top_w, 0.09 * h, 0.07 * h)
        prims.add(PRISM, skirt, 0.0, lower.colour, -0.05)


def _head(prims: _Primitives, identity: Identity, joints: np.ndarray) -> None:
    h = identity.body.height_m
    appearance = identity.appearance
    r = HEAD_RADIUS * h
    head = joints[JOINT["head_centre"]]
    neck = joints[JOINT["neck"]]
    prims.add(CAPSULE, [neck - np.array([0, 0, 0.02 * h]), head], 0.05 * h, appearance.skin, 0.0)
    if appearance.hair_style != "bald":
        prims.add(BALL, [head + np.array([-0.28 * r, 0.0, 0.16 * r])], 1.0 * r, appearance.hair_colour, HEAD_BIAS)
    if appearance.hair_style == "long":
        prims.add(PRISM, _prism(neck[2] - 0.04 * h, head[2], 0.85 * r, 0.95 * r, 0.35 * r, 0.35 * r,
                                f_offset=head[0] - 0.75 * r), 0.0, appearance.hair_colour, 0.0)
    prims.add(BALL, [head], r, appearance.skin, HEAD_BIAS)
    if appearance.hat == "cap":
        prims.add(PRISM, _prism(head[2] + 0.35 * r, head[2] + 1.08 * r, 1.04 * r, 0.8 * r, 1.04 * r, 0.8 * r,
                                f_offset=head[0]), 0.0, appearance.hat_colour, HAT_BIAS)
        prims.add(PRISM, _prism(head[2] + 0.30 * r, head[2] + 0.42 * r, 0.8 * r, 0.8 * r, 0.55 * r, 0.55 * r,
                                f_offset=head[0] + 1.3 * r), 0.0, appearance.hat_colour, HAT_BIAS)


def _bag(prims: _Primitives, identity: Identity, joints: np.ndarray) -> None:
    h, b = identity.body.height_m, identity.body.build
    appearance = identity.appearance
    shoulder_u = joints[JOINT["left_shoulder"], 2]
    hip_u = joints[JOINT["pelvis"], 2]
    if appearance.bag == "backpack":
        back = 0.07 * h * b
        prims.add(PRISM, _prism(shoulder_u - 0.27 * h, shoulder_u - 0.015 * h, 0.09 * h, 0.085 * h, 0.05 * h, 0.05 * h,
                                f_offset=-back - 0.05 * h), 0.0, appearance.bag_colour)
    elif appearance.bag == "shoulder_bag":
        side = (HIP_HALF_WIDTH + 0.045) * h * b
        across = side / (0.03 * h)  # the bag hangs at the left hip, 0.03 h either side of `side`
        bag = _prism(hip_u - 0.03 * h, hip_u + 0.09 * h, 0.03 * h, 0.03 * h, 0.06 * h, 0.06 * h,
                     l_range=(across - 1, across + 1))
        prims.add(PRISM, bag, 0.0, appearance.bag_colour, -0.03)
        front = 0.075 * h * b
        strap = [joints[JOINT["right_shoulder"]] + np.array([front, 0, 0.0]),
                 np.array([front, side, hip_u + 0.09 * h])]
        prims.add(CAPSULE, strap, 0.014 * h, tuple(int(c * 0.7) for c in appearance.bag_colour), 0.0)


def body_primitives(identity: Identity, joints: np.ndarray) -> _Primitives:
    prims = _Primitives()
    _torso(prims, identity, joints)
    _limbs(prims, identity, joints)
    _head(prims, identity, joints)
    _bag(prims, identity, joints)
    return prims


def render_person_sprite(
    identity: Identity,
    joints: np.ndarray,
    camera: Camera,
    position: np.ndarray,
    heading: np.ndarray,
) -> PersonSprite | None:
    """Project and paint one posed person standing at ``position`` facing ``heading`` (ground unit vector)."""
    lateral, depth = camera.ground_to_camera(position)
    lateral, depth = float(lateral), float(depth)
    if depth < NEAR_DEPTH + 0.5:
        return None
    foot_x, foot_y = (float(v) for v in camera.project(lateral, depth, 0.0))
    s = camera.focal / depth
    left = np.array([-heading[1], heading[0]])
    right, forward = camera.right, camera.forward
    lateral_of = np.array([heading @ right, left @ right])  # image-x per metre of (forward, left)
    depth_of = np.array([heading @ forward, left @ forward])

    prims = body_primitives(identity, joints)
    points = np.array(prims.points)
    image_x = foot_x + s * (points[:, :2] @ lateral_of)
    image_y = foot_y - s * points[:, 2]
    relative_depth = points[:, :2] @ depth_of
    margin = s * 0.06 * identity.body.height_m + 2
    x0, y0 = int(np.floor(image_x.min() - margin)), int(np.floor(image_y.min() - margin))
    x1, y1 = int(np.ceil(image_x.max() + margin)), int(np.ceil(image_y.max() + margin))
    canvas = np.zeros((y1 - y0 + 1, x1 - x0 + 1, 4), dtype=np.uint8)
    fixed = np.round(np.stack([image_x - x0, image_y - y0], axis=1) * SCALE).astype(np.int32)

    starts = np.array([item[1] for item in prims.items])
    counts = np.array([item[2] for item in prims.items])
    biases = np.array([item[5] for item in prims.items])
    mean_depth = np.add.reduceat(relative_depth, starts) / counts + biases
    order = np.argsort(-mean_depth, kind="stable")  # far to near
    for index in order:
        kind, start, count, size, colour, _ = prims.items[index]
        pts = fixed[start: start + count]
        if kind == CAPSULE:
            thickness = max(1, int(round(size * s)))
            cv2.line(canvas, tuple(pts[0]), tuple(pts[1]), colour, thickness, cv2.LINE_8, SHIFT)
        elif kind == BALL:
            radius = max(SCALE // 2, int(round(size * s * SCALE)))
            cv2.circle(canvas, tuple(pts[0]), radius, colour, -1, cv2.LINE_8, SHIFT)
        else:
            hull = cv2.convexHull(pts.reshape(-1, 1, 2))
            cv2.fillConvexPoly(canvas, hull, colour, cv2.LINE_8, SHIFT)

    keypoint_index = slice(0, NUM_COCO_JOINTS)
    keypoints = np.stack(
        [foot_x + s * (joints[keypoint_index, :2] @ lateral_of), foot_y - s * joints[keypoint_index, 2]], axis=1
    )
    return PersonSprite(
        pixels=canvas,
        origin=(x0, y0),
        keypoints=keypoints,
        depth=depth,
        foot=(foot_x, foot_y),
        pixels_per_metre=s,
    )
