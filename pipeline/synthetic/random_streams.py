"""Independent, reproducible random streams: one per (world seed, purpose, index).

Every random choice in the world draws from a stream named for its purpose, so adding a camera or
rendering frames in another order never changes what another part of the world looks like.
"""

from __future__ import annotations

import zlib

import numpy as np


def random_stream(seed: int, purpose: str, *indices: int) -> np.random.Generator:
    """A generator determined only by the world seed, a purpose name and optional indices."""
    entropy = [int(seed) & 0xFFFFFFFF, int(seed) >> 32, zlib.crc32(purpose.encode("utf-8"))]
    entropy.extend(int(i) for i in indices)
    return np.random.default_rng(np.random.SeedSequence(entropy))
