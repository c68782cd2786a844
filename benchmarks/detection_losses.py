"""Where a run's missed boxes come from: the detector, the tracker, or neither being repaired.

    python benchmarks/detection_losses.py --world W --run OUTPUT [--config CONFIG] [--detector {yolo,detections}]

OUTPUT is a finished run of ``run_pipeline.py --world W`` with the same config and detector (its
``mot/`` files). The detector runs again on every frame of the world (YOLO as the config sets it, or
the world's public detections); each frame's detections and the run's output boxes are matched to the
ground truth one to one (Hungarian, IoU >= 0.5, as the MOT scores match). Printed:

- detections: matched, duplicates (not matched, but IoU >= 0.5 with a ground-truth box that another
  detection took: a second box on one person), other false positives;
- ground-truth boxes: found by the detector and in the output; detected but not in the output (the
  tracker dropped it); in the output but not detected (gap filling or stitching restored it);
  neither (a miss nothing repaired);
- the share of ground-truth boxes the detector finds, by the ground truth's visibility (bands
  ``VISIBILITY_BANDS``);
- the same for people at least 30 % visible, per camera, by how close the nearest other person of the
  frame stands (``GROUP_BANDS``, IoU of the two ground-truth boxes): alone (< 0.3), in a group, and
  overlapping (0.5 and above: where YOLO's NMS at IoU 0.5 can keep only one of two such boxes).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))  # runnable from a checkout without installing it

IOU_MATCH = 0.5
VISIBILITY_BANDS = (0.0, 0.08, 0.2, 0.3, 0.5, 0.75, 1.0)
GROUP_BANDS = (0.3, 0.5)  # nearest other person's IoU: alone below 0.3, in a group from 0.3, overlapping from 0.5
GROUP_NAMES = ("alone", "in a group", "overlapping")
GROUP_MIN_VISIBILITY = 0.3


def visibility_band(visibility: np.ndarray) -> np.ndarray:
    """int [N]: the index of the band ``[VISIBILITY_BANDS[i], VISIBILITY_BANDS[i + 1])`` of each value
    (1.0 falls in the last band)."""
    inner_edges = np.asarray(VISIBILITY_BANDS[1:-1])
    return np.searchsorted(inner_edges, np.asarray(visibility, dtype=np.float64), side="right")


def ground_truth_visibility_by_frame(path: Path) -> dict[int, np.ndarray]:
    """Frame -> visibility float64 [M] of its ground-truth rows, in file order (the order in which
    ``frames_by_index`` keeps their boxes)."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    if rows.size == 0:
        return {}
    return {int(frame): rows[rows[:, 0] == frame, 8] for frame in np.unique(rows[:, 0])}


def nearest_person_overlap(truth_xywh: np.ndarray) -> np.ndarray:
    """float [M]: each ground-truth box's highest IoU with another ground-truth box of the frame (0 alone)."""
    from pipeline.mtmc_evaluation import iou_xywh

    if len(truth_xywh) < 2:
        return np.zeros(len(truth_xywh))
    overlaps = iou_xywh(truth_xywh, truth_xywh)
    np.fill_diagonal(overlaps, 0.0)
    return overlaps.max(axis=1)


def group_band(nearest_overlap: np.ndarray) -> np.ndarray:
    """int [M]: 0 alone, 1 in a group, 2 overlapping (``GROUP_BANDS``; a value on an edge goes up)."""
    return np.searchsorted(np.asarray(GROUP_BANDS), np.asarray(nearest_overlap, dtype=np.float64), side="right")


