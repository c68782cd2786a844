"""The site: a straight pedestrian street with one camera zone every ~30 m and side streets between.

Ground coordinates are metres: x runs along the street, y across it (the far facade is at
y = +FACADE_Y, the cameras stand on the near side at y < 0). Each camera looks across the street
at its zone with a little yaw, from a few metres up, with a horizontal optical axis:

    image x = cx + focal * lateral / depth
    image y = horizon_row + focal * (mount_height - up) / depth
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline.synthetic.camera_effects import camera_effects_for
from pipeline.synthetic.random_streams import random_stream

STREET_HALF_WIDTH = 3.5  # walkable street between the curbs, metres
LANE_INNER, LANE_OUTER = 0.4, 2.6  # people keep right: |y| in [inner, outer] for their direction
FACADE_Y = 7.5
SIDE_STREET_Y = 16.0  # where side streets leave the site (out of every view)
ZONE_SPACING = 30.0
NEAR_DEPTH = 1.0


@dataclass(frozen=True)
class Camera:
    camera_id: int
    position: tuple[float, float]
    yaw: float  # radians: view direction on the ground plane
    mount_height: float  # metres
    focal: float  # pixels
    horizon_row: float
    width: int
    height: int

    @property
    def forward(self) -> np.ndarray:
        return np.array([math.cos(self.yaw), math.sin(self.yaw)])

    @property
    def right(self) -> np.ndarray:
        return np.array([math.sin(self.yaw), -math.cos(self.yaw)])

    def ground_to_camera(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ground points [..., 2] -> (lateral, depth) in metres."""
        relative = np.asarray(points, dtype=np.float64) - np.asarray(self.position)
        return relative @ self.right, relative @ self.forward

    def project(self, lateral, depth, up) -> tuple[np.ndarray, np.ndarray]:
        """Camera-frame points (lateral, depth, height above ground) -> image (x, y)."""
        depth = np.asarray(depth, dtype=np.float64)
        x = self.width / 2.0 + self.focal * np.asarray(lateral) / depth
        y = self.horizon_row + self.focal * (self.mount_height - np.asarray(up)) / depth
        return x, y

    def project_ground(self, points: np.ndarray, up=0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ground points [..., 2] (at height ``up``) -> image x, image y, depth."""
        lateral, depth = self.ground_to_camera(points)
        x, y = self.project(lateral, np.maximum(depth, 1e-6), up)
        return x, y, depth

    def to_dict(self) -> dict:
        return {
            "camera_id": self.camera_id,
            "position_m": [round(self.position[0], 4), round(self.position[1], 4)],
            "yaw_deg": round(math.degrees(self.yaw), 4),
            "mount_height_m": round(self.mount_height, 4),
            "focal_px": round(self.focal, 4),
            "horizon_row": round(self.horizon_row, 4),
        }


@dataclass(frozen=True)
class SiteLayout:
    zone_x: tuple[float, ...]  # street x of each camera zone (index c - 1)
    gate_x: tuple[float, ...]  # street x of the side streets: gate g lies between zones g and g + 1
    gate_side: tuple[int, ...]  # +1: side street leaves towards +y, -1 towards -y
    cameras: tuple[Camera, ...]

    @property
    def num_cameras(self) -> int:
        return len(self.cameras)

    def gate_point(self, gate: int) -> np.ndarray:
        return np.array([self.gate_x[gate], self.gate_side[gate] * SIDE_STREET_Y])


def build_site_layout(num_cameras: int, width: int, height: int, seed: int) -> SiteLayout:
    rng = random_stream(seed, "site_layout")
    zone_x = [ZONE_SPACING * (c + 1) + rng.uniform(-3.0, 3.0) for c in range(num_cameras)]
    # Gates: before the first zone, between consecutive zones, after the last zone.
    gate_x = [zone_x[0] - ZONE_SPACING / 2]
    gate_x += [(zone_x[c] + zone_x[c + 1]) / 2 + rng.uniform(-2.0, 2.0) for c in range(num_cameras - 1)]
    gate_x += [zone_x[-1] + ZONE_SPACING / 2]
    gate_side = [1 if g % 2 == 0 else -1 for g in range(len(gate_x))]
    cameras = []
    for c in range(num_cameras):
        camera_rng = random_stream(seed, "camera_pose", c + 1)
        effects = camera_effects_for(c + 1)
        distance = camera_rng.uniform(10.5, 13.5)
        yaw = math.pi / 2 + math.radians(camera_rng.uniform(-22.0, 22.0))
        # Stand back from the zone along the view direction so the zone centre is in the middle.
        position = (zone_x[c] - distance * math.cos(yaw), 0.0 - distance * math.sin(yaw))
        cameras.append(
            Camera(
                camera_id=c + 1,
                position=position,
                yaw=yaw,
                mount_height=camera_rng.uniform(2.2, 2.8),
                focal=effects.viewing_scale * width,
                horizon_row=height * camera_rng.uniform(0.24, 0.34),
                width=width,
                height=height,
            )
        )
    return SiteLayout(tuple(zone_x), tuple(gate_x), tuple(gate_side), tuple(cameras))
