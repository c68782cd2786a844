"""Annotated videos ``videos/{camera}.mp4`` (MPEG-4 Part 2, fourcc ``mp4v``; playable by OpenCV/ffmpeg).

Each frame shows that frame's boxes of the camera (see ``drawing``). While a video is being written
the file is ``{camera}.partial.mp4``; it is renamed to ``{camera}.mp4`` once complete, so a
``.mp4`` is always complete. What the ids in a video are depends on the camera:

- A camera with a recorded source (``SinkSettings.video_sources``) shows the run's final record:
  ``write_step`` only journals its boxes, and ``finalize`` renders the video by decoding the source
  file again from its first frame (the k-th decoded frame is frame_index k) and drawing every box
  with its final id, plus the boxes filled in after the run (``added_boxes``, dashed outline, label
  ``... interp``); the video then agrees with the MOT files and the database box for box. Frames
  after the last one the run processed (``--max-steps``) are not rendered. ``close`` without
  ``finalize`` (an error, Ctrl-C) renders the journal the same way with the online ids, so nothing
  is lost. The recorded cameras are rendered side by side, one thread each up to
  ``SinkSettings.video_render_threads`` (default: twice the usable cores); a camera that fails does not
  stop the others, and the first error is raised once all are done.
- A live camera (no source to read again) is drawn online, on the frames ``write_step`` receives,
  with the ids known online; ``finalize`` cannot redraw it.

The journal is kept in memory, not in a file: per box a few packed numbers (68 bytes, see
``RecordedCamera``), so an hour of a camera with ten people in view (900 000 boxes) takes about
60 MB, and there is no file to write, flush and clean up. The one case a file would cover is a
process killed outright (SIGKILL, power loss) before ``close``: then a recorded camera gets no
video, while the MOT ``.partial`` files and the database still hold every box. The k-th frame
``write_step`` receives for a recorded camera is its frame_index k (every decoded frame is passed,
in order; only the key of ``frames`` counts, the image is neither drawn nor kept).

The opencv-python wheel cannot write H.264 (``avc1`` fails to open); re-encode with ffmpeg
(``ffmpeg -i cam1.mp4 -c:v libx264 cam1_h264.mp4``) when a browser must play the file.
"""

from __future__ import annotations

import math
import os
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import cv2
import numpy as np

from pipeline.records import IdentityEvent, TrackBox, TrackKey
from pipeline.sinks.base import Sink, SinkSettings, camera_file_stem, ensure_output_directory
from pipeline.sinks.drawing import HeldVisibility, annotate_frame
from reid.cpu_cores import cpu_core_count
from reid.errors import UserError

FOURCC = "mp4v"
UNASSIGNED = -1
NO_VISIBILITY = -1


