"""The static picture each camera sees before anyone walks by: sky, far facade, street, sidewalks.

Static occluders are drawn on top of it (see ``occluders``), together with a per-pixel depth map
that is +inf wherever no occluder is.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.synthetic.occluders import Occluder, draw_occluder
from pipeline.synthetic.random_streams import random_stream
from pipeline.synthetic.scene_geometry import draw_ball, draw_box, draw_polygon
from pipeline.synthetic.site_layout import FACADE_Y, STREET_HALF_WIDTH, Camera

FACADE_COLOURS = ((150, 170, 190), (120, 130, 160), (170, 160, 150), (110, 120, 110), (180, 190, 200), (100, 110, 140))
ASPHALT = (88, 86, 84)
SIDEWALK = (150, 152, 156)
CURB = (185, 185, 185)
WINDOW = (96, 80, 66)
SKY_TOP, SKY_BOTTOM = (215, 170, 120), (235, 215, 195)
VIEW_HALF_SPAN = 70.0  # metres of street drawn on each side of the zone


@dataclass(frozen=True)
class StaticScene:
    image: np.ndarray  # [H, W, 3] uint8 BGR, occluders included, before camera effects
    occluder_depth: np.ndarray  # [H, W] float32, depth of the nearest occluder, +inf elsewhere
    occluders: tuple[Occluder, ...]


def _sky(camera: Camera) -> np.ndarray:
    rows = np.linspace(0.0, 1.0, camera.height)[:, None, None]
    top, bottom = np.array(SKY_TOP, float), np.array(SKY_BOTTOM, float)
    column = (1 - rows) * top + rows * bottom
    return np.broadcast_to(column, (camera.height, camera.width, 3)).astype(np.uint8).copy()


def _ground(image: np.ndarray, camera: Camera, zone_x: float) -> None:
    x0, x1 = zone_x - VIEW_HALF_SPAN, zone_x + VIEW_HALF_SPAN

    def strip(y0, y1, colour, xa=x0, xb=x1, up=0.0):
        draw_polygon(image, camera, np.array([[xa, y0, up], [xb, y0, up], [xb, y1, up], [xa, y1, up]]), colour)

    strip(-40.0, FACADE_Y, SIDEWALK)
    strip(-STREET_HALF_WIDTH, STREET_HALF_WIDTH, ASPHALT)
    for y in (-STREET_HALF_WIDTH, STREET_HALF_WIDTH):
        strip(y - 0.15, y + 0.15, CURB)
    for x in np.arange(x0, x1, 6.0):  # dashed centre line
        strip(-0.06, 0.06, (210, 210, 210), x, x + 3.0)
    for x in np.arange(x0, x1, 1.5):  # paving joints on both sidewalks
        strip(STREET_HALF_WIDTH + 0.15, FACADE_Y, (136, 138, 142), x, x + 0.05)
        strip(-12.0, -STREET_HALF_WIDTH - 0.15, (136, 138, 142), x, x + 0.05)


def _facade(image: np.ndarray, camera: Camera, zone_x: float, rng: np.random.Generator) -> None:
    x = zone_x - VIEW_HALF_SPAN
    while x < zone_x + VIEW_HALF_SPAN:
        width = float(rng.uniform(8.0, 16.0))
        height = float(rng.uniform(5.5, 9.5))
        colour = FACADE_COLOURS[int(rng.integers(len(FACADE_COLOURS)))]
        wall = np.array(
            [[x, FACADE_Y, 0], [x + width, FACADE_Y, 0], [x + width, FACADE_Y, height], [x, FACADE_Y, height]]
        )
        draw_polygon(image, camera, wall, colour)
        for wx in np.arange(x + 0.8, x + width - 1.6, 3.0):
            door = wx == x + 0.8 and rng.uniform() < 0.5
            low, high = (0.0, 2.3) if door else (0.6, 2.6)
            pane = [[wx, FACADE_Y - 0.02, low], [wx + 1.8, FACADE_Y - 0.02, low],
                    [wx + 1.8, FACADE_Y - 0.02, high], [wx, FACADE_Y - 0.02, high]]
            draw_polygon(image, camera, np.array(pane), (60, 52, 46) if door else WINDOW)
            for level in np.arange(3.6, height - 1.4, 3.0):
                pane = [[wx + 0.3, FACADE_Y - 0.02, level], [wx + 1.5, FACADE_Y - 0.02, level],
                        [wx + 1.5, FACADE_Y - 0.02, level + 1.3], [wx + 0.3, FACADE_Y - 0.02, level + 1.3]]
                draw_polygon(image, camera, np.array(pane), WINDOW)
        x += width


def _street_furniture(image: np.ndarray, camera: Camera, zone_x: float, rng: np.random.Generator) -> None:
    """Trees and lamp posts on the far sidewalk: behind everyone who walks, so never occluders."""
    for x in np.arange(zone_x - VIEW_HALF_SPAN, zone_x + VIEW_HALF_SPAN, 9.0) + rng.uniform(0, 4):
        if rng.uniform() < 0.5:
            draw_box(image, camera, (x, 5.6, 0.0), (0.15, 0.15, 1.3), (40, 60, 90))
            draw_ball(image, camera, (x, 5.6, 3.4), float(rng.uniform(1.2, 1.7)), (50, 110 + int(rng.integers(40)), 60))
        else:
            draw_box(image, camera, (x, 4.4, 0.0), (0.06, 0.06, 2.1), (60, 60, 60))
            draw_box(image, camera, (x, 4.2, 4.1), (0.25, 0.25, 0.08), (200, 230, 240))


def render_static_scene(camera: Camera, zone_x: float, occluders: list[Occluder], seed: int) -> StaticScene:
    rng = random_stream(seed, "background", camera.camera_id)
    image = _sky(camera)
    _ground(image, camera, zone_x)
    _facade(image, camera, zone_x, rng)
    _street_furniture(image, camera, zone_x, rng)
    grain = rng.normal(0.0, 5.0, size=(camera.height, camera.width, 1))
    grain = cv2.GaussianBlur(grain, (0, 0), 1.2)[..., None]
    image = np.clip(image.astype(np.float64) + grain, 0, 255).astype(np.uint8)
    depth = np.full((camera.height, camera.width), np.inf, dtype=np.float32)
    # Far occluders first, so nearer ones paint over them.
    for occluder in sorted(occluders, key=lambda o: -float(camera.ground_to_camera(np.array(o.centre))[1])):
        draw_occluder(image, depth, camera, occluder)
    return StaticScene(image=image, occluder_depth=depth, occluders=tuple(occluders))
