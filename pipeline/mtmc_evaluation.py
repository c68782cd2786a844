"""Multi-camera tracking evaluation: multi-camera IDF1 / IDP / IDR plus per-camera CLEAR-MOT scores.

Inputs are MOTChallenge text files, one per camera, matched by file name (``cam1.txt``):

- ground truth ``gt/{camera}.txt``: ``frame,person_id,x,y,w,h,considered,class,visibility``
  (person_id is the global identity across cameras; visibility in [0, 1]);
- predictions ``mot/{camera}.txt``: ``frame,global_id,x,y,w,h,conf,-1,-1,-1``.

Frames are 1-based; x, y, w, h are a box's top-left corner, width and height in pixels.

Multi-camera scores (Ristani et al. 2016) come from one merged sequence: the cameras, in natural
name order, are laid end to end (each camera's frames are offset by the sum of the previous
cameras' frame counts, a camera's frame count being its last frame with a box) and identities are
shared across cameras, so a person scores identity true positives in a second camera only under
the same global id as in the first. A prediction matches a ground-truth box when their IoU is at
least ``iou_threshold`` (0.5). Distances fed to ``motmetrics.MOTAccumulator`` are ``1 - IoU``,
NaN beyond the threshold (computed here: motmetrics 1.4.0's ``iou_matrix`` breaks on numpy 2).

Ignored ground truth (``considered`` = 0, or visibility below ``min_visibility``) is neither a
miss nor a match, and a prediction that matches it (Hungarian matching, IoU >= threshold) is
removed rather than counted as a false positive, as in the MOTChallenge protocol.
A camera with ground truth but no prediction file scores all misses; a prediction file without
ground truth is an error.

``motp`` is reported as the mean IoU of matched pairs (MOTChallenge convention: higher is better),
not motmetrics' mean distance.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator

import numpy as np
from scipy.optimize import linear_sum_assignment

from reid.errors import UserError

DEFAULT_IOU_THRESHOLD = 0.5
MOTMETRICS_NAMES = (
    "idf1", "idp", "idr", "idtp", "idfp", "idfn",
    "mota", "motp", "num_switches", "num_false_positives", "num_misses",
    "num_objects", "num_predictions", "num_unique_objects", "mostly_tracked", "mostly_lost",
    "precision", "recall",
)


# --------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class MotTable:
    """The rows of one MOT file.

    frames: int64 [N], 1-based; ids: int64 [N]; boxes: float64 [N, 4] x, y, w, h in pixels;
    ignored: bool [N], ground-truth rows that are not scored (always False for predictions).
    """

    path: Path
    frames: np.ndarray
    ids: np.ndarray
    boxes: np.ndarray
    ignored: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def last_frame(self) -> int:
        return int(self.frames.max()) if len(self.frames) else 0

    @staticmethod
    def empty(path: Path) -> "MotTable":
        return MotTable(Path(path), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0, bool))


def _integer(text: str, what: str, where: str) -> int:
    value = float(text)
    if not math.isfinite(value) or value != int(value):
        raise UserError(f"{where}: {what} must be an integer, got {text.strip()!r}")
    return int(value)


def read_mot_file(path: str | Path, ground_truth: bool, min_visibility: float = 0.0) -> MotTable:
    """Read a ground-truth (``ground_truth=True``) or prediction MOT file; a bad line is a ``UserError``.

    Ground truth needs at least 6 columns (``considered`` and visibility default to 1 when absent);
    predictions need at least 6. Ids must be >= 0; a person or global id may appear only once per
    frame (a prediction that repeats an id in a frame cannot be scored, as in TrackEval).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a MOT text file (not UTF-8 text)") from None
    frames, ids, boxes, ignored = [], [], [], []
    seen: set[tuple[int, int]] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        values = line.split(",")
        if len(values) < 6:
            raise UserError(
                f"{where}: expected at least 6 comma-separated values (frame,id,x,y,w,h), got {len(values)}"
            )
        try:
            frame = _integer(values[0], "frame", where)
            identity = _integer(values[1], "id", where)
            box = [float(value) for value in values[2:6]]
            considered = float(values[6]) if ground_truth and len(values) > 6 else 1.0
            visibility = float(values[8]) if ground_truth and len(values) > 8 else 1.0
        except ValueError:
            raise UserError(f"{where}: not a number in {line.strip()!r}") from None
        if frame < 1:
            raise UserError(f"{where}: frames are 1-based, got frame {frame}")
        if identity < 0:
            raise UserError(f"{where}: ids must be >= 0, got {identity}")
        if not all(math.isfinite(value) for value in box) or box[2] < 0 or box[3] < 0:
            raise UserError(f"{where}: box x,y,w,h must be finite with w,h >= 0, got {box}")
        if (frame, identity) in seen:
            raise UserError(f"{where}: id {identity} appears twice in frame {frame}")
        seen.add((frame, identity))
        frames.append(frame)
        ids.append(identity)
        boxes.append(box)
        ignored.append(ground_truth and (considered == 0 or visibility < min_visibility))
    if not frames:
        return MotTable.empty(path)
    return MotTable(
        path,
        np.asarray(frames, np.int64),
        np.asarray(ids, np.int64),
        np.asarray(boxes, np.float64).reshape(-1, 4),
        np.asarray(ignored, bool),
    )


