"""Crop preprocessing shared by every backend (one definition, so all backends see the same input).

BGR uint8 crops of any sizes (as cut from video frames) -> float32 [N, 3, H, W]: each crop is
resized with OpenCV (bilinear) to the model's H x W, turned from BGR to RGB, scaled to [0, 1] and
normalised with the model's mean and std, the same as the test-time transform of training.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np


def check_crop(crop: np.ndarray, index: int) -> None:
    """A crop must be a BGR uint8 array [h, w, 3] with h, w >= 1."""
    if not isinstance(crop, np.ndarray) or crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3:
        description = f"{type(crop).__name__} {getattr(crop, 'dtype', '')} {getattr(crop, 'shape', '')}".strip()
        raise ValueError(f"crop {index}: expected a BGR uint8 array [h, w, 3], got {description}")
    if crop.shape[0] < 1 or crop.shape[1] < 1:
        raise ValueError(f"crop {index}: empty crop of shape {crop.shape}")


def resize_crops(crops: Sequence[np.ndarray], input_size: tuple[int, int]) -> np.ndarray:
    """BGR uint8 crops -> uint8 [N, H, W, 3] (BGR), each resized to input_size = (H, W)."""
    height, width = input_size
    batch = np.empty((len(crops), height, width, 3), dtype=np.uint8)
    for index, crop in enumerate(crops):
        check_crop(crop, index)
        if crop.shape[:2] == (height, width):
            batch[index] = crop
        else:
            batch[index] = cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)
    return batch


def normalize_batch(resized_bgr: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """uint8 BGR [N, H, W, 3] -> float32 RGB [N, 3, H, W], (x / 255 - mean) / std per channel."""
    count, height, width, _ = resized_bgr.shape
    images = np.empty((count, 3, height, width), dtype=np.float32)
    for rgb_channel in range(3):
        scale = np.float32(1.0 / (255.0 * std[rgb_channel]))
        offset = np.float32(mean[rgb_channel] / std[rgb_channel])
        bgr_channel = 2 - rgb_channel
        np.multiply(resized_bgr[..., bgr_channel], scale, out=images[:, rgb_channel], dtype=np.float32)
        images[:, rgb_channel] -= offset
    return images


def preprocess_crops(
    crops: Sequence[np.ndarray], input_size: tuple[int, int], mean: Sequence[float], std: Sequence[float]
) -> np.ndarray:
    """BGR uint8 crops [h_i, w_i, 3] -> the network input, float32 [N, 3, H, W] (contiguous).

    input_size: (H, W); mean, std: per RGB channel, on the [0, 1] scale.
    """
    return normalize_batch(resize_crops(crops, input_size), mean, std)
