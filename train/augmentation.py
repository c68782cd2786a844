"""Joint image + part-map augmentation (the paper's BoT recipe) and the test-time transform.

Train: resize to H x W, pad 10 and random-crop back to H x W, optional horizontal flip (the left
and right body parts swap their maps), optional colour jitter (per-channel gains, like the cameras'
colour casts), random erasing with p=0.5 (the erased area becomes background in the part maps), ImageNet normalisation.
Every random choice comes from the ``numpy.random.Generator`` passed in, so a sample's
augmentation is reproducible from its seed (and training resumes exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch


@dataclass(frozen=True)
class AugmentationSettings:
    height: int
    width: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    padding: int = 10
    random_erasing: float = 0.5
    horizontal_flip: bool = False
    colour_jitter: float = 0.0  # per-channel gains and brightness in 1 +- this (cameras' colour casts)
    # Part index each part becomes in a mirrored image (reid.part_groups.mirrored_part_order): a
    # flipped person's left arm is a right arm. None keeps the maps' order (parts without a side).
    mirrored_part_order: tuple[int, ...] | None = None


def jitter_colours(rgb: np.ndarray, strength: float, generator: np.random.Generator) -> np.ndarray:
    """Multiply each channel by 1 + u_c and the whole image by 1 + u (u ~ U(-strength, strength)).

    rgb: uint8 [H, W, 3] -> uint8 [H, W, 3].
    """
    gains = (1.0 + generator.uniform(-strength, strength, size=3)) * (1.0 + generator.uniform(-strength, strength))
    return np.clip(rgb.astype(np.float32) * gains.astype(np.float32), 0, 255).astype(np.uint8)


def normalize_image(rgb: np.ndarray, mean, std) -> torch.Tensor:
    """uint8 RGB [H, W, 3] -> float32 [3, H, W], scaled to [0, 1] then normalised."""
    image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)
    mean_tensor = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_tensor = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (image - mean_tensor) / std_tensor


def resize_part_maps(part_maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """[K, h, w] -> [K, height, width], bilinear."""
    resized = cv2.resize(np.ascontiguousarray(part_maps.transpose(1, 2, 0)), (width, height), interpolation=cv2.INTER_LINEAR)
    if resized.ndim == 2:
        resized = resized[:, :, None]
    return resized.transpose(2, 0, 1)


def resize_part_maps_area(part_maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """[K, h, w] -> [K, height, width] by area averaging (for shrinking)."""
    resized = cv2.resize(np.ascontiguousarray(part_maps.transpose(1, 2, 0)), (width, height), interpolation=cv2.INTER_AREA)
    if resized.ndim == 2:
        resized = resized[:, :, None]
    return np.ascontiguousarray(resized.transpose(2, 0, 1))


def _random_erasing_box(generator: np.random.Generator, height: int, width: int):
    """Zhong et al.: area 2-40 % of the image, aspect ratio in [0.3, 3.3]; up to 100 tries."""
    area = height * width
    for _ in range(100):
        target_area = generator.uniform(0.02, 0.4) * area
        aspect = math.exp(generator.uniform(math.log(0.3), math.log(1 / 0.3)))
        box_height = int(round(math.sqrt(target_area * aspect)))
        box_width = int(round(math.sqrt(target_area / aspect)))
        if box_height < height and box_width < width:
            top = int(generator.integers(0, height - box_height + 1))
            left = int(generator.integers(0, width - box_width + 1))
            return top, left, box_height, box_width
    return None


def augment_for_training(
    rgb: np.ndarray, part_maps: np.ndarray, settings: AugmentationSettings, generator: np.random.Generator
) -> tuple[torch.Tensor, np.ndarray]:
    """rgb uint8 [h, w, 3], part_maps float32 [K, h', w'] -> image [3, H, W] normalised, part maps [K, H, W]."""
    height, width = settings.height, settings.width
    image = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR)
    maps = resize_part_maps(part_maps, height, width)

    pad = settings.padding
    if pad > 0:
        image = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
        maps = np.pad(maps, ((0, 0), (pad, pad), (pad, pad)))
        top = int(generator.integers(0, 2 * pad + 1))
        left = int(generator.integers(0, 2 * pad + 1))
        image = image[top : top + height, left : left + width]
        maps = maps[:, top : top + height, left : left + width]

    if settings.horizontal_flip and generator.random() < 0.5:
        image = image[:, ::-1]
        maps = maps[:, :, ::-1]
        if settings.mirrored_part_order is not None:
            maps = maps[list(settings.mirrored_part_order)]

    if settings.colour_jitter > 0:
        image = jitter_colours(image, settings.colour_jitter, generator)

    tensor = normalize_image(image, settings.mean, settings.std)
    maps = np.ascontiguousarray(maps, dtype=np.float32)
    if generator.random() < settings.random_erasing:
        box = _random_erasing_box(generator, height, width)
        if box is not None:
            top, left, box_height, box_width = box
            noise = generator.standard_normal((3, box_height, box_width)).astype(np.float32)
            tensor[:, top : top + box_height, left : left + box_width] = torch.from_numpy(noise)
            maps[:, top : top + box_height, left : left + box_width] = 0.0  # erased = background
    return tensor, maps


def transform_for_test(rgb: np.ndarray, settings: AugmentationSettings) -> torch.Tensor:
    """uint8 RGB [h, w, 3] -> normalised float32 [3, H, W] (resize only)."""
    image = cv2.resize(rgb, (settings.width, settings.height), interpolation=cv2.INTER_LINEAR)
    return normalize_image(image, settings.mean, settings.std)
