"""Frames of a run's recorded videos as JPEG, with the boxes drawn in their final global ids.

The video files are the ones the run recorded in its store (``cameras.source``): a request names a
camera and a frame number, never a path. Decoded in the server, so nothing depends on the
browser's codecs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from pipeline.sinks.drawing import annotate_frame, identity_colour
from pipeline.web.store import ResultsStore

FRAME_JPEG_QUALITY = 85
CACHED_FRAMES = 128  # encoded frames kept (least recently used first out)


class FrameUnavailable(LookupError):
    """The camera has no readable recorded video, or the frame is not in it (the message says which)."""


class _OpenVideo:
    """One camera's capture with the index of the next frame it will decode (1-based)."""

    def __init__(self, path: Path):
        self.capture = cv2.VideoCapture(str(path))
        self.next_frame = 1
        self.lock = threading.Lock()

    def read(self, frame: int) -> np.ndarray | None:
        with self.lock:
            if frame != self.next_frame:
                self.capture.set(cv2.CAP_PROP_POS_FRAMES, frame - 1)
            ok, image = self.capture.read()
            self.next_frame = frame + 1 if ok else -1
            return image if ok else None


class RecordedFrames:
    """Annotated JPEG frames of the store's cameras.

    One capture per camera stays open (the store's cameras bound them); the ``CACHED_FRAMES`` most
    recently served JPEGs are kept.
    """

    def __init__(self, store: ResultsStore, part_names: list[str] | None = None):
        self.store = store
        self._videos: dict[str, _OpenVideo] = {}
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._part_names = part_names

    def cameras_with_frames(self) -> set[str]:
        """The store's cameras whose recorded video is readable here (one store query per call)."""
        return {camera for camera, source in self.store.cameras().items() if source and Path(source).is_file()}

    def _video(self, camera: str) -> _OpenVideo:
        cameras = self.store.cameras()
        if camera not in cameras:
            raise FrameUnavailable(f"unknown camera {camera!r}")
        source = cameras[camera]
        if not source:
            raise FrameUnavailable(f"camera {camera!r} has no recorded video (a live camera, or a store before version 3)")
        if not Path(source).is_file():
            raise FrameUnavailable(f"the recorded video of camera {camera!r} is gone: {source}")
        with self._lock:
            if camera not in self._videos:
                video = _OpenVideo(Path(source))
                if not video.capture.isOpened():
                    raise FrameUnavailable(f"cannot open the recorded video of camera {camera!r}: {source}")
                self._videos[camera] = video
            return self._videos[camera]

    def image(self, camera: str, frame: int) -> np.ndarray:
        """The raw BGR frame [H, W, 3] (1-based ``frame``)."""
        if frame < 1:
            raise FrameUnavailable(f"frame numbers start at 1, got {frame}")
        image = self._video(camera).read(frame)
        if image is None:
            raise FrameUnavailable(f"camera {camera!r} has no frame {frame}")
        return image

    def jpeg(self, camera: str, frame: int, highlight: int | None = None, annotated: bool = True) -> bytes:
        """That frame with every box of the store drawn (``annotated``; otherwise the frame as
        recorded, e.g. to cut a clean query crop from); ``highlight``: the boxes of this global id
        get a thick outer frame."""
        key = (camera, frame, highlight, annotated)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        image = self.image(camera, frame)
        boxes = self.store.frame_boxes(camera, frame) if annotated else []
        names = self._part_names if self._part_names is not None else self.store.part_names()[1:]
        annotated = annotate_frame(image, boxes, names) if annotated else image
        if highlight is not None:
            for box in boxes:
                if box.global_id == highlight:
                    x1, y1, x2, y2 = (int(round(value)) for value in box.box)
                    cv2.rectangle(annotated, (x1 - 3, y1 - 3), (x2 + 3, y2 + 3), identity_colour(highlight), 3)
        encoded, data = cv2.imencode(".jpg", annotated, [cv2.IMWRITE_JPEG_QUALITY, FRAME_JPEG_QUALITY])
        if not encoded:
            raise FrameUnavailable(f"cannot encode frame {frame} of camera {camera!r}")
        jpeg = data.tobytes()
        with self._lock:
            self._cache[key] = jpeg
            while len(self._cache) > CACHED_FRAMES:
                self._cache.popitem(last=False)
        return jpeg

    def close(self) -> None:
        with self._lock:
            for video in self._videos.values():
                video.capture.release()
            self._videos.clear()
