"""Video sources read in step by timestamp, so cameras with different frame rates stay aligned."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import cv2

from reid.errors import UserError
from pipeline.records import Frame, FramePacket


def require_video_file(camera: str, path: str) -> None:
    """One clear line when a recorded camera's file is missing (a URL is not checked here)."""
    if "://" not in path and not Path(path).is_file():
        raise UserError(f"camera {camera}: video file not found: {path}")


class VideoFileSource:
    """Frames of one recorded video; timestamp = (frame_index - 1) / fps."""

    def __init__(self, camera: str, path: str | Path):
        self.camera = camera
        self.path = str(path)
        require_video_file(camera, self.path)
        self.capture = cv2.VideoCapture(self.path)
        if not self.capture.isOpened():
            raise UserError(f"camera {camera}: cannot open video {self.path} (unreadable or not a video)")
        ok, first = self.capture.read()
        if not ok or first is None:
            self.capture.release()
            raise UserError(f"camera {camera}: no frame could be decoded from {self.path} (corrupt or empty video)")
        self._pending = first
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else 25.0
        self.frame_count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_size = (first.shape[1], first.shape[0])  # width, height
        self._next_index = 1

    def read(self) -> Frame | None:
        """The next frame, or None at the end (a decode failure mid-file also ends the camera)."""
        if self._pending is not None:
            image, self._pending = self._pending, None
        else:
            ok, image = self.capture.read()
            if not ok or image is None:
                return None
        frame = Frame(self.camera, self._next_index, (self._next_index - 1) / self.fps, image)
        self._next_index += 1
        return frame

    def close(self) -> None:
        self.capture.release()


def check_unique_camera_names(streams) -> None:
    """Every camera of a run has its own name (outputs and tracks are keyed by it)."""
    names = [camera for camera, _ in streams]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UserError(f"camera names must be unique, repeated: {', '.join(duplicates)}")


def open_sources(streams: list[tuple[str, str]], continue_on_error: bool = False) -> list[VideoFileSource]:
    """Open every (camera, path); an unreadable one is an error, or a warning when continuing."""
    check_unique_camera_names(streams)
    sources = []
    for camera, path in streams:
        try:
            sources.append(VideoFileSource(camera, path))
        except UserError as error:
            if not continue_on_error:
                for source in sources:
                    source.close()
                raise
            print(f"warning: {error}; continuing without it", file=sys.stderr)
    if not sources:
        raise UserError("no readable video source")
    return sources


@dataclass
class _Head:
    source: VideoFileSource
    frame: Frame | None


def step_tolerance_s(frame_rates) -> float:
    """Frames this close to a step's time belong to it: half the finest frame interval."""
    return 0.5 / max(frame_rates)


def next_step_cameras(next_timestamps: Mapping[str, float | None], tolerance_s: float) -> tuple[float, tuple[str, ...]] | None:
    """The rule of a synchronized step: it is at the earliest pending timestamp and takes every camera
    whose next frame lies within ``tolerance_s`` of it (in the mapping's order; None: the camera has
    ended). None when every camera has ended."""
    pending = {camera: timestamp for camera, timestamp in next_timestamps.items() if timestamp is not None}
    if not pending:
        return None
    now = min(pending.values())
    return now, tuple(camera for camera, timestamp in pending.items() if timestamp <= now + tolerance_s)


class SynchronizedReader:
    """Yields ``FramePacket``s in timestamp order: each step takes, from every camera, the frame
    whose timestamp is the earliest pending one (within half the finest frame interval)."""

    def __init__(self, sources: list[VideoFileSource]):
        self.sources = sources
        self.tolerance_s = step_tolerance_s(source.fps for source in sources)

    def __iter__(self) -> Iterator[FramePacket]:
        heads = {source.camera: _Head(source, source.read()) for source in self.sources}
        step = 0
        while True:
            found = next_step_cameras(
                {camera: None if head.frame is None else head.frame.timestamp_s for camera, head in heads.items()},
                self.tolerance_s,
            )
            if found is None:
                return
            now, cameras = found
            frames = []
            for camera in cameras:
                head = heads[camera]
                frames.append(head.frame)
                head.frame = head.source.read()
            yield FramePacket(step, now, tuple(frames))
            step += 1

    def close(self) -> None:
        for source in self.sources:
            source.close()
