"""ReID datasets cut from the rendered frames, in the DukeMTMC-reID and Occluded-Duke layouts.

Crops are cut from the final frames (camera effects and occlusion included) by the ground-truth
box, one per person track every ``reid_sample_seconds``. Identities seen by two cameras or more
are candidates for the test split; the rest train. File names follow Duke:
``{pid:04d}_c{cam}_f{frame:07d}.jpg`` (frame is the 1-based video frame).

* ``reid/`` (DukeMTMC-reID manner): ``bounding_box_train`` = every crop of the train identities;
  ``query`` = one crop per test identity and camera; ``bounding_box_test`` = the other test crops.
* ``reid_occluded/`` (Occluded-Duke manner): same train set; ``query`` = occluded crops only
  (visibility below ``OCCLUDED_BELOW``, at most ``QUERIES_PER_TRACK`` per identity and camera);
  ``bounding_box_test`` = the holistic test crops plus a small share of the occluded ones.

Every query keeps at least one gallery crop of its identity in another camera. Each dataset root
also holds ``annotations.csv`` (split, image, person_id, camera_id, frame, box, visibility) and
the part labels under ``masks/`` (see ``part_labels``).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.synthetic.part_labels import confidence_fields, part_label_path, write_part_labels
from pipeline.synthetic.random_streams import random_stream
from pipeline.synthetic.render import PersonObservation, RenderedFrame

TRAIN, QUERY, GALLERY = "bounding_box_train", "query", "bounding_box_test"
SPLITS = (TRAIN, QUERY, GALLERY)
FILENAME_PATTERN = r"([-\d]+)_c(\d)"  # the reference Duke/Market parsing rule
MIN_CROP_VISIBILITY = 0.2
MIN_CROP_HEIGHT_FRACTION = 0.12
MIN_CROP_HEIGHT_PX = 24
OCCLUDED_BELOW = 0.7
QUERIES_PER_TRACK = 2
OCCLUDED_IN_GALLERY = 0.1
JPEG_QUALITY = 95


@dataclass(frozen=True)
class CropSample:
    person_id: int
    camera_id: int
    frame: int
    box: tuple[int, int, int, int]  # x, y, w, h in the frame
    visibility: float
    image: np.ndarray  # [h, w, 3] uint8 BGR
    visible_mask: np.ndarray  # [h, w] bool: this person's visible pixels
    keypoints: np.ndarray  # [17, 2] crop coordinates
    person_height_px: float

    @property
    def stem(self) -> str:
        return f"{self.person_id:04d}_c{self.camera_id}_f{self.frame:07d}"


def sample_stride(fps: float, reid_sample_seconds: float) -> int:
    return max(1, int(round(fps * reid_sample_seconds)))


def should_sample(observation: PersonObservation, frame: int, stride: int, frame_height: int) -> bool:
    """One crop per track every ``stride`` frames (staggered by person), when the crop is usable."""
    if (frame + 3 * observation.person_id) % stride != 0:
        return False
    min_height = max(MIN_CROP_HEIGHT_PX, MIN_CROP_HEIGHT_FRACTION * frame_height)
    usable = observation.visibility >= MIN_CROP_VISIBILITY and not observation.truncated
    return usable and observation.box[3] >= min_height


def cut_crop(rendered: RenderedFrame, observation: PersonObservation) -> CropSample:
    x, y, w, h = observation.box
    return CropSample(
        person_id=observation.person_id,
        camera_id=rendered.camera_id,
        frame=rendered.frame,
        box=observation.box,
        visibility=round(observation.visibility, 4),
        image=rendered.image[y: y + h, x: x + w].copy(),
        visible_mask=rendered.labels[y: y + h, x: x + w] == observation.person_id,
        keypoints=observation.keypoints - np.array([x, y], dtype=np.float64),
        person_height_px=float(observation.amodal_box[3]),
    )


def split_identities(samples: list[CropSample], test_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train ids, test ids): test ids are drawn among identities cropped in two cameras or more."""
    cameras = defaultdict(set)
    for sample in samples:
        cameras[sample.person_id].add(sample.camera_id)
    everyone = sorted(cameras)
    eligible = [pid for pid in everyone if len(cameras[pid]) >= 2]
    count = min(len(eligible), max(1, int(round(test_fraction * len(everyone))))) if eligible else 0
    rng = random_stream(seed, "reid_split")
    test = sorted(int(p) for p in rng.choice(eligible, size=count, replace=False)) if count else []
    train = [pid for pid in everyone if pid not in set(test)]
    return train, test


