"""Tiny ReID datasets written in the real datasets' layouts, for the training tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reid.part_groups import CONFIDENCE_FIELD_CHANNELS

PALETTE = np.array(
    [[220, 40, 40], [40, 200, 40], [40, 40, 220], [220, 220, 40], [40, 220, 220], [220, 40, 220], [250, 250, 250], [20, 20, 20]],
    dtype=np.uint8,
)


def person_image(pid: int, rng: np.random.Generator, height: int = 64, width: int = 32) -> np.ndarray:
    """BGR uint8: head, upper body colour (pid), lower body colour (pid // 2) on a noisy background."""
    image = rng.integers(90, 160, size=(height, width, 3)).astype(np.uint8)
    upper, lower = PALETTE[pid % len(PALETTE)], PALETTE[(pid // 3 + 1) % len(PALETTE)]
    image[2 : height // 6, width // 3 : 2 * width // 3] = (180, 190, 230)
    image[height // 6 : height // 2, width // 6 : 5 * width // 6] = upper
    image[height // 2 : height - 4, width // 5 : 4 * width // 5] = lower
    noise = rng.integers(-12, 13, size=image.shape)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def confidence_field(height: int = 64, width: int = 32, stride: int = 4) -> np.ndarray:
    """float32 [36, h, w]: nose at the top, shoulders/hips in the middle, ankles at the bottom."""
    h, w = height // stride, width // stride
    field = np.zeros((36, h, w), dtype=np.float32)
    rows = {"nose": 1, "left_shoulder": h // 4, "right_shoulder": h // 4, "left_hip": h // 2, "right_hip": h // 2,
            "left_knee": 3 * h // 4, "right_knee": 3 * h // 4, "left_ankle": h - 2, "right_ankle": h - 2}
    for name, row in rows.items():
        column = w // 3 if name.startswith("left") else (2 * w) // 3 if name.startswith("right") else w // 2
        field[CONFIDENCE_FIELD_CHANNELS.index(name), max(row - 1, 0) : row + 2, max(column - 1, 0) : column + 2] = 0.9
    return field


def write_duke_layout(
    dataset_directory: Path,
    train_identities: range,
    test_identities: range,
    images_per_identity: int = 4,
    cameras: int = 2,
    label_suffix: str = ".npy",
    seed: int = 0,
    with_labels: bool = True,
) -> Path:
    rng = np.random.default_rng(seed)
    splits = {"bounding_box_train": [], "query": [], "bounding_box_test": []}
    frame = 0
    for pid in train_identities:
        for index in range(images_per_identity):
            splits["bounding_box_train"].append((pid, index % cameras + 1))
    for pid in test_identities:
        splits["query"].append((pid, 1))
        for index in range(images_per_identity - 1):
            splits["bounding_box_test"].append((pid, index % (cameras - 1) + 2 if cameras > 1 else 1))
    for split, items in splits.items():
        (dataset_directory / split).mkdir(parents=True, exist_ok=True)
        for pid, camera in items:
            frame += 1
            stem = f"{pid:04d}_c{camera}_f{frame:07d}"
            cv2.imwrite(str(dataset_directory / split / f"{stem}.jpg"), person_image(pid, rng))
            if with_labels:
                label_directory = dataset_directory / "masks" / "pifpaf_maskrcnn_filtering" / split
                label_directory.mkdir(parents=True, exist_ok=True)
                np.save(label_directory / f"{stem}{label_suffix}", confidence_field())
    return dataset_directory
