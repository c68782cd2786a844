"""Where everyone walks and when: routes from one side street to another along the street.

A route enters from a side street, walks along the street through one or more camera zones
(keeping to the right-hand lanes of its direction, drifting a little between zones, sometimes
pausing), and leaves by another side street. Some people walk in pairs next to each other.
Start times are chosen so that most people are seen by two cameras inside the video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.synthetic.random_streams import random_stream
from pipeline.synthetic.site_layout import LANE_INNER, LANE_OUTER, SiteLayout

ZONE_COUNT_WEIGHTS = {1: 0.10, 2: 0.55, 3: 0.25, 4: 0.10}  # zones passed; capped at the camera count
GROUP_PROBABILITY = 0.18
DWELL_PROBABILITY = 0.15
SPEED_RANGE = (1.05, 1.6)  # metres per second
CORNER_OFFSET = 1.5


@dataclass(frozen=True)
class Trajectory:
    person_id: int
    zones: tuple[int, ...]  # camera ids whose zone the route passes, in walking order
    entry_gate: int
    exit_gate: int
    points: np.ndarray  # [P, 2] ground waypoints, metres
    times: np.ndarray  # [P] arrival time at each waypoint, seconds (video starts at 0)
    walked: np.ndarray  # [P] distance walked when reaching each waypoint, metres
    speed: float
    walks_with: int | None = None  # person id of the companion this person follows

    def to_dict(self) -> dict:
        return {
            "person_id": self.person_id,
            "zones": list(self.zones),
            "entry_gate": self.entry_gate,
            "exit_gate": self.exit_gate,
            "start_s": round(float(self.times[0]), 3),
            "end_s": round(float(self.times[-1]), 3),
            "speed_m_per_s": round(self.speed, 3),
            "walks_with": self.walks_with,
        }


@dataclass(frozen=True)
class MotionTable:
    """Everybody's state at every frame time: arrays [num_people, num_frames, ...]."""

    person_ids: np.ndarray  # [N]
    positions: np.ndarray  # [N, T, 2]
    headings: np.ndarray  # [N, T, 2] unit vectors on the ground
    walked: np.ndarray  # [N, T] metres walked so far
    moving: np.ndarray  # [N, T] bool (False while pausing)
    active: np.ndarray  # [N, T] bool (on the site)


def _timed(points: np.ndarray, speed: float, dwell_after: int | None, dwell_seconds: float):
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    walked = np.concatenate([[0.0], np.cumsum(steps)])
    durations = steps / speed
    if dwell_after is not None:
        # Repeat the waypoint: standing still there for dwell_seconds.
        points = np.insert(points, dwell_after + 1, points[dwell_after], axis=0)
        walked = np.insert(walked, dwell_after + 1, walked[dwell_after])
        durations = np.insert(durations, dwell_after, dwell_seconds)
    times = np.concatenate([[0.0], np.cumsum(durations)])
    return points, times, walked


def _start_time(rng, zone_times: list[float], seconds: float) -> float:
    if len(zone_times) >= 2:
        low, high = 3.0 - zone_times[0], seconds - 3.0 - zone_times[1]
        if low <= high:
            return float(rng.uniform(low, high))
    margin = min(1.0, seconds / 4)  # otherwise: the first zone visit anywhere inside the video
    return float(rng.uniform(margin - zone_times[0], seconds - margin - zone_times[0]))