# ------------------------------------------------------------------------------------- geometry


def iou_xywh(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes first [N, 4] and second [M, 4] (x, y, w, h) -> float64 [N, M].

    Pairs whose union is empty (two zero-area boxes) have IoU 0.
    """
    first = np.asarray(first, np.float64).reshape(-1, 4)
    second = np.asarray(second, np.float64).reshape(-1, 4)
    first_x2, first_y2 = first[:, 0] + first[:, 2], first[:, 1] + first[:, 3]
    second_x2, second_y2 = second[:, 0] + second[:, 2], second[:, 1] + second[:, 3]
    width = np.minimum(first_x2[:, None], second_x2[None]) - np.maximum(first[:, None, 0], second[None, :, 0])
    height = np.minimum(first_y2[:, None], second_y2[None]) - np.maximum(first[:, None, 1], second[None, :, 1])
    intersection = np.clip(width, 0, None) * np.clip(height, 0, None)
    union = (first[:, 2] * first[:, 3])[:, None] + (second[:, 2] * second[:, 3])[None] - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, intersection / union, 0.0)
    return iou


def iou_distances(ground_truth_boxes: np.ndarray, predicted_boxes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """motmetrics distances [N, M]: 1 - IoU where IoU >= iou_threshold, NaN (cannot match) elsewhere."""
    iou = iou_xywh(ground_truth_boxes, predicted_boxes)
    return np.where(iou >= iou_threshold, 1.0 - iou, np.nan)


def predictions_on_ignored(
    ground_truth_boxes: np.ndarray, ignored: np.ndarray, predicted_boxes: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """bool [M]: predictions that a one-to-one matching against all ground truth pairs with an ignored box.

    ground_truth_boxes [N, 4] and predicted_boxes [M, 4] are x, y, w, h; ignored: bool [N].
    """
    dropped = np.zeros(len(predicted_boxes), bool)
    if not ignored.any() or not len(predicted_boxes):
        return dropped
    iou = iou_xywh(ground_truth_boxes, predicted_boxes)
    cost = np.where(iou >= iou_threshold, 1.0 - iou, 2.0)
    for row, column in zip(*linear_sum_assignment(cost)):
        if iou[row, column] >= iou_threshold and ignored[row]:
            dropped[column] = True
    return dropped


# --------------------------------------------------------------------------------------- scores


@dataclass(frozen=True)
class TrackingScores:
    """Identity and CLEAR-MOT scores of one sequence (fractions in [0, 1] except MOTA, which can be
    negative; NaN when undefined, e.g. no ground truth). motp: mean IoU of matched pairs."""

    idf1: float
    idp: float
    idr: float
    idtp: int
    idfp: int
    idfn: int
    mota: float
    motp: float
    num_switches: int
    num_false_positives: int
    num_misses: int
    num_objects: int
    num_predictions: int
    num_unique_objects: int
    mostly_tracked: int
    mostly_lost: int
    precision: float
    recall: float

    @classmethod
    def from_motmetrics(cls, row) -> "TrackingScores":
        """From one row (a ``pandas.Series``) of ``motmetrics`` output with ``MOTMETRICS_NAMES``."""
        values = {}
        for item in fields(cls):
            value = row[item.name]
            if item.type == "int":
                values[item.name] = int(value)
            else:
                values[item.name] = float(value)
        values["motp"] = 1.0 - values["motp"]  # motmetrics: mean (1 - IoU) of matches
        return cls(**values)

    def to_json_dict(self) -> dict:
        return {
            key: (None if isinstance(value, float) and math.isnan(value) else value)
            for key, value in asdict(self).items()
        }


@dataclass(frozen=True)
class MtmcReport:
    """Scores of one evaluation.

    multi_camera: the merged sequence with ids shared across cameras (its IDF1 is the multi-camera
    IDF1); per_camera: each camera alone; per_camera_total: the cameras' counts summed (identities
    not shared across cameras, i.e. the usual single-camera overall). frame_offsets: where each
    camera starts in the merged sequence; missing_predictions: cameras with no prediction file.
    """

    multi_camera: TrackingScores
    per_camera: dict[str, TrackingScores]
    per_camera_total: TrackingScores
    frame_offsets: dict[str, int]
    missing_predictions: tuple[str, ...] = ()
    iou_threshold: float = DEFAULT_IOU_THRESHOLD
    min_visibility: float = 0.0

    def to_json_dict(self) -> dict:
        return {
            "multi_camera": self.multi_camera.to_json_dict(),
            "per_camera": {camera: scores.to_json_dict() for camera, scores in self.per_camera.items()},
            "per_camera_total": self.per_camera_total.to_json_dict(),
            "frame_offsets": dict(self.frame_offsets),
            "missing_predictions": list(self.missing_predictions),
            "iou_threshold": self.iou_threshold,
            "min_visibility": self.min_visibility,
        }

    def table(self) -> str:
        """A plain-text table: one line per camera, the per-camera total, and the multi-camera line."""
        header = (
            f"{'':<18}{'IDF1':>7}{'IDP':>7}{'IDR':>7}{'MOTA':>7}{'MOTP':>7}"
            f"{'IDsw':>6}{'FP':>7}{'FN':>7}{'GT':>7}{'IDs':>5}"
        )

        def percent(value: float) -> str:
            return f"{100 * value:7.1f}" if math.isfinite(value) else f"{'-':>7}"

        def line(name: str, scores: TrackingScores) -> str:
            return (
                f"{name:<18.18}{percent(scores.idf1)}{percent(scores.idp)}{percent(scores.idr)}"
                f"{percent(scores.mota)}{percent(scores.motp)}{scores.num_switches:>6}"
                f"{scores.num_false_positives:>7}{scores.num_misses:>7}"
                f"{scores.num_objects:>7}{scores.num_unique_objects:>5}"
            )

        lines = [header]
        for camera, scores in self.per_camera.items():
            suffix = " (no pred)" if camera in self.missing_predictions else ""
            lines.append(line(camera + suffix, scores))
        lines.append(line("per-camera total", self.per_camera_total))
        lines.append(line("multi-camera", self.multi_camera))
        lines.append(
            f"IoU >= {self.iou_threshold:g}; min visibility {self.min_visibility:g}; MOTP = mean IoU of matches; "
            "multi-camera: cameras merged with shared global ids."
        )
        return "\n".join(lines)


# ----------------------------------------------------------------------------------- evaluation


def natural_key(name: str) -> list:
    """``cam2`` before ``cam10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _mot_files(directory: Path, what: str) -> dict[str, Path]:
    if not directory.exists():
        raise UserError(f"{what} directory {directory} does not exist")
    if not directory.is_dir():
        raise UserError(f"{what} path {directory} is not a directory")
    files = {path.stem: path for path in directory.glob("*.txt") if path.is_file()}
    return dict(sorted(files.items(), key=lambda item: natural_key(item[0])))


