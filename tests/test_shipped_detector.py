"""The shipped person detector (models/yolo11n_synthetic_person.pt) on a freshly generated world that
no training set and no other test uses: AP50 by pycocotools above a floor, and the same quality
on ONNX Runtime (the runtime the pipeline picks on a CPU) as on ultralytics' PyTorch predictor."""

import pytest

from tests.conftest import REPOSITORY_ROOT

SHIPPED = REPOSITORY_ROOT / "models" / "yolo11n_synthetic_person.pt"
# Floors below what the shipped detector measured on this very world (deterministic: seed 61029).
MIN_AP50 = 0.85  # measured: 0.933 (AP50-95 0.652, recall 0.953; the target is 0.85)
MAX_ONNX_AP50_DIFFERENCE = 0.03  # measured: 0.000 (the same 2,022 detections)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from pipeline.synthetic import WorldConfig, generate_world

    directory = tmp_path_factory.mktemp("shipped_detector") / "world"
    generate_world(directory, WorldConfig(cameras=3, identities=40, seconds=30, fps=10, seed=61_029,
                                          reid_sample_seconds=3600.0), progress=False)
    return directory


def _scores(world, weights, runtime):
    from pipeline.config import DetectorConfig
    from train.detector_evaluation import EVALUATION_CONFIDENCE, evaluate_detector

    config = DetectorConfig(backend="yolo", weights=str(weights), image_size=320, confidence=EVALUATION_CONFIDENCE,
                            runtime=runtime)
    return evaluate_detector(config, [world], every_n_frames=5)


def test_the_shipped_detector_is_small_and_knows_one_class():
    from ultralytics import YOLO

    assert SHIPPED.stat().st_size <= 25 * 1024 * 1024
    assert YOLO(str(SHIPPED)).names == {0: "person"}


def test_the_shipped_detector_finds_people_on_an_unseen_world(world):
    scores = _scores(world, SHIPPED, "ultralytics")
    print("PyTorch:", scores.describe())
    assert scores.ap50 >= MIN_AP50, scores
    onnx = _scores(world, SHIPPED, "onnxruntime")  # exported once, run in pipeline.detector_onnxruntime
    print("ONNX Runtime:", onnx.describe())
    assert abs(onnx.ap50 - scores.ap50) <= MAX_ONNX_AP50_DIFFERENCE, (onnx, scores)
