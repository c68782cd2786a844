"""Distance thresholds calibrated for a model: the visible-part distance and the foreground distance live
on different scales, so one fixed number would favour one of them. The threshold for a mode is the
distance under which only ``false_match_rate`` of different-identity image pairs fall, measured on
a ReID split the model was not trained on (query + gallery of the test identities).

    python -m train.calibrate_association --reid MODEL --dataset synthetic --data-root WORLD [--false-match-rate 0.02]

writes ``MODEL.calibration.json``; ``association.distance_threshold: auto`` reads it.

The association decides on tracklets, not images, so the calibration also measures
tracklet-to-tracklet distances: each identity's images of one camera are grouped into
pseudo-tracklets of ``tracklet_size`` images (and one of all of them), each a part memory like the
pipeline's (the mean of the visible embeddings per part), and the threshold per number of shared
embeddings is the distance under which ``tracklet_false_match_rate`` of different-identity
tracklet pairs sharing that many embeddings fall (counts with too few pairs borrow from their
neighbours).
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

DISTANCE_MODES = ("visible_parts", "foreground")
# Files written before the foreground embedding got its own name called it "global".
LEGACY_MODE_NAMES = {"global": "foreground"}
DEFAULT_FALSE_MATCH_RATE = 0.02
DEFAULT_TRACKLET_FALSE_MATCH_RATE = 0.001
DEFAULT_TRACKLET_SIZE = 4
MIN_PAIRS_PER_SHARED_COUNT = 500


@dataclass(frozen=True)
class DistanceCalibration:
    thresholds: dict[str, float]
    false_match_rate: float
    dataset: str
    images: int
    same_identity_median: dict[str, float]
    different_identity_median: dict[str, float]
    # Tracklet level (absent in files written before it existed): thresholds for 1, 2, ... shared
    # embeddings per mode, and what they were measured on.
    tracklet_thresholds_by_shared: dict[str, list[float]] | None = None
    tracklet_false_match_rate: float | None = None
    tracklet_size: int | None = None
    tracklets: int | None = None
    tracklet_same_identity_recall: dict[str, float] | None = None

    def to_json_dict(self) -> dict:
        return asdict(self)


def calibration_path(model_path: str | Path) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + ".calibration.json")


def _with_current_mode_names(values: dict) -> dict:
    """A calibration file's fields with every per-mode mapping keyed by today's mode names."""
    renamed = dict(values)
    for field_name, value in values.items():
        if isinstance(value, dict):
            renamed[field_name] = {LEGACY_MODE_NAMES.get(key, key): item for key, item in value.items()}
    return renamed


def load_calibration(model_path: str | Path) -> DistanceCalibration | None:
    path = calibration_path(model_path)
    if not path.is_file():
        return None
    try:
        return DistanceCalibration(**_with_current_mode_names(json.loads(path.read_text())))
    except (TypeError, ValueError) as error:
        raise UserError(f"{path}: not a calibration file ({error})") from None


def mode_distances(features: PartFeatures, mode: str) -> np.ndarray:
    """All-pairs distance [N, N] for one association mode (inf where nothing is shared)."""
    if mode == "foreground":
        features = PartFeatures(features.embeddings[:, :1], torch.ones(len(features), 1, dtype=torch.bool))
    return visible_part_distance(features, features).double().numpy()


def calibrate(
    extractor,
    samples,
    dataset_name: str,
    false_match_rate: float = DEFAULT_FALSE_MATCH_RATE,
    tracklet_false_match_rate: float = DEFAULT_TRACKLET_FALSE_MATCH_RATE,
    tracklet_size: int = DEFAULT_TRACKLET_SIZE,
) -> DistanceCalibration:
    """samples: ``train.datasets.ReIDSample``s of identities the model was not trained on."""
    for name, rate in (("false match rate", false_match_rate), ("tracklet false match rate", tracklet_false_match_rate)):
        if not 0 < rate < 1:
            raise UserError(f"{name} must be in (0, 1), got {rate}")
    if tracklet_size < 1:
        raise UserError(f"tracklet size must be at least 1, got {tracklet_size}")
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
    tracklet_thresholds, recall, tracklet_count = calibrate_tracklets(
        features, pids, cameras, tracklet_false_match_rate, tracklet_size
    )
    return DistanceCalibration(
        thresholds, false_match_rate, dataset_name, len(samples), same_median, different_median,
        tracklet_thresholds, tracklet_false_match_rate, tracklet_size, tracklet_count, recall,
    )


def pseudo_tracklets(
    features: PartFeatures, pids: np.ndarray, cameras: np.ndarray, size: int
) -> tuple[PartFeatures, np.ndarray, np.ndarray]:
    """Part memories of the images of one identity in one camera: consecutive groups of ``size``
    images (in file order) and one of all of them. -> (features [T, 1+K, D], pids [T], cameras [T])."""
    from pipeline.tracklets import PartMemory, memories_as_part_features

    embeddings, visibility = features.embeddings.numpy(), features.visibility.numpy()
    memories, tracklet_pids, tracklet_cameras = [], [], []
    for pid, camera in sorted(set(zip(pids.tolist(), cameras.tolist()))):
        rows = np.flatnonzero((pids == pid) & (cameras == camera))
        groups = [rows[start : start + size] for start in range(0, len(rows), size)]
        if len(groups) > 1:
            groups.append(rows)
        for group in groups:
            memory = PartMemory.zeros(embeddings.shape[1], embeddings.shape[2])
            for row in group:
                memory.add(embeddings[row].astype(np.float64), visibility[row])
            memories.append(memory)
            tracklet_pids.append(pid)
            tracklet_cameras.append(camera)
    return memories_as_part_features(memories), np.array(tracklet_pids), np.array(tracklet_cameras)


def thresholds_by_shared_count(
    distances: np.ndarray, shared: np.ndarray, different: np.ndarray, false_match_rate: float, num_embeddings: int
) -> list[float]:
    """Per shared count 1..num_embeddings, the ``false_match_rate`` quantile of the different-identity
    distances with that count; a count with fewer than ``MIN_PAIRS_PER_SHARED_COUNT`` pairs widens
    to its neighbouring counts until it has enough (or takes all)."""
    negatives = different & np.isfinite(distances)
    thresholds = []
    for count in range(1, num_embeddings + 1):
        for width in range(num_embeddings):
            chosen = negatives & (np.abs(shared - count) <= width)
            if chosen.sum() >= MIN_PAIRS_PER_SHARED_COUNT or width == num_embeddings - 1:
                break
        values = distances[chosen]
        thresholds.append(float(np.quantile(values, false_match_rate)) if values.size else 0.0)
    return thresholds


def calibrate_tracklets(
    features: PartFeatures, pids: np.ndarray, cameras: np.ndarray, false_match_rate: float, size: int
) -> tuple[dict[str, list[float]], dict[str, float], int]:
    """(thresholds by shared count per mode, same-identity cross-camera recall at them, tracklets)."""
    from pipeline.match_rule import MatchRule
    from reid.distance import shared_embedding_counts

    tracklets, tracklet_pids, tracklet_cameras = pseudo_tracklets(features, pids, cameras, size)
    different = tracklet_pids[:, None] != tracklet_pids[None, :]
    same = ~different & (tracklet_cameras[:, None] != tracklet_cameras[None, :])
    thresholds, recall = {}, {}
    for mode in DISTANCE_MODES:
        compared = tracklets
        if mode == "foreground":
            compared = PartFeatures(tracklets.embeddings[:, :1], torch.ones(len(tracklets), 1, dtype=torch.bool))
        distances = visible_part_distance(compared, compared).double().numpy()
        shared = shared_embedding_counts(compared, compared).numpy()
        thresholds[mode] = thresholds_by_shared_count(
            distances, shared, different, false_match_rate, compared.embeddings.shape[1]
        )
        accepted = MatchRule(tuple(thresholds[mode])).under_threshold(distances, shared)
        recall[mode] = float(accepted[same].mean()) if same.any() else float("nan")
    return thresholds, recall, len(tracklets)


def write_calibration(model_path: str | Path, calibration: DistanceCalibration) -> Path:
    path = calibration_path(model_path)
    path.write_text(json.dumps(calibration.to_json_dict(), indent=2) + "\n")
    return path


def resolve_distance_threshold(association, model_path: str | Path) -> tuple[float, str]:
    """The number behind ``association.distance_threshold`` (``auto`` reads the model's calibration).

    Returns (threshold, where it came from) and sets it on ``association``; also resolves
    ``association.splitting.threshold`` (see ``resolve_split_threshold``).
    """
    threshold, origin = _resolve_match_threshold(association, model_path)
    return threshold, origin + resolve_split_threshold(association, model_path)


def resolve_split_threshold(association, model_path: str | Path) -> str:
    """Sets ``association.splitting.threshold`` when it is ``auto``: the model's calibrated
    single-image foreground threshold; without a calibration it stays ``auto`` (no splitting).
    Returns the clause the start-up line adds."""
    splitting = association.splitting
    if not splitting.enabled:
        return "; tracks not split"
    if splitting.threshold == "auto":
        calibration = load_calibration(model_path)
        if calibration is None or "foreground" not in calibration.thresholds:
            return "; tracks not split (no calibration)"
        splitting.threshold = float(calibration.thresholds["foreground"])
    return f"; a track is split where {splitting.consecutive} crops in a row lie beyond foreground distance {float(splitting.threshold):.3f}"


def _resolve_match_threshold(association, model_path: str | Path) -> tuple[float, str]:
    from pipeline.config import DEFAULT_DISTANCE_THRESHOLD

    if association.distance_threshold != "auto":
        return float(association.distance_threshold), "configured"
    calibration = load_calibration(model_path)
    if calibration is None:
        association.distance_threshold = DEFAULT_DISTANCE_THRESHOLD
        return DEFAULT_DISTANCE_THRESHOLD, (
            f"default: no calibration at {calibration_path(model_path)} (python -m train.calibrate_association)"
        )
    by_shared = (calibration.tracklet_thresholds_by_shared or {}).get(association.distance)
    if by_shared:
        if association.thresholds_by_shared is None:
            association.thresholds_by_shared = [float(value) for value in by_shared]
        association.distance_threshold = float(max(association.thresholds_by_shared))
        shown = ", ".join(f"{value:.3f}" for value in association.thresholds_by_shared)
        return association.distance_threshold, (
            f"calibrated on {calibration.dataset} tracklets; by shared embeddings 1..{len(by_shared)}: {shown}"
        )
    association.distance_threshold = calibration.thresholds[association.distance]
    return association.distance_threshold, f"calibrated on {calibration.dataset} images (no tracklet calibration)"
