"""The web app during a run: the live view's bounded state, and ``run_pipeline.py --web PORT`` on
real RTSP cameras (GStreamer's RTSP server) serving streams, camera health, identities and events."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest
import yaml

from pipeline.live_status import LiveCameraStatus
from pipeline.records import IdentityEvent, TrackBox
from tests.conftest import REPOSITORY_ROOT
from tests.network import free_port


# --- the live view ------------------------------------------------------------------------------


def _event(track_id: int) -> IdentityEvent:
    return IdentityEvent("track_started", "cam1", track_id, track_id / 10, track_id)


def test_the_live_view_keeps_only_the_newest_events_and_one_frame_per_camera():
    from pipeline.web import live

    clock = iter(np.arange(0.0, 100.0, 1 / 16))  # 16 frames per second offered (exact binary fractions)
    view = live.LiveView(["cam1", "cam2"], ("head", "torso"), clock=lambda: float(next(clock)))
    view.add_events([_event(index) for index in range(live.MAX_EVENTS + 500)])
    kept, last = view.events_after(0)
    assert len(kept) == live.MAX_EVENTS and last == live.MAX_EVENTS + 500
    assert [event["seq"] for event in kept] == list(range(501, last + 1))
    assert [event["track_id"] for event in view.events_after(last - 2)[0]] == [last - 2, last - 1]

    image = np.zeros((90, 160, 3), np.uint8)
    boxes = [TrackBox("cam1", 1, 0.0, 3, (20.0, 10.0, 60.0, 80.0), 0.9, None, 7)]
    for _ in range(20):
        view.add_frame("cam1", image, boxes)
    sequence, jpeg = view.latest_frame("cam1")
    assert sequence == 10  # every other frame: at most MAX_STREAM_FPS (10) are encoded per second
    drawn = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert drawn.shape == image.shape and drawn.max() > 100  # the box is drawn on the black frame
    assert view.latest_frame("cam2") is None


def test_a_stream_yields_each_new_frame_and_ends_with_the_run():
    from pipeline.web.live import LiveView

    view = LiveView(["cam1"])
    stop = threading.Event()
    received = []

    def watch():
        received.extend(view.frames("cam1", stop, wait_s=0.05))

    watcher = threading.Thread(target=watch)
    watcher.start()
    image = np.zeros((40, 40, 3), np.uint8)
    view.add_frame("cam1", image, [])
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        time.sleep(0.01)
    view.finish()
    watcher.join(10)
    assert not watcher.is_alive() and len(received) == 1
    view.report({"cam1": LiveCameraStatus("cam1", True, 9.5, 0.04, 100, 0, 1)}, 3)
    status = view.status()
    assert status["identities"] == 3 and status["cameras"][0]["fps"] == 9.5 and status["cameras"][0]["reconnects"] == 1


# --- run_pipeline.py --web on live cameras ------------------------------------------------------




def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _wait_for(test, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = test()
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
            last = error
        else:
            if last:
                return last
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen in {timeout_s:.0f} s (last answer: {last!r})")


def _first_mjpeg_frame(url: str) -> np.ndarray:
    with urllib.request.urlopen(url, timeout=20) as response:
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        buffer = b""
        while b"\xff\xd9" not in buffer.partition(b"\xff\xd8")[2]:
            chunk = response.read(4096)
            assert chunk, "the stream ended before one frame"
            buffer += chunk
        start = buffer.index(b"\xff\xd8")
        end = buffer.index(b"\xff\xd9", start) + 2
        return cv2.imdecode(np.frombuffer(buffer[start:end], np.uint8), cv2.IMREAD_COLOR)


@pytest.mark.slow
def test_a_live_run_serves_its_cameras_identities_and_events(tmp_path):
    from tests.rtsp_server import RtspServer, rtsp_server_unavailable_reason, start_streaming

    reason = rtsp_server_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    from pipeline.synthetic import WorldConfig, generate_world

    world = tmp_path / "world"
    generate_world(world, WorldConfig(cameras=2, identities=8, seconds=20, fps=10, seed=62_031), progress=False)
    servers = [RtspServer(world / f"videos/cam{camera}.mp4", path=f"/cam{camera}", loop=True) for camera in (1, 2)]
    start_streaming(servers)
    config = tmp_path / "live.yaml"
    config.write_text(yaml.safe_dump({
        "sources": {"streams": [{"name": f"cam{camera}", "path": servers[camera - 1].url} for camera in (1, 2)]},
        "detector": {"backend": "yolo", "weights": str(REPOSITORY_ROOT / "models" / "yolo11n_synthetic_person.pt"),
                     "image_size": 320, "confidence": 0.4},
        "extractor": {"backend": "onnxruntime"},
        "association": {"refine": False},
        "output": {"status_every_s": 1.0},
    }))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    run = subprocess.Popen(
        [sys.executable, "run_pipeline.py", "--config", str(config), "--reid",
         str(REPOSITORY_ROOT / "models" / "bpsema_small_synthetic.pt"), "--output", str(tmp_path / "output"),
         "--no-progress", "--web", str(port), "--duration", "120"],
        cwd=REPOSITORY_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        status = _wait_for(
            lambda: (answer := _get_json(f"{base}/api/live/status"))["running"] and all(
                camera["connected"] and (camera["fps"] or 0) > 1 for camera in answer["cameras"]) and answer,
            120, "both cameras streaming")
        assert [camera["camera"] for camera in status["cameras"]] == ["cam1", "cam2"]
        frame = _first_mjpeg_frame(f"{base}/live/cameras/cam2.mjpg")
        assert frame is not None and frame.shape[:2] == (360, 640)
        events = _wait_for(lambda: _get_json(f"{base}/api/live/events?after=0")["events"], 60, "an identity event")
        assert {"seq", "kind", "camera", "track_id"} <= set(events[0])
        later = _get_json(f"{base}/api/live/events?after={events[-1]['seq']}")["events"]
        assert all(event["seq"] > events[-1]["seq"] for event in later)
        identities = _wait_for(lambda: _get_json(f"{base}/api/identities")["total"], 60, "a global identity")
        assert identities >= 1
        _wait_for(lambda: _get_json(f"{base}/api/live/status")["identities"] >= 1, 10, "the identity count")
        run_info = _get_json(f"{base}/api/run")
        assert run_info["live"] and not any(camera["frames_available"] for camera in run_info["cameras"])
        with urllib.request.urlopen(f"{base}/live.html", timeout=10) as page:
            assert page.status == 200 and b"live-cameras" in page.read()
    finally:
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=120)
        for server in servers:
            server.stop()
    assert run.returncode == 0, output[-3000:]
    assert "web app on http://127.0.0.1:" in output
