"""Inference runtimes for the part-feature extractor: PyTorch, ONNX Runtime and TensorRT behind
one API. ``load_extractor(path, backend="auto")`` then ``extractor.extract(crops)`` ->
``reid.PartFeatures``. Backends are imported only when used; ``tensorrt`` only for TensorRT.
"""

from reid.runtime.backend_selection import BACKEND_CHOICES, BackendChoice, choose_backend, load_extractor
from reid.runtime.extractor import ExtractorInfo, PartFeatureExtractor
from reid.runtime.preprocessing import preprocess_crops

__all__ = [
    "BACKEND_CHOICES",
    "BackendChoice",
    "ExtractorInfo",
    "PartFeatureExtractor",
    "choose_backend",
    "load_extractor",
    "preprocess_crops",
]
