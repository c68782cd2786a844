"""A second opinion on the multi-camera score: IDF1 and HOTA from TrackEval on the merged sequence.

TrackEval (Luiten et al., the HOTA paper's code) is used as packaged on PyPI, ``trackeval==1.3.0``
(pinned in constraints.txt). That package runs on numpy 2 as it is, so no compatibility shim is
needed: its metrics no longer use ``np.float`` / ``np.int``. Version 1.0.0 requires numpy < 2,
1.2.0 is yanked, and the upstream GitHub code still uses the removed aliases (its issue #114,
"module 'numpy' has no attribute 'float'", is open), so it fails on numpy 2 when a metric runs.

The sequence scored is exactly the one ``pipeline.mtmc_evaluation`` scores: the same files, read by
``read_cameras`` (cameras in natural name order, laid end to end at the same frame offsets), and
the same frames from ``scored_frames`` (ignored ground truth, and the predictions that a Hungarian
IoU >= ``iou_threshold`` matching pairs with it, removed). Ids are relabelled to 0..n-1 and the
per-frame IoU matrices are handed to ``trackeval.metrics.Identity`` and ``trackeval.metrics.HOTA``
(``eval_sequence``) directly; TrackEval's dataset classes, file layout and config are not used.

Thresholds, as TrackEval compares them:

- Identity: a ground-truth box and a prediction can be an identity true positive when their IoU is
  ``>=`` the threshold (``np.greater_equal(similarity, THRESHOLD)``; default 0.5, set here to
  ``iou_threshold``): the same ``>=`` as our motmetrics distances, on the same IoU values, so the
  two IDF1 agree exactly (both take the min-cost global id assignment of Ristani et al.).
- HOTA: a match counts at localisation threshold alpha when IoU ``>= alpha - eps`` (float
  epsilon), for alpha = 0.05, 0.10, ..., 0.95; ``iou_threshold`` plays no part there (only in the
  removal of predictions on ignored ground truth). Reported HOTA, DetA, AssA, ... are the means over
  the 19 alphas, as in TrackEval's summaries (so HOTA is the mean of sqrt(DetA * AssA) per alpha,
  not sqrt(mean DetA * mean AssA)).

Where there is no ground truth, or no prediction, TrackEval gives IDF1 0 (our motmetrics table
gives NaN for an undefined score).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pipeline.mtmc_evaluation import (
    DEFAULT_IOU_THRESHOLD,
    CameraFiles,
    check_thresholds,
    iou_xywh,
    read_cameras,
    scored_frames,
)
from reid.errors import UserError


@dataclass(frozen=True)
class TrackEvalScores:
    """TrackEval's scores of the merged multi-camera sequence (fractions in [0, 1]).

    idf1 / idp / idr with their counts idtp / idfp / idfn (Identity metric); hota, deta, assa,
    detre, detpr, assre, asspr, loca: means over the localisation thresholds ``alphas`` (HOTA
    metric); hota_tp / hota_fn / hota_fp: detection counts per alpha (len(alphas) each);
    num_*: the size of the sequence handed to TrackEval, after ignored boxes are removed.
    """

    idf1: float
    idp: float
    idr: float
    idtp: int
    idfp: int
    idfn: int
    hota: float
    deta: float
    assa: float
    detre: float
    detpr: float
    assre: float
    asspr: float
    loca: float
    alphas: tuple[float, ...]
    hota_tp: tuple[int, ...]
    hota_fn: tuple[int, ...]
    hota_fp: tuple[int, ...]
    num_timesteps: int
    num_gt_ids: int
    num_tracker_ids: int
    num_gt_dets: int
    num_tracker_dets: int
    trackeval_version: str

    def to_json_dict(self) -> dict:
        return {key: (list(value) if isinstance(value, tuple) else value) for key, value in asdict(self).items()}


def _contiguous(ids_per_timestep: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Relabel ids (int64 arrays, one per timestep) to 0..n-1 over the whole sequence -> (arrays, n)."""
    unique = np.unique(np.concatenate(ids_per_timestep)) if ids_per_timestep else np.zeros(0, np.int64)
    return [np.searchsorted(unique, ids).astype(np.int64) for ids in ids_per_timestep], len(unique)


