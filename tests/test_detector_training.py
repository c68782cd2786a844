"""Training the detector: fine-tuning starts from a trained detector, bad input is one line."""

import csv
import subprocess
import sys

import pytest

from tests.conftest import REPOSITORY_ROOT
from train.detector import SHIPPED_DETECTOR, train_detector
from train.detector_dataset import build_dataset


def run_detector_command(*arguments):
    return subprocess.run([sys.executable, "-m", "train.detector", *arguments],
                          capture_output=True, text=True, cwd=REPOSITORY_ROOT)


def test_missing_initial_weights_are_one_line_and_exit_code_2(tmp_path):
    data = tmp_path / "data.yaml"
    data.write_text("path: .\n")
    missing = tmp_path / "nothing.pt"
    completed = run_detector_command("--data", str(data), "--out", str(tmp_path / "runs"),
                                     "--initial-weights", str(missing))
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [f"error: --initial-weights: {missing} not found"]


def test_initial_weights_and_resume_do_not_mix(tmp_path):
    completed = run_detector_command("--out", str(tmp_path / "runs"), "--resume",
                                     "--initial-weights", str(SHIPPED_DETECTOR))
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        "error: --initial-weights starts a new run; --resume continues one from its own last.pt"]


@pytest.mark.skipif(not SHIPPED_DETECTOR.is_file(), reason="the shipped detector is not in models/")
def test_fine_tuning_starts_from_the_trained_detector(tmp_path):
    """One short epoch on a dozen frames: from random weights a detector finds nobody (mAP50 ~0), from the
    shipped one it keeps finding the people of a world it never saw."""
    from pipeline.synthetic import WorldConfig, generate_world

    worlds = []
    for seed in (5_111, 5_112):
        directory = tmp_path / f"world_{seed}"
        generate_world(directory, WorldConfig(cameras=2, identities=14, seconds=6, fps=2, seed=seed,
                                              reid_sample_seconds=3600.0), progress=False)
        worlds.append(directory)
    data = tmp_path / "data"
    build_dataset(data, [worlds[0]], [worlds[1]], every_n_frames=2, min_visibility=0.3, progress=False)
    run = train_detector(data / "data.yaml", tmp_path / "runs", epochs=1, image_size=320, batch=4, workers=0,
                         resume=False, initial_weights=SHIPPED_DETECTOR)
    with open(run / "results.csv") as handle:
        rows = [{key.strip(): value for key, value in row.items()} for row in csv.DictReader(handle)]
    assert len(rows) == 1
    assert float(rows[0]["metrics/mAP50(B)"]) > 0.5
    assert (run / "weights" / "best.pt").is_file()
