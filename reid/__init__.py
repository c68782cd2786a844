"""BPSEMA occluded person re-identification: the model and everything about part features.

Exports load lazily, so that light command-line tools (``reid.errors`` users) do not import torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "BPSEMA": "reid.model",
    "ModelOutput": "reid.model",
    "build_model": "reid.model",
    "PartFeatures": "reid.features",
    "ReIDConfig": "reid.config",
    "load_config": "reid.config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'reid' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