class RecordedCamera:
    """The journal of one camera with a recorded source: its boxes, packed, until the video is rendered.

    For N boxes so far: ``frames`` int32 [N] (1-based frame_index), ``track_ids`` int64 [N],
    ``online_ids`` int64 [N] (the global id known online, -1 while unassigned), ``timestamps`` float64
    [N], ``corners`` float64 [4 N] (x1, y1, x2, y2 of each box in pixels), ``scores`` float32 [N],
    ``visibility_codes`` int32 [N] (index into ``visibility_patterns``, -1 for no visibility).
    ``frames_seen``: how many frames of the camera ``write_step`` received; ``last_box_frame``: the
    highest frame_index journaled.
    """

    def __init__(self, camera: str, source: str):
        self.camera, self.source = camera, source
        self.frames, self.track_ids, self.online_ids = array("i"), array("q"), array("q")
        self.timestamps, self.corners, self.scores = array("d"), array("d"), array("f")
        self.visibility_codes = array("i")
        self.visibility_patterns: dict[tuple[bool, ...], int] = {}
        self.frames_seen = self.last_box_frame = 0

    @property
    def last_frame(self) -> int:
        """The last frame the run processed (0: none)."""
        return max(self.frames_seen, self.last_box_frame)

    @staticmethod
    def check(boxes: Sequence[TrackBox]) -> None:
        """ValueError for a box that cannot be journaled and drawn (a non-finite number)."""
        for box in boxes:
            values = [float(value) for value in (*box.box, box.score, box.timestamp_s)]
            if not all(math.isfinite(value) for value in values):
                raise ValueError(f"cannot draw a non-finite box of track {box.camera}/{box.track_id}: {box.box}")

    def extend(self, boxes: Sequence[TrackBox]) -> None:
        """Journal ``boxes`` (all of them or, when one is not finite, none: ValueError)."""
        self.check(boxes)
        for box in boxes:
            self.frames.append(int(box.frame_index))
            self.last_box_frame = max(self.last_box_frame, int(box.frame_index))
            self.track_ids.append(int(box.track_id))
            self.online_ids.append(UNASSIGNED if box.global_id is None else int(box.global_id))
            self.timestamps.append(float(box.timestamp_s))
            self.corners.extend(float(value) for value in box.box)
            self.scores.append(float(box.score))
            if box.visibility is None:
                self.visibility_codes.append(NO_VISIBILITY)
            else:
                pattern = tuple(bool(value) for value in box.visibility)
                code = self.visibility_patterns.setdefault(pattern, len(self.visibility_patterns))
                self.visibility_codes.append(code)

    def boxes_by_frame(
        self, identities: Mapping[tuple[str, int], int], added_boxes: Sequence[TrackBox] = ()
    ) -> Iterator[list[TrackBox]]:
        """For frame 1, 2, ... ``last_frame``: its boxes with their final ids (the map's, else the
        online one), the added ones after them (``interpolated``). Boxes are made one frame at a time."""
        patterns = {code: pattern for pattern, code in self.visibility_patterns.items()}
        frames = np.frombuffer(self.frames, np.int32) if self.frames else np.zeros(0, np.int32)
        order = np.argsort(frames, kind="stable")
        starts = np.searchsorted(frames[order], np.arange(1, self.last_frame + 2))
        added_by_frame: dict[int, list[TrackBox]] = {}
        for box in added_boxes:
            added_by_frame.setdefault(int(box.frame_index), []).append(box)
        for frame_index in range(1, self.last_frame + 1):
            boxes = []
            for index in order[starts[frame_index - 1]:starts[frame_index]]:
                track_id, online_id = self.track_ids[index], self.online_ids[index]
                global_id = identities.get((self.camera, track_id), None if online_id == UNASSIGNED else online_id)
                boxes.append(TrackBox(
                    self.camera, frame_index, self.timestamps[index], track_id,
                    tuple(self.corners[4 * index:4 * index + 4]), self.scores[index],
                    patterns.get(self.visibility_codes[index]), global_id,
                ))
            for box in added_by_frame.get(frame_index, []):
                global_id = identities.get((self.camera, int(box.track_id)), box.global_id)
                boxes.append(replace(box, global_id=global_id, interpolated=True))
            yield boxes


