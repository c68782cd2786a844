"""Health of live cameras: per-camera status records, a frame-rate meter and the one-line summary.

    cam1 9.8fps 40ms d0 r1 | cam2 DOWN r3 | ids 12

reads: camera name, measured frames per second, latency in milliseconds (now minus the capture time
of the last frame handed to the pipeline), frames dropped (``d``), reconnections (``r``); a camera
without a connection shows ``DOWN``; ``ids`` is the number of global identities seen so far.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, Mapping


@dataclass(frozen=True)
class LiveCameraStatus:
    """One camera's health at one moment (times in seconds)."""

    camera: str
    connected: bool  # a connection is open and its last frame arrived within the read timeout
    fps: float  # frames received per second over the last few seconds (0.0 when none)
    latency_s: float | None  # now minus the capture time of the last frame handed on (None before one)
    frames_received: int  # since the start, over all connections
    frames_dropped: int  # pushed out of the bounded queue before the pipeline took them
    reconnects: int  # connections re-established after an earlier one delivered frames
    last_error: str = ""  # the most recent connection or read failure (kept after recovery)


class FrameRateMeter:
    """Events per second over a sliding window of ``window_s`` seconds (timestamps in seconds, monotonic)."""

    def __init__(self, window_s: float = 3.0):
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.window_s = window_s
        self._times: deque[float] = deque()

    def add(self, time_s: float) -> None:
        self._times.append(time_s)
        self._forget_before(time_s - self.window_s)

    def rate(self, now_s: float) -> float:
        """(events in the window - 1) / (now - oldest event in the window); 0.0 with fewer than 2."""
        self._forget_before(now_s - self.window_s)
        if len(self._times) < 2:
            return 0.0
        span_s = now_s - self._times[0]
        return (len(self._times) - 1) / span_s if span_s > 0 else 0.0

    def _forget_before(self, oldest_kept_s: float) -> None:
        while self._times and self._times[0] < oldest_kept_s:
            self._times.popleft()


def format_camera_status(status: LiveCameraStatus) -> str:
    """``cam1 9.8fps 40ms d0 r1`` for a connected camera, ``cam2 DOWN r3`` for one without a connection."""
    if not status.connected:
        return f"{status.camera} DOWN r{status.reconnects}"
    latency = "-ms" if status.latency_s is None else f"{status.latency_s * 1000:.0f}ms"
    return f"{status.camera} {status.fps:.1f}fps {latency} d{status.frames_dropped} r{status.reconnects}"


def format_status_line(
    statuses: Mapping[str, LiveCameraStatus] | Iterable[LiveCameraStatus], identities_seen: int
) -> str:
    """All cameras and the identity count on one line: ``cam1 9.8fps 40ms d0 r1 | cam2 DOWN r3 | ids 12``."""
    records = statuses.values() if isinstance(statuses, Mapping) else statuses
    parts = [format_camera_status(status) for status in records]
    parts.append(f"ids {identities_seen}")
    return " | ".join(parts)
