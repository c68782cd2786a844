"""The on-disk cache of TensorRT engines.

An engine only runs on the GPU architecture and TensorRT version it was built for, so the cache
key is: sha256 of the ONNX file + TensorRT version + GPU name and compute capability + precision
+ batch profile. A cached file that is corrupt, foreign or built under another key is rejected
with the reason in the log and rebuilt. TensorRT's timing cache (per TensorRT version and GPU) is
kept beside the engines so rebuilding after a model change is faster.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

from reid.checkpoint import file_sha256
from reid.errors import UserError
from reid.export.engine_file import EngineFileError, read_engine_file, write_engine_file
from reid.export.signature import ENGINE_PRECISIONS, ModelSignature

LOGGER = logging.getLogger("reid.export")


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


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


# (onnx path, key, timing cache path) -> serialized engine plan
PlanBuilder = Callable[[Path, EngineCacheKey, Path], bytes]


class EngineCache:
    """Engines under ``directory``, one file per key; ``build_plan`` makes a missing one."""

    def __init__(self, directory: str | Path, build_plan: PlanBuilder):
        self.directory = Path(directory)
        self.build_plan = build_plan

    def engine_path(self, key: EngineCacheKey) -> Path:
        return self.directory / key.file_name()

    def timing_cache_path(self, key: EngineCacheKey) -> Path:
        major, minor = key.compute_capability
        name = f"timing-trt{_slug(key.tensorrt_version)}-{_slug(key.gpu_name)}-sm{major}{minor}.cache"
        return self.directory / name

    def get_or_build(self, onnx_path: str | Path, key: EngineCacheKey, signature: ModelSignature) -> Path:
        """The engine file for ``key``: reused when valid, else built (again) and written."""
        path = self.engine_path(key)
        if path.exists():
            try:
                read_engine_file(path, expected_key=key)
                LOGGER.info("reusing cached TensorRT engine %s", path)
                return path
            except EngineFileError as error:
                LOGGER.warning("rejected cached TensorRT engine: %s; rebuilding", error)
        self.directory.mkdir(parents=True, exist_ok=True)
        LOGGER.info("building TensorRT engine %s (%s, batch %s)", path, key.precision, key.profile)
        plan = self.build_plan(Path(onnx_path), key, self.timing_cache_path(key))
        write_engine_file(path, key, signature, plan)
        return path
