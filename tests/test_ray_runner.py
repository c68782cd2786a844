"""The Ray runner: same results as the in-process runner, the command line with a local Ray and on an
existing cluster, and the plumbing that needs no Ray (scheduling, placement, connection, missing Ray).

The Ray tests share one local cluster started in this process (2 CPUs, no dashboard, loopback
address) and shut it down at the end; they skip with the reason when Ray is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from reid.errors import run_command_line
from tests.conftest import REPOSITORY_ROOT, save_tiny_checkpoint

RAY_INSTALLED = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not RAY_INSTALLED, reason="ray is not installed (pip install '.[ray]')")
# Ray on Linux binds its node to the machine's address; this keeps the test cluster on 127.0.0.1.
LOOPBACK_ENVIRONMENT = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
CAMERAS = ("cam1", "cam2", "cam3")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from pipeline.synthetic import WorldConfig, generate_world

    directory = tmp_path_factory.mktemp("ray_world") / "w"
    generate_world(directory, WorldConfig(cameras=3, identities=6, seconds=8, fps=5, seed=1), progress=False)
    return directory


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ray_model"))


@pytest.fixture(scope="module")
def local_cluster():
    """A local Ray head in this process (the 'existing cluster' of the tests), shut down at the end."""
    os.environ.update(LOOPBACK_ENVIRONMENT)
    import logging

    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def pipeline_config(world: Path):
    """The demo configuration on the world's public detections (features every 2nd step, videos on)."""
    from pipeline.config import load_pipeline_config

    config = load_pipeline_config(REPOSITORY_ROOT / "configs/pipeline/demo.yaml")
    config.detector.backend = "detections"
    config.detector.detections_dir = str(world / "det")
    config.extractor.backend = "onnxruntime"
    config.association.distance_threshold = 0.7
    return config


def run_command(*arguments: str, environment: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "run_pipeline.py", *arguments], capture_output=True, text=True, cwd=REPOSITORY_ROOT,
        env=environment, timeout=240,
    )


def identity_partition(output: Path) -> set[frozenset[tuple[str, int]]]:
    """The final tracks grouped by global id, ids themselves forgotten."""
    with sqlite3.connect(output / "tracks.sqlite") as connection:
        rows = connection.execute("select camera, track_id, global_id from tracks").fetchall()
    groups: dict = {}
    for camera, track_id, global_id in rows:
        groups.setdefault(global_id if global_id is not None else ("alone", camera, track_id), set()).add(
            (camera, track_id)
        )
    return {frozenset(group) for group in groups.values()}


def canonical_mot_rows(output: Path) -> dict[str, list[tuple]]:
    """Every camera's MOT rows with global ids renamed in order of first appearance."""
    renaming: dict[int, int] = {}
    rows = {}
    for camera in CAMERAS:
        camera_rows = []
        for line in (output / "mot" / f"{camera}.txt").read_text().splitlines():
            frame, global_id, *rest = line.split(",")
            renamed = renaming.setdefault(int(global_id), len(renaming) + 1)
            camera_rows.append((int(frame), renamed, *rest))
        rows[camera] = camera_rows
    return rows


def write_video(path: Path, frames: int, fps: float) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (64, 48))
    for index in range(frames):
        writer.write(np.full((48, 64, 3), (index * 7) % 255, dtype=np.uint8))
    writer.release()
    return path


# --- without Ray -------------------------------------------------------------------------------


def test_the_step_schedule_is_the_synchronized_readers(tmp_path):
    from pipeline.ray_runner import CameraInfo, StepScheduler
    from pipeline.sources import SynchronizedReader, VideoFileSource

    videos = {"fast": (write_video(tmp_path / "fast.mp4", 20, 10), 10), "slow": (write_video(tmp_path / "slow.mp4", 7, 5), 5)}
    reader = SynchronizedReader([VideoFileSource(camera, path) for camera, (path, _) in videos.items()])
    expected = [(packet.step, packet.timestamp_s, tuple(frame.camera for frame in packet.frames)) for packet in reader]
    reader.close()

    sources = {camera: VideoFileSource(camera, path) for camera, (path, _) in videos.items()}
    heads = {camera: source.read() for camera, source in sources.items()}
    scheduler = StepScheduler([CameraInfo(camera, source.fps, source.frame_count, 0.0) for camera, source in sources.items()])
    planned = []
    while (plan := scheduler.next_step()) is not None:
        planned.append((plan.step, plan.timestamp_s, plan.cameras))
        for camera in plan.cameras:  # what each camera actor reports after decoding its frame
            heads[camera] = sources[camera].read()
            scheduler.advance(camera, None if heads[camera] is None else heads[camera].timestamp_s)
    for source in sources.values():
        source.close()
    assert planned == expected
    assert [cameras for _, _, cameras in planned].count(("fast", "slow")) == 7  # the slow camera ends early


