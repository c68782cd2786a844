"""Readers for the ReID datasets of the paper and for the synthetic world, in their real layouts.

| name               | directory under --data-root | layout                                          |
|--------------------|-----------------------------|-------------------------------------------------|
| market1501         | Market-1501-v15.09.15       | bounding_box_train / query / bounding_box_test  |
| dukemtmc           | DukeMTMC-reID               | same                                            |
| occluded_duke      | Occluded_Duke               | same                                            |
| p_duke             | P-DukeMTMC-reID             | train/{whole,occluded}_body_images/<pid>/*.jpg; test/occluded_body_images = query (cam 0), test/whole_body_images = gallery (cam 1) |
| occluded_reid      | Occluded_REID               | occluded_body_images/<pid>/*.tif = query (cam 0), whole_body_images/<pid>/*.tif = gallery (cam 1); no train split |
| synthetic          | reid (of a synthetic world) | the DukeMTMC-reID layout                        |
| synthetic_occluded | reid_occluded               | the Occluded-Duke layout (label suffix .jpg.confidence_fields.npy) |

Part labels (36-channel confidence fields, ``[36, h, w]`` float ``.npy``) live where the reference
(BPBreID) puts them: ``<dataset>/masks/pifpaf_maskrcnn_filtering/<split dir(s)>/<image stem><suffix>``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from reid.errors import UserError

LABELS_DIRECTORY = Path("masks") / "pifpaf_maskrcnn_filtering"
DUKE_NAME_PATTERN = re.compile(r"([-\d]+)_c(\d)")


@dataclass(frozen=True)
class ReIDSample:
    image_path: Path
    pid: int  # training samples: relabelled 0..C-1; query/gallery: the original identity
    camid: int  # 0-based camera index
    label_path: Path  # where this image's part-label field is (it may not exist)


@dataclass
class ReIDDataset:
    name: str
    directory: Path
    train: list[ReIDSample]
    query: list[ReIDSample]
    gallery: list[ReIDSample]
    num_train_identities: int = field(init=False)

    def __post_init__(self) -> None:
        self.num_train_identities = len({sample.pid for sample in self.train})

    def summary(self) -> str:
        """A small table of identities / images / cameras per split."""
        lines = [f"dataset {self.name} ({self.directory})", "  split    |   ids |  images | cameras"]
        for split in ("train", "query", "gallery"):
            samples = getattr(self, split)
            identities = len({sample.pid for sample in samples})
            cameras = len({sample.camid for sample in samples})
            lines.append(f"  {split:<8} | {identities:5d} | {len(samples):7d} | {cameras:7d}")
        return "\n".join(lines)


def _require_directory(path: Path, what: str) -> None:
    if not path.is_dir():
        raise UserError(f"{what}: expected directory {path} does not exist (check --data-root)")


def _label_path(dataset_directory: Path, relative_parts: tuple[str, ...], stem: str, suffix: str) -> Path:
    return dataset_directory.joinpath(LABELS_DIRECTORY, *relative_parts, stem + suffix)


def _relabel(samples: list[ReIDSample]) -> list[ReIDSample]:
    """Training identities become 0..C-1 in sorted order of the original ids."""
    mapping = {pid: label for label, pid in enumerate(sorted({sample.pid for sample in samples}))}
    return [ReIDSample(s.image_path, mapping[s.pid], s.camid, s.label_path) for s in samples]


def _read_duke_style_split(
    dataset_directory: Path, split: str, label_suffix: str, max_camera: int, drop_junk: bool
) -> list[ReIDSample]:
    directory = dataset_directory / split
    _require_directory(directory, f"split '{split}'")
    samples = []
    for image_path in sorted(directory.glob("*.jpg")):
        match = DUKE_NAME_PATTERN.search(image_path.name)
        if match is None:
            raise UserError(f"{image_path}: file name does not follow the '<pid>_c<camera>' rule")
        pid, camera = int(match.group(1)), int(match.group(2))
        if drop_junk and pid == -1:
            continue
        if not 1 <= camera <= max_camera:
            raise UserError(f"{image_path}: camera {camera} outside 1..{max_camera}")
        label_path = _label_path(dataset_directory, (split,), image_path.stem, label_suffix)
        samples.append(ReIDSample(image_path, pid, camera - 1, label_path))
    return samples


def _duke_style_reader(label_suffix: str, max_camera: int, drop_junk: bool = False):
    def read(dataset_directory: Path) -> tuple[list, list, list]:
        splits = [
            _read_duke_style_split(dataset_directory, split, label_suffix, max_camera, drop_junk)
            for split in ("bounding_box_train", "query", "bounding_box_test")
        ]
        return _relabel(splits[0]), splits[1], splits[2]

    return read


def _read_identity_folders(
    dataset_directory: Path, relative: tuple[str, ...], extension: str, camid: int, label_parts: tuple[str, ...]
) -> list[ReIDSample]:
    """<dir>/<pid>/<pid>_*.ext images; the identity is the number before the first underscore."""
    directory = dataset_directory.joinpath(*relative)
    _require_directory(directory, "split '" + "/".join(relative) + "'")
    samples = []
    for image_path in sorted(directory.glob(f"*/*{extension}")):
        try:
            pid = int(image_path.name.split("_")[0])
        except ValueError:
            raise UserError(f"{image_path}: file name does not start with '<pid>_'") from None
        label_path = _label_path(dataset_directory, label_parts, image_path.stem, ".npy")
        samples.append(ReIDSample(image_path, pid, camid, label_path))
    return samples


def _read_p_duke(dataset_directory: Path) -> tuple[list, list, list]:
    train = _read_identity_folders(
        dataset_directory, ("train", "whole_body_images"), ".jpg", 1, ("train", "whole_body_images")
    ) + _read_identity_folders(
        dataset_directory, ("train", "occluded_body_images"), ".jpg", 0, ("train", "occluded_body_images")
    )
    query = _read_identity_folders(
        dataset_directory, ("test", "occluded_body_images"), ".jpg", 0, ("test", "occluded_body_images")
    )
    gallery = _read_identity_folders(
        dataset_directory, ("test", "whole_body_images"), ".jpg", 1, ("test", "whole_body_images")
    )
    return _relabel(train), query, gallery


def _read_occluded_reid(dataset_directory: Path) -> tuple[list, list, list]:
    query = _read_identity_folders(
        dataset_directory, ("occluded_body_images",), ".tif", 0, ("occluded_body_images",)
    )
    gallery = _read_identity_folders(dataset_directory, ("whole_body_images",), ".tif", 1, ("whole_body_images",))
    return [], query, gallery


@dataclass(frozen=True)
class DatasetLayout:
    directory: str
    read: Callable[[Path], tuple[list, list, list]]
    occluded: bool  # the paper's K=8 "occluded" setting (K=5 otherwise)


DATASETS: dict[str, DatasetLayout] = {
    "market1501": DatasetLayout("Market-1501-v15.09.15", _duke_style_reader(".npy", 6, drop_junk=True), False),
    "dukemtmc": DatasetLayout("DukeMTMC-reID", _duke_style_reader(".npy", 8), False),
    "occluded_duke": DatasetLayout("Occluded_Duke", _duke_style_reader(".jpg.confidence_fields.npy", 8), True),
    "p_duke": DatasetLayout("P-DukeMTMC-reID", _read_p_duke, True),
    "occluded_reid": DatasetLayout("Occluded_REID", _read_occluded_reid, True),
    "synthetic": DatasetLayout("reid", _duke_style_reader(".npy", 8), False),
    "synthetic_occluded": DatasetLayout("reid_occluded", _duke_style_reader(".jpg.confidence_fields.npy", 8), True),
}


def load_dataset(name: str, data_root: str | Path) -> ReIDDataset:
    """Read a dataset's splits. A wrong root or a missing split is one line naming the path expected."""
    if name not in DATASETS:
        raise UserError(f"unknown dataset '{name}'; known: {', '.join(DATASETS)}")
    layout = DATASETS[name]
    data_root = Path(data_root).expanduser()
    _require_directory(data_root, "--data-root")
    directory = data_root / layout.directory
    _require_directory(directory, f"dataset '{name}'")
    train, query, gallery = layout.read(directory)
    for split, samples in (("query", query), ("gallery", gallery)):
        if not samples:
            raise UserError(f"dataset '{name}': split '{split}' under {directory} has no images")
    return ReIDDataset(name, directory, train, query, gallery)


