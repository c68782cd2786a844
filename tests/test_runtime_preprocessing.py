"""The one preprocessing function every backend uses."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reid.config import IMAGENET_MEAN, IMAGENET_STD
from reid.runtime.preprocessing import preprocess_crops


def _reference(crop: np.ndarray, height: int, width: int, mean, std) -> np.ndarray:
    """Per crop, step by step, the way the training test transform does it."""
    rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
    resized = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float64) / 255.0
    normalised = (resized - np.array(mean)) / np.array(std)
    return normalised.transpose(2, 0, 1)


def test_matches_step_by_step_reference_for_odd_sizes():
    rng = np.random.default_rng(0)
    sizes = [(1, 1), (7, 3), (33, 17), (256, 128), (500, 41), (64, 300)]
    crops = [rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for h, w in sizes]
    images = preprocess_crops(crops, (64, 32), IMAGENET_MEAN, IMAGENET_STD)
    assert images.shape == (len(crops), 3, 64, 32) and images.dtype == np.float32
    assert images.flags.c_contiguous
    for crop, image in zip(crops, images):
        np.testing.assert_allclose(image, _reference(crop, 64, 32, IMAGENET_MEAN, IMAGENET_STD), atol=1e-5)


def test_channels_are_reordered_bgr_to_rgb():
    blue = np.zeros((4, 2, 3), dtype=np.uint8)
    blue[..., 0] = 255  # BGR: pure blue
    image = preprocess_crops([blue], (4, 2), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))[0]
    assert np.allclose(image[2], 1.0) and np.allclose(image[:2], 0.0)


def test_model_mean_and_std_are_used():
    grey = np.full((8, 4, 3), 128, dtype=np.uint8)
    image = preprocess_crops([grey], (8, 4), (0.5, 0.25, 0.0), (0.5, 0.25, 2.0))[0]
    np.testing.assert_allclose(image[:, 0, 0], [(128 / 255 - 0.5) / 0.5, (128 / 255 - 0.25) / 0.25, (128 / 255) / 2.0], atol=1e-6)


def test_non_contiguous_crop_views_of_a_frame():
    frame = np.random.default_rng(1).integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    view = frame[10:90, 30:70]
    images = preprocess_crops([view], (32, 16), IMAGENET_MEAN, IMAGENET_STD)
    np.testing.assert_allclose(images, preprocess_crops([view.copy()], (32, 16), IMAGENET_MEAN, IMAGENET_STD))


def test_no_crops_gives_an_empty_batch():
    assert preprocess_crops([], (32, 16), IMAGENET_MEAN, IMAGENET_STD).shape == (0, 3, 32, 16)


@pytest.mark.parametrize(
    "crop",
    [np.zeros((0, 5, 3), np.uint8), np.zeros((5, 5), np.uint8), np.zeros((5, 5, 4), np.uint8), np.zeros((5, 5, 3), np.float32)],
    ids=["empty", "grey", "bgra", "float"],
)
def test_invalid_crops_are_refused_with_their_index(crop):
    good = np.zeros((5, 5, 3), np.uint8)
    with pytest.raises(ValueError, match="crop 1"):
        preprocess_crops([good, crop], (8, 4), IMAGENET_MEAN, IMAGENET_STD)