def test_the_association_actor_takes_steps_that_share_a_time_and_refuses_one_that_goes_back():
    """Live packets may share a time (``LiveReader`` keeps the previous packet's when a packet's newest
    frame is no newer); only a step earlier than the last one means the calls arrived out of order."""
    from pipeline.ray_runner import AssociationWorker

    class RecordingStage:
        def __init__(self):
            self.steps = []

        def process_step(self, timestamp_s, tracked, images):
            self.steps.append((timestamp_s, tuple(tracked)))

        def identities_seen(self):
            return len(self.steps)

    worker = AssociationWorker()
    worker.stage = RecordingStage()
    assert worker.process_step(1.0, (), "a") == 1
    assert worker.process_step(1.0, (), "b") == 2
    assert worker.process_step(1.25, (), "a", "b") == 3
    with pytest.raises(RuntimeError, match="step at 1.2 s after the one at 1.25 s"):
        worker.process_step(1.2, (), "a")
    assert worker.stage.steps == [(1.0, ("a",)), (1.0, ("b",)), (1.25, ("a", "b"))]


def test_a_camera_actors_detector_keeps_the_thread_budget_ray_gives_pytorch(monkeypatch):
    """Ray sets an actor's OMP_NUM_THREADS from its CPUs (1 for a share of one CPU) and PyTorch follows it;
    ONNX Runtime does not, so the camera worker hands that budget to the detector itself."""
    import torch

    import pipeline.detection
    from pipeline.config import CropRule, DetectorConfig, TrackerConfig
    from pipeline.ray_runner import CameraWorker

    asked = []
    monkeypatch.setattr(pipeline.detection, "build_detector",
                        lambda config, cameras, threads=None: asked.append((cameras, threads)) or object())
    threads_before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # what Ray gives an actor of one CPU or less
        worker = CameraWorker("cam1", "unused.mp4", DetectorConfig(), TrackerConfig(), CropRule())
        worker._load_detector()
    finally:
        torch.set_num_threads(threads_before)
    assert asked == [(["cam1"], 1)]


def test_placement_fits_every_actor_and_gives_each_extractor_a_gpu():
    from pipeline.ray_runner import plan_placement

    small = plan_placement({"CPU": 2.0}, cameras=3)
    assert small.extractor_actors == 1 and small.extractor.num_gpus == 0 and small.camera.num_gpus == 0
    assert small.camera.num_cpus * 3 + small.extractor.num_cpus + small.association.num_cpus <= 2.0
    gpus = plan_placement({"CPU": 32.0, "GPU": 2.0}, cameras=8)
    assert gpus.extractor_actors == 2 and gpus.extractor.num_gpus == 1 and gpus.camera.num_gpus == 0
    assert gpus.camera.num_cpus == 1
    shared = plan_placement({"CPU": 8.0, "GPU": 1.0}, cameras=2, detector_on_gpu=True)
    assert shared.extractor_actors == 1 and shared.extractor.num_gpus + 2 * shared.camera.num_gpus <= 1.0


class FakeRay:
    """Records what the runner asks of Ray's connection calls."""

    def __init__(self, initialized: bool = False):
        self.initialized = initialized
        self.calls: list[tuple] = []

    def is_initialized(self) -> bool:
        return self.initialized

    def init(self, **keywords) -> None:
        self.calls.append(("init", keywords.get("address")))
        self.initialized = True

    def shutdown(self) -> None:
        self.calls.append(("shutdown",))
        self.initialized = False


