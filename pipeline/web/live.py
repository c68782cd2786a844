"""What the web app shows of a run while it goes: each camera's latest annotated frame, the cameras'
health, the identity count and the newest identity events.

Bounded: one JPEG per camera (the newest replaces the last) and the newest ``MAX_EVENTS`` events.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict
from typing import Iterator, Mapping, Sequence

import cv2
import numpy as np

from pipeline.live_status import LiveCameraStatus
from pipeline.records import IdentityEvent, TrackBox
from pipeline.sinks.base import Sink
from pipeline.sinks.drawing import annotate_frame

MAX_EVENTS = 1000
MAX_STREAM_FPS = 10.0  # frames encoded per camera and second, at most
STREAM_JPEG_QUALITY = 80


class LiveView:
    """Shared between the run (which writes through ``sink`` and ``report``) and the web app (which reads).

    cameras: the run's cameras in order; part_names: the K body part names (the legend of the frames);
    clock: monotonic seconds (for the frame-rate cap).
    """

    def __init__(self, cameras: Sequence[str], part_names: Sequence[str] = (), clock=time.monotonic):
        self.cameras = list(cameras)
        self._clock = clock
        self.part_names = tuple(part_names)
        self._condition = threading.Condition()
        self._frames: dict[str, tuple[int, bytes]] = {}  # camera -> (sequence number, JPEG)
        self._encoded_at: dict[str, float] = {}
        self._events: deque[dict] = deque(maxlen=MAX_EVENTS)
        self._event_sequence = 0
        self._frame_sequence = 0
        self._statuses: dict[str, LiveCameraStatus] = {}
        self._identities = 0
        self.running = True
        self.store_ready = False  # the run has written its first step (its store exists)
        self.sink = LiveViewSink(self)

    # --- written by the run ---------------------------------------------------------------------
    def add_frame(self, camera: str, image: np.ndarray, boxes: Sequence[TrackBox]) -> None:
        now = self._clock()
        if now - self._encoded_at.get(camera, -float("inf")) < 1.0 / MAX_STREAM_FPS:
            return
        self._encoded_at[camera] = now
        annotated = annotate_frame(image, boxes, self.part_names)
        encoded, data = cv2.imencode(".jpg", annotated, [cv2.IMWRITE_JPEG_QUALITY, STREAM_JPEG_QUALITY])
        if not encoded:
            return
        with self._condition:
            self._frame_sequence += 1
            self._frames[camera] = (self._frame_sequence, data.tobytes())
            self._condition.notify_all()

    def add_events(self, events: Sequence[IdentityEvent]) -> None:
        if not events:
            return
        with self._condition:
            for event in events:
                self._event_sequence += 1
                self._events.append({"seq": self._event_sequence, **event.to_json_dict()})

    def report(self, statuses: Mapping[str, LiveCameraStatus], identities: int, running: bool = True) -> None:
        with self._condition:
            self._statuses = dict(statuses)
            self._identities = int(identities)
            self.running = running
            self._condition.notify_all()

    def finish(self) -> None:
        """The run has ended: streams end after their last frame."""
        with self._condition:
            self.running = False
            self._condition.notify_all()

    # --- read by the web app --------------------------------------------------------------------
    def status(self) -> dict:
        with self._condition:
            cameras = [
                asdict(self._statuses[camera]) if camera in self._statuses else
                {"camera": camera, "connected": camera in self._frames, "fps": None, "latency_s": None,
                 "frames_received": None, "frames_dropped": None, "reconnects": None, "last_error": ""}
                for camera in self.cameras
            ]
            return {"running": self.running, "identities": self._identities, "cameras": cameras}

    def events_after(self, sequence: int) -> tuple[list[dict], int]:
        """The kept events with ``seq`` > ``sequence`` (oldest first), and the newest ``seq``."""
        with self._condition:
            return [event for event in self._events if event["seq"] > sequence], self._event_sequence

    def latest_frame(self, camera: str) -> tuple[int, bytes] | None:
        with self._condition:
            return self._frames.get(camera)

    def frames(self, camera: str, stop: threading.Event, wait_s: float = 1.0) -> Iterator[bytes]:
        """Each new JPEG of ``camera`` as it comes, until the run ends or ``stop`` is set."""
        last = 0
        while not stop.is_set():
            with self._condition:
                self._condition.wait_for(
                    lambda: self._frames.get(camera, (0, b""))[0] > last or not self.running, timeout=wait_s
                )
                current = self._frames.get(camera)
                running = self.running
            if current is not None and current[0] > last:
                last = current[0]
                yield current[1]
            elif not running:
                return


class LiveViewSink(Sink):
    """The run's side of a ``LiveView``: every step's frames with their boxes, and the events."""

    def __init__(self, view: LiveView):
        self.view = view

    def write_step(self, boxes, events, frames=None) -> None:
        self.view.store_ready = True
        self.view.add_events(events)
        for camera, image in (frames or {}).items():
            self.view.add_frame(camera, image, [box for box in boxes if box.camera == camera])

    def close(self) -> None:
        self.view.finish()
