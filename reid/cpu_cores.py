"""How many CPU cores this process may use (ONNX Runtime's threads, the world renderer's workers)."""

from __future__ import annotations

import os


def cpu_core_count() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
