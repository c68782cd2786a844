"""Checkpoint files: a model's weights together with the configuration that built it.

A checkpoint is a ``torch.save``d dict:

| key           | what                                                             |
|---------------|------------------------------------------------------------------|
| format        | ``CHECKPOINT_FORMAT``                                            |
| config        | ``config_to_dict(ReIDConfig)`` (so every later command needs only the checkpoint) |
| num_classes   | identities of the training set (size of the identity heads)      |
| model         | the model's ``state_dict``                                       |
| epoch         | completed epochs (0 for an untrained model)                      |
| training      | optional: optimiser, scheduler, sampler and RNG state for resuming |
| inference_only | optional: True for a shipped file (``save_inference_checkpoint``): floating-point weights stored as fp16, identity classifiers left out |

An inference-only checkpoint loads as any other (weights cast back to fp32); the identity
classifiers, used only by the training losses, are left at their initial values.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from reid.config import ReIDConfig, config_from_dict, config_to_dict
from reid.errors import UserError
from reid.model import BPSEMA, VISIBILITY_RULE_KEYS

CHECKPOINT_FORMAT = "bpsema-checkpoint-v1"


def save_checkpoint(path: str | Path, model: BPSEMA, epoch: int = 0, training: dict[str, Any] | None = None) -> Path:
    """Write atomically (temporary file then rename), so a crash never leaves half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": config_to_dict(model.config),
        "num_classes": model.num_classes,
        "model": model.state_dict(),
        "epoch": epoch,
    }
    if training is not None:
        payload["training"] = training
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)
    return path


def _is_identity_classifier(key: str) -> bool:
    return key.endswith(".classifier.weight")


def save_inference_checkpoint(path: str | Path, model: BPSEMA, epoch: int = 0) -> Path:
    """A small file for shipping: fp16 floating-point weights, no identity classifiers, no training state."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = {
        key: (value.half() if value.is_floating_point() else value).clone()
        for key, value in model.state_dict().items()
        if not _is_identity_classifier(key)
    }
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": config_to_dict(model.config),
        "num_classes": model.num_classes,
        "model": weights,
        "epoch": epoch,
        "inference_only": True,
    }
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw checkpoint dict; a missing, unreadable or foreign file is a ``UserError``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise UserError(f"{path}: not a readable checkpoint ({type(error).__name__})") from error
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path}: not a BPSEMA checkpoint (expected format '{CHECKPOINT_FORMAT}')")
    return payload


def checkpoint_config(payload: dict[str, Any], source: str = "<checkpoint>") -> ReIDConfig:
    return config_from_dict(payload["config"], source=source)


def load_model(path: str | Path) -> BPSEMA:
    """Rebuild the model stored in a checkpoint (no pretrained download), in eval mode."""
    payload = read_checkpoint(path)
    config = checkpoint_config(payload, source=str(path))
    model = BPSEMA(config, pretrained=False, num_classes=payload["num_classes"])
    if payload.get("inference_only"):
        reference = model.state_dict()
        weights = {key: value.to(reference[key].dtype) for key, value in payload["model"].items()}
        missing, unexpected = model.load_state_dict(weights, strict=False)
        if unexpected or any(not _is_identity_classifier(key) for key in missing):
            raise UserError(f"{path}: inference checkpoint does not match its network ({len(missing)} missing, "
                            f"{len(unexpected)} unexpected weights)")
    else:
        model.load_state_dict(payload["model"])
    return model.eval()


def _is_network_weight(key: str) -> bool:
    """What a fine-tuning run takes over: everything but the identity classifiers (sized by the
    training set) and the visibility rule (fitted again at the end of training)."""
    return not _is_identity_classifier(key) and not key.startswith(VISIBILITY_RULE_KEYS)


def load_network_weights(model: BPSEMA, path: str | Path) -> int:
    """Copy the network weights of the checkpoint at ``path`` into ``model`` (fine-tuning start).

    Identity classifiers and visibility-rule buffers stay as ``model`` has them. A checkpoint of
    another architecture is a ``UserError`` naming the first mismatching weight. Returns the number
    of tensors copied.
    """
    payload = read_checkpoint(path)
    reference = model.state_dict()
    weights = {key: value for key, value in payload["model"].items() if _is_network_weight(key)}
    expected = {key for key in reference if _is_network_weight(key)}
    missing = sorted(expected - weights.keys())
    unexpected = sorted(weights.keys() - expected)
    mismatched = sorted(key for key in expected & weights.keys() if weights[key].shape != reference[key].shape)
    if missing or unexpected or mismatched:
        first = (missing or unexpected or mismatched)[0]
        raise UserError(
            f"{path}: its network does not match this configuration ({len(missing)} missing, "
            f"{len(unexpected)} unexpected, {len(mismatched)} differently shaped weights; first: {first})"
        )
    model.load_state_dict({key: value.to(reference[key].dtype) for key, value in weights.items()}, strict=False)
    return len(weights)


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (used to tie exported models to their source checkpoint)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
