"""Same seed, same world, byte for byte (rendered here or by worker processes); another seed, another world."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.synthetic import WorldConfig, generate_world

CONFIG = WorldConfig(cameras=2, identities=8, seconds=30, fps=3, width=320, height=180, seed=5)
COMPARED = ("videos", "gt", "det", "reid", "reid_occluded")


def _files(root: Path) -> dict[str, bytes]:
    files = {}
    for folder in COMPARED:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                files[str(path.relative_to(root))] = path.read_bytes()
    files["world.json"] = (root / "world.json").read_bytes()
    return files


@pytest.fixture(scope="module")
def first_and_second(tmp_path_factory):
    first = generate_world(tmp_path_factory.mktemp("first"), CONFIG, progress=False)
    # the second one's cameras rendered side by side in two spawned processes
    second = generate_world(tmp_path_factory.mktemp("second"), CONFIG, progress=False, workers=2)
    return _files(first.root), _files(second.root)


def test_same_seed_gives_identical_videos_ground_truth_labels_and_images_whatever_the_workers(first_and_second):
    first, second = first_and_second
    assert first.keys() == second.keys()
    assert {"videos/cam1.mp4", "videos/cam2.mp4"} <= first.keys()
    assert any(name.endswith(".npy") for name in first) and any(name.endswith(".jpg") for name in first)
    assert any(name.startswith("gt/") for name in first)
    different = [name for name in first if first[name] != second[name]]
    assert different == []


def test_another_seed_gives_another_world(first_and_second, tmp_path):
    first, _ = first_and_second
    other_config = WorldConfig(**{**CONFIG.to_dict(), "seed": 6})
    other = _files(generate_world(tmp_path / "other", other_config, progress=False).root)
    assert other["gt/cam1.txt"] != first["gt/cam1.txt"]
    assert other["world.json"] != first["world.json"]


def test_regenerating_into_the_same_directory_replaces_the_old_world(tmp_path):
    small = WorldConfig(**{**CONFIG.to_dict(), "seconds": 12, "identities": 4})
    generate_world(tmp_path, WorldConfig(**{**small.to_dict(), "seed": 9}), progress=False)
    world = generate_world(tmp_path, small, progress=False)
    names = {p.name for p in (tmp_path / "reid").rglob("*.jpg")}
    assert sum(world.reid.images.values()) == len(names)
    rows = (tmp_path / "reid" / "annotations.csv").read_text().splitlines()[1:]
    assert {row.split(",")[1].split("/")[1] for row in rows} == names
