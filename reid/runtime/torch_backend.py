"""PyTorch eager backend: runs a checkpoint's ``BPSEMA`` directly (fp32, eval mode)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from reid.checkpoint import file_sha256, load_model
from reid.model_signature import ModelSignature
from reid.features import PartFeatures
from reid.model import BPSEMA
from reid.runtime.extractor import ExtractorInfo, PartFeatureExtractor


class TorchExtractor(PartFeatureExtractor):
    def __init__(
        self,
        model: BPSEMA,
        device: str | torch.device = "cpu",
        max_batch: int = 64,
        model_path: Path | None = None,
        checkpoint_sha256: str = "",
        selection: str = "",
    ):
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        info = ExtractorInfo(
            backend="torch",
            device=str(self.device),
            runner=f"PyTorch {torch.__version__} eager",
            signature=ModelSignature.from_config(model.config, checkpoint_sha256, "fp32"),
            max_batch=max_batch,
            model_path=model_path,
            selection=selection,
        )
        super().__init__(info)

    @staticmethod
    def from_checkpoint(
        path: str | Path, device: str | torch.device = "cpu", max_batch: int = 64, selection: str = ""
    ) -> "TorchExtractor":
        path = Path(path)
        return TorchExtractor(load_model(path), device, max_batch, path, file_sha256(path), selection)

    def _run(self, images: np.ndarray) -> PartFeatures:
        with torch.inference_mode():
            batch = torch.from_numpy(images).to(self.device, non_blocking=True)
            features = self.model.extract_features(batch)
        # Clone outside inference mode: callers may modify the returned tensors in place.
        return PartFeatures(features.embeddings.to("cpu").clone(), features.visibility.to("cpu").clone())
