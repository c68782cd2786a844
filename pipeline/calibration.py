"""Distance thresholds calibrated for a model: the visible-part distance and the global distance live
on different scales, so one fixed number would favour one of them. The threshold for a mode is the
distance under which only ``false_match_rate`` of different-identity image pairs fall, measured on
a ReID split the model was not trained on (query + gallery of the test identities).

    python -m pipeline.calibrate --reid MODEL --dataset synthetic --data-root WORLD [--false-match-rate 0.02]

writes ``MODEL.calibration.json``; ``association.distance_threshold: auto`` reads it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from reid.distance import visible_part_distance
from reid.errors import UserError
from reid.features import PartFeatures

DISTANCE_MODES = ("visible_parts", "global")
DEFAULT_FALSE_MATCH_RATE = 0.02


@dataclass(frozen=True)
class DistanceCalibration:
    thresholds: dict[str, float]
    false_match_rate: float
    dataset: str
    images: int
    same_identity_median: dict[str, float]
    different_identity_median: dict[str, float]

    def to_json_dict(self) -> dict:
        return asdict(self)


def calibration_path(model_path: str | Path) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + ".calibration.json")


def load_calibration(model_path: str | Path) -> DistanceCalibration | None:
    path = calibration_path(model_path)
    if not path.is_file():
        return None
    try:
        return DistanceCalibration(**json.loads(path.read_text()))
    except (TypeError, ValueError) as error:
        raise UserError(f"{path}: not a calibration file ({error})") from None


def mode_distances(features: PartFeatures, mode: str) -> np.ndarray:
    """All-pairs distance [N, N] for one association mode (inf where nothing is shared)."""
    if mode == "global":
        features = PartFeatures(features.embeddings[:, :1], torch.ones(len(features), 1, dtype=torch.bool))
    return visible_part_distance(features, features).double().numpy()


def calibrate(extractor, samples, dataset_name: str, false_match_rate: float = DEFAULT_FALSE_MATCH_RATE) -> DistanceCalibration:
    """samples: ``train.datasets.ReIDSample``s of identities the model was not trained on."""
    if not 0 < false_match_rate < 1:
        raise UserError(f"false match rate must be in (0, 1), got {false_match_rate}")
    from reid.image_files import read_bgr

    features = extractor.extract([read_bgr(sample.image_path) for sample in samples])
    pids = np.array([sample.pid for sample in samples])
    cameras = np.array([sample.camid for sample in samples])
    same = (pids[:, None] == pids[None, :]) & (cameras[:, None] != cameras[None, :])
    different = pids[:, None] != pids[None, :]
    if not same.any() or not different.any():
        raise UserError(f"{dataset_name}: calibration needs identities seen by two cameras and several identities")
    thresholds, same_median, different_median = {}, {}, {}
    for mode in DISTANCE_MODES:
        distances = mode_distances(features, mode)
        negatives = distances[different]
        negatives = negatives[np.isfinite(negatives)]
        positives = distances[same]
        positives = positives[np.isfinite(positives)]
        thresholds[mode] = float(np.quantile(negatives, false_match_rate))
        same_median[mode] = float(np.median(positives)) if positives.size else float("nan")
        different_median[mode] = float(np.median(negatives))
    return DistanceCalibration(thresholds, false_match_rate, dataset_name, len(samples), same_median, different_median)


def write_calibration(model_path: str | Path, calibration: DistanceCalibration) -> Path:
    path = calibration_path(model_path)
    path.write_text(json.dumps(calibration.to_json_dict(), indent=2) + "\n")
    return path


def resolve_distance_threshold(association, model_path: str | Path) -> tuple[float, str]:
    """The number behind ``association.distance_threshold`` (``auto`` reads the model's calibration).

    Returns (threshold, where it came from) and sets it on ``association``.
    """
    from pipeline.config import DEFAULT_DISTANCE_THRESHOLD

    if association.distance_threshold != "auto":
        return float(association.distance_threshold), "configured"
    calibration = load_calibration(model_path)
    if calibration is None:
        association.distance_threshold = DEFAULT_DISTANCE_THRESHOLD
        return DEFAULT_DISTANCE_THRESHOLD, (
            f"default: no calibration at {calibration_path(model_path)} (python -m pipeline.calibrate)"
        )
    association.distance_threshold = calibration.thresholds[association.distance]
    return association.distance_threshold, f"calibrated on {calibration.dataset}"
