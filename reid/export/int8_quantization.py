"""The int8 graph for ONNX Runtime on the CPU: the backbone's convolutions in int8, the rest fp32.

Static quantization (``onnxruntime.quantization``, QDQ format) calibrated on real crops:
weights int8 per output channel, activations uint8 per tensor with ranges observed on the
calibration images. Only the convolutions of the backbone after its stem are quantized (they are
~all of the multiply-adds); the stem, which sees the normalised image, stays fp32 (see below) and so
does the BPSEMA head, as the fp16 graph keeps it: the dynamic feature refinement, the attention and
the pixel part classifier, softmax, part pooling, L2-normalisation and everything visibility is
decided from. ONNX Runtime fuses each DequantizeLinear -> Conv ->
QuantizeLinear group into one integer convolution (VNNI / AVX-512 / AVX2 kernels).

Weights use the full int8 range (no ``reduce_range``): on the demo model, 7-bit weights doubled the
visibility flips (0.1 % -> 0.2 %) and lowered the embedding cosine (0.9995 -> 0.9990). Full-range
u8s8 products are exact on CPUs with VNNI (AVX512-VNNI / AVX-VNNI); ONNX Runtime's AVX2 kernels
without VNNI may saturate on some products (its quantization docs), so measure on such CPUs.

The stem stays fp32 because of what it cost in int8, measured on the shipped model (ResNet-10-T,
128x64, stride 8) on a 2-core AMD EPYC with AVX2 and no VNNI, on the occluded queries of the
development worlds v1 / v2 (``benchmarks/quantization.py``, its "stem int8" row): with the stem
in int8, occluded Rank-1 81.2 -> 78.2 and 88.7 -> 85.5, cosine of the visible parts' embeddings
down to 0.55 and 1.0-1.8 % visibility flips; with the stem in fp32,
Rank-1 unchanged (81.2, 88.7), cosine >= 0.9987 (mean 0.9998), 0.1 % flips, at the same speed
(150 vs 150 crops/s; fp32 88): the stem is a small share of the multiply-adds.

The accuracy cost is measured, not assumed: ``tests/test_export_int8.py`` holds the embedding
cosine and visibility flip rate against fp32 to a bound, and ``benchmarks/quantization.py``
reports Rank-1/mAP of the fp32 and int8 graphs on a dataset.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import onnx

from reid.errors import UserError
from reid.model_signature import INPUT_NAME

# Which nodes are quantized, by the module path the exporter writes into node names.
QUANTIZED_OPERATIONS = ("Conv",)
QUANTIZED_MODULE_PREFIXES = ("/model/backbone/",)
# ... except the stem: torchvision ResNets (``stem``), timm ResNets (``conv1``, a Sequential in the
# deep-stem variants) and HRNet (``conv1``, ``conv2``).
FP32_STEM_PREFIXES = ("/model/backbone/stem/", "/model/backbone/body/conv1/", "/model/backbone/body/conv2/")
DEFAULT_CALIBRATION_COUNT = 256
CALIBRATION_BATCH = 16
MIN_CALIBRATION_IMAGES = 8


@dataclass(frozen=True)
class Int8Quantization:
    """model: the quantized graph; quantized_nodes: names of the fp32 nodes now computed in int8;
    calibration_images: how many crops set the ranges."""

    model: onnx.ModelProto
    quantized_nodes: tuple[str, ...]
    calibration_images: int


def nodes_to_quantize(model: onnx.ModelProto, quantize_stem: bool = False) -> list[str]:
    """Names of the nodes the int8 graph computes in int8 (the declarative rule above);
    ``quantize_stem`` adds the stem's convolutions (only to measure what keeping it fp32 buys)."""
    return [
        node.name
        for node in model.graph.node
        if node.op_type in QUANTIZED_OPERATIONS
        and node.name.startswith(QUANTIZED_MODULE_PREFIXES)
        and (quantize_stem or not node.name.startswith(FP32_STEM_PREFIXES))
    ]


class _CalibrationBatches:
    """``onnxruntime.quantization.CalibrationDataReader``: float32 [B, 3, H, W] batches."""

    def __init__(self, images: np.ndarray, batch: int = CALIBRATION_BATCH):
        self._batches: Iterator[np.ndarray] = iter(
            [np.ascontiguousarray(images[start : start + batch]) for start in range(0, len(images), batch)]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        images = next(self._batches, None)
        return None if images is None else {INPUT_NAME: images}


def quantize_to_int8(
    model: onnx.ModelProto, calibration_images: np.ndarray, quantize_stem: bool = False
) -> Int8Quantization:
    """The int8 graph of an fp32 part-feature graph.

    model: the fp32 graph (``build_onnx_model``); its metadata is carried over unchanged (the
    caller sets the precision). calibration_images: float32 [N, 3, H, W], preprocessed exactly like
    the runtime's input (``reid.runtime.preprocessing``), N >= 8; a few hundred crops of the
    cameras or dataset the model will see. quantize_stem: see ``nodes_to_quantize``.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if calibration_images.ndim != 4 or calibration_images.dtype != np.float32:
        raise ValueError(f"calibration images must be float32 [N, 3, H, W], got {calibration_images.dtype} {calibration_images.shape}")
    if len(calibration_images) < MIN_CALIBRATION_IMAGES:
        raise UserError(f"int8 calibration needs at least {MIN_CALIBRATION_IMAGES} crops, got {len(calibration_images)}")
    if not nodes_to_quantize(model, quantize_stem):
        raise UserError("int8: the graph has no backbone convolutions to quantize (not a BPSEMA export?)")
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    with tempfile.TemporaryDirectory(prefix="bpsema-int8-") as directory:
        fp32_path = Path(directory) / "fp32.onnx"
        prepared_path = Path(directory) / "prepared.onnx"
        int8_path = Path(directory) / "int8.onnx"
        fp32_path.write_bytes(model.SerializeToString())
        # Shape inference and ORT's basic fusions first, as onnxruntime.quantization recommends.
        quant_pre_process(str(fp32_path), str(prepared_path), skip_symbolic_shape=True)
        selected = nodes_to_quantize(onnx.load(str(prepared_path)), quantize_stem)  # names as they stand after the pre-processing
        quantize_static(
            str(prepared_path),
            str(int8_path),
            _CalibrationBatches(calibration_images),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_quantize=selected,
            op_types_to_quantize=list(QUANTIZED_OPERATIONS),
        )
        quantized = onnx.load(str(int8_path))
    del quantized.metadata_props[:]
    onnx.helper.set_model_props(quantized, metadata)
    return Int8Quantization(quantized, tuple(selected), len(calibration_images))
