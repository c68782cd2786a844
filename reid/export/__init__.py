"""Export BPSEMA to ONNX (fp32; the fp16 graph for strongly typed TensorRT; the calibrated int8
graph for ONNX Runtime on the CPU) and to cached TensorRT engines. Command line:
``python -m reid.export --checkpoint FILE --format onnx|engine``.

``tensorrt`` is never imported by this package until an engine is built; the exports load lazily,
so that ``reid.export.cache_directory`` (the cache path) does not import torch.
"""

from __future__ import annotations

from reid.lazy_exports import lazy_exports

_EXPORTS = {
    "BatchProfile": "reid.engine_key",
    "EngineCache": "reid.export.engine_cache",
    "EngineCacheKey": "reid.engine_key",
    "EngineFile": "reid.export.engine_file",
    "EngineFileError": "reid.export.engine_file",
    "EngineTarget": "reid.engine_key",
    "Fp16Conversion": "reid.export.fp16_graph",
    "Int8Quantization": "reid.export.int8_quantization",
    "ModelSignature": "reid.model_signature",
    "PartFeatureGraph": "reid.export.onnx_export",
    "TensorRTStatus": "reid.export.tensorrt_engine",
    "build_engine": "reid.export.tensorrt_engine",
    "build_onnx_model": "reid.export.onnx_export",
    "convert_to_fp16": "reid.export.fp16_graph",
    "export_checkpoint_to_onnx": "reid.export.onnx_export",
    "export_onnx": "reid.export.onnx_export",
    "onnx_for_checkpoint": "reid.export.onnx_cache",
    "quantize_to_int8": "reid.export.int8_quantization",
    "read_engine_file": "reid.export.engine_file",
    "read_onnx_signature": "reid.export.onnx_export",
    "require_tensorrt": "reid.export.tensorrt_engine",
    "tensorrt_status": "reid.export.tensorrt_engine",
    "write_engine_file": "reid.export.engine_file",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
