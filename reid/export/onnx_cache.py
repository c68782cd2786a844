"""ONNX exports of checkpoints, cached under the checkpoint's sha256, so a runtime can be handed
a checkpoint and run it with ONNX Runtime or TensorRT without a manual export step."""

from __future__ import annotations

import logging
from pathlib import Path

from reid.checkpoint import file_sha256, load_model
from reid.errors import UserError
from reid.export.cache_directory import resolve_cache_dir
from reid.export.onnx_export import ONNX_OPSET, export_onnx, read_onnx_signature
from reid.model_signature import SIGNATURE_FORMAT, Precision

LOGGER = logging.getLogger("reid.export")


def cached_onnx_path(checkpoint_sha256: str, precision: Precision, cache_dir: str | Path | None = None) -> Path:
    """cache_dir/onnx/<sha256 of the checkpoint>-<precision>-<format>-opset<N>.onnx"""
    name = f"{checkpoint_sha256}-{precision}-{SIGNATURE_FORMAT}-opset{ONNX_OPSET}.onnx"
    return resolve_cache_dir(cache_dir) / "onnx" / name


def onnx_for_checkpoint(
    checkpoint: str | Path, precision: Precision = "fp32", cache_dir: str | Path | None = None
) -> Path:
    """The cached ONNX export of ``checkpoint``, exported now when absent or unreadable."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise UserError(f"{checkpoint}: checkpoint not found")
    if precision == "int8":
        raise UserError(
            "the int8 graph is calibrated on crops, so it is not compiled on the fly: export it with "
            f"python -m reid.export --checkpoint {checkpoint} --format onnx --precision int8 --calibration DIR, "
            "then load the .onnx"
        )
    checkpoint_sha256 = file_sha256(checkpoint)
    path = cached_onnx_path(checkpoint_sha256, precision, cache_dir)
    if path.is_file():
        try:
            signature = read_onnx_signature(path)
            if signature.checkpoint_sha256 == checkpoint_sha256 and signature.precision == precision:
                return path
            LOGGER.warning("cached ONNX %s does not match %s; exporting again", path, checkpoint)
        except UserError as error:
            LOGGER.warning("cached ONNX rejected (%s); exporting again", error)
    LOGGER.info("exporting %s to ONNX (%s) at %s", checkpoint, precision, path)
    export_onnx(load_model(checkpoint), path, checkpoint_sha256=checkpoint_sha256, precision=precision)
    return path
