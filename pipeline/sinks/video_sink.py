"""Annotated videos ``videos/{camera}.mp4`` (MPEG-4 Part 2, fourcc ``mp4v``; playable by OpenCV/ffmpeg).

A frame is written for every camera image passed to ``write_step``, with that step's boxes of the
camera drawn on it (see ``drawing``). While the run goes on the file is ``{camera}.partial.mp4``;
``close`` finishes it and renames it to ``{camera}.mp4``, so a ``.mp4`` is always complete.
Videos show the ids known online: ``finalize`` does not re-encode them (the MOT files and the
database carry the final ids).

The opencv-python wheel cannot write H.264 (``avc1`` fails to open); re-encode with ffmpeg
(``ffmpeg -i cam1.mp4 -c:v libx264 cam1_h264.mp4``) when a browser must play the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from pipeline.records import IdentityEvent, TrackBox
from pipeline.sinks import Sink, SinkSettings, camera_file_stem, ensure_output_directory
from pipeline.sinks.drawing import annotate_frame
from reid.errors import UserError

FOURCC = "mp4v"


class VideoSink(Sink):
    """One ``cv2.VideoWriter`` per camera, opened on the camera's first frame."""

    def __init__(self, directory: str | Path, settings: SinkSettings | None = None):
        self.directory = ensure_output_directory(directory)
        self.settings = settings or SinkSettings(video=True)
        self._writers: dict[str, cv2.VideoWriter] = {}
        self._sizes: dict[str, tuple[int, int]] = {}
        self.frames_written: dict[str, int] = {}
        self._closed = False

    def partial_path(self, camera: str) -> Path:
        return self.directory / f"{camera_file_stem(camera)}.partial.mp4"

    def final_path(self, camera: str) -> Path:
        return self.directory / f"{camera_file_stem(camera)}.mp4"

    def _writer(self, camera: str, frame_size: tuple[int, int]) -> tuple[cv2.VideoWriter, tuple[int, int]]:
        if camera not in self._writers:
            size = self.settings.size_for(camera) or frame_size
            path = self.partial_path(camera)
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*FOURCC), self.settings.fps_for(camera), size)
            if not writer.isOpened():
                writer.release()
                raise UserError(f"cannot open a video writer for {path} ({FOURCC}, {size[0]}x{size[1]})")
            self._writers[camera], self._sizes[camera] = writer, size
            self.frames_written[camera] = 0
        return self._writers[camera], self._sizes[camera]

    def write_step(
        self,
        boxes: list[TrackBox],
        events: list[IdentityEvent],
        frames: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Draw each camera's boxes on its frame and append it; cameras without a frame are skipped."""
        if self._closed:
            raise RuntimeError("VideoSink.write_step after close")
        if not frames:
            return
        boxes_by_camera: dict[str, list[TrackBox]] = {}
        for box in boxes:
            boxes_by_camera.setdefault(box.camera, []).append(box)
        # Draw every camera first: a bad box or frame fails the step before any video gets a frame.
        annotated = {
            camera: annotate_frame(image, boxes_by_camera.get(camera, []), self.settings.visibility_names)
            for camera, image in frames.items()
        }
        for camera, image in annotated.items():
            height, width = image.shape[:2]
            writer, size = self._writer(camera, (width, height))
            if (width, height) != size:
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            writer.write(image)
            self.frames_written[camera] += 1

    def close(self) -> None:
        """Finish every video and give it its final name. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for camera, writer in self._writers.items():
            writer.release()
            os.replace(self.partial_path(camera), self.final_path(camera))
