"""Live camera sources (``rtsp://`` and any other URL OpenCV's FFmpeg backend reads).

One reader thread per camera decodes as fast as its stream delivers, into a bounded queue that keeps
the newest frames and counts the ones it pushes out. A camera whose stream fails is reopened with an
exponential, capped back-off; the other cameras never wait for it, and when it comes back its frames
flow again under the same camera name with frame indices that keep increasing.

``LiveReader`` has the iteration interface of ``pipeline.sources.SynchronizedReader``: it yields
``FramePacket``s holding, per camera that has a new frame since the last packet, the oldest frame
still queued (with ``queue_size=1``, the default, always the newest one); cameras without a new frame
are absent. Times are seconds; ``Frame.timestamp_s`` is the wall-clock capture time (monotonic clock)
relative to the start of the reader.

    reader = LiveReader([("cam1", "rtsp://127.0.0.1:8554/cam1")], duration_s=60)
    for packet in reader:
        ...
        print(format_status_line(reader.status(), identities_seen=12))
    reader.close()
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import cv2

from pipeline.config import LiveSettings  # noqa: F401 - defined with the config it comes from
from pipeline.live_status import FrameRateMeter, LiveCameraStatus, format_status_line
from pipeline.records import Frame, FramePacket
from pipeline.sources import check_unique_camera_names
from reid.errors import UserError

__all__ = [
    "BackoffSchedule",
    "LiveCameraSource",
    "LiveReader",
    "LiveSettings",
    "NewestFrameQueue",
    "format_status_line",
    "is_live_url",
    "redact_url",
]

FFMPEG_OPTIONS_VARIABLE = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
# OpenCV holds one process-wide lock around every FFmpeg open unless this says FFmpeg is thread-safe
# (it is, since FFmpeg 4): without it 8 cameras reconnecting after an outage open one after another
# (measured: 6 RTSP opens 3.7 s in series, 0.7 s in parallel), and one open that hangs until its
# timeout holds back every other camera.
FFMPEG_THREAD_SAFE_VARIABLE = "OPENCV_FFMPEG_IS_THREAD_SAFE"
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_URL_CREDENTIALS = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)[^/@]*@")
_POLL_INTERVAL_S = 0.1  # the longest a waiting reader goes without checking its stop conditions
_MAX_PLAUSIBLE_FPS = 240.0  # reported rates above this (or under LiveSettings.min_camera_fps) are unknown
_STALL_FRACTION = 0.95  # a frame that took this share of the read timeout to arrive means the stream hung


def is_live_url(path: str) -> bool:
    """True for a stream URL (``rtsp://``, ``rtsps://``, ``rtmp://``, ``http(s)://``, ``udp://``, ...),
    False for a local file (a plain path or a ``file://`` URL)."""
    match = _URL_SCHEME.match(str(path).strip())
    return match is not None and match.group(1).lower() != "file"


def streams_are_live(streams: Sequence[tuple[str, str]]) -> bool:
    """Whether a run's (camera, path) streams are live URLs; a mix of URLs and files is a ``UserError``."""
    live = [is_live_url(path) for _, path in streams]
    if any(live) and not all(live):
        raise UserError("one run reads either live URLs or recorded files, not both")
    return bool(live) and all(live)


def redact_url(url: str) -> str:
    """The URL with any ``user:password@`` replaced by ``***@``, safe for logs and error messages."""
    return _URL_CREDENTIALS.sub(r"\1***@", url)


@dataclass(frozen=True)
class BackoffSchedule:
    """Seconds to wait before reconnect attempt n (n = consecutive failures, from 1):
    ``min(maximum_s, initial_s * factor**(n - 1))``."""

    initial_s: float = 0.5
    maximum_s: float = 8.0
    factor: float = 2.0

    def delay_s(self, failures: int) -> float:
        if failures < 1:
            return 0.0
        exponent = min(failures - 1, 64)  # beyond this the cap applies anyway; avoids float overflow
        return min(self.maximum_s, self.initial_s * self.factor**exponent)


class ReadyCameras:
    """The cameras of one reader that have a frame queued, and the one wait its consumer sleeps in.

    A camera wakes the consumer only when its queue goes from empty to holding a frame: a camera
    whose frame already waits for the next packet wakes nobody, so the wake-ups per packet are at
    most the number of cameras and each costs a set update (never a rescan of every source).
    Lock order: a queue's lock, then this condition (the consumer never takes a queue's lock while
    it holds this condition).
    """

    def __init__(self):
        self.condition = threading.Condition()
        self._cameras: set[str] = set()  # guarded by condition

    def add(self, camera: str) -> None:
        with self.condition:
            if camera not in self._cameras:
                self._cameras.add(camera)
                self.condition.notify_all()

    def discard(self, camera: str) -> None:
        with self.condition:
            self._cameras.discard(camera)

    def snapshot(self) -> frozenset[str]:
        """The ready cameras (call with ``condition`` held for a consistent wait)."""
        with self.condition:
            return frozenset(self._cameras)

    def wake(self) -> None:
        """Wake the consumer to look again (a camera went down, the reader closes)."""
        with self.condition:
            self.condition.notify_all()


class NewestFrameQueue:
    """A bounded FIFO of one camera's frames that keeps the newest ones: putting into a full queue pushes
    the oldest out and counts it in ``dropped``. Thread-safe (its own lock); with ``ready`` it marks
    ``camera`` ready when it stops being empty and unready when the last frame is taken."""

    def __init__(self, capacity: int, ready: ReadyCameras | None = None, camera: str = ""):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.camera = camera
        self._ready = ready
        self._lock = threading.Lock()
        self._frames: deque[Frame] = deque()
        self.dropped = 0

    def put(self, frame: Frame) -> int:
        """Queue ``frame``; returns how many older frames were dropped to make room (0 or 1)."""
        with self._lock:
            dropped = 0
            while len(self._frames) >= self.capacity:
                self._frames.popleft()
                dropped += 1
            was_empty = not self._frames
            self._frames.append(frame)
            self.dropped += dropped
            if was_empty and self._ready is not None:
                self._ready.add(self.camera)
            return dropped

    def take(self) -> Frame | None:
        """The oldest queued frame (None when empty)."""
        with self._lock:
            frame = self._frames.popleft() if self._frames else None
            if not self._frames and self._ready is not None:
                self._ready.discard(self.camera)
            return frame

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)


class LiveCameraSource:
    """One live camera read by its own thread, reopening the stream after failures.

    Exposes what the runner reads from a source: ``camera``, ``fps`` (reported by the stream once
    connected, else ``settings.default_fps``) and ``frame_count`` (always 0: a live stream has no end).
    """

    frame_count = 0

    def __init__(
        self,
        camera: str,
        url: str,
        settings: LiveSettings,
        run_start_s: float,
        ready: ReadyCameras,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.camera = camera
        self.url = url
        self.settings = settings
        self.fps = settings.default_fps
        self.frame_size: tuple[int, int] | None = None  # width, height of the last frame
        self._run_start_s = run_start_s
        self._clock = clock
        self._lock = threading.RLock()  # this camera's state, shared by its thread and the consumer
        self._ready = ready
        self._queue = NewestFrameQueue(settings.queue_size, ready, camera)
        self._backoff = BackoffSchedule(settings.reconnect_initial_s, settings.reconnect_max_s)
        self._rate = FrameRateMeter(settings.status_window_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"live-camera-{camera}", daemon=True)
        # Shared with the consumer; guarded by the lock.
        self._session_open = False  # a connection is open and has delivered at least one frame
        self._last_frame_s: float | None = None  # clock time of the last frame received
        self.frames_received = 0
        self.reconnects = 0
        self.last_error = ""
        self._last_index = 0
        self._last_delivered_capture_s: float | None = None

    # ----------------------------------------------------------------- consumer side
    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float) -> bool:
        """Wait at most ``timeout_s`` seconds for the thread to end; True when it did."""
        if self._thread.is_alive():
            self._thread.join(max(0.0, timeout_s))
        return not self._thread.is_alive()

    def is_flowing(self, now_s: float) -> bool:
        """Connected and the last frame arrived at most ``read_timeout_s`` seconds ago (a hung stream is
        reported down at once, although FFmpeg takes a few read timeouts to give up on it)."""
        with self._lock:
            return (
                self._session_open
                and self._last_frame_s is not None
                and now_s - self._last_frame_s <= self.settings.read_timeout_s
            )

    @property
    def has_frame(self) -> bool:
        return len(self._queue) > 0

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def frames_dropped(self) -> int:
        return self._queue.dropped

    def take(self) -> Frame | None:
        """The next frame to hand on (None when none is queued)."""
        with self._lock:
            frame = self._queue.take()
            if frame is not None:
                self._last_delivered_capture_s = frame.timestamp_s + self._run_start_s
            return frame

    def status(self, now_s: float | None = None) -> LiveCameraStatus:
        with self._lock:
            now_s = self._clock() if now_s is None else now_s
            delivered_s = self._last_delivered_capture_s
            latency = None if delivered_s is None else max(0.0, now_s - delivered_s)
            return LiveCameraStatus(
                camera=self.camera,
                connected=self.is_flowing(now_s),
                fps=self._rate.rate(now_s),
                latency_s=latency,
                frames_received=self.frames_received,
                frames_dropped=self._queue.dropped,
                reconnects=self.reconnects,
                last_error=self.last_error,
            )

    # ----------------------------------------------------------------- reader thread
    def _run(self) -> None:
        failures = 0  # attempts since the last session that delivered frames (sets the back-off)
        while not self._stop.is_set():
            received_before = self.frames_received
            capture = None
            try:
                capture = self._open()
                if capture is None:
                    timeout = f"{self.settings.open_timeout_s:g} s"
                    self._set_error(f"cannot open the stream (refused, unreachable or no video within {timeout})")
                else:
                    self._read_until_failure(capture, is_reconnect=received_before > 0)
            except Exception as error:  # one camera's failure must never end its thread: retry later
                self._set_error(f"{type(error).__name__}: {error}")
            finally:
                if capture is not None:
                    capture.release()
                with self._lock:
                    self._session_open = False
                self._ready.wake()  # the consumer stops waiting for this camera
            if self._stop.is_set():
                break
            failures = 1 if self.frames_received > received_before else failures + 1
            self._stop.wait(self._backoff.delay_s(failures))

    def _open(self) -> cv2.VideoCapture | None:
        parameters = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.settings.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.settings.read_timeout_s * 1000),
        ]
        if self.settings.decoder_threads:
            parameters += [cv2.CAP_PROP_N_THREADS, self.settings.decoder_threads]
        capture = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, parameters)
        if not capture.isOpened():
            capture.release()
            return None
        fps = capture.get(cv2.CAP_PROP_FPS)
        if fps and self.settings.min_camera_fps <= fps <= _MAX_PLAUSIBLE_FPS:
            with self._lock:  # read by the consumer thread
                self.fps = float(fps)
        return capture

    def _read_until_failure(self, capture: cv2.VideoCapture, is_reconnect: bool) -> None:
        """Read frames into the queue until the stream fails or a stop is requested (the reason goes to
        ``last_error``); the first frame of a session that follows an earlier one counts a reconnect."""
        delivered = False
        timeout_s = self.settings.read_timeout_s
        while not self._stop.is_set():
            requested_s = self._clock()
            if not capture.grab():
                self._set_error(f"stream lost (no frame within {timeout_s:g} s, or it ended)")
                return
            captured_s = self._clock()  # the moment the frame arrived: the capture time handed on
            if captured_s - requested_s >= _STALL_FRACTION * timeout_s:
                # FFmpeg's read timeout fired and OpenCV returned a frame left in the decoder: the
                # stream hung. Reconnect rather than wait through several more timeouts.
                self._set_error(f"stream stalled (no frame within {timeout_s:g} s)")
                return
            ok, image = capture.retrieve()
            if not ok or image is None:
                self._set_error("a frame could not be decoded")
                return
            with self._lock:
                if not delivered:
                    self._session_open = True
                    if is_reconnect:
                        self.reconnects += 1
                    delivered = True
                self.frames_received += 1
                self._last_index += 1
                self._rate.add(captured_s)
                self._last_frame_s = captured_s
                self.frame_size = (image.shape[1], image.shape[0])
                frame = Frame(self.camera, self._last_index, captured_s - self._run_start_s, image)
                self._queue.put(frame)

    def _set_error(self, message: str) -> None:
        with self._lock:
            self.last_error = message


