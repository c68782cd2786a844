"""BPSEMA occluded person re-identification: the model and everything about part features.

Exports load lazily, so that light command-line tools (``reid.errors`` users) do not import torch.
"""

from __future__ import annotations

from reid.lazy_exports import lazy_exports

_EXPORTS = {
    "BPSEMA": "reid.model",
    "ModelOutput": "reid.model",
    "build_model": "reid.model",
    "PartFeatures": "reid.features",
    "ReIDConfig": "reid.config",
    "load_config": "reid.config",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
