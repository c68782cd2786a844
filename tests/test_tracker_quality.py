"""``benchmarks/tracker_quality.py``: variants parsed as written, and the recorded tracker inputs, tracked
again, give the tracks the pipeline itself made (so variants are compared on what the pipeline sees)."""

import importlib.util
import sys

import numpy as np
import pytest

from tests.conftest import REPOSITORY_ROOT, save_tiny_checkpoint


def _benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, REPOSITORY_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_a_variant_of_the_configured_tracker_starts_from_its_parameters_and_another_from_boxmots():
    from pipeline.config import TrackerConfig

    benchmark = _benchmark("tracker_quality")
    configured = TrackerConfig(name="botsort", parameters={"track_buffer": 30, "track_high_thresh": 0.4})
    variant = benchmark.parse_variant("botsort:appearance_thresh=0.4,track_buffer=60,fuse_first_associate=true",
                                      configured)
    assert variant.label == "botsort:appearance_thresh=0.4,track_buffer=60,fuse_first_associate=true"
    assert variant.parameters == {"track_buffer": 60, "track_high_thresh": 0.4, "appearance_thresh": 0.4,
                                  "fuse_first_associate": True}
    assert benchmark.parse_variant("botsort", configured).parameters == configured.parameters
    assert benchmark.parse_variant("deepocsort", configured).parameters == {}
    with pytest.raises(SystemExit, match="is not KEY=VALUE"):
        benchmark.parse_variant("botsort:track_buffer", configured)
    with pytest.raises(SystemExit, match="unknown tracker 'sort'"):
        benchmark.parse_variant("sort", configured)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from pipeline.synthetic import WorldConfig, generate_world

    directory = tmp_path_factory.mktemp("tracker_quality_world") / "w"
    generate_world(directory, WorldConfig(cameras=2, identities=6, seconds=6, fps=5, seed=3), progress=False)
    return directory


def test_the_recorded_inputs_tracked_again_give_the_pipelines_tracks(world, tmp_path):
    from pipeline.config import load_pipeline_config

    tracker_quality = _benchmark("tracker_quality")
    association_quality = _benchmark("association_quality")
    model = str(save_tiny_checkpoint(tmp_path / "model"))
    config = load_pipeline_config(REPOSITORY_ROOT / "configs/pipeline/demo.yaml")
    config.detector.backend = "detections"
    config.detector.detections_dir = str(world / "det")
    config.extractor.backend = "onnxruntime"
    config.association.distance_threshold = 0.7
    config.output.videos = False

    recording = tracker_quality.record_world(world, model, tmp_path / "cache", config, "demo_detections")
    _, pipeline_steps = association_quality.record_world(world, model, tmp_path / "tracked", config)
    assert len(recording.steps) == len(pipeline_steps) == 30
    variant = tracker_quality.parse_variant(config.tracker.name, config.tracker)  # the configured tracker
    replayed = tracker_quality.track_recording(recording, variant)

    renaming: dict = {}  # the same tracks, compared up to their numbers
    tracked_boxes = 0
    for (time_replayed, frames_replayed), (time_pipeline, frames_pipeline) in zip(replayed, pipeline_steps):
        assert time_replayed == time_pipeline
        for replayed_frame, pipeline_frame in zip(frames_replayed, frames_pipeline):
            assert (replayed_frame.camera, replayed_frame.frame_index) == (pipeline_frame.camera, pipeline_frame.frame_index)
            np.testing.assert_allclose(replayed_frame.boxes, pipeline_frame.boxes, atol=1e-4)
            np.testing.assert_array_equal(replayed_frame.usable, pipeline_frame.usable)
            np.testing.assert_allclose(replayed_frame.embeddings, pipeline_frame.embeddings, atol=1e-6)
            for replayed_id, pipeline_id in zip(replayed_frame.track_ids.tolist(), pipeline_frame.track_ids.tolist()):
                key = pipeline_frame.camera
                assert renaming.setdefault((key, pipeline_id), (key, replayed_id)) == (key, replayed_id)
            tracked_boxes += len(pipeline_frame)
    assert tracked_boxes > 100
    assert len(set(renaming.values())) == len(renaming)  # one replayed track per pipeline track

    again = tracker_quality.record_world(world, model, tmp_path / "cache", config, "demo_detections")
    assert again.steps == recording.steps  # read back from the cache