CROP_ANNOTATIONS_FILE = "annotations.csv"


def crop_visibility(dataset: ReIDDataset) -> dict[Path, float]:
    """Each crop's visible share of the body, from the ``annotations.csv`` that synthetic worlds and
    corpora write beside their splits (columns ``image``, relative to the dataset directory, and
    ``visibility``); keyed by the image's path as the dataset's samples hold it. Datasets without
    that file (the real ones) are one error line."""
    path = Path(dataset.directory) / CROP_ANNOTATIONS_FILE
    if not path.is_file():
        raise UserError(f"dataset '{dataset.name}' has no {CROP_ANNOTATIONS_FILE} under {dataset.directory} "
                        "(synthetic worlds and corpora write one; the real datasets do not)")
    with open(path, newline="", encoding="ascii") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not {"image", "visibility"} <= set(rows[0]):
        raise UserError(f"{path}: needs the columns 'image' and 'visibility'")
    return {Path(dataset.directory) / row["image"]: float(row["visibility"]) for row in rows}


def samples_below_visibility(dataset: ReIDDataset, splits: list[str], below_visibility: float) -> list[ReIDSample]:
    """The samples of ``splits`` (``train``, ``query``, ``gallery``) whose annotated visible share
    (``crop_visibility``) is below ``below_visibility``, in split order."""
    visibility = crop_visibility(dataset)
    chosen = []
    for split in splits:
        for sample in getattr(dataset, split):
            if sample.image_path not in visibility:
                raise UserError(f"{sample.image_path} is not listed in {Path(dataset.directory) / CROP_ANNOTATIONS_FILE}")
            if visibility[sample.image_path] < below_visibility:
                chosen.append(sample)
    return chosen
