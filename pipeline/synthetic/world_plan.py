"""Planning a world without drawing it: site, cameras, cast, occluders, everyone's motion per frame.

A plan is cheap (well under a second) and fully determined by the configuration, so the renderer,
the writers and the tests can each rebuild the same world from the same configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.synthetic.config import WorldConfig
from pipeline.synthetic.identities import Identity, sample_identities
from pipeline.synthetic.occluders import Occluder, place_occluders
from pipeline.synthetic.site_layout import SiteLayout, build_site_layout
from pipeline.synthetic.trajectories import MotionTable, Trajectory, plan_trajectories, sample_motion


@dataclass(frozen=True)
class WorldPlan:
    config: WorldConfig
    layout: SiteLayout
    identities: tuple[Identity, ...]  # index i <-> motion row i <-> trajectory i
    trajectories: tuple[Trajectory, ...]
    occluders: dict[int, tuple[Occluder, ...]]  # camera id -> its static occluders
    frame_times: np.ndarray  # [T] seconds of each 1-based frame (frame f at index f - 1)
    motion: MotionTable


def plan_world(config: WorldConfig) -> WorldPlan:
    config = config.validated()
    layout = build_site_layout(config.cameras, config.width, config.height, config.seed)
    identities = sample_identities(config.identities, config.seed)
    trajectories = plan_trajectories([i.person_id for i in identities], layout, config.seconds, config.seed)
    occluders = {
        camera.camera_id: tuple(place_occluders(camera, layout.zone_x[camera.camera_id - 1], config.seed))
        for camera in layout.cameras
    }
    frame_times = np.arange(config.num_frames) / config.fps
    return WorldPlan(
        config=config,
        layout=layout,
        identities=tuple(identities),
        trajectories=tuple(trajectories),
        occluders=occluders,
        frame_times=frame_times,
        motion=sample_motion(trajectories, frame_times),
    )
