"""Where exported models and engines are cached: ``$BPSEMA_CACHE_DIR``, else
``$XDG_CACHE_HOME/bpsema``, else ``~/.cache/bpsema``."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENVIRONMENT_VARIABLE = "BPSEMA_CACHE_DIR"


def default_cache_dir() -> Path:
    explicit = os.environ.get(CACHE_ENVIRONMENT_VARIABLE)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "bpsema"


def resolve_cache_dir(cache_dir: str | Path | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
