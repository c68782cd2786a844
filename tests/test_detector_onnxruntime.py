"""YOLO on our ONNX Runtime session: the boxes of ultralytics' own PyTorch predictor on the same
frames, the rectangular letterbox ultralytics uses for dynamic graphs, an export made once and cached
under the weights' content, which runtime a config picks, and one clear line for a broken graph."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import DetectorConfig
from pipeline.detection import build_detector, runs_on_onnxruntime
from reid.errors import UserError
from tests.conftest import REPOSITORY_ROOT

SHIPPED = REPOSITORY_ROOT / "models" / "yolo11n_synthetic_person.pt"


def shipped_config(**overrides) -> DetectorConfig:
    """The demo's detector settings (configs/pipeline/demo.yaml)."""
    settings = dict(backend="yolo", weights=str(SHIPPED), image_size=384, confidence=0.4, iou=0.5)
    settings.update(overrides)
    return DetectorConfig(**settings)


@pytest.fixture(scope="module")
def frame_batches(tmp_path_factory):
    """Ten steps of a small fresh world (2 cameras, 640x360), every 2nd frame: detector batches."""
    from itertools import islice

    from pipeline.synthetic import WorldConfig, generate_world
    from train.detector_dataset import load_world_or_fail, world_frame_batches

    directory = tmp_path_factory.mktemp("onnxruntime_detector") / "world"
    generate_world(directory, WorldConfig(cameras=2, identities=12, seconds=4, fps=5, seed=61_041,
                                          reid_sample_seconds=3600.0), progress=False)
    return list(islice(world_frame_batches(directory, load_world_or_fail(directory), every_n_frames=2), 10))


def test_the_onnxruntime_session_gives_ultralytics_pytorch_boxes(frame_batches):
    pytorch = build_detector(shipped_config(runtime="ultralytics"), [])
    onnxruntime = build_detector(shipped_config(runtime="onnxruntime"), [])
    assert type(pytorch).__name__ == "YoloDetector"
    assert type(onnxruntime).__name__ == "OnnxRuntimeYoloDetector"
    boxes = 0
    for frames in frame_batches:
        for expected, found in zip(pytorch.detect(frames), onnxruntime.detect(frames), strict=True):
            assert (found.camera, found.frame_index) == (expected.camera, expected.frame_index)
            assert len(found.boxes) == len(expected.boxes), (expected.boxes, found.boxes)
            np.testing.assert_allclose(found.boxes, expected.boxes, atol=0.5)  # pixels of a 640x360 frame
            np.testing.assert_allclose(found.scores, expected.scores, atol=0.01)
            boxes += len(found.boxes)
    assert boxes >= 20  # the comparison saw people, not only empty frames


def test_frames_of_one_shape_are_letterboxed_to_the_smallest_stride_multiple(frame_batches):
    detector = build_detector(shipped_config(runtime="onnxruntime"), [])
    images = [frame.image for frame in frame_batches[0]]
    assert images[0].shape == (360, 640, 3)
    # 640x360 at 384 px: scale 0.6 -> 384x216, padded to 224 (the next multiple of stride 32).
    assert detector.preprocess(images).shape == (2, 3, 224, 384)
    # Mixed shapes cannot share a rectangle: the square image_size, as ultralytics' predictor does.
    assert detector.preprocess([images[0], images[1][:300]]).shape == (2, 3, 384, 384)
    batch = detector.preprocess(images)
    assert batch.dtype == np.float32 and 0.0 <= batch.min() and batch.max() <= 1.0
    # RGB: the first channel is the frame's last (BGR) one; the top padding rows are ultralytics' grey 114.
    np.testing.assert_allclose(batch[0, :, 0, :], 114 / 255, atol=1e-6)
    centre = images[0][180, 320].astype(np.float32) / 255
    np.testing.assert_allclose(batch[0, :, 112, 192], centre[::-1], atol=0.02)


@pytest.fixture
def exports(tmp_path, monkeypatch) -> list:
    """The detector exports made during the test (real ones, into a cache of the test's own)."""
    import pipeline.detector_export as detector_export

    monkeypatch.setenv("BPSEMA_CACHE_DIR", str(tmp_path / "cache"))
    made = []
    real_export = detector_export.export_detector_onnx
    monkeypatch.setattr(detector_export, "export_detector_onnx", lambda *a: made.append(a) or real_export(*a))
    return made


