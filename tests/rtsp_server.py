"""A real RTSP camera for tests: GStreamer's RTSP server serving a local video file on 127.0.0.1.

The GStreamer bindings (Debian packages, installed by ``.ci/install_rtsp_server.sh``) belong to the
system interpreter ``/usr/bin/python3``, not to the project's virtualenv, so the server runs as its
own process started with that interpreter: this same file is its program (``main`` below imports
``gi`` only there). The test side (``RtspServer``) uses the standard library, and OpenCV only to
wait until the stream delivers a frame.

Every client gets its own pipeline, so each (re)connection plays the file from its start, in real
time, transcoded to H.264. ``loop=True`` seeks back to the start at the end of the file, so a
stream lasts as long as the server runs.

    server = RtspServer(video_path, path="/cam1").start()   # port chosen by the system
    server.url                                               # rtsp://127.0.0.1:PORT/cam1
    server.stop(); server.start()                            # same port, same path
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
HOST = "127.0.0.1"
READY_PREFIX = "RTSP_SERVER_LISTENING "
FAST_OPEN_OPTIONS = "rtsp_transport;tcp|analyzeduration;500000"
LAUNCH_TEMPLATE = (
    "( filesrc location={location} ! decodebin ! videoconvert ! {rate}"
    "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={key_interval} ! rtph264pay name=pay0 pt=96 )"
)

_PROBE_SCRIPT = """
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [name for name in ("filesrc", "decodebin", "videoconvert", "x264enc", "rtph264pay")
           if Gst.ElementFactory.find(name) is None]
