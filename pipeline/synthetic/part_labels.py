"""Part labels for ReID crops: 36 keypoint/limb confidence fields, in the reference BPBreID format.

On-disk format (what the reference loaders read, VlSomers/bpbreid):

* One ``.npy`` file per image, ``numpy.save`` of a float32 array of shape ``[36, Hf, Wf]``
  (channel first; the reference ``torchreid.utils.tools.read_masks`` does ``np.load`` then
  ``transpose(1, 2, 0)`` to get ``[Hf, Wf, 36]`` for albumentations). Values lie in [0, 1].
* Channels, in order, are ``reid.part_groups.CONFIDENCE_FIELD_CHANNELS``: the 17 COCO keypoints
  (OpenPifPaf "pif" confidences) then the 19 limbs of ``reid.part_groups.LIMBS`` ("paf"
  confidences), exactly the order OpenPifPaf emits and ``torchreid/scripts/get_labels.py``
  concatenates.
* Resolution: the OpenPifPaf stride-8 field grid of the crop, ``Hf = 2 * ceil((H - 1) / 16) + 1``
  and ``Wf`` likewise (a 128x64 crop gives 17x9, the size the reference script resizes to). The
  field does not have the image's resolution; the reference transforms resize it with the image
  (``Compose(..., is_check_shapes=False)``). Cell ``(i, j)`` covers the crop uniformly: its centre
  is at pixel ``((j + 0.5) * W / Wf - 0.5, (i + 0.5) * H / Hf - 0.5)``, so a plain bilinear
  resize back to ``H x W`` (half-pixel centres, as cv2/albumentations do) lines up with the image.
* Location: ``<dataset root>/masks/pifpaf_maskrcnn_filtering/<split dir>/<image stem><suffix>``,
  with suffix ``.npy`` for the DukeMTMC-reID layout (``DukeMTMCreID.masks_dirs``) and
  ``.jpg.confidence_fields.npy`` for the Occluded-Duke layout (``OccludedDuke.masks_dirs``); the
  path rule is ``Dataset.infer_masks_path`` in ``torchreid/data/datasets/dataset.py``.

The field drawing itself lives in ``reid.keypoint_fields`` (shared with ``train.part_labels``).
The synthetic fields are computed from the renderer's true 2D joint positions: a Gaussian blob
per keypoint and a Gaussian tube along each limb segment (sigma ~ 4.5% of the person's height,
at least 0.6 cell). Like the reference "maskrcnn filtering", every channel is multiplied by the
person's own visible-pixel mask (cells with at least a quarter of their area visible count fully),
so occluders and other people carry no part confidence; keypoint channels are further scaled by
how visible the pixels around that joint are (an occluded joint gets no peak).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reid.keypoint_fields import (  # noqa: F401 - re-exported for the synthetic world's users
    FIELD_STRIDE,
    NUM_CHANNELS,
    cell_centres,
    confidence_fields,
    field_shape,
    keypoint_visibility,
)

MASKS_BASE_DIR = "masks"
MASKS_DIR = "pifpaf_maskrcnn_filtering"
DUKE_MASK_SUFFIX = ".npy"
OCCLUDED_DUKE_MASK_SUFFIX = ".jpg.confidence_fields.npy"


def part_label_path(dataset_root: Path, image_path: Path, suffix: str) -> Path:
    """Where the reference loaders look for an image's part labels."""
    image_path = Path(image_path)
    return Path(dataset_root) / MASKS_BASE_DIR / MASKS_DIR / image_path.parent.name / (image_path.stem + suffix)


def write_part_labels(path: Path, fields: np.ndarray) -> None:
    if fields.dtype != np.float32 or fields.ndim != 3 or fields.shape[0] != NUM_CHANNELS:
        raise ValueError(f"part labels must be float32 [{NUM_CHANNELS}, h, w], got {fields.dtype} {fields.shape}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.save(path, fields)


def read_part_labels(path: Path) -> np.ndarray:
    fields = np.load(path)
    if fields.ndim != 3 or fields.shape[0] != NUM_CHANNELS:
        raise ValueError(f"{path}: expected [{NUM_CHANNELS}, h, w] confidence fields, got shape {fields.shape}")
    return fields
