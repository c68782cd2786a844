"""Live camera sources: back-off, the keep-newest queue and the status line without a server; then real
RTSP cameras (GStreamer's RTSP server, tests/rtsp_server.py) that go down, hang and come back.

Every wait has an explicit deadline; a reader's ``duration_s`` bounds each run even if a check fails.
The server tests skip with the reason when /usr/bin/python3 lacks the GStreamer RTSP bindings
(install them with .ci/install_rtsp_server.sh).
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.live_sources import (
    BackoffSchedule,
    LiveCameraSource,
    LiveReader,
    LiveSettings,
    NewestFrameQueue,
    ReadyCameras,
    is_live_url,
    redact_url,
)
from pipeline.live_status import FrameRateMeter, LiveCameraStatus, format_status_line
from pipeline.records import Frame, FramePacket
from reid.errors import UserError
from tests.rtsp_server import RtspServer, rtsp_server_unavailable_reason, start_streaming
from tests.network import free_port

STREAM_FPS = 10.0
CLOSE_LIMIT_S = 3.5  # close() joins with a 3 s budget; anything longer means a thread did not stop


def _frame(camera: str, index: int) -> Frame:
    return Frame(camera, index, index / STREAM_FPS, np.zeros((2, 2, 3), np.uint8))




# ------------------------------------------------------------------------------ without a server


def test_backoff_doubles_from_half_a_second_and_caps_at_eight():
    schedule = BackoffSchedule(initial_s=0.5, maximum_s=8.0)
    assert [schedule.delay_s(failures) for failures in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert schedule.delay_s(0) == 0.0
    assert schedule.delay_s(10_000) == 8.0  # no overflow after a long outage


def test_queue_keeps_the_newest_frames_and_counts_what_it_drops():
    queue = NewestFrameQueue(capacity=2)
    dropped = [queue.put(_frame("cam1", index)) for index in range(1, 6)]
    assert dropped == [0, 0, 1, 1, 1]
    assert queue.dropped == 3 and len(queue) == 2
    assert [queue.take().frame_index, queue.take().frame_index] == [4, 5]  # oldest kept first
    assert queue.take() is None

    newest_only = NewestFrameQueue(capacity=1)
    for index in range(1, 4):
        newest_only.put(_frame("cam1", index))
    assert newest_only.take().frame_index == 3 and newest_only.dropped == 2
    with pytest.raises(ValueError):
        NewestFrameQueue(capacity=0)


class CountingCondition(threading.Condition):
    """A condition that counts its notifications (the wake-ups a producer causes)."""

    def __init__(self):
        super().__init__()
        self.notifications = 0

    def notify_all(self):
        self.notifications += 1
        super().notify_all()


def test_a_camera_wakes_the_consumer_only_when_its_queue_stops_being_empty():
    ready = ReadyCameras()
    ready.condition = CountingCondition()
    first, second = NewestFrameQueue(2, ready, "cam1"), NewestFrameQueue(1, ready, "cam2")
    for index in range(1, 5):  # cam1: 4 frames into 2 places, one wake-up
        first.put(_frame("cam1", index))
    assert ready.snapshot() == {"cam1"} and ready.condition.notifications == 1
    second.put(_frame("cam2", 1))
    second.put(_frame("cam2", 2))
    assert ready.snapshot() == {"cam1", "cam2"} and ready.condition.notifications == 2
    assert first.take().frame_index == 3 and ready.snapshot() == {"cam1", "cam2"}  # one frame still queued
    assert first.take().frame_index == 4 and ready.snapshot() == {"cam2"}
    assert first.take() is None and ready.snapshot() == {"cam2"}
    first.put(_frame("cam1", 5))  # empty again -> ready again: a wake-up
    assert ready.snapshot() == {"cam1", "cam2"} and ready.condition.notifications == 3


def test_a_put_wakes_a_consumer_waiting_for_a_ready_camera():
    ready = ReadyCameras()
    queue = NewestFrameQueue(capacity=1, ready=ready, camera="cam1")
    producer = threading.Timer(0.1, queue.put, args=(_frame("cam1", 1),))
    producer.start()
    started = time.monotonic()
    with ready.condition:
        woke = ready.condition.wait_for(lambda: "cam1" in ready.snapshot(), timeout=5.0)
    producer.join(5.0)
    assert woke and time.monotonic() - started < 4.0


def test_live_urls_are_told_apart_from_files():
    for url in ("rtsp://127.0.0.1:8554/cam1", "RTSPS://host/x", "http://host/mjpeg", "udp://@:1234", "rtmp://h/live"):
        assert is_live_url(url), url
    for path in ("video.mp4", "/data/cam1.mp4", "file:///data/cam1.mp4", "C:\\videos\\cam1.mp4", "rtsp:/missing-slash"):
        assert not is_live_url(path), path


def test_credentials_are_hidden_in_messages():
    assert redact_url("rtsp://admin:secret@10.0.0.5:554/s1") == "rtsp://***@10.0.0.5:554/s1"
    assert redact_url("rtsp://127.0.0.1:8554/cam1") == "rtsp://127.0.0.1:8554/cam1"


def test_frame_rate_is_measured_over_a_sliding_window():
    meter = FrameRateMeter(window_s=3.0)
    for index in range(21):  # 10 frames per second for 2 s
        meter.add(index * 0.1)
    assert meter.rate(2.0) == pytest.approx(10.0)
    assert meter.rate(10.0) == 0.0  # nothing in the last 3 s


def test_status_line_shows_rates_latency_drops_reconnects_and_down_cameras():
    statuses = {
        "cam1": LiveCameraStatus("cam1", True, 9.84, 0.0404, 120, 0, 1),
        "cam2": LiveCameraStatus("cam2", False, 0.0, 3.2, 50, 4, 3, "stream lost"),
        "cam3": LiveCameraStatus("cam3", True, 10.0, None, 3, 2, 0),
    }
    line = format_status_line(statuses, identities_seen=12)
    assert line == "cam1 9.8fps 40ms d0 r1 | cam2 DOWN r3 | cam3 10.0fps -ms d2 r0 | ids 12"
    assert format_status_line(list(statuses.values()), 12) == line


def test_bad_live_settings_and_streams_are_user_errors():
    with pytest.raises(UserError, match="queue_size"):
        LiveSettings(queue_size=0)
    with pytest.raises(UserError, match="reconnect"):
        LiveSettings(reconnect_initial_s=4.0, reconnect_max_s=1.0)
    # A 0.3 fps camera delivers a frame every 3.3 s: a 2 s read timeout would call each one a stall.
    with pytest.raises(UserError, match=r"read_timeout_s \(2\) must span two frames of the slowest camera"):
        LiveSettings(min_camera_fps=0.3)
    # ... and an open that gives up before its first frame could come would never connect it.
    with pytest.raises(UserError, match=r"open_timeout_s \(2\) must span one frame of the slowest camera"):
        LiveSettings(min_camera_fps=0.3, read_timeout_s=7.0, open_timeout_s=2.0)
    assert LiveSettings(min_camera_fps=0.3, read_timeout_s=7.0).read_timeout_s == 7.0
    with pytest.raises(UserError, match="not a live stream URL"):
        LiveReader([("cam1", "recorded.mp4")])
    with pytest.raises(UserError, match="unique"):
        LiveReader([("cam1", "rtsp://127.0.0.1:1/a"), ("cam1", "rtsp://127.0.0.1:1/b")])


def test_no_reachable_camera_is_one_line_user_error_naming_it():
    url = f"rtsp://user:secret@127.0.0.1:{free_port()}/nothing-here"  # nothing listens: refused at once
    started = time.monotonic()
    with pytest.raises(UserError) as raised:
        LiveReader([("gate", url)], LiveSettings(startup_wait_s=1.0, reconnect_initial_s=0.2))
    message = str(raised.value)
    assert time.monotonic() - started < 1.0 + CLOSE_LIMIT_S
    assert "gate" in message and "\n" not in message
    assert "secret" not in message and "***@127.0.0.1" in message


# ------------------------------------------------------------------------------ with real RTSP servers


@pytest.fixture(scope="module")
def test_video(tmp_path_factory) -> Path:
    """20 s of moving shapes, 160x120 at 10 fps (mp4v, which the opencv-python wheel can write)."""
    path = tmp_path_factory.mktemp("rtsp") / "moving_shapes.mp4"
    width, height = 160, 120
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), STREAM_FPS, (width, height))
    assert writer.isOpened()
    for index in range(int(20 * STREAM_FPS)):
        image = np.full((height, width, 3), 30, np.uint8)
        x = (index * 6) % (width - 24)
        cv2.rectangle(image, (x, 30), (x + 24, 100), (0, 180, 255), -1)
        cv2.circle(image, (width - 1 - x, 20), 10, (255, 90, 0), -1)
        writer.write(image)
    writer.release()
    return path


@pytest.fixture(scope="module")
def rtsp_available() -> None:
    reason = rtsp_server_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def servers(rtsp_available, test_video):
    """A factory of RTSP servers serving the test video in a loop; all are stopped at the end."""
    started: list[RtspServer] = []

    def serve(path: str, port: int = 0, start: bool = True) -> RtspServer:
        server = RtspServer(test_video, path=path, port=port, loop=True)
        started.append(server)
        if start:
            start_streaming([server])
        return server

    yield serve
    for server in started:
        server.stop()


def _close_promptly(reader: LiveReader) -> float:
    started = time.monotonic()
    still_running = reader.close()
    elapsed = time.monotonic() - started
    assert still_running == [], f"camera threads still running after close(): {still_running}"
    return elapsed


def _assert_consistent(packets: list[tuple[float, FramePacket]], start_s: float) -> dict[str, list[Frame]]:
    """Steps count up, packet times never go back, one frame per camera per packet, per camera strictly
    increasing frame indices and capture times that are not in the future. Returns the frames by camera."""
    by_camera: dict[str, list[Frame]] = defaultdict(list)
    previous_timestamp = -1.0
    for expected_step, (received_s, packet) in enumerate(packets):
        assert packet.step == expected_step
        assert packet.timestamp_s >= previous_timestamp
        previous_timestamp = packet.timestamp_s
        cameras = [frame.camera for frame in packet.frames]
        assert cameras and len(cameras) == len(set(cameras))
        for frame in packet.frames:
            assert frame.timestamp_s <= received_s - start_s + 1e-6
            assert frame.image.shape == (120, 160, 3) and frame.image.dtype == np.uint8
            by_camera[frame.camera].append(frame)
    for camera, frames in by_camera.items():
        indices = [frame.frame_index for frame in frames]
        times = [frame.timestamp_s for frame in frames]
        assert all(b > a for a, b in zip(indices, indices[1:])), f"{camera}: frame indices not increasing"
        assert all(b > a for a, b in zip(times, times[1:])), f"{camera}: capture times not increasing"
    return by_camera


def test_cameras_survive_an_outage_and_the_lost_one_reconnects(servers):
    cams = {name: servers(f"/{name}") for name in ("cam1", "cam2", "cam3")}
    settings = LiveSettings(queue_size=2, reconnect_initial_s=0.25, reconnect_max_s=1.0)
    reader = LiveReader([(name, server.url) for name, server in cams.items()], settings, duration_s=45.0)
    assert [source.camera for source in reader.sources] == ["cam1", "cam2", "cam3"]
    assert all(source.fps == pytest.approx(STREAM_FPS) and source.frame_count == 0 for source in reader.sources)

    packets: list[tuple[float, FramePacket]] = []
    phase, phase_started = "before", time.monotonic()
    outage_lines: list[str] = []
    outage_frames: dict[str, int] = defaultdict(int)
    cam2_before: list[int] = []
    reconnect_s = None
    try:
        for packet in reader:
            now = time.monotonic()
            packets.append((now, packet))
            cameras = {frame.camera for frame in packet.frames}
            if phase == "before":
                if len(packets) >= 20 and all(status.frames_received >= 10 for status in reader.status().values()):
                    cam2_before = [f.frame_index for _, p in packets for f in p.frames if f.camera == "cam2"]
                    cams["cam2"].stop()
                    phase, phase_started = "outage", time.monotonic()
            elif phase == "outage":
                for camera in cameras:
                    outage_frames[camera] += 1
                if now - phase_started > 1.0:  # the stream may still hand on a frame or two right after the kill
                    outage_lines.append(format_status_line(reader.status(), identities_seen=0))
                if now - phase_started > 3.0:
                    cams["cam2"].start()
                    phase, phase_started = "after", time.monotonic()
            elif phase == "after":
                if "cam2" in cameras and reconnect_s is None:
                    reconnect_s = now - phase_started
                cam2_after = sum(1 for _, p in packets for f in p.frames if f.camera == "cam2") - len(cam2_before)
                if cam2_after >= 10 or now - phase_started > 15.0:
                    break
    finally:
        statuses = reader.status()
        close_s = _close_promptly(reader)

    assert phase == "after", f"the run ended in phase {phase!r} (cameras never all delivered, or duration hit)"
    by_camera = _assert_consistent(packets, reader.start_s)
    # The other cameras kept producing during the outage, and the status line showed cam2 down.
    assert outage_frames["cam1"] >= 10 and outage_frames["cam3"] >= 10, dict(outage_frames)
    assert outage_lines and all("cam2 DOWN" in line for line in outage_lines), outage_lines[:3]
    assert all("cam1 DOWN" not in line and "cam3 DOWN" not in line for line in outage_lines)
    # cam2 came back under its name, within a few seconds of the restart, indices continuing.
    assert reconnect_s is not None and reconnect_s < 6.0, f"cam2 did not reconnect ({reconnect_s})"
    cam2_after = [frame.frame_index for frame in by_camera["cam2"]][len(cam2_before):]
    assert len(cam2_after) >= 10 and cam2_after[0] > cam2_before[-1]
    assert statuses["cam2"].reconnects >= 1 and statuses["cam2"].connected
    assert statuses["cam2"].last_error  # why it went down is kept
    assert statuses["cam1"].reconnects == 0 and statuses["cam3"].reconnects == 0
    assert close_s < CLOSE_LIMIT_S
    print(f"cam2 reconnected {reconnect_s:.2f} s after its server restarted; close() took {close_s:.2f} s")


def test_a_slow_consumer_gets_the_newest_frames_and_drops_are_counted(servers):
    server = servers("/slow")
    reader = LiveReader([("slow", server.url)], LiveSettings(queue_size=1), duration_s=3.0)
    packets: list[tuple[float, FramePacket]] = []
    ages: list[float] = []
    started = time.monotonic()
    try:
        for packet in reader:
            now = time.monotonic()
            packets.append((now, packet))
            ages.append(now - (reader.start_s + packet.frames[0].timestamp_s))
            time.sleep(0.35)  # a pipeline three to four times slower than the camera
            if now - started > 10.0:  # duration_s should have ended the loop long before
                break
    finally:
        status = reader.status()["slow"]
        queued = reader.sources[0].queued
        close_s = _close_promptly(reader)

    assert time.monotonic() - started < 3.0 + 1.5, "duration_s did not end the iteration"
    frames = _assert_consistent(packets, reader.start_s)["slow"]
    assert len(frames) >= 3
    assert status.frames_dropped > 0
    # Every received frame was handed on, dropped, or is still queued.
    assert status.frames_received == len(frames) + status.frames_dropped + queued
    gaps = [b.frame_index - a.frame_index for a, b in zip(frames, frames[1:])]
    assert max(gaps) >= 2  # frames were skipped, not queued up
    # Keeping the newest frame keeps the delay near one frame interval; a growing queue would reach seconds.
    assert max(ages[1:]) < 1.0, ages
    assert close_s < CLOSE_LIMIT_S


def test_a_hung_camera_is_reported_down_then_reconnects(servers):
    server = servers("/hung")
    settings = LiveSettings(read_timeout_s=1.0, open_timeout_s=2.0, reconnect_initial_s=0.25, reconnect_max_s=1.0,
                            min_camera_fps=2.0)
    reader = LiveReader([("hung", server.url)], settings, duration_s=30.0)
    try:
        server.pause()  # the connection stays open, no data flows
        paused_s = time.monotonic()
        down_s = _wait_for(lambda: not reader.status()["hung"].connected, deadline_s=6.0)
        assert down_s is not None, "a hung stream was never reported down"
        assert "DOWN" in format_status_line(reader.status(), 0)
        server.resume()
        received = reader.status()["hung"].frames_received
        up_s = _wait_for(lambda: reader.status()["hung"].frames_received > received + 5, deadline_s=12.0)
        assert up_s is not None, "the camera did not come back after the server resumed"
        status = reader.status()["hung"]
        assert status.connected and status.reconnects >= 1
        assert down_s - paused_s < 2 * settings.read_timeout_s + 1.0
    finally:
        server.resume()
        close_s = _close_promptly(reader)
    assert close_s < CLOSE_LIMIT_S


def test_a_camera_down_at_start_joins_later_and_a_stop_event_ends_the_run(servers, capsys):
    first = servers("/first")
    late = servers("/late", port=free_port(), start=False)
    stop_event = threading.Event()
    settings = LiveSettings(startup_wait_s=1.5, reconnect_initial_s=0.25, reconnect_max_s=1.0)
    reader = LiveReader([("first", first.url), ("late", late.url)], settings, stop_event=stop_event, duration_s=30.0)
    assert "late" in capsys.readouterr().err  # warned, and kept retrying
    cameras_seen: set[str] = set()
    stopped_at = None
    try:
        late.start()
        for packet in reader:
            cameras_seen.update(frame.camera for frame in packet.frames)
            if "late" in cameras_seen and stopped_at is None:
                # Set from another thread while the consumer waits inside the iterator.
                threading.Timer(0.05, stop_event.set).start()
                stopped_at = time.monotonic()
            if time.monotonic() - reader.start_s > 20.0:
                break
        ended_s = time.monotonic()
    finally:
        close_s = _close_promptly(reader)
    assert cameras_seen == {"first", "late"}
    assert stopped_at is not None and ended_s - stopped_at < 1.0
    assert reader.status()["late"].frames_received > 0
    assert close_s < CLOSE_LIMIT_S


def test_the_decoder_thread_setting_reaches_opencv_and_is_validated(monkeypatch):
    # One decoding thread per camera: FFmpeg's frame threading holds each picture back by
    # threads - 1 frames (3.3 s at 0.3 fps); 0 leaves the choice to OpenCV.
    opened: list[list[int]] = []

    class NeverOpens:
        def __init__(self, url, backend, parameters):
            opened.append(list(parameters))

        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr("pipeline.live_sources.cv2.VideoCapture", NeverOpens)
    for threads in (1, 3, 0):
        source = LiveCameraSource("cam", "rtsp://127.0.0.1:1/a", LiveSettings(decoder_threads=threads), 0.0, ReadyCameras())
        assert source._open() is None
        pairs = dict(zip(opened[-1][::2], opened[-1][1::2]))
        assert pairs.get(cv2.CAP_PROP_N_THREADS) == (threads or None)
        assert pairs[cv2.CAP_PROP_OPEN_TIMEOUT_MSEC] == 5000
    with pytest.raises(UserError, match="decoder_threads must not be negative"):
        LiveSettings(decoder_threads=-1)


def _wait_for(condition, deadline_s: float, poll_s: float = 0.05) -> float | None:
    """The monotonic time at which ``condition()`` first held, or None after ``deadline_s`` seconds."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(poll_s)
    return None


