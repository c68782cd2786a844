"""Identity sampler: batches of P identities x K images, reproducible per (seed, epoch)."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator, Sequence

import numpy as np


class IdentityBatchSampler:
    """Yields batches of ``(sample index, augmentation seed)`` keys.

    Each epoch every identity's images are shuffled and cut into groups of K (an identity with
    fewer than K images is padded by sampling with replacement); groups of P distinct identities
    form a batch. The order depends only on ``(seed, epoch)``, so a resumed run sees the same batches.
    """

    def __init__(self, pids: Sequence[int], identities_per_batch: int, images_per_identity: int, seed: int = 0):
        self.identities_per_batch = identities_per_batch
        self.images_per_identity = images_per_identity
        self.seed = seed
        self.epoch = 0
        self._cache: tuple[int, list] | None = None
        self.indices_by_pid: dict[int, list[int]] = defaultdict(list)
        for index, pid in enumerate(pids):
            self.indices_by_pid[int(pid)].append(index)
        if len(self.indices_by_pid) < identities_per_batch:
            raise ValueError(
                f"{len(self.indices_by_pid)} training identities are fewer than identities_per_batch={identities_per_batch}"
            )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[tuple[int, int]]]:
        if self._cache is None or self._cache[0] != self.epoch:
            self._cache = (self.epoch, self._make_batches())
        return self._cache[1]

    def _make_batches(self) -> list[list[tuple[int, int]]]:
        generator = np.random.default_rng([self.seed, self.epoch])
        groups_by_pid: dict[int, list[list[int]]] = {}
        for pid in sorted(self.indices_by_pid):
            indices = np.array(self.indices_by_pid[pid])
            if len(indices) < self.images_per_identity:
                indices = generator.choice(indices, size=self.images_per_identity, replace=True)
            else:
                indices = generator.permutation(indices)
            usable = len(indices) - len(indices) % self.images_per_identity
            groups_by_pid[pid] = [
                indices[start : start + self.images_per_identity].tolist()
                for start in range(0, usable, self.images_per_identity)
            ]
        batches = []
        available = [pid for pid in groups_by_pid if groups_by_pid[pid]]
        while len(available) >= self.identities_per_batch:
            chosen = generator.choice(available, size=self.identities_per_batch, replace=False)
            batch = []
            for pid in chosen:
                batch.extend(groups_by_pid[int(pid)].pop(0))
            batches.append(batch)
            available = [pid for pid in available if groups_by_pid[pid]]
        seeds = generator.integers(0, 2**31 - 1, size=(len(batches), len(batches[0]) if batches else 0))
        return [[(index, int(seed)) for index, seed in zip(batch, row)] for batch, row in zip(batches, seeds)]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())
