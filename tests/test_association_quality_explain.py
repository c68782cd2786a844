"""``benchmarks/association_quality.py --explain``: where a run's identity errors sit, on a hand-made case."""

import importlib.util
from types import SimpleNamespace
from typing import NamedTuple

from tests.conftest import REPOSITORY_ROOT


def _benchmark():
    spec = importlib.util.spec_from_file_location(
        "association_quality", REPOSITORY_ROOT / "benchmarks" / "association_quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TrackKey(NamedTuple):
    camera: str
    track_id: int


A = [100.0, 50.0, 140.0, 150.0]  # x1, y1, x2, y2: where person 1 walks
B = [300.0, 60.0, 340.0, 160.0]  # where person 2 walks


def test_impure_tracks_false_and_missed_merges_are_counted(tmp_path):
    benchmark = _benchmark()
    ground_truth = tmp_path / "gt"
    ground_truth.mkdir()
    rows = []
    for frame in range(1, 7):
        if frame <= 4:
            rows.append(f"{frame},1,100,50,40,100,1,1,1.0")
        rows.append(f"{frame},2,300,60,40,100,1,1,1.0")
    (ground_truth / "cam1.txt").write_text("\n".join(rows) + "\n")
    first, switching, later = TrackKey("cam1", 1), TrackKey("cam1", 2), TrackKey("cam1", 3)
    frames = {first: [1, 2, 3, 4], switching: [1, 2, 3, 4], later: [5, 6]}
    boxes = {first: [A] * 4, switching: [B, B, B, A], later: [B, B]}  # track 2 jumps to person 1 at frame 4
    stage = SimpleNamespace(
        box_history=SimpleNamespace(_frames=frames, _boxes=boxes),
        association=SimpleNamespace(assignments={first: 11, switching: 12, later: 13}),
    )
    line = benchmark.identity_breakdown(stage, benchmark.ground_truth_tables(ground_truth))
    # Track 2: 3 of 4 boxes of person 2 (75 %: impure). Id 12 holds one box of person 1 (a false merge);
    # person 2 is over ids 12 (4 boxes) and 13 (2 boxes): 2 boxes outside the main id.
    assert line == ("3 tracks, 1 under 80% pure (4 boxes); 3 global ids for 2 people; 1 boxes in ids of another "
                    "person; 1 people over several ids (2 boxes outside their main id)")