def test_connection_starts_or_joins_ray_and_never_stops_a_cluster_it_joined():
    from pipeline.ray_runner import RayConnection

    local = FakeRay()
    connection = RayConnection.open(local, None)
    connection.close()
    assert local.calls == [("init", None), ("shutdown",)]  # ray.init() started it: ray.shutdown() stops it

    cluster = FakeRay()
    connection = RayConnection.open(cluster, "auto")
    connection.close()
    # ray.shutdown() in a driver that connected to a cluster only disconnects this driver; the
    # cluster keeps running (test_command_line_on_an_existing_cluster checks that on a real one).
    assert cluster.calls == [("init", "auto"), ("shutdown",)]

    already = FakeRay(initialized=True)  # inside a Ray application: use its connection, leave it open
    RayConnection.open(already, "10.0.0.5:6379").close()
    assert already.calls == []


def test_an_address_nobody_listens_on_is_one_line():
    import socket

    from pipeline.ray_runner import RayConnection
    from reid.errors import UserError

    with socket.socket() as probe:  # a free loopback port, closed again
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fake = FakeRay()
    with pytest.raises(UserError, match=f"cannot reach the Ray cluster at 127.0.0.1:{port}"):
        RayConnection.open(fake, f"127.0.0.1:{port}")
    assert fake.calls == []


