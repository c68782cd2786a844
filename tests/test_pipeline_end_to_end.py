"""The pipeline end to end on a small synthetic world (the shipped YOLO, public detections) and with a random
YOLO."""

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
    assert "detector: YOLO models/yolo11n_synthetic_person.pt" in completed.stdout  # --world runs the shipped YOLO
    for camera in ("cam1", "cam2"):
        lines = (output / "mot" / f"{camera}.txt").read_text().splitlines()
        assert lines, camera
        frame, global_id, x, y, w, h, conf, *rest = lines[0].split(",")
        assert int(frame) >= 1 and int(global_id) >= 1 and float(w) > 0 and rest == ["-1", "-1", "-1"]
    events = [json.loads(line) for line in (output / "events.jsonl").read_text().splitlines()]
    kinds = {event["kind"] for event in events}
    assert {"track_started", "identity_assigned", "track_ended"} <= kinds
    # Every track that starts ends (at the latest when the run does), starts and ends alternate, and
    # each event's time is its frame's time (the world is 5 fps: frame f is at (f - 1) / 5 s).
    by_track = {}
    for event in events:
        by_track.setdefault((event["camera"], event["track_id"]), []).append(event["kind"])
        assert event["timestamp_s"] == pytest.approx((event["frame_index"] - 1) / 5), event
    for track, track_kinds in by_track.items():
        bounds = [kind for kind in track_kinds if kind in ("track_started", "track_ended")]
        assert bounds == ["track_started", "track_ended"] * (len(bounds) // 2) and bounds, (track, track_kinds)
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


def test_every_output_of_a_recorded_run_agrees_on_each_box_id(world, checkpoint, tmp_path):
    """MOT files, the store, the events' last word and the video all tell one answer per box, and no
    camera frame holds one global id twice (refinement and gap filling included)."""
    import cv2

    output = tmp_path / "out"
    configuration = tmp_path / "config.yaml"
    configuration.write_text(yaml.safe_dump({"output": {"videos": True}, "association": {"min_observations": 2}}))
    completed = run("--world", str(world), "--reid", str(checkpoint), "--output", str(output), "--no-progress",
                    "--config", str(configuration), "--detector", "detections")
    assert completed.returncode == 0, completed.stderr[-3000:]
    mot_rows = {}
    for camera in ("cam1", "cam2"):
        for line in (output / "mot" / f"{camera}.txt").read_text().splitlines():
            frame, global_id, x, y, w, h = line.split(",")[:6]
            key = (camera, int(frame), int(global_id))
            assert key not in mot_rows, f"{key} twice in one frame"
            mot_rows[key] = (float(x), float(y))
    with sqlite3.connect(output / "tracks.sqlite") as connection:
        stored = connection.execute(
            "select b.camera, b.frame, t.global_id, b.x1, b.y1, b.interpolated from boxes b "
            "join tracks t on t.camera = b.camera and t.track_id = b.track_id where t.global_id is not null"
        ).fetchall()
        final_ids = {(camera, track): global_id for camera, track, global_id in
                     connection.execute("select camera, track_id, global_id from tracks")}
    stored_rows = {(c, f, g): (x, y) for c, f, g, x, y, _ in stored}
    assert len(stored_rows) == len(stored) and stored_rows.keys() == mot_rows.keys()
    assert all(abs(stored_rows[key][0] - mot_rows[key][0]) < 0.01 and abs(stored_rows[key][1] - mot_rows[key][1]) < 0.01
               for key in mot_rows)
    assert any(interpolated for *_, interpolated in stored)  # gap filling took part
    last_word = {}
    for line in (output / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["kind"] in ("identity_assigned", "identity_changed"):
            last_word[(event["camera"], event["track_id"])] = event["global_id"]
    assert last_word and all(final_ids[key] == global_id for key, global_id in last_word.items())
    for camera in ("cam1", "cam2"):
        video = cv2.VideoCapture(str(output / "videos" / f"{camera}.mp4"))
        source = cv2.VideoCapture(str(world / "videos" / f"{camera}.mp4"))
        assert video.get(cv2.CAP_PROP_FRAME_COUNT) == source.get(cv2.CAP_PROP_FRAME_COUNT) > 0
