"""Detection crops and their part features: the crop rule, the cut, and the per-frame feature record
(the batched extraction itself is ``pipeline.stages.FeatureExtractionStage``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.config import CropRule


@dataclass(frozen=True)
class DetectionFeatures:
    """Features of one frame's detections. embeddings float32 [N, 1+K, D]; visibility bool [N, 1+K];
    usable bool [N]: the crop passed the crop rule (tiny or truncated crops are not used for
    the part memory, but still give the tracker an embedding)."""

    embeddings: np.ndarray
    visibility: np.ndarray
    usable: np.ndarray


def crop_is_usable(box: np.ndarray, frame_width: int, frame_height: int, rule: CropRule) -> bool:
    x1, y1, x2, y2 = (float(value) for value in box)
    width, height = x2 - x1, y2 - y1
    if width < rule.min_width or height < rule.min_height:
        return False
    inside_width = max(0.0, min(x2, frame_width) - max(x1, 0.0))
    inside_height = max(0.0, min(y2, frame_height) - max(y1, 0.0))
    truncation = 1.0 - (inside_width * inside_height) / max(width * height, 1e-9)
    return truncation <= rule.max_truncation


def cut_crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """BGR crop of the box clipped to the frame (at least 1x1 pixel)."""
    height, width = image.shape[:2]
    x1 = int(np.clip(np.floor(box[0]), 0, width - 1))
    y1 = int(np.clip(np.floor(box[1]), 0, height - 1))
    x2 = int(np.clip(np.ceil(box[2]), x1 + 1, width))
    y2 = int(np.clip(np.ceil(box[3]), y1 + 1, height))
    return image[y1:y2, x1:x2]
