"""The floor every model must clear: a hand-made colour histogram descriptor, no learning.

Each crop is resized to 128x64 and gray-world normalised (each channel divided by its mean, so a
camera's colour cast cancels), the central vertical strip (the middle half of the columns, where
the person is) is cut into four horizontal bands, and each band gets an HSV histogram (8 hue x
4 saturation x 4 value bins, L1-normalised). Crops are compared by the Euclidean distance of the
square-rooted histograms (the Hellinger distance up to a constant).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from reid.image_files import read_bgr

HEIGHT, WIDTH = 128, 64
BANDS = 4
HISTOGRAM_BINS = (8, 4, 4)  # hue, saturation, value
HISTOGRAM_RANGES = (0, 180, 0, 256, 0, 256)


def gray_world(bgr: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] with every channel scaled to a common mean of 128."""
    image = bgr.astype(np.float32)
    means = image.reshape(-1, 3).mean(axis=0).clip(min=1.0)
    return np.clip(image * (128.0 / means), 0, 255).astype(np.uint8)


def colour_histogram_descriptor(bgr: np.ndarray) -> np.ndarray:
    """uint8 BGR crop [h, w, 3] -> float32 [BANDS * 8 * 4 * 4], each band's histogram square-rooted."""
    image = gray_world(cv2.resize(bgr, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA))
    strip = cv2.cvtColor(image[:, WIDTH // 4: 3 * WIDTH // 4], cv2.COLOR_BGR2HSV)
    band_edges = np.linspace(0, HEIGHT, BANDS + 1).astype(int)
    parts = []
    for top, bottom in zip(band_edges[:-1], band_edges[1:]):
        histogram = cv2.calcHist([strip[top:bottom]], [0, 1, 2], None, list(HISTOGRAM_BINS), list(HISTOGRAM_RANGES))
        histogram = histogram.flatten()
        parts.append(np.sqrt(histogram / max(float(histogram.sum()), 1.0)))
    return np.concatenate(parts).astype(np.float32) / np.sqrt(BANDS)


def colour_histogram_features(image_paths) -> torch.Tensor:
    """float32 [N, BANDS * 128] descriptors of the images at ``image_paths``."""
    rows = [colour_histogram_descriptor(read_bgr(path)) for path in image_paths]
    size = BANDS * int(np.prod(HISTOGRAM_BINS))
    return torch.from_numpy(np.stack(rows)) if rows else torch.zeros(0, size)