class VideoSink(Sink):
    """One ``cv2.VideoWriter`` per camera: a live camera's opened on its first frame, a recorded
    camera's when its video is rendered (``finalize`` or ``close``)."""

    def __init__(self, directory: str | Path, settings: SinkSettings | None = None):
        self.directory = ensure_output_directory(directory)
        self.settings = settings or SinkSettings(video=True)
        self.recorded: dict[str, RecordedCamera] = {}
        for camera, source in self.settings.video_sources.items():
            if "://" not in source and not Path(source).is_file():
                raise UserError(f"camera {camera}: video file not found: {source} (needed to render its video)")
            self.recorded[camera_file_stem(camera)] = RecordedCamera(camera, source)
        self._writers: dict[str, cv2.VideoWriter] = {}
        self._sizes: dict[str, tuple[int, int]] = {}
        self.frames_written: dict[str, int] = {}
        self._identities: dict[tuple[str, int], int] = {}
        self._added_boxes: dict[str, list[TrackBox]] = {}
        self._held: dict[str, HeldVisibility] = {}  # live cameras: visibility strips held between extractions
        self._closed = False

    def partial_path(self, camera: str) -> Path:
        return self.directory / f"{camera_file_stem(camera)}.partial.mp4"

    def final_path(self, camera: str) -> Path:
        return self.directory / f"{camera_file_stem(camera)}.mp4"

    def _writer(
        self, camera: str, frame_size: tuple[int, int], fps: float | None = None
    ) -> tuple[cv2.VideoWriter, tuple[int, int]]:
        if camera not in self._writers:
            size = self.settings.size_for(camera) or frame_size
            path = self.partial_path(camera)
            writer = cv2.VideoWriter(
                str(path), cv2.VideoWriter_fourcc(*FOURCC), fps or self.settings.fps_for(camera), size
            )
            if not writer.isOpened():
                writer.release()
                raise UserError(f"cannot open a video writer for {path} ({FOURCC}, {size[0]}x{size[1]})")
            self._writers[camera], self._sizes[camera] = writer, size
            self.frames_written[camera] = 0
        return self._writers[camera], self._sizes[camera]

    def _append(self, camera: str, image: np.ndarray, fps: float | None = None) -> None:
        """Append one annotated BGR uint8 [H, W, 3] image to the camera's video (resized if needed)."""
        height, width = image.shape[:2]
        writer, size = self._writer(camera, (width, height), fps)
        if (width, height) != size:
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        writer.write(image)
        self.frames_written[camera] += 1

    def _finish(self, camera: str) -> None:
        self._writers.pop(camera).release()
        os.replace(self.partial_path(camera), self.final_path(camera))

    def write_step(
        self,
        boxes: list[TrackBox],
        events: list[IdentityEvent],
        frames: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Journal the boxes of recorded cameras; draw each live camera's boxes on its frame and append
        it (live cameras without a frame are skipped)."""
        if self._closed:
            raise RuntimeError("VideoSink.write_step after close")
        frames = frames or {}
        boxes_by_camera: dict[str, list[TrackBox]] = {}
        for box in boxes:
            boxes_by_camera.setdefault(box.camera, []).append(box)
        # Check and draw every camera first: a bad box or frame fails the step before any video changes.
        recorded = {camera: boxes_by_camera.get(camera, []) for camera in self.recorded}
        for camera_boxes in recorded.values():
            RecordedCamera.check(camera_boxes)
        annotated = {}
        for camera, image in frames.items():
            if camera in self.recorded:
                continue
            camera_boxes = boxes_by_camera.get(camera, [])
            frame_index = int(camera_boxes[0].frame_index) if camera_boxes else self.frames_written.get(camera, 0) + 1
            camera_boxes = self._held.setdefault(camera, HeldVisibility()).apply(frame_index, camera_boxes)
            annotated[camera] = annotate_frame(image, camera_boxes, self.settings.visibility_names)
        for camera, image in annotated.items():
            self._append(camera, image)
        for camera, camera_boxes in recorded.items():
            self.recorded[camera].extend(camera_boxes)
            self.recorded[camera].frames_seen += int(camera in frames)

    def _render(self, recorded: RecordedCamera) -> None:
        """Decode the source from its first frame and write ``recorded.last_frame`` annotated frames."""
        if recorded.last_frame == 0:
            return
        capture = cv2.VideoCapture(recorded.source)
        try:
            if not capture.isOpened():
                raise UserError(f"camera {recorded.camera}: cannot open {recorded.source} to render its video")
            source_fps = capture.get(cv2.CAP_PROP_FPS)
            fps = self.settings.video_fps.get(recorded.camera) or (source_fps if source_fps > 0 else None)
            held = HeldVisibility()
            frame_index = 0
            for boxes in recorded.boxes_by_frame(self._identities, self._added_boxes.get(recorded.camera, [])):
                ok, image = capture.read()
                if not ok or image is None:
                    break
                frame_index += 1
                boxes = held.apply(frame_index, boxes)
                self._append(recorded.camera, annotate_frame(image, boxes, self.settings.visibility_names), fps)
        finally:
            capture.release()
        if recorded.camera in self._writers:
            self._finish(recorded.camera)

    def finalize(self, identities: dict[TrackKey, int], added_boxes: Sequence[TrackBox] = ()) -> None:
        """Render the recorded cameras' videos with the final ids and the added boxes, then close."""
        if self._closed:
            raise RuntimeError("VideoSink.finalize after close")
        RecordedCamera.check(added_boxes)
        self._identities = {(str(key[0]), int(key[1])): int(value) for key, value in identities.items()
                            if value is not None}
        for box in added_boxes:
            if box.camera in self.recorded:
                self._added_boxes.setdefault(box.camera, []).append(box)
        self.close()

    def close(self) -> None:
        """Finish every live video; render every recorded one (with the online ids unless ``finalize``
        gave the final ones). Every camera is attempted; the first error is raised. Idempotent."""
        if self._closed:
            return
        self._closed = True
        first_error: BaseException | None = None
        for camera in list(self._writers):
            try:
                self._finish(camera)
            except BaseException as error:  # noqa: BLE001 - re-raised below, after the others
                first_error = first_error or error
        cameras = list(self.recorded.values())
        # default: up to twice the usable cores, as decoding and encoding wait on each other (demo world,
        # 2 cores: 1.39x with 2 threads, 1.60x with 3; benchmarks/video_render.py)
        threads = max(1, min(len(cameras), self.settings.video_render_threads or 2 * cpu_core_count()))
        if threads == 1:
            errors = [self._render_or_error(recorded) for recorded in cameras]
        else:  # each camera has its own capture, writer and journal; the dicts' keys are per camera
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="render") as pool:
                errors = list(pool.map(self._render_or_error, cameras))
        first_error = first_error or next((error for error in errors if error is not None), None)
        if first_error is not None:
            raise first_error

    def _render_or_error(self, recorded: RecordedCamera) -> BaseException | None:
        """Render one recorded camera; on an error, release its writer (leaving the incomplete
        ``.partial.mp4``) and return the error instead of raising it."""
        try:
            self._render(recorded)
        except BaseException as error:  # noqa: BLE001 - the caller re-raises the first one
            if recorded.camera in self._writers:
                self._writers.pop(recorded.camera).release()
            return error
        return None
