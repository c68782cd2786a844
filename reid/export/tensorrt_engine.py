"""Build TensorRT engines from the exported ONNX with the TensorRT Python API.

``tensorrt`` is imported lazily, only when an engine is built or run: without it (or without a
CUDA device) the failure is one ``UserError`` line. Works with TensorRT 10 and 11:

- TensorRT 11 networks are always strongly typed (``BuilderFlag.FP16`` and ``EXPLICIT_BATCH`` are
  gone); TensorRT 10 gets the ``STRONGLY_TYPED`` creation flag. Either way the precision is the
  ONNX graph's own (``reid.export.fp16_graph`` bakes fp16 in), so fp32 and fp16 engines come from
  two ONNX files, not from builder flags.
- Only on TensorRT 8.x (no strong typing) is ``BuilderFlag.FP16`` set for an fp16 build.
- fp32 engines clear ``BuilderFlag.TF32``, so that "fp32" keeps fp32 accuracy (fp16 is the fast option).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch

from reid.errors import UserError
from reid.export.cache_directory import resolve_cache_dir
from reid.engine_key import BatchProfile, EngineCacheKey, EngineTarget
from reid.export.engine_cache import EngineCache
from reid.export.onnx_export import read_onnx_signature
from reid.model_signature import ENGINE_PRECISIONS, INPUT_NAME

LOGGER = logging.getLogger("reid.export")
DEFAULT_WORKSPACE_BYTES = 4 << 30
INSTALL_HINT = "TensorRT needs an NVIDIA GPU and `pip install '.[tensorrt]'`"


@dataclass(frozen=True)
class TensorRTStatus:
    """Whether engines can be built and run here; ``reason`` says what is missing."""

    available: bool
    reason: str
    version: str | None = None


def tensorrt_status() -> TensorRTStatus:
    """Checks for a CUDA device and an importable ``tensorrt`` (imported only when a device exists)."""
    problems = []
    cuda = torch.cuda.is_available()
    if not cuda:
        problems.append("no CUDA device is visible")
    installed = importlib.util.find_spec("tensorrt") is not None
    version = None
    if not installed:
        problems.append("the tensorrt package is not installed")
    elif cuda:
        try:
            version = importlib.import_module("tensorrt").__version__
        except Exception as error:  # a stub or a broken install
            problems.append(f"the tensorrt package cannot be imported ({type(error).__name__}: {error})")
    return TensorRTStatus(available=not problems, reason="; ".join(problems) or "available", version=version)


def require_tensorrt(action: str = "build a TensorRT engine") -> ModuleType:
    """The ``tensorrt`` module, or a ``UserError`` saying what is missing."""
    status = tensorrt_status()
    if not status.available:
        raise UserError(
            f"cannot {action}: {status.reason} ({INSTALL_HINT}); "
            "use ONNX Runtime instead (python -m reid.export --format onnx, or backend 'onnxruntime')"
        )
    return importlib.import_module("tensorrt")


def tensorrt_major_version(trt: ModuleType) -> int:
    return int(str(trt.__version__).split(".")[0])


def current_target(trt: ModuleType, device_index: int = 0) -> EngineTarget:
    """The TensorRT version and the GPU engines are built for / run on."""
    return EngineTarget(
        tensorrt_version=str(trt.__version__),
        gpu_name=torch.cuda.get_device_name(device_index),
        compute_capability=tuple(torch.cuda.get_device_capability(device_index)),
    )


def network_creation_flags(trt: ModuleType) -> int:
    """Strongly typed networks: implicit on TensorRT 11, a flag on 9-10; explicit batch on 8."""
    if tensorrt_major_version(trt) >= 11:
        return 0
    flags = trt.NetworkDefinitionCreationFlag
    if hasattr(flags, "STRONGLY_TYPED"):
        return 1 << int(flags.STRONGLY_TYPED)
    return 1 << int(flags.EXPLICIT_BATCH)


def _configure_precision(trt: ModuleType, config, precision: str, strongly_typed: bool) -> None:
    """fp16 is the graph's own on strongly typed networks; fp32 means fp32 (no TF32 rounding)."""
    if precision == "fp16" and not strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)


def build_engine_plan(
    onnx_path: Path,
    key: EngineCacheKey,
    timing_cache_path: Path,
    input_shape: tuple[int, int, int],
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
) -> bytes:
    """Parse the ONNX, add the batch profile, build; returns the serialized plan.

    input_shape: (3, H, W) of ``images``; the profile varies only the batch axis.
    """
    trt = require_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = network_creation_flags(trt)
    strongly_typed = tensorrt_major_version(trt) >= 11 or hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED")
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(index)) for index in range(parser.num_errors))
        raise UserError(f"{onnx_path}: TensorRT cannot parse the ONNX model: {errors}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    _configure_precision(trt, config, key.precision, strongly_typed)
    profile = builder.create_optimization_profile()
    channels, height, width = input_shape
    batch = key.profile
    profile.set_shape(
        INPUT_NAME,
        (batch.minimum, channels, height, width),
        (batch.optimum, channels, height, width),
        (batch.maximum, channels, height, width),
    )
    config.add_optimization_profile(profile)

    cached_timings = timing_cache_path.read_bytes() if timing_cache_path.is_file() else b""
    try:
        timing_cache = config.create_timing_cache(cached_timings)
    except Exception:  # an unreadable timing cache only costs build time
        LOGGER.warning("ignoring unreadable TensorRT timing cache %s", timing_cache_path)
        timing_cache = config.create_timing_cache(b"")
    config.set_timing_cache(timing_cache, ignore_mismatch=False)

    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise UserError(f"{onnx_path}: TensorRT could not build the engine (see TensorRT's log above)")
    timing_cache_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = timing_cache_path.with_name(timing_cache_path.name + ".tmp")
    temporary.write_bytes(bytes(memoryview(config.get_timing_cache().serialize())))
    temporary.replace(timing_cache_path)
    return bytes(memoryview(plan))


def build_engine(
    onnx_path: str | Path,
    profile: BatchProfile,
    cache_dir: str | Path | None = None,
    device_index: int = 0,
) -> Path:
    """The cached engine for this ONNX file on this GPU and TensorRT, built when missing or invalid.

    The precision is the ONNX graph's own (its metadata); returns the engine file's path.
    """
    onnx_path = Path(onnx_path)
    signature = read_onnx_signature(onnx_path)
    if signature.precision not in ENGINE_PRECISIONS:
        raise UserError(
            f"{onnx_path}: a {signature.precision} graph is for ONNX Runtime on the CPU; build engines from the "
            f"{' or '.join(ENGINE_PRECISIONS)} export"
        )
    trt = require_tensorrt()
    with torch.cuda.device(device_index):
        key = EngineCacheKey.create(onnx_path, current_target(trt, device_index), signature.precision, profile)
        cache = EngineCache(
            resolve_cache_dir(cache_dir) / "engines",
            functools.partial(build_engine_plan, input_shape=(3, signature.input_height, signature.input_width)),
        )
        return cache.get_or_build(onnx_path, key, signature)
