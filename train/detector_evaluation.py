"""Person AP50 of a detector on synthetic worlds, scored by pycocotools (COCOeval).

  python -m train.detector_evaluation --world DIR [--world DIR ...] [--weights models/yolo11n_synthetic_person.pt]
  python -m train.detector_evaluation --world DIR --detections        # the world's public detections

Ground truth: the world's amodal person boxes (``gt/cam<c>.txt``) on every ``--every-n-frames``-th
frame. Boxes with visibility >= ``--min-visibility`` (0.3) count; less visible ones are COCO "crowd"
regions: a detection on one is neither a true nor a false positive, and missing one costs nothing.
The detector sees the decoded video frames of each camera, all cameras of one frame in one batch,
exactly as the pipeline's detection stage does (``pipeline.detection``).
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path


from reid.help_format import DefaultsHelpFormatter
from reid.errors import UserError, run_command_line
from train.detector_dataset import load_world_or_fail, world_frame_batches

DEFAULT_MIN_VISIBILITY = 0.3
EVALUATION_CONFIDENCE = 0.01  # AP needs the low-score tail of the ranking


@dataclass(frozen=True)
class DetectorScores:
    """COCOeval's figures for one detector on some frames: AP at IoU 0.5 and 0.5:0.95, and the recall at
    IoU 0.5 (of boxes at least ``min_visibility`` visible, over all scores down to the evaluation's)."""

    ap50: float
    ap50_95: float
    recall50: float
    images: int
    counted_boxes: int
    ignored_boxes: int
    detections: int
    detect_seconds: float

    def describe(self) -> str:
        return (f"AP50 {self.ap50:.3f}, AP50-95 {self.ap50_95:.3f}, recall@0.5 {self.recall50:.3f} on "
                f"{self.images} frames ({self.counted_boxes} boxes counted, {self.ignored_boxes} ignored, "
                f"{self.detections} detections; detection {self.detect_seconds:.1f} s)")


def coco_ground_truth(images: list[dict], boxes: list[tuple[int, float, float, float, float, float]],
                      min_visibility: float) -> dict:
    """A COCO ground-truth dict. ``boxes``: (image_id, x, y, w, h, visibility) rows; boxes under
    ``min_visibility`` become crowd (ignored) regions."""
    annotations = [
        {"id": k + 1, "image_id": image_id, "category_id": 1, "bbox": [x, y, w, h], "area": w * h,
         "iscrowd": int(visibility < min_visibility)}
        for k, (image_id, x, y, w, h, visibility) in enumerate(boxes)
    ]
    return {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}


def coco_scores(ground_truth: dict, detections: list[dict]) -> tuple[float, float, float]:
    """(AP50, AP50-95, recall at IoU 0.5) by pycocotools' COCOeval (area 'all', 100 detections per image).
    ``detections``: {image_id, category_id 1, bbox [x, y, w, h], score}. No detection at all scores 0."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not detections:
        return 0.0, 0.0, 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = ground_truth
        truth.createIndex()
        found = truth.loadRes(detections)
        evaluation = COCOeval(truth, found, "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    recall = evaluation.eval["recall"][0, 0, 0, -1]  # IoU 0.5, category, area 'all', maxDets 100
    return float(evaluation.stats[1]), float(evaluation.stats[0]), float(max(recall, 0.0))


def evaluate_detector(detector_config, worlds: list[Path], every_n_frames: int = 5,
                      min_visibility: float = DEFAULT_MIN_VISIBILITY) -> DetectorScores:
    """Run the configured detector (``pipeline.config.DetectorConfig``) on the worlds' frames and score it."""
    from pipeline.detection import build_detector
    from pipeline.synthetic.ground_truth import read_ground_truth

    images: list[dict] = []
    boxes: list[tuple] = []
    detections: list[dict] = []
    detect_seconds = 0.0
    for world_directory in worlds:
        world = load_world_or_fail(world_directory)
        cameras = [f"cam{camera.camera_id}" for camera in world.cameras]
        config = detector_config
        if config.backend == "detections":
            config = replace(config, detections_dir=str(world_directory / "det"))
        detector = build_detector(config, cameras)
        truth_by_camera = {}
        for camera in world.cameras:
            rows: dict[int, list] = {}
            for row in read_ground_truth(world_directory / camera.ground_truth):
                rows.setdefault(row.frame, []).append(row)
            truth_by_camera[camera.camera_id] = rows
        for frames in world_frame_batches(world_directory, world, every_n_frames):
            started = time.perf_counter()
            found = detector.detect(frames)
            detect_seconds += time.perf_counter() - started
            for camera, frame, frame_detections in zip(world.cameras, frames, found):
                image_id = len(images) + 1
                images.append({"id": image_id, "width": int(frame.image.shape[1]), "height": int(frame.image.shape[0]),
                               "file_name": f"{world_directory.name}/{frame.camera}/{frame.frame_index}"})
                for row in truth_by_camera[camera.camera_id].get(frame.frame_index, []):
                    boxes.append((image_id, float(row.x), float(row.y), float(row.w), float(row.h), row.visibility))
                for (x1, y1, x2, y2), score in zip(frame_detections.boxes.tolist(), frame_detections.scores.tolist()):
                    detections.append({"image_id": image_id, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                                       "score": score})
    if not images:
        raise UserError("no frame to evaluate")
    truth = coco_ground_truth(images, boxes, min_visibility)
    ap50, ap50_95, recall50 = coco_scores(truth, detections)
    ignored = sum(1 for box in boxes if box[5] < min_visibility)
    return DetectorScores(ap50, ap50_95, recall50, len(images), len(boxes) - ignored, ignored, len(detections),
                          round(detect_seconds, 2))


def main(argv=None) -> int:
    from pipeline.synthetic.command_line import OneLineErrorParser

    parser = OneLineErrorParser(prog="python -m train.detector_evaluation", description=__doc__.splitlines()[0],
                                formatter_class=DefaultsHelpFormatter)
    parser.add_argument("--world", action="append", default=[], required=True, metavar="DIR",
                        help="a synthetic world (repeatable)")
    parser.add_argument("--weights", default="models/yolo11n_synthetic_person.pt",
                        help="YOLO weights (.pt, or .onnx run by ONNX Runtime)")
    parser.add_argument("--detections", action="store_true", help="score the world's public detections instead")
    parser.add_argument("--image-size", type=int, default=320, help="YOLO inference size")
    parser.add_argument("--every-n-frames", type=int, default=5, help="evaluate every n-th frame of each camera")
    parser.add_argument("--min-visibility", type=float, default=DEFAULT_MIN_VISIBILITY,
                        help="boxes less visible than this are ignored regions")
    parser.add_argument("--json", metavar="FILE", help="also write the scores as JSON")
    arguments = parser.parse_args(argv)
    from pipeline.config import DetectorConfig

    worlds = [Path(w) for w in arguments.world]
    for world in worlds:
        load_world_or_fail(world)
    if arguments.every_n_frames < 1:
        raise UserError(f"--every-n-frames must be at least 1, got {arguments.every_n_frames}")
    if arguments.detections:
        config = DetectorConfig(backend="detections")
        label = "public detections"
    else:
        from pipeline.yolo_weights import resolve_weights

        config = DetectorConfig(backend="yolo", weights=str(resolve_weights(arguments.weights)),
                                image_size=arguments.image_size, confidence=EVALUATION_CONFIDENCE)
        label = f"YOLO {arguments.weights} at {arguments.image_size}"
    scores = evaluate_detector(config, worlds, arguments.every_n_frames, arguments.min_visibility)
    print(f"{label}: {scores.describe()}")
    if arguments.json:
        Path(arguments.json).write_text(json.dumps({"detector": label, **asdict(scores)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command_line(main))
