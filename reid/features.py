"""The part-feature contract shared by the model, the runtimes, the distance and the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PartFeatures:
    """Part features of N crops.

    Attributes:
        embeddings: float32 [N, 1+K, D]. Index 0 is the (BN-necked) foreground embedding,
            indices 1..K are the body parts. Every vector is L2-normalised.
        visibility: bool [N, 1+K]. Whether each embedding is visible in its crop.
    """

    embeddings: torch.Tensor
    visibility: torch.Tensor

    def __post_init__(self) -> None:
        if self.embeddings.dim() != 3:
            raise ValueError(f"embeddings must be [N, 1+K, D], got shape {tuple(self.embeddings.shape)}")
        if self.visibility.shape != self.embeddings.shape[:2]:
            raise ValueError(
                f"visibility must be [N, 1+K] = {tuple(self.embeddings.shape[:2])}, got {tuple(self.visibility.shape)}"
            )
        if self.visibility.dtype != torch.bool:
            raise ValueError(f"visibility must be bool, got {self.visibility.dtype}")

    @property
    def num_items(self) -> int:
        return self.embeddings.shape[0]

    @property
    def num_parts(self) -> int:
        """K, the number of body parts (the foreground is not counted)."""
        return self.embeddings.shape[1] - 1

    @property
    def embedding_dim(self) -> int:
        return self.embeddings.shape[2]

    def __len__(self) -> int:
        return self.num_items

    def __getitem__(self, index) -> "PartFeatures":
        """Select crops: an int, a slice, an index tensor or a boolean mask over N."""
        if isinstance(index, int):
            index = slice(index, index + 1) if index != -1 else slice(-1, None)
        return PartFeatures(self.embeddings[index], self.visibility[index])

    def to(self, device: torch.device | str) -> "PartFeatures":
        return PartFeatures(self.embeddings.to(device), self.visibility.to(device))

    @staticmethod
    def concatenate(items: "list[PartFeatures]") -> "PartFeatures":
        """Stack several batches along N (all must share K and D)."""
        if not items:
            raise ValueError("concatenate needs at least one PartFeatures")
        return PartFeatures(
            torch.cat([item.embeddings for item in items], dim=0),
            torch.cat([item.visibility for item in items], dim=0),
        )

    @staticmethod
    def empty(num_parts: int, embedding_dim: int) -> "PartFeatures":
        """Features of zero crops."""
        return PartFeatures(
            torch.zeros(0, 1 + num_parts, embedding_dim, dtype=torch.float32),
            torch.zeros(0, 1 + num_parts, dtype=torch.bool),
        )
