"""Export a BPSEMA model to one self-contained ONNX file.

Input ``images`` float32 [N, 3, H, W] (dynamic N only); outputs ``embeddings`` float32
[N, 1+K, D] and ``visibility`` bool [N, 1+K] (see ``reid.model_signature``). The graph is
traced in eval mode with the TorchScript exporter (``dynamo=False``), which folds BatchNorm into
the convolutions, drops the identity classifiers, and writes every weight inside the file.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from reid.checkpoint import file_sha256, load_model
from reid.errors import UserError
from reid.export.fp16_graph import convert_to_fp16
from reid.export.int8_quantization import quantize_to_int8
from reid.model_signature import (
    EMBEDDINGS_NAME,
    INPUT_NAME,
    OUTPUT_NAMES,
    VISIBILITY_NAME,
    ModelSignature,
    Precision,
)
from reid.model import BPSEMA, part_features_from_output

ONNX_OPSET = 17
PRODUCER_NAME = "bpsema-mtmc reid.export"


class PartFeatureGraph(nn.Module):
    """The exported computation: the model's forward, then the test-time ``PartFeatures``."""

    def __init__(self, model: BPSEMA):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images float32 [N, 3, H, W] -> embeddings float32 [N, 1+K, D], visibility bool [N, 1+K]."""
        features = part_features_from_output(self.model(images))
        return features.embeddings, features.visibility


def _trace_to_onnx(model: BPSEMA, opset: int) -> onnx.ModelProto:
    config = model.config
    device = next(model.parameters()).device
    # Batch 2, so that nothing in the trace specialises on a batch of one.
    example = torch.zeros(2, 3, config.input.height, config.input.width, device=device)
    buffer = io.BytesIO()
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the legacy-exporter notice and tracer warnings on shape checks
            torch.onnx.export(
                PartFeatureGraph(model),
                (example,),
                buffer,
                dynamo=False,
                export_params=True,
                opset_version=opset,
                do_constant_folding=True,
                input_names=[INPUT_NAME],
                output_names=list(OUTPUT_NAMES),
                dynamic_axes={name: {0: "batch"} for name in (INPUT_NAME, *OUTPUT_NAMES)},
            )
    finally:
        model.train(was_training)
    return onnx.load_from_string(buffer.getvalue())


def _set_static_output_dims(graph: onnx.GraphProto, signature: ModelSignature) -> None:
    """The tracer names K+1 and D symbolically; they are fixed numbers of this model."""
    fixed = {
        EMBEDDINGS_NAME: (1 + signature.num_parts, signature.embedding_dim),
        VISIBILITY_NAME: (1 + signature.num_parts,),
    }
    for output in graph.output:
        dims = output.type.tensor_type.shape.dim
        for dim, value in zip(list(dims)[1:], fixed[output.name]):
            dim.Clear()
            dim.dim_value = value


def build_onnx_model(
    model: BPSEMA,
    checkpoint_sha256: str = "",
    precision: Precision = "fp32",
    opset: int = ONNX_OPSET,
    calibration_images: np.ndarray | None = None,
) -> onnx.ModelProto:
    """The checked ONNX model with its signature in the metadata.

    precision: "fp32"; "fp16" (the mixed graph for TensorRT); "int8" (backbone convolutions in int8
    for ONNX Runtime on the CPU, calibrated on ``calibration_images`` float32 [N, 3, H, W],
    preprocessed like the runtime's input).
    """
    if precision == "int8" and calibration_images is None:
        raise UserError("the int8 graph needs calibration crops (python -m reid.export ... --precision int8 --calibration DIR)")
    signature = ModelSignature.from_config(model.config, checkpoint_sha256, precision)
    onnx_model = _trace_to_onnx(model, opset)
    _set_static_output_dims(onnx_model.graph, signature)
    if precision == "fp16":
        onnx_model = convert_to_fp16(onnx_model).model
    elif precision == "int8":
        onnx_model = quantize_to_int8(onnx_model, calibration_images).model
    onnx_model.producer_name = PRODUCER_NAME
    onnx_model.doc_string = f"BPSEMA part features ({signature.backbone}, K={signature.num_parts}, D={signature.embedding_dim})"
    onnx.helper.set_model_props(onnx_model, signature.to_metadata())
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def save_onnx(onnx_model: onnx.ModelProto, path: str | Path) -> Path:
    """Write one file (no external-data sidecar), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(onnx_model.SerializeToString())
    temporary.replace(path)
    return path


def export_onnx(
    model: BPSEMA,
    path: str | Path,
    checkpoint_sha256: str = "",
    precision: Precision = "fp32",
    opset: int = ONNX_OPSET,
    calibration_images: np.ndarray | None = None,
) -> ModelSignature:
    """Export ``model`` to ``path``; returns the signature written into its metadata."""
    save_onnx(build_onnx_model(model, checkpoint_sha256, precision, opset, calibration_images), path)
    return ModelSignature.from_config(model.config, checkpoint_sha256, precision)


def export_checkpoint_to_onnx(
    checkpoint: str | Path,
    path: str | Path,
    precision: Precision = "fp32",
    calibration_images: np.ndarray | None = None,
) -> ModelSignature:
    """Export a checkpoint file; its sha256 goes into the metadata (int8: see ``build_onnx_model``)."""
    model = load_model(checkpoint)
    return export_onnx(
        model, path, checkpoint_sha256=file_sha256(checkpoint), precision=precision, calibration_images=calibration_images
    )


def read_onnx_signature(path: str | Path) -> ModelSignature:
    """The signature stored in an exported ONNX file's metadata."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: ONNX model not found")
    try:
        onnx_model = onnx.load(str(path), load_external_data=False)
    except Exception as error:
        raise UserError(f"{path}: not a readable ONNX model ({type(error).__name__})") from error
    metadata = {entry.key: entry.value for entry in onnx_model.metadata_props}
    return ModelSignature.from_metadata(metadata, source=str(path))
