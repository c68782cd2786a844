"""Detection one step ahead in a thread: the same steps in the same order, errors where the caller is,
a bounded queue that closes, and an in-process run whose outputs equal the plain loop's."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pytest
import torch

from pipeline.detection_ahead import DetectionAhead
from pipeline.records import Detections, Frame, FramePacket
from tests.conftest import REPOSITORY_ROOT, save_tiny_checkpoint


def packet(step: int) -> FramePacket:
    frames = tuple(
        Frame(camera, step + 1, step / 10.0, np.full((4, 6, 3), step % 255, dtype=np.uint8)) for camera in ("a", "b")
    )
    return FramePacket(step, step / 10.0, frames)


def fake_detect(frames):
    """One box per frame whose x1 is the frame's index (a detector that depends on its input)."""
    return [
        Detections(frame.camera, frame.frame_index, np.array([[frame.frame_index, 0, 2, 3]], np.float32),
                   np.array([0.9], np.float32))
        for frame in frames
    ]


def test_steps_come_out_in_order_with_the_plain_loops_detections_from_another_thread():
    threads = set()

    def detect(frames):
        threads.add(threading.current_thread().name)
        return fake_detect(frames)

    ahead = DetectionAhead(iter([packet(step) for step in range(7)]), detect, depth=2)
    received = []
    while (step := ahead.next_step()) is not None:
        received.append(step)
    assert ahead.next_step() is None  # the end stays the end
    ahead.close()
    assert [step.packet.step for step in received] == list(range(7))
    for step in received:
        expected = fake_detect(list(step.packet.frames))
        assert [d.boxes.tolist() for d in step.detections] == [d.boxes.tolist() for d in expected]
        assert step.detect_seconds >= 0 and step.decode_seconds >= 0
    assert threads == {"detection-ahead"}


def test_a_detector_error_is_raised_in_the_callers_thread_after_the_steps_before_it():
    def detect(frames):
        if frames[0].frame_index == 3:
            raise RuntimeError("detector broke on frame 3")
        return fake_detect(frames)

    ahead = DetectionAhead(iter([packet(step) for step in range(5)]), detect)
    assert [ahead.next_step().packet.step for _ in range(2)] == [0, 1]
    with pytest.raises(RuntimeError, match="frame 3"):
        ahead.next_step()
    assert ahead.next_step() is None
    ahead.close()


def test_the_queue_is_bounded_and_close_ends_a_thread_waiting_for_room():
    produced = []

    def endless():
        for step in itertools.count():
            produced.append(step)
            yield packet(step)

    ahead = DetectionAhead(endless(), fake_detect, depth=2)
    time.sleep(0.5)  # nobody takes: the thread fills the queue and waits
    assert len(produced) <= 2 + 1  # depth steps queued, one more detected and waiting for room
    ahead.close()
    assert not ahead._thread.is_alive()


def test_depth_must_be_positive():
    with pytest.raises(ValueError):
        DetectionAhead(iter([]), fake_detect, depth=0)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from pipeline.synthetic import WorldConfig, generate_world

    directory = tmp_path_factory.mktemp("ahead_world") / "w"
    generate_world(directory, WorldConfig(cameras=2, identities=6, seconds=8, fps=5, seed=4), progress=False)
    return directory


def test_an_in_process_run_ahead_writes_what_the_plain_loop_writes(world, tmp_path, monkeypatch):
    """A deterministic stand-in for YOLO (the world's public detections behind backend 'yolo'), so any
    difference comes from the runner, not from PyTorch's rounding with one thread or two."""
    import pipeline.runner
    from pipeline.config import load_pipeline_config
    from pipeline.demo import world_streams
    from pipeline.detection import PublicDetections
    from reid.runtime import load_extractor

    threads_asked = []
    monkeypatch.setattr(pipeline.runner, "build_detector",
                        lambda config, cameras, threads: threads_asked.append(threads)
                        or PublicDetections(world / "det", cameras))
    checkpoint = save_tiny_checkpoint(tmp_path / "model")
    threads_before = torch.get_num_threads()
    summaries = {}
    for run_ahead in (False, True):
        config = load_pipeline_config(REPOSITORY_ROOT / "configs/pipeline/demo.yaml")
        config.detector.run_ahead = run_ahead
        config.output.videos = False
        config.association.distance_threshold = 0.7
        with load_extractor(checkpoint, backend="onnxruntime") as extractor:
            runner = pipeline.runner.InProcessRunner(config, world_streams(world), extractor,
                                                     tmp_path / str(run_ahead), progress=False)
            summaries[run_ahead] = runner.run()
        assert torch.get_num_threads() == threads_before  # the run gives PyTorch its threads back
    plain, ahead = summaries[False], summaries[True]
    # A detector running ahead gets its own small thread budget; the plain loop's takes the usable cores.
    assert threads_asked == [None, pipeline.runner.DETECTOR_THREADS_AHEAD]
    assert (ahead.steps, ahead.crops, ahead.tracks, ahead.identities) == (plain.steps, plain.crops, plain.tracks,
                                                                         plain.identities)
    assert plain.steps == 40 and plain.tracks >= 2
    for camera in ("cam1", "cam2"):
        assert (tmp_path / "True" / "mot" / f"{camera}.txt").read_bytes() == \
            (tmp_path / "False" / "mot" / f"{camera}.txt").read_bytes()
    assert any("ahead" in note for note in ahead.notes) and not any("ahead" in note for note in plain.notes)
    assert ahead.stage_seconds["detect"] > 0 and ahead.stage_seconds["decode"] > 0