def _indices_by_frame(table: MotTable) -> dict[int, np.ndarray]:
    if not len(table):
        return {}
    order = np.argsort(table.frames, kind="stable")
    frames, starts = np.unique(table.frames[order], return_index=True)
    return {int(frame): part for frame, part in zip(frames, np.split(order, starts[1:]))}


@dataclass(frozen=True)
class CameraFiles:
    """One camera's ground truth and predictions, and where it starts in the merged sequence.

    offset: the sum of the previous cameras' frame counts (a camera's frame count is its last
    frame with a box, ground truth or prediction); missing_prediction: no prediction file (the
    prediction table is then empty).
    """

    camera: str
    ground_truth: MotTable
    prediction: MotTable
    offset: int
    missing_prediction: bool

    @property
    def frame_count(self) -> int:
        return max(self.ground_truth.last_frame, self.prediction.last_frame)


@dataclass(frozen=True)
class ScoredFrame:
    """One frame of one camera as it is scored: ignored ground truth and predictions on it removed.

    truth_ids: int64 [N]; truth_boxes: float64 [N, 4]; predicted_ids: int64 [M];
    predicted_boxes: float64 [M, 4] (x, y, w, h in pixels).
    """

    frame: int
    truth_ids: np.ndarray
    truth_boxes: np.ndarray
    predicted_ids: np.ndarray
    predicted_boxes: np.ndarray


