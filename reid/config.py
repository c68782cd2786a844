"""Typed model/training configuration, loaded from YAML and validated at load by pydantic (v2).

Each section is a dataclass declared with ``config_section`` (pydantic's strict mode,
``extra="forbid"``); the pipeline's configuration uses the same rules. An unknown key or a value of
the wrong type is a ``ConfigError`` whose message is one line naming the file and the dotted key,
e.g. ``configs/x.yaml: key 'model.num_parts': Input should be a valid integer, got str ('eight')``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence, Union

import yaml
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from reid.errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

BackboneName = Literal["resnet50", "resnet50_ibn", "hrnet_w32", "resnet18", "resnet10t"]
# What the classifier visibility rule reads from the probability maps (reid.modules.part_visibility_classifier).
VisibilityClassifierInput = Literal["probability", "log_probability"]


class ConfigError(UserError):
    """A configuration file that does not match the schema."""


class InconsistentSettingsError(ConfigError, ValueError):
    """Settings of one section that contradict each other (raised by a section's ``__post_init__``;
    pydantic reports it under the section's key when a file is loaded)."""


# Every section: unknown keys are refused, and values are not coerced ("512" is not an int).
SECTION_RULES = ConfigDict(extra="forbid", strict=True)


def config_section(cls: type | None = None, /, *, frozen: bool = False):
    """A configuration section: a dataclass that pydantic validates with ``SECTION_RULES``."""

    def wrap(section: type) -> type:
        section.__pydantic_config__ = SECTION_RULES
        return dataclass(frozen=frozen)(section)

    return wrap if cls is None else wrap(cls)


@config_section
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
    # part labels after training (reid.visibility_calibration) and stored in the weights;
    # "classifier": a linear classifier per part over the K+1 probability maps, fitted on part
    # labels after training (reid.modules.part_visibility_classifier) and stored in the weights.
    visibility: Literal["binary", "continuous", "calibrated", "classifier"] = "binary"
    # The per-part score the continuous and calibrated rules threshold: "max_probability" (the
    # part's highest probability on the map) or "attention_mass" (its mean probability over the map).
    visibility_score: Literal["max_probability", "attention_mass"] = "max_probability"
    visibility_threshold: float = 0.5
    # What the classifier rule reads from the K+1 probability maps: the "probability" itself or its
    # "log_probability" (log of probability + reid.modules.part_visibility_classifier.LOG_PROBABILITY_FLOOR).
    # Checkpoints fitted before the choice existed read the probability.
    visibility_classifier_input: VisibilityClassifierInput = "probability"


@config_section
class InputConfig:
    height: int = 384
    width: int = 128
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))


@config_section
class EmbeddingLossWeights:
    identity: float = 0.0
    triplet: float = 0.0


@config_section
class GiltWeights:
    """Per-embedding weights of the identity and triplet losses (GiLt)."""

    global_: Annotated[EmbeddingLossWeights, Field(alias="global")] = field(default_factory=EmbeddingLossWeights)
    foreground: EmbeddingLossWeights = field(default_factory=EmbeddingLossWeights)
    concat: EmbeddingLossWeights = field(default_factory=EmbeddingLossWeights)
    parts: EmbeddingLossWeights = field(default_factory=EmbeddingLossWeights)


@config_section
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


@config_section
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
    # A BPSEMA checkpoint (training or inference file) whose network weights start this run instead
    # of a fresh initialisation (fine-tuning); the identity classifiers and the visibility rule are
    # not taken from it. The architecture (model and input sections) must match.
    initial_weights: str | None = None