def _keep_matched_queries(query: list[CropSample], gallery: list[CropSample]) -> tuple[list, list]:
    """Queries without a same-identity gallery crop from another camera cannot be evaluated."""
    gallery_cameras = defaultdict(set)
    for sample in gallery:
        gallery_cameras[sample.person_id].add(sample.camera_id)
    kept, unmatched = [], []
    for sample in query:
        if gallery_cameras[sample.person_id] - {sample.camera_id}:
            kept.append(sample)
        else:
            unmatched.append(sample)
    return kept, unmatched


def _by_track(samples: list[CropSample]) -> dict[tuple[int, int], list[CropSample]]:
    tracks = defaultdict(list)
    for sample in samples:
        tracks[(sample.person_id, sample.camera_id)].append(sample)
    return dict(sorted(tracks.items()))


def duke_layout(
    samples: list[CropSample], train_ids: list[int], test_ids: list[int], seed: int
) -> dict[str, list[CropSample]]:
    rng = random_stream(seed, "duke_query")
    test_set = set(test_ids)
    train = [s for s in samples if s.person_id in set(train_ids)]
    query, gallery = [], []
    for _, track in _by_track([s for s in samples if s.person_id in test_set]).items():
        pick = int(rng.integers(len(track)))
        query.append(track[pick])
        gallery.extend(s for i, s in enumerate(track) if i != pick)
    query, unmatched = _keep_matched_queries(query, gallery)
    gallery.extend(unmatched)
    query, _ = _keep_matched_queries(query, gallery)
    return {TRAIN: train, QUERY: query, GALLERY: gallery}


def occluded_duke_layout(
    samples: list[CropSample], train_ids: list[int], test_ids: list[int], seed: int
) -> dict[str, list[CropSample]]:
    rng = random_stream(seed, "occluded_query")
    test_set = set(test_ids)
    train = [s for s in samples if s.person_id in set(train_ids)]
    query, gallery = [], []
    for _, track in _by_track([s for s in samples if s.person_id in test_set]).items():
        occluded = [s for s in track if s.visibility < OCCLUDED_BELOW]
        picks = set(rng.permutation(len(occluded))[:QUERIES_PER_TRACK].tolist()) if occluded else set()
        query.extend(s for i, s in enumerate(occluded) if i in picks)
        for i, s in enumerate(occluded):
            if i not in picks and rng.uniform() < OCCLUDED_IN_GALLERY:
                gallery.append(s)
        gallery.extend(s for s in track if s.visibility >= OCCLUDED_BELOW)
    query, _ = _keep_matched_queries(query, gallery)
    return {TRAIN: train, QUERY: query, GALLERY: sorted(gallery, key=lambda s: s.stem)}


def write_reid_dataset(
    root: Path, layout: dict[str, list[CropSample]], mask_suffix: str, fields_cache: dict[str, np.ndarray]
) -> dict[str, int]:
    """Write images, part labels and annotations.csv; returns image counts per split."""
    root = Path(root)
    rows = []
    for split in SPLITS:
        (root / split).mkdir(parents=True, exist_ok=True)
        for sample in sorted(layout[split], key=lambda s: s.stem):
            image_path = root / split / f"{sample.stem}.jpg"
            if not cv2.imwrite(str(image_path), sample.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
                raise OSError(f"could not write {image_path}")
            if sample.stem not in fields_cache:
                fields_cache[sample.stem] = confidence_fields(
                    sample.keypoints, sample.visible_mask, sample.person_height_px
                )
            write_part_labels(part_label_path(root, image_path, mask_suffix), fields_cache[sample.stem])
            rows.append([split, f"{split}/{image_path.name}", sample.person_id, sample.camera_id, sample.frame,
                         *sample.box, f"{sample.visibility:.4f}"])
    with open(root / "annotations.csv", "w", newline="", encoding="ascii") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["split", "image", "person_id", "camera_id", "frame", "x", "y", "w", "h", "visibility"])
        writer.writerows(rows)
    return {split: len(layout[split]) for split in SPLITS}
