"""Typed model/training configuration, loaded from YAML and validated at load.

An unknown key or a value of the wrong type is a ``ConfigError`` whose message is one line
naming the file and the dotted key, e.g. ``configs/x.yaml: key 'model.num_parts': expected int, got str``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from reid.errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

BackboneName = Literal["resnet50", "resnet50_ibn", "hrnet_w32", "resnet18", "resnet10t"]


class ConfigError(UserError):
    """A configuration file that does not match the schema."""


@dataclass
class ModelConfig:
    backbone: BackboneName = "resnet50"
    pretrained: bool = True
    last_stride: Literal[1, 2] = 1  # torchvision ResNets: 1 keeps stride 16
    output_stride: Literal[8, 16] = 16  # timm backbones (resnet10t): the feature map's stride
    num_parts: Literal[5, 8] = 8
    embedding_dim: int = 512
    num_classes: int = 702
    # Dynamic Feature Refinement (the dimensionality-reduction layer on the spatial map).
    residual: bool = True
    se: bool = True
    se_reduction: int = 16
    # Efficient Multi-Scale Attention on the map that feeds the pixel (part) classifier.
    ema: bool = True
    ema_groups: int = 32
    # "binary": part k visible if some pixel's argmax is k; "continuous": max part probability >=
    # visibility_threshold; "calibrated": max part probability >= a threshold per part, fitted on
    # part labels after training (reid.visibility_calibration) and stored in the weights.
    visibility: Literal["binary", "continuous", "calibrated"] = "binary"
    # The per-part score the continuous and calibrated rules threshold: "max_probability" (the
    # part's highest probability on the map) or "attention_mass" (its mean probability over the map).
    visibility_score: Literal["max_probability", "attention_mass"] = "max_probability"
    visibility_threshold: float = 0.5


@dataclass
class InputConfig:
    height: int = 384
    width: int = 128
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))


@dataclass
class EmbeddingLossWeights:
    identity: float = 0.0
    triplet: float = 0.0


@dataclass
class GiltWeights:
    """Per-embedding weights of the identity and triplet losses (GiLt)."""

    global_: EmbeddingLossWeights = field(default_factory=EmbeddingLossWeights)
    foreground: EmbeddingLossWeights = field(default_factory=EmbeddingLossWeights)
    concat: EmbeddingLossWeights = field(default_factory=EmbeddingLossWeights)
    parts: EmbeddingLossWeights = field(default_factory=EmbeddingLossWeights)


@dataclass
class LossConfig:
    # Preset weights table (reid.losses.GILT_WEIGHT_PRESETS); `weights`, when given, replaces it.
    preset: Literal["occluded", "holistic"] = "occluded"
    weights: GiltWeights | None = None
    identity_label_smoothing: float = 0.1
    triplet_margin: float = 0.3
    triplet_visibility_masking: bool = True
    # Which visibility masks the part losses in training: the model's "predicted" one (the
    # reference) or the pixel targets' "labels" (a part counts where it has a target cell).
    triplet_visibility_source: Literal["predicted", "labels"] = "predicted"
    part_attention_weight: float = 0.35
    part_attention_label_smoothing: float = 0.1
    # Targets of the pixel classifier (reid.part_labels): the reference's "softmax_argmax", or
    # "smallest_part_first" (max-pooled cells; overlapping parts go to the smaller one).
    part_label_rule: Literal["softmax_argmax", "smallest_part_first"] = "softmax_argmax"


@dataclass
class TrainConfig:
    # Dataset to train on (train.datasets.DATASETS) and, when different, the one to evaluate on
    # (e.g. Occluded-REID has no training split: train on market1501, test on occluded_reid).
    dataset: str = "occluded_duke"
    test_dataset: str | None = None
    epochs: int = 120
    learning_rate: float = 3.5e-4
    weight_decay: float = 5e-4
    warmup_epochs: int = 10
    warmup_start_factor: float = 0.1
    milestones: list[int] = field(default_factory=lambda: [40, 70])
    gamma: float = 0.1
    identities_per_batch: int = 16
    images_per_identity: int = 4
    padding: int = 10
    random_erasing: float = 0.5
    horizontal_flip: bool = False
    colour_jitter: float = 0.0  # per-channel gains and brightness in 1 +- this
    mixed_precision: bool = True
    channels_last: bool = True
    weights_moving_average: bool = False
    weights_moving_average_decay: float = 0.9998
    checkpoint_every: int = 10
    evaluate_every: int = 0
    evaluation_batch_size: int = 64
    num_workers: int = 4
    seed: int = 0


@dataclass
class ReIDConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    input: InputConfig = field(default_factory=InputConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# YAML keys that are Python keywords get a trailing underscore on the dataclass field.
def _yaml_key(field_name: str) -> str:
    return field_name[:-1] if field_name.endswith("_") else field_name


def _type_name(expected: Any) -> str:
    origin = typing.get_origin(expected)
    if origin is Literal:
        return " | ".join(repr(value) for value in typing.get_args(expected))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in typing.get_args(expected))
    if origin is list:
        return f"list of {_type_name(typing.get_args(expected)[0])}"
    if origin is dict:
        return "mapping"
    if expected is type(None):
        return "null"
    if dataclasses.is_dataclass(expected):
        return "mapping"
    return getattr(expected, "__name__", str(expected))


def _convert(value: Any, expected: Any, key: str, source: str) -> Any:
    """Check ``value`` against the annotation ``expected``; build nested dataclasses."""
    origin = typing.get_origin(expected)
    if expected is Any:
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: key '{key}': expected a mapping, got {type(value).__name__}")
        key_type, value_type = typing.get_args(expected)
        return {
            _convert(item_key, key_type, f"{key}", source): _convert(item, value_type, f"{key}.{item_key}", source)
            for item_key, item in value.items()
        }
    if origin is Literal:
        choices = typing.get_args(expected)
        if value in choices and type(value) is type(choices[0]):
            return value
        raise ConfigError(f"{source}: key '{key}': expected one of {_type_name(expected)}, got {value!r}")
    if origin in (Union, types.UnionType):
        arguments = typing.get_args(expected)
        if value is None and type(None) in arguments:
            return None
        alternatives = [argument for argument in arguments if argument is not type(None)]
        if len(alternatives) == 1:  # Optional[X]: X's own (possibly nested) message
            return _convert(value, alternatives[0], key, source)
        for argument in alternatives:
            try:
                return _convert(value, argument, key, source)
            except ConfigError:
                continue
        raise ConfigError(f"{source}: key '{key}': expected {_type_name(expected)}, got {type(value).__name__} ({value!r})")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{source}: key '{key}': expected {_type_name(expected)}, got {type(value).__name__}")
        (item_type,) = typing.get_args(expected)
        return [_convert(item, item_type, f"{key}[{index}]", source) for index, item in enumerate(value)]
    if dataclasses.is_dataclass(expected):
        return _build_dataclass(expected, value, key, source)
    if expected is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif expected is bool or expected is str:
        if isinstance(value, expected):
            return value
    else:  # pragma: no cover - schema error, not user error
        raise TypeError(f"unsupported annotation {expected!r} for {key}")
    raise ConfigError(f"{source}: key '{key}': expected {_type_name(expected)}, got {type(value).__name__} ({value!r})")


def _build_dataclass(cls: type, values: Any, prefix: str, source: str) -> Any:
    if values is None:
        values = {}
    if not isinstance(values, dict):
        where = f"key '{prefix}'" if prefix else "top level"
        raise ConfigError(f"{source}: {where}: expected a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    fields_by_key = {_yaml_key(item.name): item for item in dataclasses.fields(cls)}
    arguments = {}
    for key, value in values.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields_by_key:
            known = ", ".join(sorted(fields_by_key))
            raise ConfigError(f"{source}: unknown key '{dotted}' (known keys here: {known})")
        item = fields_by_key[key]
        arguments[item.name] = _convert(value, hints[item.name], dotted, source)
    return cls(**arguments)


def _check_consistency(config: ReIDConfig, source: str) -> None:
    model = config.model
    if model.embedding_dim <= 0:
        raise ConfigError(f"{source}: key 'model.embedding_dim': must be positive, got {model.embedding_dim}")
    if model.ema and model.embedding_dim % model.ema_groups != 0:
        raise ConfigError(
            f"{source}: key 'model.ema_groups': {model.ema_groups} must divide model.embedding_dim ({model.embedding_dim})"
        )
    if model.num_classes <= 0:
        raise ConfigError(f"{source}: key 'model.num_classes': must be positive, got {model.num_classes}")
    for name in ("mean", "std"):
        values = getattr(config.input, name)
        if len(values) != 3:
            raise ConfigError(f"{source}: key 'input.{name}': expected 3 values, got {len(values)}")


def config_from_dict(values: dict, source: str = "<config>") -> ReIDConfig:
    """Validate a plain mapping (from YAML or a checkpoint) into a ``ReIDConfig``."""
    config = _build_dataclass(ReIDConfig, values, "", source)
    _check_consistency(config, source)
    return config


def config_to_dict(config: ReIDConfig) -> dict:
    """The plain mapping that ``config_from_dict`` reads back (YAML key names)."""

    def convert(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {_yaml_key(item.name): convert(getattr(value, item.name)) for item in dataclasses.fields(value)}
        if isinstance(value, list):
            return [convert(item) for item in value]
        return value

    return convert(config)


def read_yaml_mapping(path: str | Path) -> dict:
    """A YAML file's top-level mapping; a missing file or bad YAML is a one-line ``ConfigError``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from error
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: top level: expected a mapping, got {type(values).__name__}")
    return values


def build_typed_config(cls: type, values: dict, source: str):
    """Validate a plain mapping into the dataclass ``cls`` (unknown keys and wrong types are errors)."""
    return _build_dataclass(cls, values, "", source)


def load_config(path: str | Path) -> ReIDConfig:
    """Read and validate a YAML configuration file."""
    return config_from_dict(read_yaml_mapping(path), source=str(path))
