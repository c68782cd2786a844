"""When is a tracklet-to-identity distance a match? One rule, used online and by the refine pass.

- The threshold depends on how many embeddings the two sides share (``thresholds_by_shared[s - 1]``
  for ``s`` shared embeddings): a pair that shares only the foreground is judged on one
  embedding, a pair sharing nine on the mean of nine, and the two have different impostor
  distributions. ``pipeline.calibration`` measures one threshold per shared count on
  tracklet-to-tracklet distances; ``inf`` thresholds never occur, ``0.0`` means "never a match
  on that few parts" (abstain).
- Online, the number of candidate identities matters: with thousands of identities some impostor
  lands under any threshold, so the best identity must also beat the second best by a ratio
  (``best <= ratio * second``); when it does not, the decision waits for more observations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MatchRule:
    """thresholds_by_shared: threshold for 1, 2, ... shared embeddings (the last one also covers
    more); ratio: in (0, 1], the best identity's distance over the second best's at most this
    (1.0: no ratio test)."""

    thresholds_by_shared: tuple[float, ...]
    ratio: float = 1.0

    def __post_init__(self) -> None:
        if not self.thresholds_by_shared:
            raise ValueError("a match rule needs at least one threshold")
        if any(not np.isfinite(value) or value < 0 for value in self.thresholds_by_shared):
            raise ValueError(f"thresholds must be finite and >= 0, got {self.thresholds_by_shared}")
        if not 0 < self.ratio <= 1:
            raise ValueError(f"ratio must be in (0, 1], got {self.ratio}")

    @staticmethod
    def single(threshold: float, ratio: float = 1.0) -> "MatchRule":
        """One threshold whatever the number of shared embeddings."""
        return MatchRule((float(threshold),), ratio)

    def thresholds(self, shared: np.ndarray) -> np.ndarray:
        """float64 thresholds for shared-embedding counts ``shared`` (int array, any shape); 0 shared -> -inf."""
        shared = np.asarray(shared, dtype=np.int64)
        table = np.asarray(self.thresholds_by_shared, dtype=np.float64)
        index = np.clip(shared - 1, 0, len(table) - 1)
        return np.where(shared > 0, table[index], -np.inf)

    def under_threshold(self, distances: np.ndarray, shared: np.ndarray) -> np.ndarray:
        """bool, same shape: the distance is finite and below its shared count's threshold."""
        distances = np.asarray(distances, dtype=np.float64)
        return np.isfinite(distances) & (distances < self.thresholds(shared))

    def decisive(self, best: float, second: float) -> bool:
        """Does the best candidate beat the second best by the ratio? (No second: always.)"""
        if not np.isfinite(second):
            return True
        return best <= self.ratio * second
