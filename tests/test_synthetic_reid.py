"""The ReID sets cut from a generated world, and their part labels."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.synthetic import CameraRenderer, WorldConfig, generate_world, plan_world, read_ground_truth
from pipeline.synthetic.part_labels import cell_centres, field_shape, part_label_path
from reid.part_groups import COCO_KEYPOINTS, CONFIDENCE_FIELD_CHANNELS, part_grouping

CONFIG = WorldConfig(cameras=3, identities=14, seconds=40, fps=4, width=384, height=216, seed=11)
DUKE_PATTERN = re.compile(r"([-\d]+)_c(\d)")  # the reference loaders' rule
SPLITS = ("bounding_box_train", "query", "bounding_box_test")
SUFFIXES = {"reid": ".npy", "reid_occluded": ".jpg.confidence_fields.npy"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return generate_world(tmp_path_factory.mktemp("reid_world"), CONFIG, progress=False)


@pytest.fixture(scope="module")
def plan():
    return plan_world(CONFIG)


def parse(dataset_root: Path) -> dict[str, list[tuple[int, int, Path]]]:
    """(pid, camera, path) per split, parsed the way the reference Duke loader does."""
    parsed = {}
    for split in SPLITS:
        items = []
        for path in sorted((dataset_root / split).glob("*.jpg")):
            pid, camera = map(int, DUKE_PATTERN.search(str(path)).groups())
            assert 1 <= camera <= 8
            assert re.fullmatch(r"\d{4}_c\d_f\d{7}\.jpg", path.name)
            items.append((pid, camera, path))
        parsed[split] = items
    return parsed


def annotations(dataset_root: Path) -> dict[str, dict]:
    with open(dataset_root / "annotations.csv", newline="") as handle:
        return {row["image"]: row for row in csv.DictReader(handle)}


@pytest.mark.parametrize("name", ["reid", "reid_occluded"])
def test_folders_parse_with_the_duke_rule_and_splits_are_sound(world, name):
    root = world.root / name
    parsed = parse(root)
    assert all(parsed[split] for split in SPLITS), "every split holds images"
    train_ids = {pid for pid, _, _ in parsed["bounding_box_train"]}
    test_ids = {pid for pid, _, _ in parsed["query"] + parsed["bounding_box_test"]}
    assert train_ids and test_ids and not train_ids & test_ids, "train and test identities are disjoint"
    summary = world.reid if name == "reid" else world.reid_occluded
    assert summary.images == {split: len(parsed[split]) for split in SPLITS}
    gallery_cameras = defaultdict(set)
    for pid, camera, _ in parsed["bounding_box_test"]:
        gallery_cameras[pid].add(camera)
    for pid, camera, path in parsed["query"]:
        assert gallery_cameras[pid] - {camera}, f"{path.name} has no match in another camera"
    assert {p.name for _, _, p in parsed["query"]}.isdisjoint({p.name for _, _, p in parsed["bounding_box_test"]})


def test_each_test_identity_appears_in_two_cameras(world):
    parsed = parse(world.root / "reid")
    cameras = defaultdict(set)
    for pid, camera, _ in parsed["query"] + parsed["bounding_box_test"]:
        cameras[pid].add(camera)
    assert cameras
    assert all(len(seen) >= 2 for seen in cameras.values()), dict(cameras)
    test_in_summary = {i.person_id for i in world.identities if i.reid_split == "test"}
    assert set(cameras) == test_in_summary


def test_crops_match_the_ground_truth_boxes_and_visibility(world):
    gt = {}
    for camera in world.cameras:
        for row in read_ground_truth(world.path(camera.ground_truth)):
            gt[(row.person_id, camera.camera_id, row.frame)] = row
    for name in ("reid", "reid_occluded"):
        rows = annotations(world.root / name)
        assert len(rows) == sum(len(v) for v in parse(world.root / name).values())
        for image, row in rows.items():
            pid, camera, frame = int(row["person_id"]), int(row["camera_id"]), int(row["frame"])
            assert Path(image).name == f"{pid:04d}_c{camera}_f{frame:07d}.jpg"
            truth = gt[(pid, camera, frame)]
            assert (int(row["w"]), int(row["h"])) == (truth.w, truth.h)
            assert float(row["visibility"]) == pytest.approx(truth.visibility, abs=1e-4)
            assert cv2.imread(str(world.root / name / image)).shape[:2] == (truth.h, truth.w)


def test_occluded_set_has_occluded_queries_and_a_mostly_holistic_gallery(world):
    rows = annotations(world.root / "reid_occluded").values()
    query = np.array([float(r["visibility"]) for r in rows if r["split"] == "query"])
    gallery = np.array([float(r["visibility"]) for r in rows if r["split"] == "bounding_box_test"])
    assert len(query) >= 5 and len(gallery) >= 20
    assert (query < 0.7).all()
    assert np.mean(gallery >= 0.7) >= 0.8
    duke_query = np.array(
        [float(r["visibility"]) for r in annotations(world.root / "reid").values() if r["split"] == "query"]
    )
    assert query.mean() < duke_query.mean()


@pytest.mark.parametrize("name", ["reid", "reid_occluded"])
def test_every_image_has_part_labels_in_the_reference_format(world, name):
    root = world.root / name
    for split, items in parse(root).items():
        for _, _, image_path in items:
            label_path = part_label_path(root, image_path, SUFFIXES[name])
            expected = root / "masks" / "pifpaf_maskrcnn_filtering" / split / (image_path.stem + SUFFIXES[name])
            assert label_path == expected
            fields = np.load(label_path)
            height, width = cv2.imread(str(image_path)).shape[:2]
            assert fields.dtype == np.float32
            assert fields.shape == (len(CONFIDENCE_FIELD_CHANNELS), *field_shape(height, width))
            assert 0.0 <= fields.min() and fields.max() <= 1.0


def test_part_labels_peak_at_the_joints_and_stay_on_visible_pixels(world, plan):
    rows = list(annotations(world.root / "reid").values())
    renderers = {}
    peaks_checked = hidden_checked = nearest_cell = 0
    for row in rows[:: max(1, len(rows) // 40)]:
        pid, camera, frame = int(row["person_id"]), int(row["camera_id"]), int(row["frame"])
        x, y, w, h = (int(row[k]) for k in "xywh")
        renderer = renderers.setdefault(camera, CameraRenderer(plan, camera))
        rendered = renderer.render(frame, effects=False)
        observation = next(o for o in rendered.observations if o.person_id == pid)
        joints = observation.keypoints - np.array([x, y])
        own = rendered.labels[y: y + h, x: x + w] == pid
        image_path = world.root / "reid" / row["image"]
        fields = np.load(part_label_path(world.root / "reid", image_path, ".npy"))
        rows_c, cols_c = cell_centres(h, w)
        cell = np.hypot(h / len(rows_c), w / len(cols_c))

        coverage = cv2.resize(own.astype(np.float32), (len(cols_c), len(rows_c)), interpolation=cv2.INTER_AREA)
        assert np.all(fields[:, coverage == 0] == 0), "no part confidence where the person is not visible"
        for k in range(len(COCO_KEYPOINTS)):
            jx, jy = joints[k]
            xi, yi = int(round(jx)), int(round(jy))
            window = own[max(0, yi - 2): yi + 3, max(0, xi - 2): xi + 3]
            reach = int(np.ceil(max(1.5, 0.03 * h))) + 1  # wider than the joint window of the labels
            surroundings = own[max(0, yi - reach): yi + reach + 1, max(0, xi - reach): xi + reach + 1]
            if window.size and window.all() and fields[k].max() >= 0.4:
                i, j = np.unravel_index(np.argmax(fields[k]), fields[k].shape)
                assert np.hypot(cols_c[j] - jx, rows_c[i] - jy) <= cell, (row["image"], COCO_KEYPOINTS[k])
                nearest_cell += (i, j) == (np.argmin(np.abs(rows_c - jy)), np.argmin(np.abs(cols_c - jx)))
                peaks_checked += 1
            elif not surroundings.any():
                assert fields[k].max() < 1e-6, (row["image"], COCO_KEYPOINTS[k], "hidden joint has a peak")
                hidden_checked += 1
    assert peaks_checked >= 100 and hidden_checked >= 5
    assert nearest_cell >= 0.95 * peaks_checked, "fields peak in the cell that holds the joint"


def test_grouped_parts_are_ordered_top_to_bottom(world):
    grouping = part_grouping(8)
    names = grouping.names
    rows_seen = defaultdict(list)
    for image_path in sorted((world.root / "reid" / "bounding_box_train").glob("*.jpg"))[:60]:
        fields = np.load(part_label_path(world.root / "reid", image_path, ".npy"))
        for name, channels in zip(names, grouping.channel_indices):
            part = fields[list(channels)].max(axis=0)
            if part.max() > 0.5:
                rows_seen[name].append(np.average(np.arange(part.shape[0]), weights=part.sum(axis=1)) / part.shape[0])
    means = {name: np.mean(v) for name, v in rows_seen.items()}
    assert means["head"] < means["torso"] < means["left_leg"] < means["left_feet"]
    assert means["torso"] < means["right_leg"] < means["right_feet"]