def check_thresholds(min_visibility: float, iou_threshold: float) -> None:
    """``UserError`` unless min_visibility is in [0, 1] and iou_threshold in (0, 1]."""
    if not 0.0 <= float(min_visibility) <= 1.0:
        raise UserError(f"min visibility must be in [0, 1], got {min_visibility}")
    if not 0.0 < float(iou_threshold) <= 1.0:
        raise UserError(f"IoU threshold must be in (0, 1], got {iou_threshold}")


def read_cameras(gt_dir: str | Path, pred_dir: str | Path, min_visibility: float = 0.0) -> list[CameraFiles]:
    """Read every camera of ``gt_dir`` and its predictions in ``pred_dir``, in natural name order,
    with its frame offset in the merged sequence.

    Raises ``UserError`` (one line) for a missing directory, no ground truth, a prediction camera
    without ground truth, or a malformed line.
    """
    gt_dir, pred_dir = Path(gt_dir), Path(pred_dir)
    truth_files = _mot_files(gt_dir, "ground-truth")
    predicted_files = _mot_files(pred_dir, "prediction")
    if not truth_files:
        raise UserError(f"no ground-truth files (*.txt) in {gt_dir}")
    unknown = [camera for camera in predicted_files if camera not in truth_files]
    if unknown:
        raise UserError(
            f"prediction camera {unknown[0]} ({predicted_files[unknown[0]]}) has no ground truth in {gt_dir}"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
        )
    cameras: list[CameraFiles] = []
    offset = 0
    for camera, truth_path in truth_files.items():
        ground_truth = read_mot_file(truth_path, ground_truth=True, min_visibility=min_visibility)
        missing = camera not in predicted_files
        if missing:
            prediction = MotTable.empty(pred_dir / f"{camera}.txt")
        else:
            prediction = read_mot_file(predicted_files[camera], ground_truth=False)
        cameras.append(CameraFiles(camera, ground_truth, prediction, offset, missing))
        offset += cameras[-1].frame_count
    return cameras


