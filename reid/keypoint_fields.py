"""Keypoint and limb confidence fields (the reference's 36-channel part labels) drawn from 2D joints.

One field per COCO keypoint (a Gaussian blob) and per limb of ``reid.part_groups.LIMBS`` (a
Gaussian tube along the segment), on OpenPifPaf's stride-8 grid of the crop:
``Hf = 2 * ceil((H - 1) / 16) + 1`` (a 128x64 crop gives 17x9). Cell ``(i, j)`` has its centre at
pixel ``((j + 0.5) * W / Wf - 0.5, (i + 0.5) * H / Hf - 0.5)``, so a bilinear resize back to
``H x W`` lines up with the image. Used by the synthetic world (true joints, masked by the
person's visible pixels) and by ``python -m train.part_labels`` (joints from a YOLO-pose model,
scaled by their confidences).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from reid.part_groups import COCO_KEYPOINTS, CONFIDENCE_FIELD_CHANNELS, LIMBS

NUM_CHANNELS = len(CONFIDENCE_FIELD_CHANNELS)
NUM_KEYPOINTS = len(COCO_KEYPOINTS)
LIMB_INDICES = np.array([(COCO_KEYPOINTS.index(a), COCO_KEYPOINTS.index(b)) for a, b in LIMBS])

FIELD_STRIDE = 8
SIGMA_PER_PERSON_HEIGHT = 0.045
MIN_SIGMA_CELLS = 0.6
FULL_CELL_FRACTION = 0.25  # a cell this much covered by visible pixels counts as fully visible
JOINT_WINDOW_PER_PERSON_HEIGHT = 0.03
FULL_JOINT_FRACTION = 0.3

assert NUM_CHANNELS == NUM_KEYPOINTS + len(LIMBS)


def field_shape(height: int, width: int) -> tuple[int, int]:
    """OpenPifPaf's stride-8 field size for an image padded to a multiple of 16 plus one."""

    def size(n: int) -> int:
        return 2 * math.ceil(max(n - 1, 1) / (2 * FIELD_STRIDE)) + 1

    return size(height), size(width)


def cell_centres(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (row centres [Hf], column centres [Wf]) of the field cells of a crop."""
    field_height, field_width = field_shape(height, width)
    rows = (np.arange(field_height) + 0.5) * height / field_height - 0.5
    cols = (np.arange(field_width) + 0.5) * width / field_width - 0.5
    return rows, cols


def keypoint_visibility(keypoints: np.ndarray, visible_mask: np.ndarray, person_height_px: float) -> np.ndarray:
    """[17] in [0, 1]: how visible the person's own pixels are around each joint."""
    height, width = visible_mask.shape
    radius = max(1.5, JOINT_WINDOW_PER_PERSON_HEIGHT * person_height_px)
    result = np.zeros(len(keypoints))
    for k, (x, y) in enumerate(keypoints):
        if not (0 <= x < width and 0 <= y < height):
            continue
        x0, x1 = max(0, int(math.floor(x - radius))), min(width, int(math.ceil(x + radius)) + 1)
        y0, y1 = max(0, int(math.floor(y - radius))), min(height, int(math.ceil(y + radius)) + 1)
        window = visible_mask[y0:y1, x0:x1]
        result[k] = min(1.0, window.mean() / FULL_JOINT_FRACTION) if window.size else 0.0
    return result


def _segment_distances(px: np.ndarray, py: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Distances [S, Hf, Wf] from every cell centre to each segment."""
    direction = ends - starts  # [S, 2]
    length2 = np.maximum((direction**2).sum(axis=1), 1e-9)[:, None, None]
    dx = px[None] - starts[:, 0, None, None]
    dy = py[None] - starts[:, 1, None, None]
    t = np.clip((dx * direction[:, 0, None, None] + dy * direction[:, 1, None, None]) / length2, 0.0, 1.0)
    return np.hypot(dx - t * direction[:, 0, None, None], dy - t * direction[:, 1, None, None])


def confidence_fields(
    keypoints: np.ndarray,
    visible_mask: np.ndarray,
    person_height_px: float,
    keypoint_confidence: np.ndarray | None = None,
) -> np.ndarray:
    """float32 [36, Hf, Wf] fields for one crop.

    keypoints: [17, 2] COCO joints in crop pixel coordinates (x, y); visible_mask: [H, W] bool,
    the pixels of this person that are visible in the crop; keypoint_confidence: optional [17] in
    [0, 1] (a pose model's scores) scaling each keypoint field, and each limb by its weaker end."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    height, width = visible_mask.shape
    field_height, field_width = field_shape(height, width)
    rows, cols = cell_centres(height, width)
    py, px = np.meshgrid(rows, cols, indexing="ij")
    cell = max(height / field_height, width / field_width)
    sigma = max(SIGMA_PER_PERSON_HEIGHT * person_height_px, MIN_SIGMA_CELLS * cell)

    keypoint_d2 = (px[None] - keypoints[:, 0, None, None]) ** 2 + (py[None] - keypoints[:, 1, None, None]) ** 2
    keypoint_fields = np.exp(-keypoint_d2 / (2 * sigma**2))
    keypoint_fields *= keypoint_visibility(keypoints, visible_mask, person_height_px)[:, None, None]
    limb_distance = _segment_distances(px, py, keypoints[LIMB_INDICES[:, 0]], keypoints[LIMB_INDICES[:, 1]])
    limb_fields = np.exp(-(limb_distance**2) / (2 * sigma**2))

    if keypoint_confidence is not None:
        confidence = np.clip(np.asarray(keypoint_confidence, dtype=np.float64), 0.0, 1.0)
        keypoint_fields *= confidence[:, None, None]
        limb_fields *= np.minimum(confidence[LIMB_INDICES[:, 0]], confidence[LIMB_INDICES[:, 1]])[:, None, None]

    coverage = cv2.resize(visible_mask.astype(np.float32), (field_width, field_height), interpolation=cv2.INTER_AREA)
    cell_weight = np.clip(coverage / FULL_CELL_FRACTION, 0.0, 1.0)
    fields = np.concatenate([keypoint_fields, limb_fields]) * cell_weight[None]
    return fields.astype(np.float32)


def confidence_fields_from_keypoints(
    keypoints: np.ndarray, keypoint_confidence: np.ndarray, height: int, width: int
) -> np.ndarray:
    """Fields for a person crop of ``height x width`` whose joints come from a pose model.

    keypoints: [17, 2] (x, y) crop pixels; keypoint_confidence: [17] in [0, 1]. The whole crop
    counts as the person's visible pixels (no segmentation). -> float32 [36, Hf, Wf].
    """
    return confidence_fields(keypoints, np.ones((height, width), dtype=bool), float(height), keypoint_confidence)