def _own_route(person_id: int, layout: SiteLayout, seconds: float, seed: int) -> Trajectory:
    rng = random_stream(seed, "route", person_id)
    num_cameras = layout.num_cameras
    counts = [k for k in ZONE_COUNT_WEIGHTS if k <= num_cameras]
    weights = np.array([ZONE_COUNT_WEIGHTS[k] for k in counts])
    count = counts[int(rng.choice(len(counts), p=weights / weights.sum()))]
    first = int(rng.integers(0, num_cameras - count + 1))
    direction = 1 if rng.uniform() < 0.5 else -1
    zone_indices = list(range(first, first + count))
    entry_gate, exit_gate = first, first + count
    if direction < 0:
        zone_indices.reverse()
        entry_gate, exit_gate = exit_gate, entry_gate
    side = -direction  # keep right: eastbound walkers use y < 0

    def lane() -> float:
        return side * rng.uniform(LANE_INNER, LANE_OUTER)

    points = [layout.gate_point(entry_gate), np.array([layout.gate_x[entry_gate] + direction * CORNER_OFFSET, lane()])]
    for zone in zone_indices:
        points.append(np.array([layout.zone_x[zone] + rng.uniform(-3.0, 3.0), lane()]))
    points.append(np.array([layout.gate_x[exit_gate] - direction * CORNER_OFFSET, lane()]))
    points.append(layout.gate_point(exit_gate))
    points = np.array(points)
    speed = float(rng.uniform(*SPEED_RANGE))
    dwell_after = None
    dwell_seconds = 0.0
    if rng.uniform() < DWELL_PROBABILITY:
        dwell_after = 2 + int(rng.integers(count))  # one of the zone waypoints
        dwell_seconds = float(rng.uniform(2.0, 6.0))
    points, times, walked = _timed(points, speed, dwell_after, dwell_seconds)
    zone_waypoints = [2 + i + (1 if dwell_after is not None and 2 + i > dwell_after else 0) for i in range(count)]
    start = _start_time(rng, [float(times[i]) for i in zone_waypoints], seconds)
    return Trajectory(
        person_id=person_id,
        zones=tuple(z + 1 for z in zone_indices),
        entry_gate=entry_gate,
        exit_gate=exit_gate,
        points=points,
        times=times + start,
        walked=walked,
        speed=speed,
    )


def _companion_route(person_id: int, leader: Trajectory, seed: int) -> Trajectory:
    rng = random_stream(seed, "companion", person_id)
    points = leader.points.copy()
    street = np.abs(points[:, 1]) < LANE_OUTER + 0.5
    lane_y = points[street, 1]
    # Step sideways into the free half of the lane band, i.e. next to the companion.
    towards_outer = np.abs(lane_y) < (LANE_INNER + LANE_OUTER) / 2
    points[street, 1] = lane_y + np.sign(lane_y) * np.where(towards_outer, 0.7, -0.7)
    delay = float(rng.uniform(0.2, 0.9))
    return Trajectory(
        person_id=person_id,
        zones=leader.zones,
        entry_gate=leader.entry_gate,
        exit_gate=leader.exit_gate,
        points=points,
        times=leader.times + delay,
        walked=np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))]),
        speed=leader.speed,
        walks_with=leader.person_id,
    )


def plan_trajectories(person_ids: list[int], layout: SiteLayout, seconds: float, seed: int) -> list[Trajectory]:
    trajectories: list[Trajectory] = []
    grouped: set[int] = set()
    for person_id in person_ids:
        rng = random_stream(seed, "grouping", person_id)
        previous = trajectories[-1] if trajectories else None
        if previous is not None and previous.person_id not in grouped and rng.uniform() < GROUP_PROBABILITY:
            trajectories.append(_companion_route(person_id, previous, seed))
            grouped.update({person_id, previous.person_id})
        else:
            trajectories.append(_own_route(person_id, layout, seconds, seed))
    return trajectories


def sample_motion(trajectories: list[Trajectory], frame_times: np.ndarray) -> MotionTable:
    n, t = len(trajectories), len(frame_times)
    positions = np.zeros((n, t, 2))
    headings = np.zeros((n, t, 2))
    walked = np.zeros((n, t))
    moving = np.zeros((n, t), dtype=bool)
    active = np.zeros((n, t), dtype=bool)
    for i, trajectory in enumerate(trajectories):
        times, points = trajectory.times, trajectory.points
        positions[i, :, 0] = np.interp(frame_times, times, points[:, 0])
        positions[i, :, 1] = np.interp(frame_times, times, points[:, 1])
        walked[i] = np.interp(frame_times, times, trajectory.walked)
        active[i] = (frame_times >= times[0]) & (frame_times <= times[-1])
        steps = np.diff(points, axis=0)
        lengths = np.linalg.norm(steps, axis=1)
        directions = np.zeros_like(steps)
        last = np.array([1.0, 0.0])
        for k in range(len(steps)):  # a pause keeps the heading of the step before it
            if lengths[k] > 1e-9:
                last = steps[k] / lengths[k]
            directions[k] = last
        segment = np.clip(np.searchsorted(times, frame_times, side="right") - 1, 0, len(steps) - 1)
        headings[i] = directions[segment]
        moving[i] = lengths[segment] > 1e-9
    return MotionTable(
        person_ids=np.array([tr.person_id for tr in trajectories]),
        positions=positions,
        headings=headings,
        walked=walked,
        moving=moving,
        active=active,
    )