class _FfmpegOptions:
    """Sets ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` (and ``OPENCV_FFMPEG_IS_THREAD_SAFE`` for parallel
    opens) for the process, once, before the first live reader's threads start, unless the user set
    them. They are never changed or removed afterwards: FFmpeg reads the environment from reader
    threads (a thread still blocked in a read after ``close`` among them), and a concurrent
    ``setenv``/``unsetenv`` is a data race in the C library."""

    _lock = threading.Lock()
    _decided = False

    @classmethod
    def acquire(cls, options: str, parallel_opens: bool = True) -> None:
        with cls._lock:
            if cls._decided:
                return
            cls._decided = True
            if options and FFMPEG_OPTIONS_VARIABLE not in os.environ:
                os.environ[FFMPEG_OPTIONS_VARIABLE] = options
            if parallel_opens and FFMPEG_THREAD_SAFE_VARIABLE not in os.environ:
                os.environ[FFMPEG_THREAD_SAFE_VARIABLE] = "1"


class LiveReader:
    """Reads live cameras concurrently and yields ``FramePacket``s (the ``SynchronizedReader`` interface).

    streams: (camera name, URL) pairs. The constructor starts one thread per camera and waits up to
    ``settings.startup_wait_s`` seconds for each camera's first frame: when no camera delivers, it is a
    ``UserError`` (also when one does not and ``require_all_cameras``); otherwise the missing ones get a
    warning on stderr and keep being retried in the background.

    Iteration ends when ``stop_event`` is set, ``duration_s`` seconds after iteration began, or at
    ``close()``. Each packet waits for a new frame from every connected camera, but no longer than one
    frame interval (1 / the highest camera fps) after the previous packet once some frame is ready.
    """

    def __init__(
        self,
        streams: Sequence[tuple[str, str]],
        settings: LiveSettings | None = None,
        *,
        stop_event: threading.Event | None = None,
        duration_s: float | None = None,
        require_all_cameras: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.settings = settings or LiveSettings()
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self.duration_s = duration_s
        self._clock = clock
        self._closing = threading.Event()
        self._closed = False
        self._step = 0
        self._last_timestamp_s = 0.0
        self._iteration_deadline_s: float | None = None
        _check_streams(streams)
        if duration_s is not None and duration_s <= 0:
            raise UserError(f"live duration must be positive, got {duration_s}")

        _FfmpegOptions.acquire(self.settings.ffmpeg_capture_options, self.settings.parallel_opens)
        self.start_s = clock()
        self._ready = ReadyCameras()
        self.sources = [
            LiveCameraSource(camera, url, self.settings, self.start_s, self._ready, clock)
            for camera, url in streams
        ]
        for source in self.sources:
            source.start()
        try:
            self._wait_for_cameras(require_all_cameras)
        except BaseException:
            self.close()
            raise

    def _wait_for_cameras(self, require_all_cameras: bool) -> None:
        deadline = self._clock() + self.settings.startup_wait_s
        while not all(source.frames_received for source in self.sources):
            remaining = deadline - self._clock()
            if remaining <= 0 or self.stop_event.is_set():
                break
            with self._ready.condition:  # a first frame marks its camera ready, which wakes this wait
                self._ready.condition.wait(min(remaining, _POLL_INTERVAL_S))
        missing = [source for source in self.sources if not source.frames_received]
        if not missing:
            return
        details = ", ".join(
            f"{source.camera} ({redact_url(source.url)}: {source.last_error or 'no frame yet'})" for source in missing
        )
        waited = f"within {self.settings.startup_wait_s:g} s"
        if len(missing) == len(self.sources):
            raise UserError(f"no live camera delivered a frame {waited}: {details}")
        if require_all_cameras:
            raise UserError(f"live camera(s) not reachable {waited}: {details}")
        print(f"warning: live camera(s) not reachable yet, retrying in the background: {details}", file=sys.stderr)

    # ----------------------------------------------------------------- iteration
    def _should_stop(self, now_s: float) -> bool:
        return (
            self._closing.is_set()
            or self.stop_event.is_set()
            or (self._iteration_deadline_s is not None and now_s >= self._iteration_deadline_s)
        )

    def _frame_interval_s(self) -> float:
        return 1.0 / max(source.fps for source in self.sources)

    def __iter__(self) -> Iterator[FramePacket]:
        if self._iteration_deadline_s is None and self.duration_s is not None:
            self._iteration_deadline_s = self._clock() + self.duration_s
        next_packet_s = self._clock()
        while True:
            frames = self._next_frames(next_packet_s)
            if frames is None:
                return
            now_s = self._clock()
            next_packet_s = now_s + self._frame_interval_s()
            self._last_timestamp_s = max(self._last_timestamp_s, max(frame.timestamp_s for frame in frames))
            packet = FramePacket(self._step, self._last_timestamp_s, frames)
            self._step += 1
            yield packet

    def _next_frames(self, next_packet_s: float) -> tuple[Frame, ...] | None:
        """Wait for frames as the class describes; None when iteration must stop.

        Which cameras are flowing is read once per poll interval (each source under its own lock);
        in between, the wait only compares the ready set with it when a camera turns ready.
        """
        by_camera = {source.camera: source for source in self.sources}
        while True:
            now_s = self._clock()
            if self._should_stop(now_s):
                return None
            flowing = frozenset(source.camera for source in self.sources if source.is_flowing(now_s))
            poll_until_s = now_s + _POLL_INTERVAL_S
            chosen = None
            with self._ready.condition:
                while True:
                    now_s = self._clock()
                    if self._should_stop(now_s):
                        return None
                    ready = self._ready.snapshot()
                    if ready and (flowing <= ready or now_s >= next_packet_s):
                        chosen = ready
                        break
                    until_s = min(poll_until_s, next_packet_s) if ready else poll_until_s
                    if self._iteration_deadline_s is not None:
                        until_s = min(until_s, self._iteration_deadline_s)
                    if now_s >= poll_until_s:
                        break  # read the flowing cameras again
                    self._ready.condition.wait(max(0.0, until_s - now_s))
            if chosen is not None:
                # Only this thread takes frames, so every chosen camera still has one.
                return tuple(by_camera[camera].take() for camera in by_camera if camera in chosen)

    # ----------------------------------------------------------------- status and shutdown
    def status(self) -> dict[str, LiveCameraStatus]:
        """Per camera (in stream order): measured fps, latency, frames received/dropped, reconnects, connection."""
        now_s = self._clock()
        return {source.camera: source.status(now_s) for source in self.sources}

    def close(self, timeout_s: float = 3.0) -> list[str]:
        """Stop every camera thread, waiting at most ``timeout_s`` seconds in all; returns the cameras whose
        thread was still blocked in FFmpeg (daemon threads: they end at their next read or open timeout)."""
        if self._closed:
            return []
        self._closed = True
        self._closing.set()
        for source in self.sources:
            source.request_stop()
        self._ready.wake()
        deadline = self._clock() + timeout_s
        still_running = [source.camera for source in self.sources if not source.join(deadline - self._clock())]
        return still_running

    def __enter__(self) -> "LiveReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _check_streams(streams: Sequence[tuple[str, str]]) -> None:
    if not streams:
        raise UserError("no live camera given")
    check_unique_camera_names(streams)
    for camera, url in streams:
        if not is_live_url(url):
            raise UserError(
                f"camera {camera}: not a live stream URL (rtsp://...): {redact_url(url)}; "
                "recorded files use the file reader"
            )
