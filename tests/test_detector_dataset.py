"""Detection training data from a world: ultralytics' layout, labels that are the ground truth's boxes."""

import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPOSITORY_ROOT
from train.detector_dataset import (
    DETECTOR_TRAINING_SEED_BASE,
    build_dataset,
    training_world_shapes,
    yolo_label_lines,
)


def test_label_lines_are_normalised_centre_and_size():
    # Box x 10..40, y 20..80 in a 100 x 200 image: centre (25, 50) -> (0.25, 0.25), size (0.3, 0.3).
    assert yolo_label_lines(np.array([[10, 20, 30, 60]]), 100, 200) == ["0 0.250000 0.250000 0.300000 0.300000"]
    # Clipped to the image first: x -10..20 becomes 0..20.
    assert yolo_label_lines(np.array([[-10, 0, 30, 50]]), 100, 200) == ["0 0.100000 0.125000 0.200000 0.250000"]
    assert yolo_label_lines(np.array([[120, 0, 30, 50]]), 100, 200) == []  # wholly outside


def test_training_worlds_live_in_their_own_seed_range_and_vary():
    shapes = training_world_shapes(12)
    assert [s.seed for s in shapes] == list(range(DETECTOR_TRAINING_SEED_BASE, DETECTOR_TRAINING_SEED_BASE + 12))
    assert len({s.cameras for s in shapes}) >= 4 and len({s.identities for s in shapes}) >= 8
    assert all(2 <= s.cameras <= 8 and 20 <= s.identities <= 160 for s in shapes)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    from pipeline.synthetic import WorldConfig, generate_world

    root = tmp_path_factory.mktemp("detector_worlds")
    made = []
    for seed in (5_101, 5_102):
        directory = root / f"world_{seed}"
        generate_world(directory, WorldConfig(cameras=2, identities=12, seconds=6, fps=2, seed=seed,
                                              reid_sample_seconds=3600.0), progress=False)
        made.append(directory)
    return made


def test_a_converted_world_has_one_label_per_visible_person_and_loads_in_ultralytics(worlds, tmp_path):
    from ultralytics.data.utils import check_det_dataset

    out = tmp_path / "data"
    summary = build_dataset(out, [worlds[0]], [worlds[1]], every_n_frames=2, min_visibility=0.3, progress=False)
    # 6 s at 2 fps = 12 frames per camera, every 2nd kept: 6 per camera, 2 cameras.
    assert summary["images"] == {"train": 12, "val": 12}
    for split, world in (("train", worlds[0]), ("val", worlds[1])):
        for camera in (1, 2):
            rows = [line.split(",") for line in (world / "gt" / f"cam{camera}.txt").read_text().splitlines()]
            for frame in (1, 3, 5, 7, 9, 11):
                label = out / "labels" / split / f"{world.name}_cam{camera}_{frame:06d}.txt"
                assert (out / "images" / split / label.with_suffix(".jpg").name).is_file()
                labelled = sorted(tuple(float(v) for v in line.split()[1:]) for line in label.read_text().splitlines())
                # The ground truth's boxes are clipped to the frame in whole pixels: normalise them by hand.
                expected = sorted(
                    ((int(x) + int(w) / 2) / 640, (int(y) + int(h) / 2) / 360, int(w) / 640, int(h) / 360)
                    for f, _, x, y, w, h, _, _, visibility in rows if int(f) == frame and float(visibility) >= 0.3
                )
                assert np.allclose(labelled, expected, atol=1e-6) if expected else labelled == []
    assert sum(len(p.read_text().splitlines()) for p in (out / "labels" / "train").iterdir()) > 10
    data = check_det_dataset(str(out / "data.yaml"))
    assert data["nc"] == 1 and data["names"] == {0: "person"}


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "train.detector_dataset", "--out", str(tmp_path / "d"), "--world", str(tmp_path)],
        capture_output=True, text=True, cwd=REPOSITORY_ROOT,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [f"error: {tmp_path}: not a synthetic world (no world.json)"]
