"""What a compiled part-feature model takes and gives: one definition, shared by the ONNX
metadata, the TensorRT engine header and every runtime backend.

The exported graph has one input and exactly two outputs:

| tensor       | dtype   | shape          | meaning                                                        |
|--------------|---------|----------------|----------------------------------------------------------------|
| `images`     | float32 | [N, 3, H, W]   | RGB crops resized to H x W, scaled to [0, 1], normalised by mean/std |
| `embeddings` | float32 | [N, 1+K, D]    | index 0 foreground, 1..K body parts, each L2-normalised        |
| `visibility` | bool    | [N, 1+K]       | whether each embedding is visible in its crop                  |
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Literal, Mapping

from reid.config import ReIDConfig
from reid.errors import UserError
from reid.part_groups import part_names

SIGNATURE_FORMAT = "bpsema-part-features-v1"
INPUT_NAME = "images"
EMBEDDINGS_NAME = "embeddings"
VISIBILITY_NAME = "visibility"
OUTPUT_NAMES = (EMBEDDINGS_NAME, VISIBILITY_NAME)

Precision = Literal["fp32", "fp16", "int8"]
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")
# fp16: the mixed graph for strongly typed TensorRT; int8: the calibrated graph for ONNX Runtime on the CPU.
ENGINE_PRECISIONS: tuple[str, ...] = ("fp32", "fp16")


@dataclass(frozen=True)
class ModelSignature:
    """Input size and normalisation, K, part names, D, precision and source checkpoint of a model."""

    input_height: int
    input_width: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    num_parts: int
    part_names: tuple[str, ...]
    embedding_dim: int
    checkpoint_sha256: str
    precision: Precision = "fp32"
    backbone: str = ""
    visibility_rule: str = ""

    def __post_init__(self) -> None:
        if len(self.part_names) != self.num_parts:
            raise ValueError(f"{len(self.part_names)} part names for K={self.num_parts}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the network input."""
        return self.input_height, self.input_width

    @staticmethod
    def from_config(config: ReIDConfig, checkpoint_sha256: str = "", precision: Precision = "fp32") -> "ModelSignature":
        model = config.model
        return ModelSignature(
            input_height=config.input.height,
            input_width=config.input.width,
            mean=tuple(float(value) for value in config.input.mean),
            std=tuple(float(value) for value in config.input.std),
            num_parts=model.num_parts,
            part_names=tuple(part_names(model.num_parts)),
            embedding_dim=model.embedding_dim,
            checkpoint_sha256=checkpoint_sha256,
            precision=precision,
            backbone=model.backbone,
            visibility_rule=model.visibility,
        )

    def with_precision(self, precision: Precision) -> "ModelSignature":
        return dataclasses.replace(self, precision=precision)

    def to_metadata(self) -> dict[str, str]:
        """String key/value pairs (ONNX ``metadata_props``, the engine file header)."""
        return {
            "format": SIGNATURE_FORMAT,
            "input_name": INPUT_NAME,
            "input_layout": "NCHW",
            "input_color_order": "RGB",
            "input_height": str(self.input_height),
            "input_width": str(self.input_width),
            "input_scale": "1/255",
            "input_mean": json.dumps(list(self.mean)),
            "input_std": json.dumps(list(self.std)),
            "num_parts": str(self.num_parts),
            "part_names": json.dumps(list(self.part_names)),
            "embedding_dim": str(self.embedding_dim),
            "outputs": (
                f"{EMBEDDINGS_NAME}: float32 [N, 1+K, D], index 0 foreground, 1..K body parts, L2-normalised; "
                f"{VISIBILITY_NAME}: bool [N, 1+K]"
            ),
            "checkpoint_sha256": self.checkpoint_sha256,
            "precision": self.precision,
            "backbone": self.backbone,
            "visibility_rule": self.visibility_rule,
        }

    @staticmethod
    def from_metadata(metadata: Mapping[str, str], source: str = "<model>") -> "ModelSignature":
        """Read back ``to_metadata``; a model exported by something else is a ``UserError``."""
        if metadata.get("format") != SIGNATURE_FORMAT:
            raise UserError(
                f"{source}: not a BPSEMA part-feature model (metadata 'format' is "
                f"{metadata.get('format')!r}, expected '{SIGNATURE_FORMAT}'); export it with python -m reid.export"
            )
        try:
            return ModelSignature(
                input_height=int(metadata["input_height"]),
                input_width=int(metadata["input_width"]),
                mean=tuple(float(value) for value in json.loads(metadata["input_mean"])),
                std=tuple(float(value) for value in json.loads(metadata["input_std"])),
                num_parts=int(metadata["num_parts"]),
                part_names=tuple(json.loads(metadata["part_names"])),
                embedding_dim=int(metadata["embedding_dim"]),
                checkpoint_sha256=metadata.get("checkpoint_sha256", ""),
                precision=metadata.get("precision", "fp32"),
                backbone=metadata.get("backbone", ""),
                visibility_rule=metadata.get("visibility_rule", ""),
            )
        except (KeyError, ValueError, TypeError) as error:
            raise UserError(f"{source}: damaged model metadata ({type(error).__name__}: {error})") from error
