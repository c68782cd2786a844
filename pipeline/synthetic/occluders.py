"""Static occluders on the near side of the street: pillars, parked cars, benches, counters, ...

Each camera gets a few, placed between it and the walking lanes so they hide people: tall ones
hide a vertical slice of the body, low ones (cars, counters, benches, planters) the lower body of
people in the near lanes, and signboards the upper body while the legs stay visible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.synthetic.random_streams import random_stream
from pipeline.synthetic.scene_geometry import box_faces, draw_ball, draw_box, nearest_depth
from pipeline.synthetic.site_layout import Camera

Colour = tuple[int, int, int]


@dataclass(frozen=True)
class OccluderKind:
    name: str
    length: tuple[float, float]  # along the street, metres
    width: tuple[float, float]  # across the street
    height: tuple[float, float]
    y_range: tuple[float, float]  # where its centre stands across the street
    colours: tuple[Colour, ...]
    weight: float


CONCRETE = ((150, 150, 146), (120, 130, 140), (170, 165, 160))
CAR_PAINT = ((40, 40, 170), (160, 160, 160), (40, 40, 40), (170, 100, 40), (220, 220, 220), (50, 120, 60))
SIGN_PAINT = ((30, 140, 220), (180, 60, 30), (230, 230, 230))
# name, length, width, height, y_range, colours, weight
OCCLUDER_KINDS: tuple[OccluderKind, ...] = (
    OccluderKind("pillar", (0.5, 0.8), (0.5, 0.8), (3.4, 4.2), (-4.2, -3.3), CONCRETE, 0.24),
    OccluderKind("parked_car", (3.9, 4.5), (1.7, 1.9), (1.35, 1.55), (-4.9, -4.4), CAR_PAINT, 0.22),
    OccluderKind("counter", (1.8, 3.0), (0.6, 0.9), (1.05, 1.25), (-3.8, -3.2), ((70, 100, 150), (90, 90, 95)), 0.18),
    OccluderKind("bench", (1.6, 2.2), (0.5, 0.6), (0.85, 1.0), (-3.7, -3.2), ((40, 80, 130), (60, 60, 60)), 0.12),
    OccluderKind("planter", (1.2, 2.0), (0.8, 1.1), (0.7, 0.9), (-3.8, -3.2), ((110, 110, 120), (80, 100, 120)), 0.12),
    OccluderKind("signboard", (0.9, 1.3), (0.08, 0.12), (1.8, 2.0), (-3.5, -3.1), SIGN_PAINT, 0.12),
)
OCCLUDERS_PER_CAMERA = (2, 4)
MAX_IMAGE_WIDTH_FRACTION = 0.42


@dataclass(frozen=True)
class Occluder:
    kind: str
    centre: tuple[float, float]  # ground, metres
    length: float
    width: float
    height: float
    colour: Colour

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "centre_m": [round(self.centre[0], 3), round(self.centre[1], 3)],
            "length_m": round(self.length, 3),
            "width_m": round(self.width, 3),
            "height_m": round(self.height, 3),
        }

    def corners(self) -> np.ndarray:
        faces = box_faces((*self.centre, 0.0), (self.length / 2, self.width / 2, self.height / 2))
        return np.concatenate([corners for corners, _ in faces])


def _visible_x_range(camera: Camera, y: float, zone_x: float) -> tuple[float, float] | None:
    xs = np.linspace(zone_x - 30.0, zone_x + 30.0, 241)
    ground = np.stack([xs, np.full_like(xs, y)], axis=1)
    image_x, _, depth = camera.project_ground(ground)
    inside = (depth > 2.0) & (image_x > 0.08 * camera.width) & (image_x < 0.92 * camera.width)
    if not inside.any():
        return None
    return float(xs[inside].min()), float(xs[inside].max())


def place_occluders(camera: Camera, zone_x: float, seed: int) -> list[Occluder]:
    rng = random_stream(seed, "occluders", camera.camera_id)
    weights = np.array([kind.weight for kind in OCCLUDER_KINDS])
    count = int(rng.integers(OCCLUDERS_PER_CAMERA[0], OCCLUDERS_PER_CAMERA[1] + 1))
    placed: list[Occluder] = []
    for _ in range(count * 6):  # a few tries per occluder to find a free spot
        if len(placed) == count:
            break
        kind = OCCLUDER_KINDS[int(rng.choice(len(OCCLUDER_KINDS), p=weights / weights.sum()))]
        y = float(rng.uniform(*kind.y_range))
        span = _visible_x_range(camera, y, zone_x)
        if span is None:
            continue
        length = float(rng.uniform(*kind.length))
        x = float(rng.uniform(span[0] + length / 2, max(span[0] + length / 2, span[1] - length / 2)))
        if any(abs(x - other.centre[0]) < (length + other.length) / 2 + 0.8 for other in placed):
            continue
        ends = np.array([[x - length / 2, y], [x + length / 2, y]])
        image_x, _, _ = camera.project_ground(ends)
        if abs(image_x[1] - image_x[0]) > MAX_IMAGE_WIDTH_FRACTION * camera.width:
            continue  # would fill the view
        colour = kind.colours[int(rng.integers(len(kind.colours)))]
        width, height = float(rng.uniform(*kind.width)), float(rng.uniform(*kind.height))
        placed.append(Occluder(kind.name, (x, y), length, width, height, colour))
    return placed


def _darker(colour: Colour, factor: float) -> Colour:
    return tuple(int(c * factor) for c in colour)


def draw_occluder(image: np.ndarray, depth_map: np.ndarray, camera: Camera, occluder: Occluder) -> None:
    """Draw one occluder and stamp its nearest depth into ``depth_map`` wherever it covers."""
    depth = nearest_depth(camera, occluder.corners())
    x, y = occluder.centre
    half_length, half_width, height = occluder.length / 2, occluder.width / 2, occluder.height
    colour = occluder.colour

    def box(cx, cy, bottom, hl, hw, top, box_colour):
        draw_box(image, camera, (cx, cy, bottom), (hl, hw, (top - bottom) / 2), box_colour,
                 depth_map=depth_map, depth_value=depth)

    if occluder.kind == "parked_car":
        near_side = y - half_width  # wheels first: the body hides all but their lower part
        for wheel_x in (x - 0.3 * occluder.length, x + 0.3 * occluder.length):
            box(wheel_x, near_side + 0.12, 0.0, 0.32, 0.12, 0.64, (28, 28, 28))
        body_top = 0.58 * height
        box(x, y, 0.30, half_length, half_width, body_top, colour)
        cabin_x = x - 0.08 * occluder.length
        box(cabin_x, y, body_top, 0.27 * occluder.length, 0.9 * half_width, height - 0.05, (96, 80, 70))
        box(cabin_x, y, height - 0.05, 0.25 * occluder.length, 0.88 * half_width, height, colour)
    elif occluder.kind == "bench":
        for leg_x in (x - 0.8 * half_length, x + 0.8 * half_length):
            box(leg_x, y, 0.0, 0.05, half_width, 0.45, (50, 50, 50))
        box(x, y, 0.40, half_length, half_width, 0.47, colour)
        box(x, y + 0.8 * half_width, 0.47, half_length, 0.05, height, colour)
    elif occluder.kind == "counter":
        box(x, y, 0.0, half_length, half_width, height - 0.06, colour)
        box(x, y, height - 0.06, half_length + 0.05, half_width + 0.05, height, (200, 200, 205))
    elif occluder.kind == "planter":
        box(x, y, 0.0, half_length, half_width, 0.55 * height, colour)
        for k in range(3):
            bush_x = x + (k - 1) * 0.6 * half_length
            draw_ball(image, camera, (bush_x, y, 0.55 * height + 0.25), 0.42, (50, 120, 60), depth_map, depth)
    elif occluder.kind == "signboard":
        for leg_x in (x - 0.9 * half_length, x + 0.9 * half_length):
            box(leg_x, y, 0.0, 0.03, 0.03, 0.62, (70, 70, 70))
        box(x, y, 0.60, half_length, half_width, height, colour)
        box(x, y - half_width - 0.01, 0.95, 0.7 * half_length, 0.01, 1.45, (240, 240, 240))
    else:  # pillar
        box(x, y, 0.0, half_length, half_width, height, colour)