def trackeval_sequence(cameras: list[CameraFiles], iou_threshold: float = DEFAULT_IOU_THRESHOLD) -> dict:
    """The data dict of TrackEval's ``eval_sequence`` for the merged sequence of ``cameras``.

    One timestep per merged frame (T = the cameras' frame counts summed; merged frame
    ``offset + frame`` is timestep ``offset + frame - 1``). Per timestep t: gt_ids[t] int64 [N_t],
    tracker_ids[t] int64 [M_t] (contiguous 0..n-1) and similarity_scores[t] float64 [N_t, M_t], the IoU.
    """
    num_timesteps = cameras[-1].offset + cameras[-1].frame_count if cameras else 0
    empty = np.zeros(0, np.int64)
    gt_ids = [empty] * num_timesteps
    tracker_ids = [empty] * num_timesteps
    similarity_scores = [np.zeros((0, 0))] * num_timesteps
    for files in cameras:
        for scored in scored_frames(files.ground_truth, files.prediction, iou_threshold):
            timestep = files.offset + scored.frame - 1
            gt_ids[timestep] = scored.truth_ids
            tracker_ids[timestep] = scored.predicted_ids
            similarity_scores[timestep] = iou_xywh(scored.truth_boxes, scored.predicted_boxes)
    gt_ids, num_gt_ids = _contiguous(gt_ids)
    tracker_ids, num_tracker_ids = _contiguous(tracker_ids)
    return {
        "num_timesteps": num_timesteps,
        "num_gt_ids": num_gt_ids,
        "num_tracker_ids": num_tracker_ids,
        "num_gt_dets": sum(len(ids) for ids in gt_ids),
        "num_tracker_dets": sum(len(ids) for ids in tracker_ids),
        "gt_ids": gt_ids,
        "tracker_ids": tracker_ids,
        "similarity_scores": similarity_scores,
    }


def trackeval_scores(
    gt_dir: str | Path,
    pred_dir: str | Path,
    min_visibility: float = 0.0,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> TrackEvalScores:
    """TrackEval's IDF1 and HOTA of the merged multi-camera sequence (see the module docstring).

    The same input rules and one-line ``UserError`` as ``pipeline.mtmc_evaluation.evaluate_mtmc``;
    also a ``UserError`` when TrackEval is not installed.
    """
    try:
        import trackeval
        from trackeval.metrics import HOTA, Identity
    except ImportError as error:
        raise UserError(
            f"TrackEval is not available ({error}): pip install -c constraints.txt trackeval, or pass --no-trackeval"
        ) from None

    check_thresholds(min_visibility, iou_threshold)
    data = trackeval_sequence(read_cameras(gt_dir, pred_dir, min_visibility), iou_threshold)
    identity = Identity({"THRESHOLD": float(iou_threshold), "PRINT_CONFIG": False}).eval_sequence(data)
    hota_metric = HOTA()
    hota = hota_metric.eval_sequence(data)

    def mean(field: str) -> float:
        return float(np.mean(hota[field]))

    def counts(field: str) -> tuple[int, ...]:
        return tuple(int(round(value)) for value in hota[field])

    return TrackEvalScores(
        idf1=float(identity["IDF1"]),
        idp=float(identity["IDP"]),
        idr=float(identity["IDR"]),
        idtp=int(identity["IDTP"]),
        idfp=int(identity["IDFP"]),
        idfn=int(identity["IDFN"]),
        hota=mean("HOTA"),
        deta=mean("DetA"),
        assa=mean("AssA"),
        detre=mean("DetRe"),
        detpr=mean("DetPr"),
        assre=mean("AssRe"),
        asspr=mean("AssPr"),
        loca=mean("LocA"),
        alphas=tuple(round(float(alpha), 2) for alpha in hota_metric.array_labels),
        hota_tp=counts("HOTA_TP"),
        hota_fn=counts("HOTA_FN"),
        hota_fp=counts("HOTA_FP"),
        num_timesteps=data["num_timesteps"],
        num_gt_ids=data["num_gt_ids"],
        num_tracker_ids=data["num_tracker_ids"],
        num_gt_dets=data["num_gt_dets"],
        num_tracker_dets=data["num_tracker_dets"],
        trackeval_version=str(getattr(trackeval, "__version__", "unknown")),
    )