def test_missing_ray_is_one_line(world, checkpoint, tmp_path, monkeypatch, capsys):
    import run_pipeline

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code = run_command_line(
        run_pipeline.main,
        ["--world", str(world), "--reid", str(checkpoint), "--runner", "ray", "--output", str(tmp_path / "o"),
         "--no-progress"],
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1 and "install the ray extra: pip install '.[ray]'" in lines[0], lines


def test_ray_address_without_the_ray_runner_is_refused(world, checkpoint, capsys):
    import run_pipeline

    code = run_command_line(
        run_pipeline.main, ["--world", str(world), "--reid", str(checkpoint), "--ray-address", "127.0.0.1:1"]
    )
    assert code == 2 and "--runner ray" in capsys.readouterr().err


# --- with Ray ----------------------------------------------------------------------------------


@needs_ray
def test_ray_runs_live_rtsp_cameras(world, checkpoint, local_cluster, tmp_path):
    """Two cameras from the GStreamer RTSP server through the Ray actors: both tracked, features
    extracted, outputs written and the run summary names both cameras."""
    from tests.rtsp_server import RtspServer, rtsp_server_unavailable_reason, start_streaming

    reason = rtsp_server_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    from pipeline.ray_runner import ExtractorSpec, RayRunner

    servers = [RtspServer(world / f"videos/{camera}.mp4", path=f"/{camera}", loop=True) for camera in CAMERAS[:2]]
    start_streaming(servers)
    try:
        config = pipeline_config(world)
        config.output.videos = False
        config.association.refine = False
        streams = [(camera, server.url) for camera, server in zip(CAMERAS[:2], servers)]
        spec = ExtractorSpec(str(checkpoint), backend="onnxruntime")
        summary = RayRunner(config, streams, spec, tmp_path / "live", progress=False, duration_s=12.0).run()
    finally:
        for server in servers:
            server.stop()

    assert summary.steps >= 20, summary
    assert set(summary.frames_per_camera) == set(CAMERAS[:2])
    assert min(summary.frames_per_camera.values()) >= 15, summary.frames_per_camera  # 5 fps for 12 s, minus start-up
    assert summary.crops > 0 and summary.tracks >= 2 and summary.identities >= 1, summary
    for camera in CAMERAS[:2]:
        assert (tmp_path / "live" / "mot" / f"{camera}.txt").read_text().strip(), f"{camera} has no MOT rows"
    with sqlite3.connect(tmp_path / "live" / "tracks.sqlite") as connection:
        assert {row[0] for row in connection.execute("select camera from cameras")} == set(CAMERAS[:2])


@needs_ray
def test_ray_runner_gives_the_in_process_results(world, checkpoint, local_cluster, tmp_path):
    from pipeline.demo import world_streams
    from pipeline.ray_runner import ExtractorSpec, RayRunner
    from pipeline.runner import InProcessRunner
    from reid.runtime import load_extractor

    streams = world_streams(world)
    with load_extractor(checkpoint, backend="onnxruntime") as extractor:
        expected = InProcessRunner(pipeline_config(world), streams, extractor, tmp_path / "inprocess", progress=False).run()
    spec = ExtractorSpec(str(checkpoint), backend="onnxruntime")
    summary = RayRunner(pipeline_config(world), streams, spec, tmp_path / "ray", progress=False, extractor_actors=2).run()

    assert (summary.steps, summary.frames_per_camera, summary.crops) == (
        expected.steps, expected.frames_per_camera, expected.crops
    )
    assert (summary.tracks, summary.identities) == (expected.tracks, expected.identities)
    assert expected.identities >= 2 and expected.steps == 40
    assert identity_partition(tmp_path / "ray") == identity_partition(tmp_path / "inprocess")
    assert canonical_mot_rows(tmp_path / "ray") == canonical_mot_rows(tmp_path / "inprocess")
    assert set(summary.stage_seconds) == set(expected.stage_seconds) and summary.stage_seconds["extract"] > 0
    for camera in CAMERAS:  # frames reached the video sink through the object store
        capture = cv2.VideoCapture(str(tmp_path / "ray" / "videos" / f"{camera}.mp4"))
        assert capture.read()[0], camera
        capture.release()
    assert "2 extractor actor(s)" in summary.table()
    assert local_cluster  # the runner used this process's connection and left it open
    import ray

    assert ray.is_initialized()


@needs_ray
def test_an_error_inside_an_actor_is_the_same_one_line(local_cluster):
    import ray

    from pipeline.ray_runner import _unwrap
    from reid.errors import UserError

    def fails_like_a_missing_model():  # defined here: travels by value, not by this test module's name
        raise UserError("missing.pt: model file not found")

    with pytest.raises(ray.exceptions.RayTaskError) as caught:
        ray.get(ray.remote(fails_like_a_missing_model).remote())
    unwrapped = _unwrap(ray, caught.value)
    assert type(unwrapped) is UserError and str(unwrapped) == "missing.pt: model file not found"


@needs_ray
def test_command_line_on_an_existing_cluster_leaves_it_running(world, checkpoint, local_cluster, tmp_path):
    import ray

    output = tmp_path / "out"
    completed = run_command(
        "--world", str(world), "--reid", str(checkpoint), "--output", str(output), "--no-progress",
        "--runner", "ray", "--ray-address", local_cluster, "--detector", "detections",
        environment={**os.environ, **LOOPBACK_ENVIRONMENT},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "multi-camera IDF1" in completed.stdout and "Ray: 3 camera actors" in completed.stdout
    assert all((output / "mot" / f"{camera}.txt").read_text() for camera in CAMERAS)
    # The cluster the command joined still runs: this process can still schedule work on it.
    assert ray.get(ray.remote(lambda: 42).remote(), timeout=60) == 42
    assert all(node["Alive"] for node in ray.nodes())


@needs_ray
def test_command_line_starts_and_stops_its_own_ray(world, checkpoint, tmp_path):
    """No --ray-address: the run starts a local Ray and shuts it down (one camera keeps it short)."""
    config = tmp_path / "one_camera.yaml"
    config.write_text(yaml.safe_dump({
        "detector": {"backend": "detections", "detections_dir": str(world / "det")},
        "extractor": {"backend": "onnxruntime"},
        "association": {"distance_threshold": 0.7},
    }))
    environment = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    output = tmp_path / "out"
    completed = run_command(
        "--config", str(config), "--source", f"cam1={world / 'videos/cam1.mp4'}", "--reid", str(checkpoint),
        "--output", str(output), "--no-progress", "--runner", "ray", "--max-steps", "12",
        environment={**environment, **LOOPBACK_ENVIRONMENT},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "12 steps" in completed.stdout and "runner: ray; connecting to a local Ray started for this run" in completed.stdout
    assert (output / "mot" / "cam1.txt").read_text() and (output / "tracks.sqlite").is_file()
