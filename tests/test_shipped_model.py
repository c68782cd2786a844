"""The shipped part model (models/bpsema_small_synthetic.pt) on a freshly generated world that no
training corpus and no other test uses: retrieval well above the colour-histogram floor, part
visibility that follows the labels, a pixel classifier that beats the all-background answer, and
the pipeline end to end above a multi-camera IDF1 floor."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.conftest import REPOSITORY_ROOT

SHIPPED = REPOSITORY_ROOT / "models" / "bpsema_small_synthetic.pt"
SHIPPED_INT8 = REPOSITORY_ROOT / "models" / "bpsema_small_synthetic_int8.onnx"
# With the stem quantized too, this model's visible embeddings fell to cosine 0.51-0.68 on the dev
# worlds (1.0-1.8 % flips); with the stem in fp32 >= 0.9989 (0.1-0.5 % flips).
MIN_INT8_COSINE = 0.99
MAX_INT8_VISIBILITY_FLIPS = 0.01
# Floors below what the shipped model measured on this very world (deterministic: seed 61017).
HISTOGRAM_MARGIN_OCCLUDED_RANK1 = 0.30  # measured: 0.955 vs 0.403 (0.910 before the third fine-tune)
HISTOGRAM_MARGIN_OCCLUDED_MAP = 0.30  # measured: 0.924 vs 0.332 (0.897 before the third fine-tune, 0.913 with the visibility thresholds)
# Above what the per-part thresholds on the attention mass reached here (0.770): the visibility
# classifiers measured 0.800, 0.841 after the third fine-tune (one hidden left arm among 67 queries moves
# that part by 50 points).
MIN_MEAN_VISIBILITY_BALANCED_ACCURACY = 0.78
MIN_PIXEL_BALANCED_ACCURACY = 0.55  # left and right merged (measured: arms 0.608, 0.596 before the third fine-tune); per part: above 0.5 (right arm 0.507, right leg 0.506: near that floor)
# Both identity floors lie above what the pipeline scored with ByteTrack before tracks were cut where
# their appearance changes (0.800 / 0.798); with BoT-SORT without the cuts it was not measured.
MIN_MULTI_CAMERA_IDF1 = 0.83  # public detections; measured: 0.850 after the third fine-tune (2026-12-06), 0.862 (BoT-SORT at 0.4 / 0.45, 2026-12-05), 0.849 (BoT-SORT), 0.827 with ByteTrack (0.800 before tracks were cut where their appearance changes, 0.704 before tracklet-level association and gap filling)
MIN_MULTI_CAMERA_IDF1_YOLO = 0.87  # the shipped YOLO detector (models/yolo11n_synthetic_person.pt); measured: 0.904 after the third fine-tune (2026-12-06), 0.903 (384 px, NMS 0.5, BoT-SORT at 0.4 / 0.45, 2026-12-05), 0.877 (BoT-SORT), 0.846 with ByteTrack (0.798 before the cuts)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    from reid.checkpoint import load_model

    return load_model(SHIPPED)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from pipeline.synthetic import WorldConfig, generate_world

    directory = tmp_path_factory.mktemp("shipped") / "world"
    config = WorldConfig(cameras=4, identities=40, seconds=40, fps=10, seed=61_017)
    generate_world(directory, config, progress=False)
    return directory


def test_the_shipped_file_is_small_and_inference_only():
    from reid.checkpoint import read_checkpoint

    assert SHIPPED.stat().st_size <= 25 * 1024 * 1024
    payload = read_checkpoint(SHIPPED)
    assert payload["inference_only"] and "training" not in payload
    assert (SHIPPED.parent / (SHIPPED.name + ".calibration.json")).is_file()


def test_occluded_retrieval_is_well_above_the_colour_histogram(model, world):
    from train.datasets import load_dataset
    from train.evaluation import evaluate_colour_histogram, evaluate_model
    from train.trainer import augmentation_settings

    dataset = load_dataset("synthetic_occluded", world)
    report = evaluate_model(model, dataset, augmentation_settings(model.config), progress=False)
    histogram = evaluate_colour_histogram(dataset)
    print(report.table(), f"\nhistogram Rank-1 {histogram.rank1:.3f} mAP {histogram.mAP:.3f}")
    assert report.visible_parts.rank1 >= histogram.rank1 + HISTOGRAM_MARGIN_OCCLUDED_RANK1
    assert report.visible_parts.mAP >= histogram.mAP + HISTOGRAM_MARGIN_OCCLUDED_MAP
    visibility = report.query_part_visibility
    assert visibility is not None
    assert visibility.mean_balanced_accuracy >= MIN_MEAN_VISIBILITY_BALANCED_ACCURACY


def test_the_shipped_int8_graph_is_the_checkpoint_s_and_agrees_with_it(world):
    """models/bpsema_small_synthetic_int8.onnx (the demo's extractor on the CPU) is the int8 graph of
    this very checkpoint, has its own association calibration, and on the world's crops computes the
    embeddings the distance reads (those both call visible) as fp32 does."""
    from reid.checkpoint import file_sha256
    from reid.export import read_onnx_signature
    from reid.image_files import read_bgr
    from reid.runtime import load_extractor
    from train.datasets import load_dataset

    assert SHIPPED_INT8.stat().st_size <= 25 * 1024 * 1024
    signature = read_onnx_signature(SHIPPED_INT8)
    assert signature.precision == "int8"
    assert signature.checkpoint_sha256 == file_sha256(SHIPPED), "re-export the int8 graph after changing the checkpoint"
    assert (SHIPPED_INT8.parent / (SHIPPED_INT8.name + ".calibration.json")).is_file()
    dataset = load_dataset("synthetic_occluded", world)
    crops = [read_bgr(sample.image_path) for sample in [*dataset.query, *dataset.gallery][::2]]
    full = load_extractor(SHIPPED, "onnxruntime", device="cpu").extract(crops)
    quantized = load_extractor(SHIPPED_INT8, "onnxruntime", device="cpu").extract(crops)
    both_visible = full.visibility & quantized.visibility
    cosine = (full.embeddings.double() * quantized.embeddings.double()).sum(dim=-1)[both_visible]
    flip_rate = (full.visibility != quantized.visibility).float().mean().item()
    print(f"\nint8 vs fp32 on {len(crops)} crops: cosine of visible embeddings mean {cosine.mean():.5f} "
          f"min {cosine.min():.5f}; visibility flips {flip_rate:.3%}")
    assert cosine.min().item() >= MIN_INT8_COSINE
    assert flip_rate <= MAX_INT8_VISIBILITY_FLIPS


def test_the_pixel_classifier_beats_the_all_background_answer_for_every_part(model, world):
    from reid.part_labels import part_labels_for_training
    from train.augmentation import resize_part_maps_area, transform_for_test
    from train.datasets import load_dataset
    from train.image_datasets import read_rgb
    from train.part_label_files import read_part_maps
    from train.trainer import augmentation_settings

    samples = load_dataset("synthetic_occluded", world).query
    settings = augmentation_settings(model.config)
    images = torch.stack([transform_for_test(read_rgb(s.image_path), settings) for s in samples])
    with torch.no_grad():
        winners = model(images).part_attention.argmax(dim=1)  # [N, h, w]
    height, width = winners.shape[-2:]
    maps = np.stack([resize_part_maps_area(read_part_maps(s.label_path, model.num_parts), 4 * height, 4 * width)
                     for s in samples])
    labels = part_labels_for_training(torch.from_numpy(maps), (height, width), model.config.loss.part_label_rule)
    balanced = {}
    for part in range(1, model.num_parts + 1):
        truth, predicted = labels == part, winners == part
        assert truth.any(), model.part_names[part - 1]
        # cell by cell, "is this cell part k?"; the all-background answer scores 0.5 for every part
        balanced[model.part_names[part - 1]] = float(
            0.5 * (predicted[truth].float().mean() + (~predicted[~truth]).float().mean())
        )
    # the same with left and right merged: the classifier finds the limbs but often swaps their sides
    sides = {}
    for limb in ("arm", "leg", "feet"):
        left, right = model.part_names.index(f"left_{limb}") + 1, model.part_names.index(f"right_{limb}") + 1
        truth, predicted = (labels == left) | (labels == right), (winners == left) | (winners == right)
        sides[limb] = float(0.5 * (predicted[truth].float().mean() + (~predicted[~truth]).float().mean()))
    print("pixel classifier, balanced accuracy per part:", {name: round(value, 3) for name, value in balanced.items()},
          "sides merged:", {name: round(value, 3) for name, value in sides.items()})
    assert min(balanced.values()) > 0.5, balanced
    assert min(sides.values()) >= MIN_PIXEL_BALANCED_ACCURACY, sides


@pytest.mark.parametrize("detector, floor", [("detections", MIN_MULTI_CAMERA_IDF1),
                                             ("yolo", MIN_MULTI_CAMERA_IDF1_YOLO)])
def test_pipeline_with_the_shipped_models_clears_an_identity_floor(world, tmp_path, detector, floor):
    output = tmp_path / "out"
    completed = subprocess.run(
        [sys.executable, "run_pipeline.py", "--world", str(world), "--reid", str(SHIPPED), "--output", str(output),
         "--no-progress", "--detector", detector],
        capture_output=True, text=True, cwd=REPOSITORY_ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    expected = "detector: YOLO models/yolo11n_synthetic_person.pt" if detector == "yolo" else "detector: public"
    assert expected in completed.stdout
    report = json.loads((output / "mtmc.json").read_text())
    print(detector, "multi-camera", report["multi_camera"])
    assert report["multi_camera"]["idf1"] >= floor, report["multi_camera"]
