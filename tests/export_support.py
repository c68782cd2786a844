"""Shared helpers for the export and runtime tests (no tests here): small checkpoints, random
or briefly trained, and synthetic person-like crops with part labels.

Checkpoints are made once per test process and kept in one temporary directory.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

import reid
from reid.checkpoint import save_checkpoint
from reid.losses import BPSEMALoss
from tests.conftest import small_config

_CHECKPOINT_DIR = Path(tempfile.mkdtemp(prefix="bpsema-export-tests-"))
atexit.register(shutil.rmtree, _CHECKPOINT_DIR, True)

# ONNX exports shared by the tests that do not test the cache itself.
SHARED_CACHE_DIR = _CHECKPOINT_DIR / "cache"
TRAINING_STEPS = 4


def synthetic_crops(count: int, num_parts: int, seed: int, label_size: tuple[int, int] | None = None):
    """Person-like BGR uint8 crops of varied sizes: K coloured horizontal body bands (head at the
    top) on a noisy background, some hidden behind an occluder.

    Returns (crops, labels): labels int64 [count, h, w] in 0..K (0 = background/occluder) at
    ``label_size`` = (h, w), or None when ``label_size`` is None.
    """
    rng = np.random.default_rng(seed)
    palette = rng.integers(40, 230, size=(num_parts, 3))
    crops, labels = [], []
    for _ in range(count):
        height = int(rng.integers(48, 320))
        width = int(rng.integers(24, max(25, height // 2 + 8)))
        image = rng.integers(0, 60, size=(height, width, 3)).astype(np.int16)
        label = np.zeros((height, width), dtype=np.int64)
        top, bottom = int(height * rng.uniform(0.0, 0.08)), int(height * rng.uniform(0.92, 1.0))
        left, right = int(width * rng.uniform(0.1, 0.25)), int(width * rng.uniform(0.75, 0.9))
        edges = np.linspace(top, bottom, num_parts + 1).astype(int)
        for part in range(num_parts):
            colour = palette[part] + rng.integers(-20, 21, size=3)
            image[edges[part] : edges[part + 1], left:right] = colour
            label[edges[part] : edges[part + 1], left:right] = part + 1
        if rng.random() < 0.4:  # an occluder over the lower or upper body
            cut = int(height * rng.uniform(0.4, 0.8))
            rows = slice(cut, height) if rng.random() < 0.7 else slice(0, height - cut)
            image[rows] = rng.integers(60, 200, size=3)
            label[rows] = 0
        image += rng.integers(-12, 13, size=image.shape)
        crops.append(np.clip(image, 0, 255).astype(np.uint8))
        labels.append(label)
    if label_size is None:
        return crops, None
    import cv2

    resized = [cv2.resize(label.astype(np.uint8), label_size[::-1], interpolation=cv2.INTER_NEAREST) for label in labels]
    return crops, torch.from_numpy(np.stack(resized).astype(np.int64))


def briefly_train(model: reid.BPSEMA, steps: int, seed: int) -> reid.BPSEMA:
    """A few Adam steps of the BPSEMA loss on synthetic crops, so that BatchNorm statistics,
    weights and the part classifier are non-trivial. Returns the model in eval mode."""
    from reid.runtime.preprocessing import preprocess_crops

    config = model.config
    height, width = config.input.height, config.input.width
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = BPSEMALoss(config.loss)
    model.train()
    identities = min(4, model.num_classes)
    for step in range(steps):
        crops, part_labels = synthetic_crops(8, config.model.num_parts, seed * 1000 + step, (height // 16, width // 16))
        images = torch.from_numpy(preprocess_crops(crops, (height, width), config.input.mean, config.input.std))
        images = images + 0.05 * torch.randn(images.shape, generator=generator)
        labels = torch.arange(identities).repeat_interleave(8 // identities)
        loss = loss_function(model(images), labels, part_labels).total
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@functools.lru_cache(maxsize=None)
def small_checkpoint(num_parts: int = 8, trained: bool = False, seed: int = 0) -> Path:
    """A small (ResNet-18, 128x64, D=64) checkpoint file: random, or briefly trained."""
    torch.manual_seed(seed)
    model = reid.build_model(small_config(num_parts=num_parts))
    if trained:
        model = briefly_train(model, steps=TRAINING_STEPS, seed=seed)
    path = _CHECKPOINT_DIR / f"small-k{num_parts}-{'trained' if trained else 'random'}-{seed}.pt"
    return save_checkpoint(path, model.eval())


def feature_agreement(reference, other) -> tuple[torch.Tensor, float]:
    """(embedding cosine similarity float64 [N, 1+K], visibility flip rate) of two ``PartFeatures``
    of the same crops; the embeddings are unit vectors, so the cosine is their dot product."""
    cosine = (reference.embeddings.double() * other.embeddings.double()).sum(dim=-1)
    flip_rate = (reference.visibility != other.visibility).float().mean().item()
    return cosine, flip_rate
