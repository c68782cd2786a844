"""ONNX Runtime backend (CPU, or CUDA with onnxruntime-gpu): runs an exported ``.onnx``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from reid.cpu_cores import cpu_core_count
from reid.errors import UserError
from reid.model_signature import INPUT_NAME, OUTPUT_NAMES, ModelSignature
from reid.features import PartFeatures
from reid.runtime.extractor import ExtractorInfo, PartFeatureExtractor

CPU_PROVIDER = "CPUExecutionProvider"
CUDA_PROVIDER = "CUDAExecutionProvider"


def available_providers() -> list[str]:
    """ONNX Runtime execution providers installed here ([] when onnxruntime is missing)."""
    try:
        import onnxruntime
    except ImportError:
        return []
    return list(onnxruntime.get_available_providers())


def session_options(threads: int | None = None, spinning: bool = False):
    """Full graph optimisation (fusions, NCHWc layout on CPU), intra-op threads = cores.

    spinning: whether ONNX Runtime's idle worker threads busy-wait for the next run (its default).
    Off here: in the pipeline the extractor alternates with YOLO, the tracker and the association in
    the same process, and spinning threads take the cores those need. On the demo (2 cores) YOLO's
    detection ran at half speed behind a spinning extractor (``python benchmarks/onnxruntime_spinning.py``).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or cpu_core_count()
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.log_severity_level = 3  # errors only
    return options


def _cuda_device_index(device: str) -> int:
    return int(device.split(":", 1)[1]) if ":" in device else 0


class OnnxRuntimeExtractor(PartFeatureExtractor):
    def __init__(
        self,
        onnx_path: str | Path,
        device: str = "cpu",
        max_batch: int = 64,
        threads: int | None = None,
        selection: str = "",
        spinning: bool = False,
    ):
        try:
            import onnxruntime
        except ImportError as error:
            raise UserError("the onnxruntime backend needs the onnxruntime package (pip install onnxruntime)") from error
        onnx_path = Path(onnx_path)
        if not onnx_path.is_file():
            raise UserError(f"{onnx_path}: ONNX model not found")
        if device.startswith("cuda"):
            if CUDA_PROVIDER not in onnxruntime.get_available_providers():
                raise UserError(
                    f"ONNX Runtime has no {CUDA_PROVIDER} here (install onnxruntime-gpu, or use device 'cpu')"
                )
            device = f"cuda:{_cuda_device_index(device)}"
            providers = [(CUDA_PROVIDER, {"device_id": _cuda_device_index(device)}), CPU_PROVIDER]
        elif device == "cpu":
            providers = [CPU_PROVIDER]
        else:
            raise UserError(f"unknown device {device!r} for onnxruntime (use 'cpu' or 'cuda[:N]')")
        try:
            self.session = onnxruntime.InferenceSession(
                str(onnx_path), sess_options=session_options(threads, spinning), providers=providers
            )
        except Exception as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserError(f"{onnx_path}: ONNX Runtime cannot load the model ({first_line})") from error
        if device.startswith("cuda") and CUDA_PROVIDER not in self.session.get_providers():
            raise UserError(f"{onnx_path}: ONNX Runtime could not start {CUDA_PROVIDER} (CUDA/cuDNN libraries missing?)")
        inputs = [item.name for item in self.session.get_inputs()]
        outputs = [item.name for item in self.session.get_outputs()]
        if inputs != [INPUT_NAME] or sorted(outputs) != sorted(OUTPUT_NAMES):
            raise UserError(
                f"{onnx_path}: expected input '{INPUT_NAME}' and outputs {list(OUTPUT_NAMES)}, got {inputs} -> {outputs}"
            )
        metadata = self.session.get_modelmeta().custom_metadata_map
        info = ExtractorInfo(
            backend="onnxruntime",
            device=device,
            runner=self.session.get_providers()[0],
            signature=ModelSignature.from_metadata(metadata, source=str(onnx_path)),
            max_batch=max_batch,
            model_path=onnx_path,
            selection=selection,
        )
        super().__init__(info)

    def _run(self, images: np.ndarray) -> PartFeatures:
        embeddings, visibility = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: images})
        return PartFeatures(
            torch.from_numpy(np.asarray(embeddings, dtype=np.float32)),
            torch.from_numpy(np.asarray(visibility, dtype=bool)),
        )

    def close(self) -> None:
        self.session = None
