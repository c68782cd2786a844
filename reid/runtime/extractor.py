"""The part-feature extractor interface every backend implements.

``extract(crops)`` takes BGR uint8 crops of any sizes and returns ``PartFeatures`` on the CPU:
the crops are preprocessed by the one shared function, in chunks of at most ``max_batch``, each
chunk run by the backend, the results concatenated; zero crops give ``PartFeatures.empty``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from reid.model_signature import ModelSignature
from reid.features import PartFeatures
from reid.runtime.preprocessing import preprocess_crops

BACKEND_NAMES = ("tensorrt", "onnxruntime", "torch")


@dataclass(frozen=True)
class ExtractorInfo:
    """What runs the model and what the model is.

    Attributes:
        backend: "tensorrt", "onnxruntime" or "torch".
        device: "cpu" or "cuda:<index>".
        runner: the engine underneath, e.g. "CPUExecutionProvider", "TensorRT 10.3.0", "PyTorch 2.14.1 eager".
        signature: input size, mean/std, K, part names, D, precision, source checkpoint hash.
        max_batch: largest number of crops run at once (larger inputs are split).
        model_path: the file the backend runs (checkpoint, .onnx or .engine).
        selection: why this backend was chosen (for backend "auto").
    """

    backend: str
    device: str
    runner: str
    signature: ModelSignature
    max_batch: int
    model_path: Path | None = None
    selection: str = ""

    def describe(self) -> str:
        signature = self.signature
        return (
            f"{self.backend} ({self.runner}) on {self.device}: K={signature.num_parts}, D={signature.embedding_dim}, "
            f"input {signature.input_height}x{signature.input_width}, {signature.precision}, "
            f"max batch {self.max_batch}, model {self.model_path}"
        )


class PartFeatureExtractor(ABC):
    """Crops in, ``PartFeatures`` out. Subclasses implement ``_run`` on one preprocessed chunk."""

    def __init__(self, info: ExtractorInfo):
        if info.max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {info.max_batch}")
        self.info = info

    # --- what the model is -------------------------------------------------------------------
    @property
    def backend(self) -> str:
        return self.info.backend

    @property
    def num_parts(self) -> int:
        return self.info.signature.num_parts

    @property
    def embedding_dim(self) -> int:
        return self.info.signature.embedding_dim

    @property
    def part_names(self) -> tuple[str, ...]:
        return self.info.signature.part_names

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) the crops are resized to."""
        return self.info.signature.input_size

    @property
    def max_batch(self) -> int:
        return self.info.max_batch

    # --- running it --------------------------------------------------------------------------
    def preprocess(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """BGR uint8 crops -> float32 [N, 3, H, W] (the shared preprocessing with this model's settings)."""
        signature = self.info.signature
        return preprocess_crops(crops, signature.input_size, signature.mean, signature.std)

    def extract(self, crops: Sequence[np.ndarray]) -> PartFeatures:
        """BGR uint8 crops [h_i, w_i, 3] of any sizes -> ``PartFeatures`` ([N, 1+K, D], [N, 1+K]) on the CPU."""
        crops = list(crops)
        if not crops:
            return PartFeatures.empty(self.num_parts, self.embedding_dim)
        chunks = [
            self._run(self.preprocess(crops[start : start + self.max_batch]))
            for start in range(0, len(crops), self.max_batch)
        ]
        return chunks[0] if len(chunks) == 1 else PartFeatures.concatenate(chunks)

    def extract_images(self, images: np.ndarray) -> PartFeatures:
        """Already preprocessed images float32 [N, 3, H, W] -> ``PartFeatures`` (split by max_batch)."""
        expected = (3, *self.input_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(f"images must be [N, {expected[0]}, {expected[1]}, {expected[2]}], got {images.shape}")
        if len(images) == 0:
            return PartFeatures.empty(self.num_parts, self.embedding_dim)
        images = np.ascontiguousarray(images, dtype=np.float32)
        chunks = [self._run(images[start : start + self.max_batch]) for start in range(0, len(images), self.max_batch)]
        return chunks[0] if len(chunks) == 1 else PartFeatures.concatenate(chunks)

    @abstractmethod
    def _run(self, images: np.ndarray) -> PartFeatures:
        """images float32 [n, 3, H, W] contiguous, 1 <= n <= max_batch -> CPU ``PartFeatures``."""

    def close(self) -> None:
        """Release the backend's resources (sessions, engines, GPU buffers)."""

    def __enter__(self) -> "PartFeatureExtractor":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.info.describe()})"
