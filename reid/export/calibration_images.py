"""Calibration crops for the int8 graph: person crops read from a folder, preprocessed exactly as
the runtime preprocesses its input (``reid.runtime.preprocessing``)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from reid.errors import UserError
from reid.model_signature import ModelSignature
from reid.image_files import image_files_under, read_bgr


def calibration_images_from_files(
    files: Sequence[str | Path], signature: ModelSignature, count: int, seed: int = 0, source: str = "calibration"
) -> np.ndarray:
    """float32 [min(count, len(files)), 3, H, W]: ``count`` of ``files`` drawn without replacement
    with ``seed`` (kept in the given order), as the network input of ``signature``'s model.
    ``source`` names the files in the error for too few of them."""
    from reid.export.int8_quantization import MIN_CALIBRATION_IMAGES
    from reid.runtime.preprocessing import preprocess_crops

    if count < MIN_CALIBRATION_IMAGES:
        raise UserError(f"--calibration-count must be at least {MIN_CALIBRATION_IMAGES}, got {count}")
    if len(files) < MIN_CALIBRATION_IMAGES:
        raise UserError(
            f"{source}: int8 calibration needs at least {MIN_CALIBRATION_IMAGES} images (.jpg, .png, ...), found {len(files)}"
        )
    chosen = np.random.default_rng(seed).choice(len(files), size=min(count, len(files)), replace=False)
    crops = [read_bgr(files[index]) for index in sorted(chosen)]
    return preprocess_crops(crops, signature.input_size, signature.mean, signature.std)


def calibration_images_from_directory(
    directory: str | Path, signature: ModelSignature, count: int, seed: int = 0
) -> np.ndarray:
    """float32 [min(count, found), 3, H, W]: ``count`` image files under ``directory`` (recursively,
    sorted), drawn as ``calibration_images_from_files`` draws them.

    Use crops like the ones the model will see: a ReID dataset's training folder, or person crops
    cut from the cameras."""
    return calibration_images_from_files(image_files_under(directory), signature, count, seed, source=str(directory))
