"""What a TensorRT engine is tied to: its ONNX graph's hash, the TensorRT version, the GPU, the
precision and the batch profile (the key of the engine cache, stored in every engine file's header).
A contract of the model's runtimes, so it lives here and not in ``reid.export``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from reid.checkpoint import file_sha256
from reid.errors import UserError
from reid.model_signature import ENGINE_PRECISIONS


@dataclass(frozen=True)
class BatchProfile:
    """TensorRT optimisation profile on the batch axis (the image size is fixed)."""

    minimum: int = 1
    optimum: int = 32
    maximum: int = 64

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.optimum <= self.maximum:
            raise UserError(
                f"batch profile must satisfy 1 <= min <= opt <= max, got min {self.minimum}, "
                f"opt {self.optimum}, max {self.maximum}"
            )

    @staticmethod
    def up_to(maximum: int, optimum: int | None = None) -> "BatchProfile":
        """min 1, opt ``optimum`` (default: half of the maximum), max ``maximum``."""
        if maximum < 1:
            raise UserError(f"--max-batch must be at least 1, got {maximum}")
        return BatchProfile(1, optimum if optimum is not None else max(1, maximum // 2), maximum)


@dataclass(frozen=True)
class EngineTarget:
    """What an engine is tied to besides its ONNX graph: the TensorRT version and the GPU."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]


@dataclass(frozen=True)
class EngineCacheKey:
    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]
    precision: str
    profile: BatchProfile

    def __post_init__(self) -> None:
        if self.precision not in ENGINE_PRECISIONS:
            raise ValueError(f"engine precision must be one of {ENGINE_PRECISIONS}, got {self.precision!r}")

    @staticmethod
    def create(onnx_path: str | Path, target: EngineTarget, precision: str, profile: BatchProfile) -> "EngineCacheKey":
        return EngineCacheKey(
            onnx_sha256=file_sha256(onnx_path),
            tensorrt_version=target.tensorrt_version,
            gpu_name=target.gpu_name,
            compute_capability=tuple(target.compute_capability),
            precision=precision,
            profile=profile,
        )

    @property
    def target(self) -> EngineTarget:
        return EngineTarget(self.tensorrt_version, self.gpu_name, self.compute_capability)

    def to_dict(self) -> dict:
        values = asdict(self)
        values["compute_capability"] = list(self.compute_capability)
        return values

    @staticmethod
    def from_dict(values: dict) -> "EngineCacheKey":
        return EngineCacheKey(
            onnx_sha256=str(values["onnx_sha256"]),
            tensorrt_version=str(values["tensorrt_version"]),
            gpu_name=str(values["gpu_name"]),
            compute_capability=tuple(int(value) for value in values["compute_capability"]),
            precision=str(values["precision"]),
            profile=BatchProfile(**values["profile"]),
        )

    def digest(self) -> str:
        """sha256 over every field (canonical JSON)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def file_name(self) -> str:
        return f"bpsema-{self.precision}-b{self.profile.maximum}-{self.digest()[:24]}.engine"

    def differences(self, other: "EngineCacheKey") -> list[str]:
        """Names of the fields that differ from ``other``."""
        return [item.name for item in fields(self) if getattr(self, item.name) != getattr(other, item.name)]
