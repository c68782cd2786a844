"""Drawing static 3D things (ground patches, walls, boxes, balls) into one camera's image.

Points are site coordinates (x, y, up) in metres. Polygons are clipped at the camera's near depth
before projection. A drawing can also stamp a constant depth into a per-pixel depth map, which is
how static occluders later hide the people behind them.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pipeline.synthetic.site_layout import NEAR_DEPTH, Camera

SHIFT = 4  # cv2 sub-pixel bits
SCALE = 1 << SHIFT
LIGHT_DIRECTION = np.array([-0.4, -0.6, 0.7]) / np.linalg.norm([-0.4, -0.6, 0.7])


def to_camera(camera: Camera, points: np.ndarray) -> np.ndarray:
    """Site points [n, 3] -> camera-frame [n, 3] (lateral, depth, up)."""
    points = np.asarray(points, dtype=np.float64)
    lateral, depth = camera.ground_to_camera(points[:, :2])
    return np.stack([lateral, depth, points[:, 2]], axis=1)


def clip_near(polygon: np.ndarray, near: float = NEAR_DEPTH) -> np.ndarray:
    """Sutherland-Hodgman clip of a camera-frame polygon [n, 3] against depth >= near."""
    out = []
    count = len(polygon)
    for i in range(count):
        current, following = polygon[i], polygon[(i + 1) % count]
        current_in, following_in = current[1] >= near, following[1] >= near
        if current_in:
            out.append(current)
        if current_in != following_in:
            t = (near - current[1]) / (following[1] - current[1])
            out.append(current + t * (following - current))
    return np.array(out).reshape(-1, 3)


def image_points(camera: Camera, camera_points: np.ndarray) -> np.ndarray:
    x, y = camera.project(camera_points[:, 0], camera_points[:, 1], camera_points[:, 2])
    return np.stack([x, y], axis=1)


def _fixed(points: np.ndarray) -> np.ndarray:
    clipped = np.clip(points, -1e5, 1e5)
    return np.round(clipped * SCALE).astype(np.int32).reshape(-1, 1, 2)


def draw_polygon(
    image: np.ndarray,
    camera: Camera,
    site_points: np.ndarray,
    colour,
    depth_map: np.ndarray | None = None,
    depth_value: float | None = None,
) -> None:
    polygon = clip_near(to_camera(camera, site_points))
    if len(polygon) < 3:
        return
    points = _fixed(image_points(camera, polygon))
    cv2.fillPoly(image, [points], colour, cv2.LINE_8, SHIFT)
    if depth_map is not None:
        stamp = np.zeros(depth_map.shape, dtype=np.uint8)
        cv2.fillPoly(stamp, [points], 1, cv2.LINE_8, SHIFT)
        np.minimum(depth_map, np.where(stamp > 0, depth_value, np.inf), out=depth_map)


def box_faces(centre, half_size, yaw: float = 0.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 6 faces (4 corners [4, 3], outward normal [3]) of a box standing on its centre's footprint.

    centre = (x, y, bottom height); half_size = (along, across, full height / 2)."""
    cx, cy, bottom = centre
    a, b, half_height = half_size
    u = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    v = np.array([-math.sin(yaw), math.cos(yaw), 0.0])
    w = np.array([0.0, 0.0, 1.0])
    middle = np.array([cx, cy, bottom + half_height])
    faces = []
    for axis, extent, others in ((u, a, ((v, b), (w, half_height))), (v, b, ((u, a), (w, half_height))),
                                 (w, half_height, ((u, a), (v, b)))):
        (p, pe), (q, qe) = others
        for sign in (1.0, -1.0):
            face_centre = middle + sign * extent * axis
            corners = np.array([
                face_centre + pe * p + qe * q,
                face_centre - pe * p + qe * q,
                face_centre - pe * p - qe * q,
                face_centre + pe * p - qe * q,
            ])
            faces.append((corners, sign * axis))
    return faces


def shade(colour, normal: np.ndarray) -> tuple[int, int, int]:
    factor = 0.62 + 0.45 * max(0.0, float(normal @ LIGHT_DIRECTION))
    return tuple(int(min(255, c * factor)) for c in colour)


def draw_box(
    image: np.ndarray,
    camera: Camera,
    centre,
    half_size,
    colour,
    yaw: float = 0.0,
    depth_map: np.ndarray | None = None,
    depth_value: float | None = None,
) -> None:
    eye = np.array([camera.position[0], camera.position[1], camera.mount_height])
    for corners, normal in box_faces(centre, half_size, yaw):
        if (corners.mean(axis=0) - eye) @ normal >= 0:
            continue  # facing away from the camera
        draw_polygon(image, camera, corners, shade(colour, normal), depth_map, depth_value)


def draw_ball(
    image: np.ndarray,
    camera: Camera,
    centre,
    radius: float,
    colour,
    depth_map: np.ndarray | None = None,
    depth_value: float | None = None,
) -> None:
    point = to_camera(camera, np.array([centre]))[0]
    if point[1] < NEAR_DEPTH:
        return
    xy = image_points(camera, point[None])[0]
    radius_px = camera.focal * radius / point[1]
    centre_fixed = tuple(int(v) for v in np.round(xy * SCALE))
    cv2.circle(image, centre_fixed, int(round(radius_px * SCALE)), colour, -1, cv2.LINE_8, SHIFT)
    if depth_map is not None:
        stamp = np.zeros(depth_map.shape, dtype=np.uint8)
        cv2.circle(stamp, centre_fixed, int(round(radius_px * SCALE)), 1, -1, cv2.LINE_8, SHIFT)
        np.minimum(depth_map, np.where(stamp > 0, depth_value, np.inf), out=depth_map)


def nearest_depth(camera: Camera, site_points: np.ndarray) -> float:
    return max(NEAR_DEPTH, float(to_camera(camera, site_points)[:, 1].min()))
