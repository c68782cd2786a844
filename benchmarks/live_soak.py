"""Live sources for a long day: many RTSP cameras read for minutes while their server is killed and
restarted, one camera far slower than the others.

    python benchmarks/live_soak.py                        # 8 cameras, 10 minutes, 2 outages, cam8 at 0.3 fps
    python benchmarks/live_soak.py --minutes 2 --outages 1 --json soak.json   # a shorter run

What runs: GStreamer's RTSP server (``tests/rtsp_server.py``, one process per camera, the same
helper the live tests use; ``.ci/install_rtsp_server.sh`` installs it) serves a small synthetic
world's videos in a loop (320x180, 10 fps), the last camera re-timed to ``--slow-fps``; the
project's ``LiveReader`` reads every camera in this process and a consumer takes every packet, as
the pipeline's step loop does (no models: this measures the sources, not the stages). At evenly
spaced moments every server is killed (like a power cut of the whole camera network), left down
for ``--outage-s`` seconds and started again on the same port.

Printed:
- per outage and camera: the reconnects the reader made, and the recovery time (from the moment
  the camera's restarted server listens to the camera's first new frame; target <= 5 s);
- per camera: frames received, dropped by the newest-frame queue, and lost (expected at the
  camera's rate over the run minus received; the outages account for most of it);
- the slow camera's reconnects while it was delivering frames (outside the outages; target 0);
- this process's RSS every ``--sample-s`` seconds and the last value against the 1-minute one
  (target within 10 %).

The reader's settings: the slow camera sets ``min_camera_fps`` (a little under its rate) and with it
the read timeout (two of its frame intervals); the reconnect back-off tops out at 1 s: a camera
whose server is back waits up to one back-off for its next attempt, then one frame interval for
its first frame (3.3 s at 0.3 fps, with the default one-frame probe and one decoder thread), so a
5 s recovery needs attempts at least every 1.5 s. Opens run in parallel
(``LiveSettings.parallel_opens``): OpenCV otherwise opens one FFmpeg stream at a time per process,
and the first soak (8 cameras) measured recoveries of 1.8-8.7 s in steps of the ~0.7 s that one
RTSP open takes, 2.1-2.7 s with parallel opens.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
if str(REPOSITORY_ROOT) not in sys.path:
    sys.path.insert(0, str(REPOSITORY_ROOT))

from pipeline.config import LiveSettings  # noqa: E402
from pipeline.live_sources import LiveReader  # noqa: E402
from reid.log_levels import set_verbosity  # noqa: E402
from tests.rtsp_server import RtspServer, rtsp_server_unavailable_reason, start_streaming  # noqa: E402

VIDEO_FPS = 10


@dataclass
class OutageRecord:
    killed_at_s: float
    restarted_at_s: float
    reconnects: dict[str, int] = field(default_factory=dict)
    recovery_s: dict[str, float | None] = field(default_factory=dict)


class FrameLog:
    """When each camera's frames reached the consumer (monotonic seconds), kept as counts and the
    first arrival after a mark (the recovery clock)."""

    def __init__(self, cameras: list[str]):
        self._lock = threading.Lock()
        self.taken = {camera: 0 for camera in cameras}
        self.last_arrival_s: dict[str, float] = {}
        self._first_after: dict[str, float | None] = {}
        self._mark_s: float | None = None

    def frame(self, camera: str, now_s: float) -> None:
        with self._lock:
            self.taken[camera] += 1
            self.last_arrival_s[camera] = now_s
            if self._mark_s is not None and self._first_after.get(camera) is None:
                self._first_after[camera] = now_s

    def mark(self, now_s: float) -> None:
        """Start timing the first frame of every camera from ``now_s`` on."""
        with self._lock:
            self._mark_s = now_s
            self._first_after = {camera: None for camera in self.taken}

    def first_after_mark(self) -> dict[str, float | None]:
        with self._lock:
            return dict(self._first_after)


def make_world(directory: Path, cameras: int, seed: int) -> list[Path]:
    from pipeline.synthetic import WorldConfig, generate_world

    generate_world(directory, WorldConfig(cameras=cameras, identities=12, seconds=30, fps=VIDEO_FPS, width=320,
                                          height=180, seed=seed), progress=False)
    return [directory / "videos" / f"cam{index}.mp4" for index in range(1, cameras + 1)]


def consume(reader: LiveReader, log: FrameLog) -> None:
    for packet in reader:
        now_s = time.monotonic()
        for frame in packet.frames:
            log.frame(frame.camera, now_s)


def run_soak(arguments) -> dict:
    reason = rtsp_server_unavailable_reason()
    if reason is not None:
        raise SystemExit(f"cannot run the soak: {reason}")
    workspace = Path(tempfile.mkdtemp(prefix="live_soak_"))
    print(f"rendering a {arguments.cameras}-camera world in {workspace} ...", file=sys.stderr)
    videos = make_world(workspace / "world", arguments.cameras, arguments.seed)
    cameras = [f"cam{index}" for index in range(1, arguments.cameras + 1)]
    slow = cameras[-1]
    numerator = round(arguments.slow_fps * 10)
    servers = [RtspServer(video, path=f"/{camera}", loop=True) for camera, video in zip(cameras[:-1], videos[:-1])]
    servers.append(RtspServer(videos[-1], path=f"/{slow}", loop=True, frame_rate=f"{numerator}/10", key_interval=1))
    rates = {camera: float(VIDEO_FPS) for camera in cameras[:-1]}
    rates[slow] = numerator / 10
    start_streaming(servers[:-1])
    servers[-1].start()
    settings = LiveSettings(
        min_camera_fps=0.8 * rates[slow], read_timeout_s=2.0 / (0.8 * rates[slow]), reconnect_initial_s=0.25,
        reconnect_max_s=1.0, startup_wait_s=2.5 / rates[slow] + 5.0,
        default_fps=float(VIDEO_FPS),
    )
    process = psutil.Process()
    duration_s = arguments.minutes * 60.0
    outage_starts = [duration_s * (index + 1) / (arguments.outages + 1) for index in range(arguments.outages)]
    log = FrameLog(cameras)
    reader = LiveReader(list(zip(cameras, (server.url for server in servers))), settings)
    started_s = time.monotonic()
    consumer = threading.Thread(target=consume, args=(reader, log), daemon=True)
    consumer.start()
    rss: list[tuple[float, float]] = []
    outages: list[OutageRecord] = []
    outage_windows: list[tuple[float, float]] = []  # (kill, all recovered or restart + 30 s), run seconds
    reconnects_outside: dict[str, int] = {camera: 0 for camera in cameras}
    next_sample_s = 0.0
    previous_reconnects = {camera: 0 for camera in cameras}

    def elapsed() -> float:
        return time.monotonic() - started_s

    def sample() -> None:
        nonlocal next_sample_s
        if elapsed() >= next_sample_s:
            rss.append((round(elapsed(), 1), process.memory_info().rss / 2**20))
            print(f"{elapsed():7.1f} s  RSS {rss[-1][1]:.1f} MiB", file=sys.stderr)
            next_sample_s += arguments.sample_s

    def count_reconnects(in_outage: bool) -> None:
        status = reader.status()
        for camera in cameras:
            delta = status[camera].reconnects - previous_reconnects[camera]
            if delta and not in_outage:
                reconnects_outside[camera] += delta
            previous_reconnects[camera] = status[camera].reconnects

    try:
        for outage_start_s in [*outage_starts, duration_s]:
            while elapsed() < outage_start_s:
                sample()
                count_reconnects(in_outage=False)
                time.sleep(0.2)
            if outage_start_s == duration_s:
                break
            before = {camera: status.reconnects for camera, status in reader.status().items()}
            killed_s = elapsed()
            print(f"{killed_s:7.1f} s  killing every RTSP server for {arguments.outage_s:g} s", file=sys.stderr)
            for server in servers:
                server.stop()
            while elapsed() < killed_s + arguments.outage_s:
                sample()
                count_reconnects(in_outage=True)
                time.sleep(0.2)
            log.mark(time.monotonic())  # a camera's first frame from here on can only come from its restarted server
            restarted_at: dict[str, float] = {}
            for camera, server in zip(cameras, servers):
                server.start()
                restarted_at[camera] = time.monotonic()  # listening again: the camera's recovery clock starts
            restarted_s = max(restarted_at.values()) - started_s
            while elapsed() < restarted_s + 30.0 and None in log.first_after_mark().values():
                sample()
                count_reconnects(in_outage=True)
                time.sleep(0.1)
            count_reconnects(in_outage=True)
            first = log.first_after_mark()
            after = {camera: status.reconnects for camera, status in reader.status().items()}
            record = OutageRecord(round(killed_s, 1), round(restarted_s, 1))
            record.reconnects = {camera: after[camera] - before[camera] for camera in cameras}
            record.recovery_s = {
                camera: None if first[camera] is None else round(max(0.0, first[camera] - restarted_at[camera]), 2)
                for camera in cameras
            }
            outages.append(record)
            outage_windows.append((killed_s, elapsed()))
            print(f"{elapsed():7.1f} s  recovered: {record.recovery_s}", file=sys.stderr)
    finally:
        status = reader.status()
        run_s = elapsed()
        reader.close()
        consumer.join(5.0)
        for server in servers:
            server.stop()

    outage_seconds = sum(end - start for start, end in outage_windows)
    cameras_report = {}
    for camera in cameras:
        expected = rates[camera] * run_s
        cameras_report[camera] = {
            "fps": rates[camera],
            "frames_received": status[camera].frames_received,
            "frames_taken": log.taken[camera],
            "frames_dropped": status[camera].frames_dropped,
            "frames_lost": max(0, round(expected - status[camera].frames_received)),
            "frames_lost_outside_outages": max(
                0, round(rates[camera] * (run_s - outage_seconds) - status[camera].frames_received)),
            "reconnects": status[camera].reconnects,
            "reconnects_outside_outages": reconnects_outside[camera],
        }
    one_minute = next((value for seconds, value in rss if seconds >= 60.0), rss[0][1] if rss else None)
    last = rss[-1][1] if rss else None
    return {
        "cameras": arguments.cameras,
        "minutes": arguments.minutes,
        "slow_camera": slow,
        "settings": asdict(settings),
        "run_s": round(run_s, 1),
        "outages": [asdict(record) for record in outages],
        "per_camera": cameras_report,
        "rss_mib": rss,
        "rss_1_min_mib": one_minute,
        "rss_last_mib": last,
        "rss_change": None if not one_minute or last is None else round(last / one_minute - 1.0, 4),
    }


def print_report(report: dict) -> None:
    print(f"\nlive soak: {report['cameras']} cameras, {report['run_s']:.0f} s, "
          f"{len(report['outages'])} outage(s); slow camera {report['slow_camera']}")
    for index, outage in enumerate(report["outages"], start=1):
        recoveries = [value for value in outage["recovery_s"].values() if value is not None]
        missing = [camera for camera, value in outage["recovery_s"].items() if value is None]
        worst = f"{max(recoveries):.2f} s" if recoveries else "-"
        print(f"outage {index} (killed at {outage['killed_at_s']:.0f} s, restarted at {outage['restarted_at_s']:.0f} s): "
              f"reconnects per camera {sorted(set(outage['reconnects'].values()))}, worst recovery {worst}"
              + (f", NOT recovered: {', '.join(missing)}" if missing else ""))
        print("   recovery s: " + "  ".join(f"{camera} {value}" for camera, value in outage["recovery_s"].items()))
    print(f"{'camera':8} {'fps':>5} {'received':>9} {'taken':>7} {'dropped':>8} {'lost':>6} {'lost*':>6} "
          f"{'reconn':>7} {'reconn*':>8}")
    for camera, row in report["per_camera"].items():
        print(f"{camera:8} {row['fps']:5.1f} {row['frames_received']:9d} {row['frames_taken']:7d} "
              f"{row['frames_dropped']:8d} {row['frames_lost']:6d} {row['frames_lost_outside_outages']:6d} "
              f"{row['reconnects']:7d} {row['reconnects_outside_outages']:8d}")
    print("(* outside the outages: from kill to the last camera's first new frame)")
    print(f"RSS: {report['rss_1_min_mib']:.1f} MiB at 1 min, {report['rss_last_mib']:.1f} MiB at the end "
          f"({report['rss_change']:+.1%})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--outages", type=int, default=2)
    parser.add_argument("--outage-s", type=float, default=10.0, help="how long the servers stay down")
    parser.add_argument("--slow-fps", type=float, default=0.3, help="the last camera's frame rate (tenths)")
    parser.add_argument("--sample-s", type=float, default=10.0, help="RSS sampling interval")
    parser.add_argument("--seed", type=int, default=91, help="the rendered world's seed")
    parser.add_argument("--json", type=Path, help="also write the report here")
    arguments = parser.parse_args(argv)
    if arguments.cameras < 2 or arguments.minutes <= 0 or arguments.outages < 0 or not 0.1 <= arguments.slow_fps <= 10:
        print("need --cameras >= 2, --minutes > 0, --outages >= 0 and 0.1 <= --slow-fps <= 10", file=sys.stderr)
        return 2
    set_verbosity("normal", import_libraries=False)  # as run_pipeline.py: OpenCV's warnings only with --verbose
    report = run_soak(arguments)
    print_report(report)
    if arguments.json:
        arguments.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
