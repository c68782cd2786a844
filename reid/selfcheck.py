"""Model self-check on random input: build, forward, loss, backward, extract features; print a summary."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import torch

from reid.config import load_config
from reid.losses import BPSEMALoss
from reid.model import build_model
from reid.part_labels import pixel_part_labels

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "model" / "small_synthetic.yaml"


def run_selfcheck(
    config_path: str | Path = DEFAULT_CONFIG, batch_size: int = 8, seed: int = 0, overrides: Sequence[str] = ()
) -> dict:
    """Returns a summary dict; raises if any output breaks the contracts. overrides: ``KEY=VALUE``
    settings over the YAML's (``reid.config.apply_overrides``)."""
    torch.manual_seed(seed)
    started = time.perf_counter()
    config = load_config(config_path, overrides)
    num_identities = batch_size // 2
    model = build_model(config, pretrained=False, num_classes=num_identities)
    images = torch.randn(batch_size, 3, config.input.height, config.input.width)
    labels = torch.arange(batch_size) % num_identities

    model.train()
    output = model(images)
    part_maps = torch.rand(batch_size, config.model.num_parts, 16, 8)
    pixel_labels = pixel_part_labels(part_maps, tuple(output.part_attention_logits.shape[-2:]))
    losses = BPSEMALoss(config.loss)(output, labels, pixel_labels)
    losses.total.backward()
    if not torch.isfinite(losses.total):
        raise RuntimeError("self-check: loss is not finite")

    model.eval()
    features = model.extract_features(images)
    norms = features.embeddings.norm(dim=-1)
    if not torch.allclose(norms, torch.ones_like(norms), atol=1e-4):
        raise RuntimeError("self-check: embeddings are not L2-normalised")
    return {
        "config": str(config_path),
        "backbone": config.model.backbone,
        "parameters_millions": sum(p.numel() for p in model.parameters()) / 1e6,
        "input": (config.input.height, config.input.width),
        "feature_map": tuple(output.part_attention_logits.shape[-2:]),
        "embeddings": tuple(features.embeddings.shape),
        "visibility": tuple(features.visibility.shape),
        "parts": model.part_names,
        "loss_terms": {name: round(float(value.detach()), 4) for name, value in losses.terms.items()},
        "loss_total": round(float(losses.total.detach()), 4),
        "seconds": round(time.perf_counter() - started, 2),
    }