def scored_frames(ground_truth: MotTable, prediction: MotTable, iou_threshold: float) -> Iterator[ScoredFrame]:
    """One camera's frames in order, without ignored ground truth and the predictions that match it
    (``predictions_on_ignored``); frames left with no box at all are skipped."""
    truth_by_frame, predicted_by_frame = _indices_by_frame(ground_truth), _indices_by_frame(prediction)
    empty = np.zeros(0, np.int64)
    for frame in sorted(set(truth_by_frame) | set(predicted_by_frame)):
        truth = truth_by_frame.get(frame, empty)
        predicted = predicted_by_frame.get(frame, empty)
        truth_boxes, predicted_boxes = ground_truth.boxes[truth], prediction.boxes[predicted]
        ignored = ground_truth.ignored[truth]
        keep_predicted = ~predictions_on_ignored(truth_boxes, ignored, predicted_boxes, iou_threshold)
        truth, truth_boxes = truth[~ignored], truth_boxes[~ignored]
        predicted, predicted_boxes = predicted[keep_predicted], predicted_boxes[keep_predicted]
        if not len(truth) and not len(predicted):
            continue
        yield ScoredFrame(frame, ground_truth.ids[truth], truth_boxes, prediction.ids[predicted], predicted_boxes)


def _accumulate_camera(
    ground_truth: MotTable,
    prediction: MotTable,
    accumulators: list[tuple[object, int]],
    iou_threshold: float,
) -> None:
    """Feed one camera, frame by frame, to each (``MOTAccumulator``, frame offset) pair."""
    for scored in scored_frames(ground_truth, prediction, iou_threshold):
        distances = iou_distances(scored.truth_boxes, scored.predicted_boxes, iou_threshold)
        truth_ids, predicted_ids = scored.truth_ids.tolist(), scored.predicted_ids.tolist()
        for accumulator, offset in accumulators:
            accumulator.update(truth_ids, predicted_ids, distances, frameid=offset + scored.frame)


def evaluate_mtmc(
    gt_dir: str | Path,
    pred_dir: str | Path,
    min_visibility: float = 0.0,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> MtmcReport:
    """Score the MOT files in ``pred_dir`` against the ground truth in ``gt_dir`` (see the module docstring).

    Raises ``UserError`` (one line) for a missing directory, no ground truth, a prediction camera
    without ground truth, or a malformed line.
    """
    import motmetrics  # pandas-heavy: imported only when scoring

    check_thresholds(min_visibility, iou_threshold)
    cameras = read_cameras(gt_dir, pred_dir, min_visibility)
    merged = motmetrics.MOTAccumulator(auto_id=False)
    per_camera_accumulators = []
    for files in cameras:
        camera_accumulator = motmetrics.MOTAccumulator(auto_id=False)
        _accumulate_camera(
            files.ground_truth, files.prediction, [(camera_accumulator, 0), (merged, files.offset)], iou_threshold
        )
        per_camera_accumulators.append(camera_accumulator)

    host = motmetrics.metrics.create()
    row_names = [f"camera {index}" for index in range(len(cameras))]  # a camera may be named OVERALL
    per_camera_frame = host.compute_many(
        per_camera_accumulators, metrics=list(MOTMETRICS_NAMES), names=row_names, generate_overall=True
    )
    merged_frame = host.compute(merged, metrics=list(MOTMETRICS_NAMES), name="multi_camera")
    return MtmcReport(
        multi_camera=TrackingScores.from_motmetrics(merged_frame.loc["multi_camera"]),
        per_camera={
            files.camera: TrackingScores.from_motmetrics(per_camera_frame.loc[row])
            for files, row in zip(cameras, row_names)
        },
        per_camera_total=TrackingScores.from_motmetrics(per_camera_frame.loc["OVERALL"]),
        frame_offsets={files.camera: files.offset for files in cameras},
        missing_predictions=tuple(files.camera for files in cameras if files.missing_prediction),
        iou_threshold=float(iou_threshold),
        min_visibility=float(min_visibility),
    )