@config_section
class ReIDConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    input: InputConfig = field(default_factory=InputConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# YAML keys that are Python keywords get a trailing underscore on the dataclass field (and an alias).
def _yaml_key(field_name: str) -> str:
    return field_name[:-1] if field_name.endswith("_") else field_name


def _section_types(annotation: Any) -> list[Any]:
    """The configuration sections (dataclasses) an annotation may hold: X, X | None, list[X], Annotated[X, ...]."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _section_types(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType, list):
        return [section for argument in typing.get_args(annotation) for section in _section_types(argument)]
    return [annotation] if dataclasses.is_dataclass(annotation) else []


def _section_at(cls: type, path: Sequence[str | int]) -> type | None:
    """The section class that the YAML path leads to (list indices skipped), None when none does."""
    current = cls
    for part in path:
        if isinstance(part, int):
            continue
        hints = typing.get_type_hints(current, include_extras=True)
        names = {_yaml_key(item.name): item.name for item in dataclasses.fields(current)}
        if part not in names:
            return None
        sections = _section_types(hints[names[part]])
        if not sections:
            return None
        current = sections[0]
    return current


def _user_path(values: Any, location: Sequence[str | int]) -> list[str | int]:
    """The part of pydantic's error location that exists in the user's mapping (union member tags
    such as 'float' or "literal['auto']" are pydantic's, not keys)."""
    path: list[str | int] = []
    current = values
    for part in location:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        else:
            break
        path.append(part)
    return path


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _one_line(error: ValidationError, cls: type, values: dict, source: str) -> str:
    """The first validation problem as one line naming the file and the dotted key."""
    problem = error.errors()[0]
    kind, location = problem["type"], problem["loc"]
    path = _user_path(values, location)
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        section = _section_at(cls, path[:-1])
        known = ", ".join(sorted(_yaml_key(item.name) for item in dataclasses.fields(section))) if section else ""
        return f"{source}: unknown key '{_dotted(path)}'" + (f" (known keys here: {known})" if known else "")
    if kind in ("missing", "missing_argument"):
        return f"{source}: key '{_dotted([*path, location[len(path)]])}': required, not given"
    # A union (``float | Literal["auto"]``) fails once per member, at the same key: say every option.
    messages = [other["msg"] for other in error.errors() if _user_path(values, other["loc"]) == path]
    message = " or ".join(dict.fromkeys(messages)).removeprefix("Value error, ")
    where = f"key '{_dotted(path)}'" if path else "top level"
    given = problem.get("input")
    if kind == "value_error" or isinstance(given, dict):
        return f"{source}: {where}: {message}"
    return f"{source}: {where}: {message}, got {type(given).__name__} ({given!r})"


@functools.lru_cache(maxsize=None)
def _validator(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


def build_typed_config(cls: type, values: Any, source: str):
    """Validate a plain mapping into the configuration section ``cls`` with pydantic (unknown keys,
    wrong types and inconsistent settings are one-line ``ConfigError``s naming ``source`` and the key).

    The mapping goes through JSON so that pydantic's strict mode reads nested mappings as sections
    and still takes an integer where a float is expected (as YAML writes ``1`` for ``1.0``)."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: top level: expected a mapping, got {type(values).__name__}")
    text = json.dumps(values, default=str)
    try:
        return _validator(cls).validate_json(text)
    except ValidationError as error:
        raise ConfigError(_one_line(error, cls, json.loads(text), source)) from None


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
    config = build_typed_config(ReIDConfig, values, source)
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


def apply_overrides(values: dict, overrides: Sequence[str]) -> dict:
    """``values`` (a configuration mapping, changed in place and returned) with each ``KEY=VALUE`` of
    ``overrides`` set: KEY is a dotted path (``detector.confidence``; missing sections are created),
    VALUE is read as YAML (``0.3`` a number, ``true`` a boolean, ``[1, 2]`` a list, ``null`` unset,
    anything else text). The later of two overrides of one key wins. Whether the key exists and the
    value fits is checked afterwards, with the file, by the typed configuration.

    A malformed override (no ``=``, an empty key part, a path through a value that is not a section,
    a value that is not valid YAML) is a one-line ``ConfigError``."""
    for override in overrides:
        key, separator, text = override.partition("=")
        key = key.strip()
        parts = key.split(".")
        if not separator or not key or any(not part.strip() for part in parts):
            raise ConfigError(f"--set {override!r}: expected KEY=VALUE with a dotted KEY, e.g. detector.confidence=0.3")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            raise ConfigError(f"--set {override!r}: the value is not valid YAML (quote text that holds ':' or '#')") from None
        section = values
        for depth, part in enumerate(parts[:-1]):
            child = section.setdefault(part, {})
            if child is None:
                child = section[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(f"--set {override!r}: '{where}' is a value ({child!r}), not a section")
            section = child
        section[parts[-1]] = value
    return values


def overridden_source(path: str | Path, overrides: Sequence[str]) -> str:
    """How errors name a configuration file read with overrides: ``FILE`` or ``FILE with --set A=1 --set B=2``."""
    if not overrides:
        return str(path)
    return f"{path} with " + " ".join(f"--set {override}" for override in overrides)


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ReIDConfig:
    """Read and validate a YAML configuration file, with ``KEY=VALUE`` overrides (``apply_overrides``)."""
    values = apply_overrides(read_yaml_mapping(path), overrides)
    return config_from_dict(values, source=overridden_source(path, overrides))