def test_ffmpeg_settings_are_decided_once_and_never_override_the_users(monkeypatch):
    from pipeline import live_sources

    for variable in (live_sources.FFMPEG_OPTIONS_VARIABLE, live_sources.FFMPEG_THREAD_SAFE_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(live_sources._FfmpegOptions, "_decided", False)
    live_sources._FfmpegOptions.acquire("rtsp_transport;tcp", parallel_opens=True)
    assert os.environ[live_sources.FFMPEG_OPTIONS_VARIABLE] == "rtsp_transport;tcp"
    assert os.environ[live_sources.FFMPEG_THREAD_SAFE_VARIABLE] == "1"  # cameras open in parallel
    live_sources._FfmpegOptions.acquire("rtsp_transport;udp", parallel_opens=False)  # decided: nothing changes
    assert os.environ[live_sources.FFMPEG_OPTIONS_VARIABLE] == "rtsp_transport;tcp"

    monkeypatch.setattr(live_sources._FfmpegOptions, "_decided", False)
    monkeypatch.setenv(live_sources.FFMPEG_THREAD_SAFE_VARIABLE, "0")  # the user's choice stands
    monkeypatch.setenv(live_sources.FFMPEG_OPTIONS_VARIABLE, "rtsp_transport;udp")
    live_sources._FfmpegOptions.acquire("rtsp_transport;tcp", parallel_opens=True)
    assert os.environ[live_sources.FFMPEG_THREAD_SAFE_VARIABLE] == "0"
    assert os.environ[live_sources.FFMPEG_OPTIONS_VARIABLE] == "rtsp_transport;udp"


@pytest.mark.parametrize("verbosity, noisy", [("normal", False), ("verbose", True)])
def test_video_library_noise_follows_the_verbosity(verbosity, noisy):
    """A refused stream: FFmpeg's and OpenCV's own lines only in verbose runs (the status line says it)."""
    import subprocess
    import sys

    program = (
        "from reid.log_levels import set_verbosity\n"
        f"set_verbosity({verbosity!r}, import_libraries=False)\n"
        "import cv2\n"
        f"capture = cv2.VideoCapture('rtsp://127.0.0.1:{free_port()}/none', cv2.CAP_FFMPEG)\n"
        "print('opened', capture.isOpened())\n"
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OPENCV_")}
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60,
                               env=environment)
    assert completed.stdout.strip() == "opened False", completed.stderr
    assert ("Connection refused" in completed.stderr) == noisy, completed.stderr
    assert ("WARN" in completed.stderr) == noisy, completed.stderr
