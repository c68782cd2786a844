"""run_pipeline.py against real RTSP streams (GStreamer's RTSP server on 127.0.0.1): a camera that
goes down and comes back, and SIGINT ending a live run cleanly."""

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
import yaml

from tests.conftest import REPOSITORY_ROOT, save_tiny_checkpoint
from tests.rtsp_server import RtspServer, rtsp_server_unavailable_reason, start_streaming


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    reason = rtsp_server_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    from pipeline.synthetic import WorldConfig, generate_world

    directory = tmp_path_factory.mktemp("live")
    world = directory / "world"
    generate_world(world, WorldConfig(cameras=2, identities=6, seconds=20, fps=10, width=320, height=180, seed=1),
                   progress=False)
    checkpoint = save_tiny_checkpoint(directory)
    servers = [RtspServer(world / f"videos/cam{c}.mp4", path=f"/cam{c}", loop=True) for c in (1, 2)]
    start_streaming(servers)
    config = directory / "live.yaml"
    config.write_text(yaml.safe_dump({
        "sources": {"streams": [{"name": f"cam{c}", "path": servers[c - 1].url} for c in (1, 2)],
                    "continue_on_error": True},
        "detector": {"backend": "yolo", "weights": "yolo11n.yaml", "image_size": 160, "confidence": 0.3},
        "tracker": {"name": "bytetrack"},
        "extractor": {"backend": "onnxruntime", "every_n_frames": 2},
        "association": {"refine": False, "distance_threshold": 0.7},
        "output": {"videos": True, "status_every_s": 1.0},
        "live": {"reconnect_initial_s": 0.25, "reconnect_max_s": 1.0, "read_timeout_s": 1.5, "min_camera_fps": 2.0},
    }))
    yield directory, config, checkpoint, servers
    for server in servers:
        server.stop()


def _start(config, checkpoint, output, *extra):
    return subprocess.Popen(
        [sys.executable, "run_pipeline.py", "--config", str(config), "--reid", str(checkpoint), "--output", str(output),
         "--no-progress", *extra],
        cwd=REPOSITORY_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _check_outputs(output):
    for camera in ("cam1", "cam2"):
        assert (output / "mot" / f"{camera}.txt").is_file()
    with sqlite3.connect(output / "tracks.sqlite") as connection:
        assert connection.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert {row[0] for row in connection.execute("select camera from cameras")} == {"cam1", "cam2"}
    for line in (output / "events.jsonl").read_text().splitlines():
        json.loads(line)
    import cv2

    for camera in ("cam1", "cam2"):
        capture = cv2.VideoCapture(str(output / "videos" / f"{camera}.mp4"))
        ok, _ = capture.read()
        capture.release()
        assert ok, f"{camera} video is not playable"


class StatusLines:
    """The run's stderr read by a thread: every line kept, and a wait for a status line that passes a test
    (the run's own signal, never a fixed sleep)."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for line in stream:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def status(self) -> list[str]:
        with self._changed:
            return [line for line in self.lines if "| ids" in line]

    def wait_for(self, test, timeout_s: float, after: int = 0) -> int:
        """Index (among status lines) of the first one from ``after`` on that passes ``test``."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                status = [line for line in self.lines if "| ids" in line]
                for index in range(after, len(status)):
                    if test(status[index]):
                        return index
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("no such status line in time:\n" + "\n".join(self.lines[-40:]))
                self._changed.wait(remaining)

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)


def _camera_up(camera):
    return lambda line: f"{camera} DOWN" not in line and f"{camera} " in line


def test_a_camera_outage_does_not_stop_the_run_and_it_reconnects(setup, tmp_path):
    directory, config, checkpoint, servers = setup
    output = tmp_path / "out"
    process = _start(config, checkpoint, output, "--duration", "120")
    lines = StatusLines(process.stderr)
    try:
        up = lines.wait_for(lambda line: _camera_up("cam1")(line) and _camera_up("cam2")(line), timeout_s=90)
        servers[1].stop()
        down = lines.wait_for(lambda line: "cam2 DOWN" in line, timeout_s=30, after=up + 1)
        start_streaming(servers[1:])
        lines.wait_for(_camera_up("cam2"), timeout_s=30, after=down + 1)
        process.send_signal(signal.SIGINT)  # recovered: end the run (its outputs are checked below)
        stdout = process.stdout.read()
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    lines.join(5)
    assert process.returncode == 0, "\n".join(lines.lines[-40:])
    assert all("cam1 DOWN" not in line for line in lines.status()), "the other camera stopped"
    assert "frames/s per camera" in stdout
    _check_outputs(output)


def test_sigint_ends_a_live_run_cleanly(setup, tmp_path):
    directory, config, checkpoint, servers = setup
    start_streaming(servers)
    output = tmp_path / "out"
    process = _start(config, checkpoint, output)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (output / "events.jsonl").exists():
            time.sleep(0.5)
        time.sleep(3)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr[-3000:]
    assert "stopping on signal" in stderr
    _check_outputs(output)