def match_to_ground_truth(boxes_xywh: np.ndarray, truth_xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-to-one matching at IoU >= 0.5: ground truth matched bool [M], boxes matched bool [N], IoU [N, M]."""
    from scipy.optimize import linear_sum_assignment

    from pipeline.mtmc_evaluation import iou_xywh

    overlaps = iou_xywh(boxes_xywh, truth_xywh)
    truth_matched, boxes_matched = np.zeros(overlaps.shape[1], bool), np.zeros(overlaps.shape[0], bool)
    if overlaps.size:
        rows, columns = linear_sum_assignment(-overlaps)
        good = overlaps[rows, columns] >= IOU_MATCH
        truth_matched[columns[good]] = True
        boxes_matched[rows[good]] = True
    return truth_matched, boxes_matched, overlaps


def duplicate_boxes(truth_matched: np.ndarray, taken: np.ndarray, overlaps: np.ndarray) -> np.ndarray:
    """bool [N]: boxes not matched themselves but at IoU >= 0.5 with a ground-truth box another box took."""
    return (~taken) & (overlaps[:, truth_matched] >= IOU_MATCH).any(axis=1)


def frames_by_index(table) -> dict[int, np.ndarray]:
    return {int(frame): table.boxes[table.frames == frame] for frame in np.unique(table.frames)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--run", type=Path, required=True, help="the output directory of run_pipeline.py on the world")
    parser.add_argument("--config", default=str(REPOSITORY / "configs/pipeline/demo.yaml"))
    parser.add_argument("--detector", choices=("yolo", "detections"), default="yolo")
    arguments = parser.parse_args(argv)

    from pipeline.config import load_pipeline_config
    from pipeline.demo import world_streams
    from pipeline.detection import build_detector
    from pipeline.mtmc_evaluation import read_mot_file
    from pipeline.sources import SynchronizedReader, open_sources
    from reid.log_levels import set_verbosity

    set_verbosity("quiet")
    config = load_pipeline_config(arguments.config)
    config.detector.backend = arguments.detector
    config.detector.detections_dir = str(arguments.world / "det")
    streams = world_streams(arguments.world)
    cameras = [camera for camera, _ in streams]
    detector = build_detector(config.detector, cameras)
    truth = {camera: frames_by_index(read_mot_file(arguments.world / "gt" / f"{camera}.txt", ground_truth=True))
             for camera in cameras}
    output = {camera: frames_by_index(read_mot_file(arguments.run / "mot" / f"{camera}.txt", ground_truth=False))
              for camera in cameras}
    visibility = {camera: ground_truth_visibility_by_frame(arguments.world / "gt" / f"{camera}.txt") for camera in cameras}
    detections_count, ground_truth_count = Counter(), Counter()
    band_total, band_detected = np.zeros(len(VISIBILITY_BANDS) - 1), np.zeros(len(VISIBILITY_BANDS) - 1)
    group_total = {camera: np.zeros(len(GROUP_NAMES)) for camera in cameras}
    group_detected = {camera: np.zeros(len(GROUP_NAMES)) for camera in cameras}
    reader = SynchronizedReader(open_sources(streams, False))
    try:
        for packet in reader:
            frames = list(packet.frames)
            for frame, found in zip(frames, detector.detect(frames)):
                people = truth[frame.camera].get(frame.frame_index, np.zeros((0, 4)))
                boxes = found.boxes.astype(np.float64).reshape(-1, 4).copy()
                boxes[:, 2:] -= boxes[:, :2]  # xyxy -> xywh
                detected, taken, overlaps = match_to_ground_truth(boxes, people)
                in_output, _, _ = match_to_ground_truth(output[frame.camera].get(frame.frame_index, np.zeros((0, 4))), people)
                duplicate = duplicate_boxes(detected, taken, overlaps)
                frame_visibility = visibility[frame.camera].get(frame.frame_index, np.zeros(0))
                bands = visibility_band(frame_visibility)
                counted = frame_visibility >= GROUP_MIN_VISIBILITY
                groups = group_band(nearest_person_overlap(people))
                np.add.at(group_total[frame.camera], groups[counted], 1)
                np.add.at(group_detected[frame.camera], groups[counted & detected], 1)
                np.add.at(band_total, bands, 1)
                np.add.at(band_detected, bands[detected], 1)
                detections_count["matched"] += int(taken.sum())
                detections_count["duplicates"] += int(duplicate.sum())
                detections_count["other false positives"] += int((~taken & ~duplicate).sum())
                ground_truth_count["detected and in the output"] += int((detected & in_output).sum())
                ground_truth_count["detected, dropped by tracking"] += int((detected & ~in_output).sum())
                ground_truth_count["not detected, restored"] += int((~detected & in_output).sum())
                ground_truth_count["neither"] += int((~detected & ~in_output).sum())
    finally:
        reader.close()
    source = (f"YOLO {config.detector.weights} at {config.detector.image_size} px, confidence "
              f"{config.detector.confidence:g}, NMS IoU {config.detector.iou:g}"
              if arguments.detector == "yolo" else "public detections")
    print(f"{arguments.world.name}: {source}; run {arguments.run}")
    print("detections: " + ", ".join(f"{name} {count}" for name, count in detections_count.items()))
    total = sum(ground_truth_count.values())
    print(f"ground-truth boxes ({total}): " + ", ".join(f"{name} {count}" for name, count in ground_truth_count.items()))
    print("detected, by ground-truth visibility: " + ", ".join(
        f"{VISIBILITY_BANDS[i]:g}-{VISIBILITY_BANDS[i + 1]:g} {100 * band_detected[i] / max(band_total[i], 1):.1f} % "
        f"of {int(band_total[i])}" for i in range(len(band_total))))
    print(f"detected, people at least {GROUP_MIN_VISIBILITY:.0%} visible, by the nearest other person's IoU "
          f"(alone < {GROUP_BANDS[0]:g} <= in a group < {GROUP_BANDS[1]:g} <= overlapping):")
    for camera in [*cameras, "all"]:
        total = sum(group_total.values()) if camera == "all" else group_total[camera]
        found = sum(group_detected.values()) if camera == "all" else group_detected[camera]
        print(f"  {camera}: " + ", ".join(
            f"{name} {100 * found[i] / max(total[i], 1):.1f} % of {int(total[i])}" for i, name in enumerate(GROUP_NAMES)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
