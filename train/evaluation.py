"""Retrieval evaluation of a model on a dataset's query/gallery splits.

Two rankings: the visible-part distance over ``PartFeatures`` (the method), and the Euclidean
distance of the BN-necked global embedding alone (a baseline).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from reid.distance import euclidean_distance, visible_part_distance
from reid.features import PartFeatures
from reid.metrics import RankResult, evaluate_rank
from reid.model import BPSEMA, part_features_from_output
from train.augmentation import AugmentationSettings
from train.datasets import ReIDDataset, ReIDSample
from train.image_datasets import outputs_on_test_images
from train.part_visibility import PartVisibilityReport, label_visibility, visibility_report

REPORTED_RANKS = (1, 5, 10, 20)


@dataclass(frozen=True)
class RetrievalScores:
    """Fractions in [0, 1]."""

    rank1: float
    rank5: float
    rank10: float
    rank20: float
    mAP: float

    @staticmethod
    def from_rank_result(result: RankResult) -> "RetrievalScores":
        ranks = [result.rank(min(r, len(result.cmc))) for r in REPORTED_RANKS]
        return RetrievalScores(*ranks, mAP=result.mAP)


@dataclass(frozen=True)
class EvaluationReport:
    dataset: str
    num_query: int
    num_gallery: int
    visible_parts: RetrievalScores
    global_: RetrievalScores
    # The queries' predicted part visibility against their label files (None without labels).
    query_part_visibility: "PartVisibilityReport | None" = field(default=None)

    def to_json_dict(self) -> dict:
        result = {
            "dataset": self.dataset,
            "num_query": self.num_query,
            "num_gallery": self.num_gallery,
            "visible_parts": asdict(self.visible_parts),
            "global": asdict(self.global_),
        }
        if self.query_part_visibility is not None:
            result["query_part_visibility"] = self.query_part_visibility.to_json_dict()
        return result

    def write_json(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json_dict(), indent=2) + "\n")

    def table(self) -> str:
        header = f"{self.dataset}: {self.num_query} queries, {self.num_gallery} gallery images"
        lines = [header, f"  {'distance':<14} | Rank-1 | Rank-5 | Rank-10 | Rank-20 |   mAP"]
        for name, scores in (("visible parts", self.visible_parts), ("global (avg-pool)", self.global_)):
            lines.append(
                f"  {name:<14} | {100 * scores.rank1:6.2f} | {100 * scores.rank5:6.2f} | {100 * scores.rank10:7.2f} |"
                f" {100 * scores.rank20:7.2f} | {100 * scores.mAP:5.2f}"
            )
        if self.query_part_visibility is not None:
            lines.append(self.query_part_visibility.table())
        return "\n".join(lines)


@torch.no_grad()
def extract_test_features(
    model: BPSEMA,
    samples: list[ReIDSample],
    settings: AugmentationSettings,
    batch_size: int = 64,
    num_workers: int = 0,
    description: str = "features",
    progress: bool = True,
) -> tuple[PartFeatures, torch.Tensor]:
    """Returns (part features [N, 1+K, D], normalised global embeddings [N, D]) on the CPU."""
    parts, globals_ = [], []
    for output in outputs_on_test_images(model, samples, settings, batch_size, num_workers, description, progress):
        parts.append(part_features_from_output(output).to("cpu"))
        globals_.append(F.normalize(output.global_embedding_normalized.float(), dim=-1).cpu())
    if not parts:
        return PartFeatures.empty(model.num_parts, model.embedding_dim), torch.zeros(0, model.embedding_dim)
    return PartFeatures.concatenate(parts), torch.cat(globals_)


def evaluate_model(
    model: BPSEMA,
    dataset: ReIDDataset,
    settings: AugmentationSettings,
    batch_size: int = 64,
    num_workers: int = 0,
    chunk_size: int = 500,
    progress: bool = True,
) -> EvaluationReport:
    query_parts, query_global = extract_test_features(
        model, dataset.query, settings, batch_size, num_workers, "query", progress
    )
    gallery_parts, gallery_global = extract_test_features(
        model, dataset.gallery, settings, batch_size, num_workers, "gallery", progress
    )
    query_pids = np.array([s.pid for s in dataset.query])
    query_cams = np.array([s.camid for s in dataset.query])
    gallery_pids = np.array([s.pid for s in dataset.gallery])
    gallery_cams = np.array([s.camid for s in dataset.gallery])

    part_distances = visible_part_distance(query_parts, gallery_parts, chunk_size=chunk_size)
    global_distances = euclidean_distance(query_global, gallery_global, chunk_size=chunk_size)
    scores = [
        RetrievalScores.from_rank_result(
            evaluate_rank(distances.numpy(), query_pids, gallery_pids, query_cams, gallery_cams)
        )
        for distances in (part_distances, global_distances)
    ]
    truth = label_visibility(dataset.query, model.num_parts, dataset.name)
    part_visibility = (
        visibility_report(query_parts.visibility[:, 1:], truth, model.part_names) if truth is not None else None
    )
    return EvaluationReport(
        dataset.name, len(dataset.query), len(dataset.gallery), scores[0], scores[1], part_visibility
    )


def evaluate_colour_histogram(dataset: ReIDDataset, chunk_size: int = 500) -> RetrievalScores:
    """Rank-k / mAP of the colour-histogram baseline (``train.colour_histogram_baseline``) on the
    same query/gallery splits and protocol as ``evaluate_model``."""
    from train.colour_histogram_baseline import colour_histogram_features

    query = colour_histogram_features([s.image_path for s in dataset.query])
    gallery = colour_histogram_features([s.image_path for s in dataset.gallery])
    distances = euclidean_distance(query, gallery, chunk_size=chunk_size)
    return RetrievalScores.from_rank_result(
        evaluate_rank(
            distances.numpy(),
            np.array([s.pid for s in dataset.query]),
            np.array([s.pid for s in dataset.gallery]),
            np.array([s.camid for s in dataset.query]),
            np.array([s.camid for s in dataset.gallery]),
        )
    )
