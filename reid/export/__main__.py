"""python -m reid.export --checkpoint FILE --format onnx|engine [--precision fp32|fp16|int8]
[--calibration DIR] [--calibration-count 256] [--max-batch 64] [--opt-batch N] [--out FILE]
[--cache-dir DIR] [--device N] [--debug]

ONNX: one self-contained file, input ``images`` [N,3,H,W], outputs ``embeddings`` and
``visibility``, the model's signature in its metadata. ``--precision int8`` (ONNX only, for ONNX
Runtime on the CPU) quantizes the backbone's convolutions, calibrated on crops read from
``--calibration DIR``. Engine: built through the engine cache (needs TensorRT and a CUDA device;
without them: one line, exit code 2) and copied to --out.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence

from reid.errors import UserError, run_command_line
from reid.export.int8_quantization import DEFAULT_CALIBRATION_COUNT
from reid.model_signature import ENGINE_PRECISIONS, PRECISIONS, ModelSignature


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reid.export", description="Export a BPSEMA checkpoint to ONNX or a TensorRT engine."
    )
    parser.add_argument("--checkpoint", required=True, type=Path, help="checkpoint file (.pt) to export")
    parser.add_argument("--format", required=True, choices=("onnx", "engine"), help="what to write")
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=PRECISIONS,
        help="fp16: the mixed fp16/fp32 graph (TensorRT); int8: backbone convolutions in int8 (ONNX Runtime, CPU)",
    )
    parser.add_argument(
        "--calibration", type=Path, default=None, help="int8 only: folder of person crops (e.g. a dataset's bounding_box_train)"
    )
    parser.add_argument(
        "--calibration-count", type=int, default=DEFAULT_CALIBRATION_COUNT, help="int8 only: crops drawn from --calibration"
    )
    parser.add_argument("--max-batch", type=int, default=64, help="engine only: largest batch (default 64)")
    parser.add_argument("--opt-batch", type=int, default=None, help="engine only: batch to tune for (default max/2)")
    parser.add_argument("--out", type=Path, default=None, help="output file (default: beside the checkpoint)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="ONNX/engine cache (default ~/.cache/bpsema)")
    parser.add_argument("--device", type=int, default=0, help="engine only: CUDA device index")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _default_output(checkpoint: Path, output_format: str, precision: str, max_batch: int) -> Path:
    if output_format == "onnx":
        suffix = ".onnx" if precision == "fp32" else f"-{precision}.onnx"
    else:
        suffix = f"-{precision}-b{max_batch}.engine"
    return checkpoint.with_name(checkpoint.stem + suffix)


def _describe(signature: ModelSignature) -> str:
    k, d = signature.num_parts, signature.embedding_dim
    return (
        f"images float32 [N,3,{signature.input_height},{signature.input_width}] -> embeddings float32 [N,{1 + k},{d}], "
        f"visibility bool [N,{1 + k}]; K={k} ({', '.join(signature.part_names)}), {signature.precision}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    checkpoint: Path = arguments.checkpoint
    if not checkpoint.is_file():
        raise UserError(f"{checkpoint}: checkpoint not found")
    if arguments.format == "engine" and arguments.precision not in ENGINE_PRECISIONS:
        raise UserError(
            f"--precision {arguments.precision} is for ONNX Runtime on the CPU (--format onnx); engines take "
            f"{' or '.join(ENGINE_PRECISIONS)}"
        )
    if arguments.precision == "int8" and arguments.calibration is None:
        raise UserError("--precision int8 needs --calibration DIR: a folder of person crops to set the int8 ranges")
    if arguments.calibration is not None and arguments.precision != "int8":
        raise UserError("--calibration is only used with --precision int8")
    output = arguments.out or _default_output(checkpoint, arguments.format, arguments.precision, arguments.max_batch)
    started = time.perf_counter()

    if arguments.format == "onnx":
        from reid.checkpoint import file_sha256, load_model
        from reid.export.onnx_export import export_onnx

        model = load_model(checkpoint)  # a foreign or damaged file fails here, with its own line
        calibration_images = None
        if arguments.precision == "int8":
            from reid.export.calibration_images import calibration_images_from_directory

            calibration_images = calibration_images_from_directory(
                arguments.calibration, ModelSignature.from_config(model.config), arguments.calibration_count
            )
            print(f"calibrating int8 on {len(calibration_images)} crops from {arguments.calibration}", file=sys.stderr)
        print(f"exporting {checkpoint} to ONNX ({arguments.precision}) ...", file=sys.stderr)
        signature = export_onnx(
            model,
            output,
            checkpoint_sha256=file_sha256(checkpoint),
            precision=arguments.precision,
            calibration_images=calibration_images,
        )
    else:
        from reid.engine_key import BatchProfile
        from reid.export.onnx_cache import onnx_for_checkpoint
        from reid.export.tensorrt_engine import build_engine, require_tensorrt

        profile = BatchProfile.up_to(arguments.max_batch, arguments.opt_batch)
        require_tensorrt()  # fail in one line before any export work
        from reid.checkpoint import read_checkpoint

        read_checkpoint(checkpoint)  # a foreign file fails here, with its own line
        onnx_path = onnx_for_checkpoint(checkpoint, arguments.precision, arguments.cache_dir)
        engine_path = build_engine(onnx_path, profile, arguments.cache_dir, arguments.device)
        output.parent.mkdir(parents=True, exist_ok=True)
        if output.resolve() != engine_path.resolve():
            shutil.copyfile(engine_path, output)
        from reid.export.engine_file import read_engine_file

        engine = read_engine_file(output)
        signature = engine.signature
        print(f"engine cache: {engine_path} (TensorRT {engine.key.tensorrt_version}, {engine.key.gpu_name})", file=sys.stderr)

    size_mb = output.stat().st_size / 1e6
    print(f"wrote {output} ({size_mb:.1f} MB, {time.perf_counter() - started:.1f} s): {_describe(signature)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command_line(main))