@pytest.fixture
def exporter_fails(monkeypatch) -> None:
    """ultralytics' exporter fails (as where a package it needs is missing), with nothing cached."""
    import pipeline.detector_export as detector_export

    def failing_export(weights, directory):
        raise RuntimeError("the exporter needs a package that is missing")

    monkeypatch.setattr(detector_export, "export_detector_onnx", failing_export)
    monkeypatch.setattr(detector_export, "cached_detector_graph_path",
                        lambda *arguments: detector_export.resolve_cache_dir(None) / "detector" / "absent" / "x.onnx")


def test_a_pt_is_exported_once_and_cached_under_its_content(tmp_path, exports):
    from pipeline.detector_export import detector_graph_for_weights

    first = detector_graph_for_weights(SHIPPED)
    second = detector_graph_for_weights(SHIPPED)
    assert first == second and first.is_file() and len(exports) == 1
    assert first.is_relative_to(tmp_path / "cache" / "detector")
    assert [path.name for path in first.parent.iterdir()] == [first.name]  # no scratch left behind
    copy = tmp_path / "other.pt"
    copy.write_bytes(SHIPPED.read_bytes() + b"\0")  # other content: another key
    assert detector_graph_for_weights(copy).parent != first.parent and len(exports) == 2


@pytest.mark.parametrize("overrides, expected", [
    ({}, True),                                                      # auto, a .pt on the CPU
    ({"runtime": "ultralytics"}, False),
    ({"device": "cuda:0"}, False),                                   # auto leaves CUDA to ultralytics
    ({"weights": "yolo11n.yaml"}, False),                            # a random network: ultralytics builds it
    ({"weights": "yolo11n.pt"}, False),                              # a bare name not on disk: ultralytics fetches it
    ({"backend": "detections"}, False),
])
def test_which_runtime_a_config_picks(overrides, expected):
    assert runs_on_onnxruntime(shipped_config(**overrides)) is expected


def test_onnxruntime_on_a_cuda_device_is_refused_in_one_line():
    with pytest.raises(UserError, match="runs on the CPU"):
        runs_on_onnxruntime(shipped_config(runtime="onnxruntime", device="cuda:0"))


def test_a_broken_graph_is_one_clear_line(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a graph")
    with pytest.raises(UserError, match="cannot open the detector graph") as raised:
        build_detector(shipped_config(weights=str(broken)), [])
    assert "\n" not in str(raised.value)
    with pytest.raises(UserError, match="not found"):
        build_detector(shipped_config(weights=str(tmp_path / "missing.onnx")), [])


def test_auto_runs_a_pt_that_cannot_be_exported_on_pytorch_and_onnxruntime_says_why(exporter_fails, capsys):
    detector = build_detector(shipped_config(), [])
    assert type(detector).__name__ == "YoloDetector"
    assert "package that is missing" in capsys.readouterr().err
    with pytest.raises(UserError, match="runtime: ultralytics"):
        build_detector(shipped_config(runtime="onnxruntime"), [])


def test_prepare_detector_exports_ahead_so_the_build_exports_nothing(exports):
    from pipeline.detection import prepare_detector

    prepare_detector(shipped_config())
    assert len(exports) == 1
    detector = build_detector(shipped_config(), [])
    assert type(detector).__name__ == "OnnxRuntimeYoloDetector" and len(exports) == 1
    prepare_detector(shipped_config(runtime="ultralytics"))  # nothing to prepare there
    assert len(exports) == 1


def test_prepare_detector_leaves_its_errors_to_the_build(exporter_fails, capsys):
    from pipeline.detection import prepare_detector

    prepare_detector(shipped_config(runtime="onnxruntime"))
    prepare_detector(shipped_config(runtime="onnxruntime", device="cuda:0"))
    assert capsys.readouterr().err == ""  # said once, by build_detector
    with pytest.raises(UserError, match="runtime: ultralytics"):
        build_detector(shipped_config(runtime="onnxruntime"), [])
