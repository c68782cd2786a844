"""TensorRT backend: runs a cached or exported ``.engine`` (see ``reid.export.engine_file``).

Both outputs are bound by name with the TensorRT 10+/11 tensor API (``set_input_shape``,
``set_tensor_address``, ``execute_async_v3``). The input and output buffers are torch CUDA tensors
of the engine's maximum batch, allocated once and reused; the host side uses pinned buffers so the
copies and the inference run asynchronously on one CUDA stream, synchronised once per chunk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from reid.errors import UserError
from reid.export.engine_file import REBUILD_HINT, read_engine_file
from reid.model_signature import EMBEDDINGS_NAME, INPUT_NAME, VISIBILITY_NAME
from reid.export.tensorrt_engine import current_target, require_tensorrt
from reid.features import PartFeatures
from reid.runtime.extractor import ExtractorInfo, PartFeatureExtractor


def _torch_dtype(trt, data_type) -> torch.dtype:
    table = {
        trt.float32: torch.float32,
        trt.float16: torch.float16,
        trt.int32: torch.int32,
        trt.int8: torch.int8,
        trt.bool: torch.bool,
    }
    for name, dtype in (("int64", torch.int64), ("uint8", torch.uint8), ("bfloat16", torch.bfloat16)):
        if hasattr(trt, name):
            table[getattr(trt, name)] = dtype
    if data_type not in table:
        raise UserError(f"TensorRT engine output type {data_type} is not supported")
    return table[data_type]


class TensorRTExtractor(PartFeatureExtractor):
    def __init__(self, engine_path: str | Path, device_index: int = 0, max_batch: int | None = None, selection: str = ""):
        trt = require_tensorrt("run a TensorRT engine")
        engine_path = Path(engine_path)
        engine_file = read_engine_file(engine_path)
        self.device = torch.device("cuda", device_index)
        with torch.cuda.device(self.device):
            target = current_target(trt, device_index)
            if engine_file.key.target != target:
                built = engine_file.key.target
                raise UserError(
                    f"{engine_path}: built with TensorRT {built.tensorrt_version} for {built.gpu_name} "
                    f"(sm {built.compute_capability[0]}.{built.compute_capability[1]}), this machine has TensorRT "
                    f"{target.tensorrt_version} on {target.gpu_name} (sm {target.compute_capability[0]}."
                    f"{target.compute_capability[1]}); {REBUILD_HINT}"
                )
            self._logger = trt.Logger(trt.Logger.WARNING)
            self._runtime = trt.Runtime(self._logger)
            self.engine = self._runtime.deserialize_cuda_engine(engine_file.plan)
            if self.engine is None:
                raise UserError(f"{engine_path}: TensorRT cannot deserialize the engine; {REBUILD_HINT}")
            names = {self.engine.get_tensor_name(index) for index in range(self.engine.num_io_tensors)}
            expected = {INPUT_NAME, EMBEDDINGS_NAME, VISIBILITY_NAME}
            if names != expected:
                raise UserError(f"{engine_path}: engine tensors {sorted(names)}, expected {sorted(expected)}")
            if self.engine.get_tensor_mode(INPUT_NAME) != trt.TensorIOMode.INPUT:
                raise UserError(f"{engine_path}: '{INPUT_NAME}' is not the engine's input")
            engine_max_batch = int(self.engine.get_tensor_profile_shape(INPUT_NAME, 0)[2][0])
            batch = min(max_batch, engine_max_batch) if max_batch else engine_max_batch
            self.context = self.engine.create_execution_context()
            self.stream = torch.cuda.Stream(self.device)
            signature = engine_file.signature
            parts = 1 + signature.num_parts
            shapes = {
                INPUT_NAME: (batch, 3, signature.input_height, signature.input_width),
                EMBEDDINGS_NAME: (batch, parts, signature.embedding_dim),
                VISIBILITY_NAME: (batch, parts),
            }
            # Buffers allocated once at the maximum batch and reused by every call.
            self.device_buffers = {
                name: torch.empty(shape, dtype=_torch_dtype(trt, self.engine.get_tensor_dtype(name)), device=self.device)
                for name, shape in shapes.items()
            }
            self.host_buffers = {
                name: torch.empty(buffer.shape, dtype=buffer.dtype, pin_memory=True)
                for name, buffer in self.device_buffers.items()
            }
            for name, buffer in self.device_buffers.items():
                self.context.set_tensor_address(name, buffer.data_ptr())
        info = ExtractorInfo(
            backend="tensorrt",
            device=str(self.device),
            runner=f"TensorRT {target.tensorrt_version}",
            signature=signature,
            max_batch=batch,
            model_path=engine_path,
            selection=selection,
        )
        super().__init__(info)

    def _run(self, images: np.ndarray) -> PartFeatures:
        count = len(images)
        host, device = self.host_buffers, self.device_buffers
        host[INPUT_NAME][:count].copy_(torch.from_numpy(images))
        with torch.cuda.device(self.device), torch.cuda.stream(self.stream):
            device[INPUT_NAME][:count].copy_(host[INPUT_NAME][:count], non_blocking=True)
            self.context.set_input_shape(INPUT_NAME, tuple(device[INPUT_NAME][:count].shape))
            for name, buffer in device.items():
                # The first `count` rows of each buffer start at its base address.
                self.context.set_tensor_address(name, buffer.data_ptr())
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError("TensorRT execute_async_v3 failed")
            for name in (EMBEDDINGS_NAME, VISIBILITY_NAME):
                host[name][:count].copy_(device[name][:count], non_blocking=True)
            self.stream.synchronize()
        embeddings = host[EMBEDDINGS_NAME][:count].to(torch.float32, copy=True)
        visibility = host[VISIBILITY_NAME][:count]
        visibility = visibility.clone() if visibility.dtype == torch.bool else visibility != 0
        return PartFeatures(embeddings, visibility)

    def close(self) -> None:
        self.context = None
        self.engine = None
        self.device_buffers = {}
        self.host_buffers = {}
