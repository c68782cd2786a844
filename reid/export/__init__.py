"""Export BPSEMA to ONNX (fp32; the fp16 graph for strongly typed TensorRT; the calibrated int8
graph for ONNX Runtime on the CPU) and to cached TensorRT engines. Command line:
``python -m reid.export --checkpoint FILE --format onnx|engine``.

``tensorrt`` is never imported by this package until an engine is built.
"""

from reid.engine_key import BatchProfile, EngineCacheKey, EngineTarget
from reid.export.engine_cache import EngineCache
from reid.export.engine_file import EngineFile, EngineFileError, read_engine_file, write_engine_file
from reid.export.fp16_graph import Fp16Conversion, convert_to_fp16
from reid.export.int8_quantization import Int8Quantization, quantize_to_int8
from reid.export.onnx_cache import onnx_for_checkpoint
from reid.export.onnx_export import (
    PartFeatureGraph,
    build_onnx_model,
    export_checkpoint_to_onnx,
    export_onnx,
    read_onnx_signature,
)
from reid.model_signature import ModelSignature
from reid.export.tensorrt_engine import TensorRTStatus, build_engine, require_tensorrt, tensorrt_status

__all__ = [
    "BatchProfile",
    "EngineCache",
    "EngineCacheKey",
    "EngineFile",
    "EngineFileError",
    "EngineTarget",
    "Fp16Conversion",
    "Int8Quantization",
    "ModelSignature",
    "PartFeatureGraph",
    "TensorRTStatus",
    "build_engine",
    "build_onnx_model",
    "convert_to_fp16",
    "export_checkpoint_to_onnx",
    "export_onnx",
    "onnx_for_checkpoint",
    "quantize_to_int8",
    "read_engine_file",
    "read_onnx_signature",
    "require_tensorrt",
    "tensorrt_status",
    "write_engine_file",
]
