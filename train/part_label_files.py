"""Reading part-label files (the reference's 36-channel confidence fields) into K part maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from reid.errors import UserError
from reid.part_groups import NUM_CONFIDENCE_FIELD_CHANNELS
from reid.part_labels import group_confidence_fields


def missing_labels_message(label_path: Path, dataset: str) -> str:
    return (
        f"part labels missing for a training image: {label_path} does not exist; make them with "
        f"'python -m train.part_labels --dataset {dataset} --data-root DIR --pose-weights FILE'"
    )


def read_part_maps(label_path: Path, num_parts: int, dataset: str = "NAME") -> np.ndarray:
    """float32 [K, h, w] part maps in [0, 1] from a ``[36, h, w]`` ``.npy`` confidence field."""
    if not label_path.is_file():
        raise UserError(missing_labels_message(label_path, dataset))
    fields = np.load(label_path)
    if fields.ndim != 3 or fields.shape[0] != NUM_CONFIDENCE_FIELD_CHANNELS:
        raise UserError(f"{label_path}: expected a [36, h, w] confidence field, got shape {fields.shape}")
    grouped = group_confidence_fields(torch.from_numpy(np.ascontiguousarray(fields, dtype=np.float32)), num_parts)
    return grouped.numpy()
