"""The pipeline end to end on a small synthetic world (public detections) and with a random YOLO."""

import json
import sqlite3
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPOSITORY_ROOT, save_tiny_checkpoint


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from pipeline.synthetic import WorldConfig, generate_world

    directory = tmp_path_factory.mktemp("world") / "w"
    generate_world(directory, WorldConfig(cameras=2, identities=6, seconds=8, fps=5, seed=3), progress=False)
    return directory


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("model"))


def run(*arguments, cwd=REPOSITORY_ROOT):
    return subprocess.run([sys.executable, "run_pipeline.py", *arguments], capture_output=True, text=True, cwd=cwd)


def test_world_run_writes_every_output_and_evaluates(world, checkpoint, tmp_path):
    output = tmp_path / "out"
    completed = run("--world", str(world), "--reid", str(checkpoint), "--output", str(output), "--no-progress")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "multi-camera IDF1" in completed.stdout
    for camera in ("cam1", "cam2"):
        lines = (output / "mot" / f"{camera}.txt").read_text().splitlines()
        assert lines, camera
        frame, global_id, x, y, w, h, conf, *rest = lines[0].split(",")
        assert int(frame) >= 1 and int(global_id) >= 1 and float(w) > 0 and rest == ["-1", "-1", "-1"]
    events = [json.loads(line) for line in (output / "events.jsonl").read_text().splitlines()]
    kinds = {event["kind"] for event in events}
    assert {"track_started", "identity_assigned"} <= kinds
    with sqlite3.connect(output / "tracks.sqlite") as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master where type='table'")}
        assert {"cameras", "tracks", "identities", "boxes", "tracklet_features"} <= tables
        assert connection.execute("select count(*) from boxes").fetchone()[0] > 0
    report = json.loads((output / "mtmc.json").read_text())
    assert 0.0 <= report["multi_camera"]["idf1"] <= 1.0
    assert set(report["per_camera"]) == {"cam1", "cam2"}
    assert "decode" in completed.stdout and "extract" in completed.stdout  # stage timings


def test_yolo_from_yaml_plumbing(world, checkpoint, tmp_path):
    config = tmp_path / "yolo.yaml"
    config.write_text(yaml.safe_dump({
        "detector": {"backend": "yolo", "weights": "yolo11n.yaml", "image_size": 160, "confidence": 0.01},
        "tracker": {"name": "botsort"},
        "extractor": {"backend": "onnxruntime"},
        "output": {"videos": False},
    }))
    output = tmp_path / "out"
    completed = run(
        "--config", str(config), "--source", f"north={world / 'videos/cam1.mp4'}", "--source",
        f"south={world / 'videos/cam2.mp4'}", "--reid", str(checkpoint), "--output", str(output),
        "--max-steps", "4", "--no-progress",
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (output / "mot" / "north.txt").exists() and (output / "mot" / "south.txt").exists()
    assert "4 steps" in completed.stdout


def test_bad_inputs_are_one_line_and_exit_code_2(world, checkpoint, tmp_path):
    for arguments, expected in [
        (["--config", str(REPOSITORY_ROOT / "configs/pipeline/files.yaml"), "--source", "a=/nonexistent.mp4",
          "--reid", str(checkpoint)], "/nonexistent.mp4"),
        (["--world", str(world), "--reid", str(tmp_path / "missing.pt")], "missing.pt"),
        (["--world", str(tmp_path), "--reid", str(checkpoint)], str(tmp_path)),
        (["--config", str(REPOSITORY_ROOT / "configs/pipeline/files.yaml"), "--source", "nopath"], "NAME=PATH"),
    ]:
        completed = run(*arguments, "--output", str(tmp_path / "o"), "--no-progress")
        assert completed.returncode == 2, (arguments, completed.stderr[-2000:])
        lines = completed.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], completed.stderr
