"""Video sources read in step by timestamp, so cameras with different frame rates stay aligned."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

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


def open_sources(streams: list[tuple[str, str]], continue_on_error: bool = False) -> list[VideoFileSource]:
    """Open every (camera, path); an unreadable one is an error, or a warning when continuing."""
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


class SynchronizedReader:
    """Yields ``FramePacket``s in timestamp order: each step takes, from every camera, the frame
    whose timestamp is the earliest pending one (within half the finest frame interval)."""

    def __init__(self, sources: list[VideoFileSource]):
        self.sources = sources
        self.tolerance_s = 0.5 / max(source.fps for source in sources)

    def __iter__(self) -> Iterator[FramePacket]:
        heads = [_Head(source, source.read()) for source in self.sources]
        step = 0
        while True:
            live = [head for head in heads if head.frame is not None]
            if not live:
                return
            now = min(head.frame.timestamp_s for head in live)
            frames = []
            for head in live:
                if head.frame.timestamp_s <= now + self.tolerance_s:
                    frames.append(head.frame)
                    head.frame = head.source.read()
            yield FramePacket(step, now, tuple(frames))
            step += 1

    def close(self) -> None:
        for source in self.sources:
            source.close()
