"""python -m train.part_labels --dataset NAME --data-root DIR --pose-weights FILE

Makes the part labels the trainer reads (36-channel keypoint/limb confidence fields, the
reference's ``.npy`` format and places) from a COCO-keypoint pose model (ultralytics YOLO-pose),
so no OpenPifPaf is needed. Each ReID image is one person: the pose model's most confident
person in the crop gives the 17 keypoints; their confidences scale the keypoint and limb fields.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from reid.errors import UserError, run_command_line


def load_pose_model(weights: str):
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    from ultralytics import YOLO

    if not weights.endswith((".yaml", ".yml")) and not Path(weights).is_file():
        raise UserError(f"pose weights not found: {Path(weights).resolve()} (e.g. place yolo11n-pose.pt there)")
    try:
        model = YOLO(weights)
    except Exception as error:
        raise UserError(f"{weights}: cannot load pose model ({type(error).__name__}: {error})") from None
    if model.task != "pose":
        raise UserError(f"{weights}: a '{model.task}' model, not a pose (keypoint) model")
    return model


def person_keypoints(result) -> tuple[np.ndarray, np.ndarray] | None:
    """(keypoints xy [17, 2], confidences [17]) of the most confident person, or None."""
    keypoints = result.keypoints
    if keypoints is None or len(result.boxes) == 0:
        return None
    best = int(result.boxes.conf.argmax())
    xy = keypoints.xy[best].cpu().numpy().astype(np.float64)
    confidence = (
        keypoints.conf[best].cpu().numpy().astype(np.float64) if keypoints.conf is not None else np.ones(len(xy))
    )
    return xy, confidence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.part_labels", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, metavar="NAME",
                        help="a ReID dataset name of python -m train.evaluate (e.g. market1501)")
    parser.add_argument("--data-root", required=True, metavar="DIR", help="the directory holding the dataset")
    parser.add_argument("--pose-weights", required=True, help="ultralytics YOLO-pose weights, e.g. yolo11n-pose.pt")
    parser.add_argument("--image-size", type=int, default=256, help="pose model input size")
    parser.add_argument("--batch-size", type=int, default=32, help="images per pose-model call (default: 32)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--overwrite", action="store_true", help="remake labels that already exist")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user-facing errors")
    arguments = parser.parse_args(argv)

    from tqdm import tqdm

    from reid.image_files import read_bgr
    from reid.keypoint_fields import confidence_fields_from_keypoints
    from train.datasets import load_dataset

    dataset = load_dataset(arguments.dataset, arguments.data_root)
    model = load_pose_model(arguments.pose_weights)
    samples = [s for s in dataset.train + dataset.query + dataset.gallery if arguments.overwrite or not s.label_path.is_file()]
    print(f"{len(samples)} images need part labels ({dataset.name}, {dataset.directory})", flush=True)
    without_person = 0
    for start in tqdm(range(0, len(samples), arguments.batch_size), desc="part labels", unit="batch"):
        batch = samples[start : start + arguments.batch_size]
        images = [read_bgr(sample.image_path) for sample in batch]
        results = model.predict(images, imgsz=arguments.image_size, device=arguments.device, verbose=False)
        for sample, image, result in zip(batch, images, results):
            found = person_keypoints(result)
            height, width = image.shape[:2]
            if found is None:
                without_person += 1
                keypoints, confidence = np.zeros((17, 2)), np.zeros(17)
            else:
                keypoints, confidence = found
            fields = confidence_fields_from_keypoints(keypoints, confidence, height, width)
            sample.label_path.parent.mkdir(parents=True, exist_ok=True)
            np.save(sample.label_path, fields)
    print(f"wrote {len(samples)} label files ({without_person} without a detected person: all background)")
    return 0


if __name__ == "__main__":
    sys.exit(run_command_line(main))
