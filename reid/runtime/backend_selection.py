"""``load_extractor``: one entry point for every backend and every model file.

| file                 | "torch"       | "onnxruntime"                 | "tensorrt"                          |
|----------------------|---------------|-------------------------------|-------------------------------------|
| checkpoint (.pt ...) | run it        | ONNX exported into the cache  | ONNX, then engine, both cached      |
| .onnx                | error         | run it                        | engine built into the cache         |
| .engine              | error         | error                         | run it                              |

"auto" picks, by what is installed and present: TensorRT (tensorrt + a CUDA device), then ONNX
Runtime CUDA (onnxruntime-gpu + a CUDA device), then ONNX Runtime CPU, then PyTorch. The choice
and its reason are in ``extractor.info.selection`` and logged on the ``reid.runtime`` logger.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from reid.errors import UserError
from reid.model_signature import PRECISIONS, Precision
from reid.runtime.extractor import PartFeatureExtractor

LOGGER = logging.getLogger("reid.runtime")
BACKEND_CHOICES = ("auto", "tensorrt", "onnxruntime", "torch")
DEFAULT_MAX_BATCH = 64


@dataclass(frozen=True)
class BackendChoice:
    """backend: "tensorrt" | "onnxruntime" | "torch"; device: "cpu" | "cuda:N"; reason: why."""

    backend: str
    device: str
    reason: str


def model_file_kind(path: Path) -> str:
    """"onnx", "engine" or "checkpoint" (anything else is read as a checkpoint)."""
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix in (".engine", ".plan", ".trt"):
        return "engine"
    return "checkpoint"


def _cuda_device(device: str | None) -> str | None:
    """The CUDA device to use, or None when the caller asked for the CPU or none exists."""
    if device is not None and not device.startswith("cuda"):
        return None
    if not torch.cuda.is_available():
        return None
    return device if device and ":" in device else "cuda:0"


def choose_backend(kind: str, device: str | None = None) -> BackendChoice:
    """The "auto" rule: TensorRT, ONNX Runtime CUDA, ONNX Runtime CPU, PyTorch."""
    from reid.export.tensorrt_engine import tensorrt_status
    from reid.runtime.onnxruntime_backend import CPU_PROVIDER, CUDA_PROVIDER, available_providers

    skipped = []
    cuda = _cuda_device(device)
    if kind == "engine":
        return BackendChoice("tensorrt", cuda or "cuda:0", "an .engine file runs only under TensorRT")
    status = tensorrt_status()
    if cuda is not None and status.available:
        return BackendChoice("tensorrt", cuda, f"TensorRT {status.version} and {torch.cuda.get_device_name(cuda)}")
    skipped.append(f"TensorRT: {'CPU requested' if device == 'cpu' else status.reason}")
    providers = available_providers()
    if cuda is not None and CUDA_PROVIDER in providers:
        return BackendChoice("onnxruntime", cuda, "; ".join(skipped + [f"ONNX Runtime with {CUDA_PROVIDER}"]))
    skipped.append(f"ONNX Runtime CUDA: {'no CUDA device' if cuda is None else 'onnxruntime-gpu not installed'}")
    if CPU_PROVIDER in providers:
        return BackendChoice("onnxruntime", "cpu", "; ".join(skipped + [f"ONNX Runtime with {CPU_PROVIDER}"]))
    skipped.append("ONNX Runtime: not installed")
    if kind == "checkpoint":
        torch_device = cuda or "cpu"
        return BackendChoice("torch", torch_device, "; ".join(skipped + [f"PyTorch eager on {torch_device}"]))
    raise UserError(f"no backend can run an .onnx file here ({'; '.join(skipped)}); install onnxruntime")


def load_extractor(
    path: str | Path,
    backend: str = "auto",
    *,
    device: str | None = None,
    precision: Precision = "fp32",
    max_batch: int = DEFAULT_MAX_BATCH,
    cache_dir: str | Path | None = None,
    threads: int | None = None,
) -> PartFeatureExtractor:
    """A part-feature extractor for a checkpoint, an ``.onnx`` or an ``.engine``.

    backend: "auto", "tensorrt", "onnxruntime" or "torch". device: None (best available), "cpu",
    "cuda" or "cuda:N". precision: for graphs compiled here from a checkpoint ("fp16": the mixed
    fp16/fp32 graph; "int8" is calibrated on crops, so it is exported once with ``python -m
    reid.export`` and loaded as an ``.onnx``). max_batch: crops per run (an engine's own maximum
    caps it). cache_dir: where exported ONNX files and engines are cached (default
    ``~/.cache/bpsema``). threads: ONNX Runtime intra-op threads (default: the cores this process
    may use).
    """
    path = Path(path)
    if backend not in BACKEND_CHOICES:
        raise UserError(f"unknown backend {backend!r}; choose one of {', '.join(BACKEND_CHOICES)}")
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if max_batch < 1:
        raise UserError(f"max_batch must be at least 1, got {max_batch}")
    if not path.is_file():
        raise UserError(f"{path}: model file not found")
    if device is not None and device != "cpu" and not device.startswith("cuda"):
        raise UserError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'")
    if device is not None and device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {device!r} requested but no CUDA device is visible (use device 'cpu')")
    kind = model_file_kind(path)

    if backend == "auto":
        choice = choose_backend(kind, device)
    else:
        cuda = _cuda_device(device)
        if backend == "torch":
            chosen_device = cuda or "cpu"
        elif backend == "onnxruntime":
            from reid.runtime.onnxruntime_backend import CUDA_PROVIDER, available_providers

            use_cuda = cuda is not None and (device is not None or CUDA_PROVIDER in available_providers())
            chosen_device = cuda if use_cuda else "cpu"
        else:
            chosen_device = cuda or "cuda:0"
        choice = BackendChoice(backend, chosen_device, f"backend '{backend}' requested")

    extractor = _build(path, kind, choice, precision, max_batch, cache_dir, threads)
    LOGGER.info("part-feature extractor: %s [%s]", extractor.info.describe(), choice.reason)
    return extractor


def _build(
    path: Path,
    kind: str,
    choice: BackendChoice,
    precision: Precision,
    max_batch: int,
    cache_dir: str | Path | None,
    threads: int | None,
) -> PartFeatureExtractor:
    if choice.backend == "torch":
        if kind != "checkpoint":
            raise UserError(f"{path}: the torch backend runs checkpoints, not .{kind} files")
        if precision != "fp32":
            raise UserError("the torch backend runs fp32; fp16 and int8 are for the exported graphs (onnxruntime, tensorrt)")
        from reid.runtime.torch_backend import TorchExtractor

        return TorchExtractor.from_checkpoint(path, choice.device, max_batch, choice.reason)

    if choice.backend == "onnxruntime":
        if kind == "engine":
            raise UserError(f"{path}: an .engine file runs only with the tensorrt backend")
        from reid.runtime.onnxruntime_backend import OnnxRuntimeExtractor

        onnx_path = path
        if kind == "checkpoint":
            from reid.export.onnx_cache import onnx_for_checkpoint

            onnx_path = onnx_for_checkpoint(path, precision, cache_dir)
        return OnnxRuntimeExtractor(onnx_path, choice.device, max_batch, threads, choice.reason)

    # tensorrt
    from reid.export.tensorrt_engine import require_tensorrt
    from reid.runtime.tensorrt_backend import TensorRTExtractor

    require_tensorrt("run the tensorrt backend")
    device_index = int(choice.device.split(":", 1)[1]) if ":" in choice.device else 0
    engine_path = path
    if kind != "engine":
        from reid.engine_key import BatchProfile
        from reid.export.tensorrt_engine import build_engine

        onnx_path = path
        if kind == "checkpoint":
            from reid.export.onnx_cache import onnx_for_checkpoint

            onnx_path = onnx_for_checkpoint(path, precision, cache_dir)
        engine_path = build_engine(onnx_path, BatchProfile.up_to(max_batch), cache_dir, device_index)
    return TensorRTExtractor(engine_path, device_index, max_batch, choice.reason)
