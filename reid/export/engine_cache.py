"""The on-disk cache of TensorRT engines.

An engine only runs on the GPU architecture and TensorRT version it was built for, so the cache
key is: sha256 of the ONNX file + TensorRT version + GPU name and compute capability + precision
+ batch profile. A cached file that is corrupt, foreign or built under another key is rejected
with the reason in the log and rebuilt. TensorRT's timing cache (per TensorRT version and GPU) is
kept beside the engines so rebuilding after a model change is faster.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Callable

from reid.export.engine_file import EngineFileError, read_engine_file, write_engine_file
from reid.engine_key import EngineCacheKey
from reid.model_signature import ModelSignature

LOGGER = logging.getLogger("reid.export")


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