print("missing GStreamer elements: " + ", ".join(missing) if missing else "ok")
"""


def rtsp_server_unavailable_reason() -> str | None:
    """Why the RTSP server cannot run here (None when it can): checked by running the system python."""
    if not Path(SYSTEM_PYTHON).is_file():
        return f"{SYSTEM_PYTHON} not found (the GStreamer RTSP server runs with the system interpreter)"
    try:
        result = subprocess.run(
            [SYSTEM_PYTHON, "-c", _PROBE_SCRIPT], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"cannot run {SYSTEM_PYTHON}: {error}"
    output = result.stdout.strip()
    if result.returncode != 0 or output != "ok":
        detail = output or (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        return (
            f"{SYSTEM_PYTHON} cannot use the GStreamer RTSP server ({detail}); "
            "install it with .ci/install_rtsp_server.sh"
        )
    return None


class RtspServer:
    """One RTSP server process serving ``video_path`` at ``rtsp://127.0.0.1:PORT{path}``.

    ``port=0`` lets the system choose a free port at the first start; later starts reuse it.
    """

    def __init__(self, video_path: str | Path, path: str = "/stream", port: int = 0, loop: bool = True,
                 frame_rate: str | None = None, key_interval: int = 10):
        """frame_rate: re-time the video to this rate (GStreamer's ``N/D``, e.g. ``3/10`` for 0.3 fps:
        frames are dropped or repeated in real time); key_interval: frames between H.264 key frames
        (a slow camera needs 1, or a client waits that many frames for its first picture)."""
        self.frame_rate = frame_rate
        self.key_interval = key_interval
        self.video_path = Path(video_path)
        self.path = path if path.startswith("/") else "/" + path
        self.port = port
        self.loop = loop
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the server has no port yet: start it first")
        return f"rtsp://{HOST}:{self.port}{self.path}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout_s: float = 15.0) -> "RtspServer":
        """Start the process and wait (at most ``timeout_s`` seconds) until it listens."""
        if self.running:
            return self
        command = [
            SYSTEM_PYTHON, str(Path(__file__).resolve()),
            "--video", str(self.video_path), "--port", str(self.port), "--path", self.path,
        ]
        if self.loop:
            command.append("--loop")
        if self.frame_rate:
            command += ["--frame-rate", self.frame_rate]
        command += ["--key-interval", str(self.key_interval)]
        # A clean environment for the system interpreter: the virtualenv's PYTHONPATH/PYTHONHOME must not leak in.
        environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
        deadline = time.monotonic() + timeout_s
        while True:
            self.process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
            )
            port = self._wait_for_listening(deadline)
            if port is not None:
                self.port = port
                return self
            # The port may still be held for a moment after a stop: retry until the deadline.
            error = self._stop_process()
            if time.monotonic() >= deadline:
                raise RuntimeError(f"RTSP server did not start within {timeout_s:.0f} s: {error}")
            time.sleep(0.2)

    def _wait_for_listening(self, deadline: float) -> int | None:
        """The bound port once the process reports it; None when it exits or the deadline passes."""
        assert self.process is not None and self.process.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, min(0.2, deadline - time.monotonic())))
            if ready:
                line = self.process.stdout.readline()
                if line.startswith(READY_PREFIX):
                    return int(line[len(READY_PREFIX):].strip())
                if not line:  # end of output: the process ended
                    return None
            elif self.process.poll() is not None:
                return None
        return None

    def wait_until_streaming(self, timeout_s: float = 15.0) -> float:
        """Poll with OpenCV until one frame arrives; returns the seconds waited (RuntimeError after ``timeout_s``).

        Sets ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` for the duration when it is unset (process-wide): call it
        before starting a ``LiveReader``, not while one is opening streams.
        """
        import cv2

        # A short stream analysis opens in about half a second instead of three (unless the user chose options).
        options_set_here = "OPENCV_FFMPEG_CAPTURE_OPTIONS" not in os.environ
        if options_set_here:
            os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = FAST_OPEN_OPTIONS
        try:
            return self._poll_for_frame(cv2, timeout_s)
        finally:
            if options_set_here and os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS") == FAST_OPEN_OPTIONS:
                del os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"]

    def _poll_for_frame(self, cv2, timeout_s: float) -> float:
        started = time.monotonic()
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            remaining_ms = int(max(500.0, (deadline - time.monotonic()) * 1000))
            capture = cv2.VideoCapture(
                self.url, cv2.CAP_FFMPEG,
                [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, min(remaining_ms, 5000), cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000],
            )
            try:
                if capture.isOpened():
                    ok, image = capture.read()
                    if ok and image is not None:
                        return time.monotonic() - started
            finally:
                capture.release()
            time.sleep(0.2)
        raise RuntimeError(f"no frame from {self.url} within {timeout_s:.0f} s")

    def stop(self) -> None:
        """Kill the server at once, like a camera losing power (clients see their connection drop)."""
        self._stop_process()

    def _stop_process(self) -> str:
        """Kill and reap the process; returns the last line of its error output (for messages)."""
        process, self.process = self.process, None
        if process is None:
            return ""
        if process.poll() is None:
            process.kill()
        try:
            _, errors = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            errors = ""
        lines = (errors or "").strip().splitlines()
        return lines[-1] if lines else f"exit code {process.returncode}"

    def restart(self, timeout_s: float = 15.0) -> "RtspServer":
        self.stop()
        return self.start(timeout_s)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but no data flows, like a hung camera."""
        if self.running:
            os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.running:
            os.kill(self.process.pid, signal.SIGCONT)

    def __enter__(self) -> "RtspServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# The server program, run by /usr/bin/python3 (GStreamer bindings from Debian packages).


def start_streaming(servers: "list[RtspServer]", timeout_s: float = 15.0) -> None:
    """Start every server that is not running and wait until each one streams frames."""
    for server in servers:
        if not server.running:
            server.start(timeout_s)
        server.wait_until_streaming(timeout_s=timeout_s)


def _die_with_parent() -> None:
    """Linux: receive SIGKILL when the parent process (the test) dies, so no server is left behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a video file over RTSP on 127.0.0.1 (tests only).")
    parser.add_argument("--video", required=True)
    parser.add_argument("--port", type=int, default=0, help="0: any free port (the bound port is printed)")
    parser.add_argument("--path", default="/stream")
    parser.add_argument("--loop", action="store_true", help="seek back to the start at the end of the file")
    parser.add_argument("--key-interval", type=int, default=10, help="frames between H.264 key frames")
    parser.add_argument("--frame-rate", help="re-time the video to N/D frames per second (e.g. 3/10)")
    arguments = parser.parse_args(argv)
    _die_with_parent()

    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    location = str(Path(arguments.video).resolve()).replace('"', '\\"')
    rate = f"videorate ! video/x-raw,framerate={arguments.frame_rate} ! " if arguments.frame_rate else ""
    launch = LAUNCH_TEMPLATE.format(location=f'"{location}"', key_interval=arguments.key_interval, rate=rate)

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(False)  # every client gets its own pipeline: a (re)connection starts the file anew
    if arguments.loop:
        factory.connect("media-configure", _loop_at_end_of_stream)

    server = GstRtspServer.RTSPServer()
    server.set_address(HOST)
    server.set_service(str(arguments.port))
    server.get_mount_points().add_factory(arguments.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on {HOST}:{arguments.port}", file=sys.stderr, flush=True)
        return 1
    print(f"{READY_PREFIX}{server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()
    return 0


def _loop_at_end_of_stream(factory, media) -> None:
    """Make the file source play forever: an end-of-stream probe seeks the pipeline back to 0."""
    from gi.repository import GLib, Gst

    element = media.get_element()
    payloader = element.get_by_name("pay0")

    def on_event(pad, info):
        event = info.get_event()
        if event.type == Gst.EventType.EOS:
            GLib.idle_add(_seek_to_start, media)
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    payloader.get_static_pad("sink").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_event)


def _seek_to_start(media) -> bool:
    from gi.repository import Gst

    pipeline = media.get_element().get_parent() or media.get_element()
    pipeline.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)
    return False


if __name__ == "__main__":
    sys.exit(main())
