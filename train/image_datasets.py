"""torch ``Dataset`` views over ReID samples: augmented training items and plain test items."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from reid.progress import progress_bar

from reid.image_files import read_bgr
from reid.part_labels import part_labels_for_training
from train.augmentation import AugmentationSettings, augment_for_training, resize_part_maps_area, transform_for_test
from train.datasets import ReIDSample
from train.part_label_files import read_part_maps


def read_rgb(path: Path) -> np.ndarray:
    """uint8 RGB [H, W, 3]."""
    return cv2.cvtColor(read_bgr(path), cv2.COLOR_BGR2RGB)


class TrainingImages(Dataset):
    """Items are keyed by ``(sample index, augmentation seed)`` (see ``IdentityBatchSampler``).

    Returns dict: image float32 [3, H, W]; pixel_labels int64 [h, w] (the feature-map size, 0 =
    background); pid int64.
    """

    def __init__(
        self,
        samples: list[ReIDSample],
        settings: AugmentationSettings,
        num_parts: int,
        label_size: tuple[int, int],
        dataset_name: str,
        label_rule: str = "softmax_argmax",
    ):
        self.samples = samples
        self.settings = settings
        self.num_parts = num_parts
        self.label_size = label_size
        self.dataset_name = dataset_name
        self.label_rule = label_rule

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        index, seed = key
        sample = self.samples[index]
        part_maps = read_part_maps(sample.label_path, self.num_parts, self.dataset_name)
        image, maps = augment_for_training(
            read_rgb(sample.image_path), part_maps, self.settings, np.random.default_rng(seed)
        )
        # Area-average the maps to 4x the feature map first: the soft targets and their bilinear
        # resize then cost a few thousand values instead of a whole image's worth.
        height, width = self.label_size
        reduced = resize_part_maps_area(maps, 4 * height, 4 * width)
        labels = part_labels_for_training(torch.from_numpy(reduced).unsqueeze(0), self.label_size, self.label_rule)[0]
        return {"image": image, "pixel_labels": labels, "pid": torch.tensor(sample.pid, dtype=torch.int64)}


class TestImages(Dataset):
    """Returns dict: image float32 [3, H, W] (resize + normalise), index int64."""

    def __init__(self, samples: list[ReIDSample], settings: AugmentationSettings):
        self.samples = samples
        self.settings = settings

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        image = transform_for_test(read_rgb(self.samples[index].image_path), self.settings)
        return {"image": image, "index": torch.tensor(index, dtype=torch.int64)}


@torch.no_grad()
def outputs_on_test_images(model, samples: list[ReIDSample], settings: AugmentationSettings, batch_size: int = 64,
                 num_workers: int = 0, description: str = "features", progress: bool = True):
    """The model's ``ModelOutput`` for each batch of ``samples`` (test transform), in eval mode;
    the model's training mode is restored afterwards. Yields one output per batch, in order."""
    device = next(model.parameters()).device
    loader = DataLoader(TestImages(samples, settings), batch_size=batch_size, num_workers=num_workers)
    was_training = model.training
    model.eval()
    try:
        for batch in progress_bar(loader, desc=description, leave=False, unit="batch", enabled=progress):
            yield model(batch["image"].to(device))
    finally:
        model.train(was_training)
